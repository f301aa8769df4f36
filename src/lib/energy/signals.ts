/**
 * The signals energy-adaptive scheduling decides on (DESIGN.md 2.8): the
 * device's battery, the grid's carbon intensity and the network. They are
 * plain data with the time they were read, so that the policy is a pure
 * function of (now, signals, jobs) and a test can replay a whole day of them.
 *
 * Why "unknown" is a first-class battery state and not a missing field: the
 * Battery Status API exists only in Chromium, and not at all in workers, so
 * most of the time some part of the app cannot read it. The service worker
 * decides on the last state the page persisted (parsed back here with zod,
 * because storage is outside this module's control), and a reading that has
 * grown stale becomes "unknown" instead of pretending the laptop is still on
 * its charger hours later.
 *
 * Pure: zod and constants only.
 */
import { z } from 'zod';

/** A reading older than this says little about the device now (a charger is plugged in or out within minutes). */
export const DEFAULT_BATTERY_MAX_AGE_MS = 30 * 60 * 1000;

export type BatterySignal =
  | {
      kind: 'known';
      charging: boolean;
      /** 0..1, as the Battery Status API reports it. */
      level: number;
      /**
       * Seconds until empty as the browser estimates it, or null when it has
       * no estimate (Chromium reports Infinity while charging or still
       * estimating; the page maps Infinity to null before it stores it).
       */
      dischargingTimeS: number | null;
      /** When it was read, ms since the epoch. */
      readAt: number;
    }
  | { kind: 'unknown'; reason: string };

const batteryReading = z.strictObject({
  kind: z.literal('known'),
  charging: z.boolean(),
  level: z.number().min(0).max(1),
  dischargingTimeS: z.number().nonnegative().finite().nullable(),
  readAt: z.number().int().nonnegative(),
});

export type PersistedBattery = z.infer<typeof batteryReading>;

/**
 * The last known battery state as the page persisted it for the service
 * worker. Anything that does not parse, or is older than `maxAgeMs`, or comes
 * from the future (a clock change), is "unknown" with a reason.
 */
export function batteryFromPersisted(raw: unknown, now: number, maxAgeMs = DEFAULT_BATTERY_MAX_AGE_MS): BatterySignal {
  if (raw === undefined || raw === null) return { kind: 'unknown', reason: 'no battery reading has been stored' };
  const parsed = batteryReading.safeParse(raw);
  if (!parsed.success) return { kind: 'unknown', reason: 'the stored battery reading is malformed' };
  const reading = parsed.data;
  if (reading.readAt > now + 60_000) return { kind: 'unknown', reason: 'the stored battery reading is dated in the future' };
  if (now - reading.readAt > maxAgeMs) {
    return { kind: 'unknown', reason: `the last battery reading is ${Math.round((now - reading.readAt) / 60_000)} min old` };
  }
  return reading;
}

/**
 * What the page turns a BatteryManager into: plain numbers, Infinity (which
 * JSON and IndexedDB keys handle badly) as null. Taking the fields rather than
 * the DOM type keeps this file free of the DOM.
 */
export function batteryFromManager(
  manager: { charging: boolean; level: number; dischargingTime: number },
  now: number,
): BatterySignal {
  const level = Number.isFinite(manager.level) ? Math.min(1, Math.max(0, manager.level)) : 0;
  const dischargingTimeS = Number.isFinite(manager.dischargingTime) && manager.dischargingTime >= 0 ? manager.dischargingTime : null;
  return { kind: 'known', charging: manager.charging, level, dischargingTimeS, readAt: now };
}

/** One grid carbon intensity value: what a provider measured or forecast for a time. */
export interface CarbonPoint {
  /** Start of the period the value is for, ms since the epoch. */
  at: number;
  /** Grams of CO2(-equivalent) per kWh drawn from the grid. */
  gPerKWh: number;
}

/** The grid now and what is expected next, from one source. */
export interface CarbonSignal {
  /** The intensity now. */
  gPerKWh: number;
  /** The provider that gave it ('uk-carbon-intensity', 'electricity-maps', 'heuristic', …). */
  providerId: string;
  /** When the value was measured or is valid from. */
  at: number;
  /**
   * Expected intensity over the coming hours, ascending in time, first point
   * at or before now. The policy compares "now" with this to decide whether
   * now is a clean time of the day; the heuristic fills it when a provider
   * gives only the current value.
   */
  forecast: CarbonPoint[];
}

export interface NetworkSignal {
  online: boolean;
  /** navigator.connection.saveData: the person asked the browser to use less data. */
  saveData: boolean;
}

export interface EnergySignals {
  battery: BatterySignal;
  carbon: CarbonSignal;
  network: NetworkSignal;
}
