/**
 * The service worker's decisions about waking the page (DESIGN.md 2.8), kept
 * out of src/sw.ts so that they run under unit tests
 * (tests/unit/sw-wake.test.ts):
 *
 * - reading what the page stored, with the raw IndexedDB API (Dexie would add
 *   about 98 kB, 31 kB gzipped, to sw.js for two reads): the last
 *   battery reading in `energy` and the number of items in `outbox`;
 * - whether a periodic wake-up should wake the page for light jobs: the last
 *   battery reading, parsed and judged as signals.ts and policy.ts do for the
 *   page's scheduler (a stale reading is "unknown", and unknown means "decide
 *   on the grid alone", which the page does once awake);
 * - when a one-off sync for the outbox is done, must be retried, or is still
 *   waiting for pages to answer.
 *
 * Pure apart from the IndexedDB reads, which take the factory as an argument
 * (fake-indexeddb in tests, `self.indexedDB` in the worker).
 *
 * Why the battery rule is restated here instead of imported: signals.ts
 * parses with zod and policy.ts imports jobs.ts, which builds zod schemas at
 * load; importing either puts zod into sw.js, which grew from 26 kB to 118 kB
 * (8.6 to 35 kB gzipped) when it did. A service worker starts cold for many
 * navigations and is byte-compared on every update check, so it stays small:
 * `batteryFromStored` and `lightJobsPower` restate `batteryFromPersisted` and
 * the light-job half of `assessPower` without dependencies, and
 * tests/unit/sw-wake.test.ts checks on random records that they agree with
 * the originals exactly (verdict, reason and parsed reading), and that the
 * constants below equal theirs.
 */
import type { BatterySignal } from './signals';

/**
 * The database the app opens (src/services/db.ts DEFAULT_DATABASE_NAME; a test
 * checks they agree). Not imported from there: that module pulls in Dexie.
 */
export const DATABASE_NAME = 'h3lix';
/** Key-value table (schema v7): `{ key, value }`. */
export const ENERGY_TABLE = 'energy';
/** Where the page keeps the last battery reading: `{ key: 'battery', value: PersistedBattery }`. */
export const BATTERY_KEY = 'battery';
/** Where the page keeps the person's policy settings (src/services/energy-signals.ts): `{ key: 'policySettings', value: Partial<PolicySettings> }`. */
export const POLICY_SETTINGS_KEY = 'policySettings';
/** Items signed but not yet published (src/services/network.ts). */
export const OUTBOX_TABLE = 'outbox';

/** signals.ts DEFAULT_BATTERY_MAX_AGE_MS. */
export const BATTERY_MAX_AGE_MS = 30 * 60 * 1000;

/** The battery thresholds of policy.ts DEFAULT_POLICY_SETTINGS. */
export interface WakePowerSettings {
  highBatteryLevel: number;
  lightJobMinBatteryLevel: number;
  fastDrainHours: number;
}

export const WAKE_POWER_SETTINGS: WakePowerSettings = { highBatteryLevel: 0.8, lightJobMinBatteryLevel: 0.5, fastDrainHours: 3 };

const isFraction = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1;
const POWER_FIELDS: Record<keyof WakePowerSettings, (x: unknown) => boolean> = {
  highBatteryLevel: isFraction,
  lightJobMinBatteryLevel: isFraction,
  fastDrainHours: (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 48,
};

/**
 * The battery thresholds out of the person's stored policy settings (the
 * `energy` record under 'policySettings'), laid over the defaults as the page
 * does; the defaults when absent or when one of these three fields is out of
 * range. (The page also falls back to the defaults when some other field of
 * the record is damaged; the worker looks at these three only.)
 */
export function wakePowerSettingsFrom(record: unknown): WakePowerSettings {
  const raw = energyRecordValue(record);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return WAKE_POWER_SETTINGS;
  const stored = raw as Record<string, unknown>;
  const settings = { ...WAKE_POWER_SETTINGS };
  for (const [field, valid] of Object.entries(POWER_FIELDS) as [keyof WakePowerSettings, (x: unknown) => boolean][]) {
    const value = stored[field];
    if (value === undefined) continue;
    if (!valid(value)) return WAKE_POWER_SETTINGS;
    settings[field] = value as number;
  }
  return settings;
}

// ---------------------------------------------------------------------------
// Periodic sync: wake the page for light jobs?

export interface WakeDecision {
  wake: boolean;
  /** One sentence, for the page's log (the same as the page's scheduler would give). */
  reason: string;
  battery: BatterySignal;
}

/**
 * The stored value out of an `energy` record. A record that is not
 * `{ key, value }` is passed through whole so that it reads as malformed
 * rather than missing.
 */
export function energyRecordValue(record: unknown): unknown {
  if (record === undefined || record === null) return undefined;
  if (typeof record === 'object' && 'value' in record) return (record as { value: unknown }).value;
  return record;
}

const READING_KEYS = new Set(['kind', 'charging', 'level', 'dischargingTimeS', 'readAt']);
const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** signals.ts `batteryFromPersisted`, without zod (same results; tested). */
export function batteryFromStored(raw: unknown, now: number, maxAgeMs = BATTERY_MAX_AGE_MS): BatterySignal {
  if (raw === undefined || raw === null) return { kind: 'unknown', reason: 'no battery reading has been stored' };
  const malformed: BatterySignal = { kind: 'unknown', reason: 'the stored battery reading is malformed' };
  if (typeof raw !== 'object' || Array.isArray(raw)) return malformed;
  const r = raw as Record<string, unknown>;
  if (Object.keys(r).some((k) => !READING_KEYS.has(k))) return malformed;
  const { kind, charging, level, dischargingTimeS, readAt } = r;
  if (kind !== 'known' || typeof charging !== 'boolean') return malformed;
  if (!isFiniteNumber(level) || level < 0 || level > 1) return malformed;
  if (dischargingTimeS !== null && (!isFiniteNumber(dischargingTimeS) || dischargingTimeS < 0)) return malformed;
  if (!Number.isSafeInteger(readAt) || (readAt as number) < 0) return malformed;
  const at = readAt as number;
  if (at > now + 60_000) return { kind: 'unknown', reason: 'the stored battery reading is dated in the future' };
  if (now - at > maxAgeMs) return { kind: 'unknown', reason: `the last battery reading is ${Math.round((now - at) / 60_000)} min old` };
  return { kind: 'known', charging, level, dischargingTimeS: dischargingTimeS as number | null, readAt: at };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** policy.ts `assessPower`, its `light` verdict and reason only, without dependencies (same results; tested). */
export function lightJobsPower(battery: BatterySignal, settings: WakePowerSettings = WAKE_POWER_SETTINGS): { light: boolean; reason: string } {
  if (battery.kind === 'unknown') return { light: true, reason: `battery state unknown (${battery.reason}); deciding on the grid alone` };
  if (battery.charging) return { light: true, reason: `charging (${pct(battery.level)})` };
  const drainingFast = battery.dischargingTimeS !== null && battery.dischargingTimeS < settings.fastDrainHours * 3600;
  if (battery.level >= settings.highBatteryLevel && !drainingFast) {
    return { light: true, reason: `on battery but ${pct(battery.level)} full and not draining fast` };
  }
  const light = battery.level >= settings.lightJobMinBatteryLevel && !drainingFast;
  const why = drainingFast ? `draining fast (${pct(battery.level)})` : `on battery at ${pct(battery.level)}`;
  return { light, reason: light ? `${why}: light jobs only` : `${why}: waiting for a charger` };
}

/**
 * Whether a periodic wake-up should wake the page for light jobs, from the
 * `energy` record under 'battery' as read from IndexedDB (undefined when there
 * is none). Light jobs run on a charger, on a fairly full battery that is not
 * draining fast, or when the battery is unknown (no reading, or one older
 * than `maxAgeMs`): the page decides again on fresh signals once awake.
 */
export function decideLightJobsWake(
  batteryRecord: unknown,
  now: number,
  options: { maxAgeMs?: number; settings?: WakePowerSettings } = {},
): WakeDecision {
  const battery = batteryFromStored(energyRecordValue(batteryRecord), now, options.maxAgeMs ?? BATTERY_MAX_AGE_MS);
  const power = lightJobsPower(battery, options.settings ?? WAKE_POWER_SETTINGS);
  return { wake: power.light, reason: power.reason, battery };
}

// ---------------------------------------------------------------------------
// One-off sync: is the outbox done?

export interface FlushReply {
  sent: number;
  left: number;
}

export type SyncVerdict =
  | { settle: 'wait' }
  /** The work is done: the browser drops the registration. */
  | { settle: 'resolve'; reason: string }
  /** Not done: the browser retries later (Chromium: twice more, minutes apart, then gives up until the page registers again). */
  | { settle: 'reject'; reason: string };

export interface SyncProgress {
  /** Items in the outbox as the worker read them before waking anyone (null: could not read). */
  outboxCount: number | null;
  /** Window clients the worker asked to flush. */
  windows: number;
  /** Answers so far. */
  replies: readonly FlushReply[];
  /** The wait for answers is over. */
  timedOut: boolean;
}

/**
 * Where a sync event for the outbox stands. Every page shares the one outbox
 * in IndexedDB, so one answer with nothing left settles it; otherwise the
 * worker waits for every page it asked, or the timeout.
 */
export function judgeOutboxSync(p: SyncProgress): SyncVerdict {
  if (p.outboxCount === 0) return { settle: 'resolve', reason: 'the outbox is empty' };
  if (p.windows === 0) {
    return { settle: 'reject', reason: 'no H3LIX window is open to publish from; the browser will try again later' };
  }
  const emptied = p.replies.find((r) => r.left === 0);
  if (emptied) return { settle: 'resolve', reason: `outbox emptied (${sum(p.replies, 'sent')} sent)` };
  if (p.replies.length >= p.windows || p.timedOut) {
    if (p.replies.length === 0) return { settle: 'reject', reason: 'no window answered in time' };
    const left = Math.min(...p.replies.map((r) => r.left));
    return { settle: 'reject', reason: `${left} item${left === 1 ? '' : 's'} still waiting for peers (${sum(p.replies, 'sent')} sent)` };
  }
  return { settle: 'wait' };
}

const sum = (replies: readonly FlushReply[], field: keyof FlushReply) => replies.reduce((s, r) => s + r[field], 0);

// ---------------------------------------------------------------------------
// Reading IndexedDB without Dexie

/**
 * Opens the app's database as it is, without creating or upgrading it: null
 * when it does not exist (yet) or cannot be opened. Opening without a version
 * never upgrades an existing database; for a missing one the upgrade is
 * aborted, so the worker does not leave behind an empty version-1 database
 * that Dexie would then have to upgrade. The connection closes itself when a
 * page needs to upgrade (versionchange), so the worker never blocks a page.
 */
export function openExisting(factory: IDBFactory, name: string = DATABASE_NAME): Promise<IDBDatabase | null> {
  return new Promise((resolve) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name);
    } catch {
      resolve(null);
      return;
    }
    request.onupgradeneeded = () => {
      // Only reached when the database did not exist.
      request.transaction?.abort();
    };
    request.onerror = (event) => {
      event.preventDefault();
      resolve(null);
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
  });
}

/** Runs one read on a store; undefined when the database or store is not there or the read fails. */
export async function readStore<T>(
  factory: IDBFactory,
  store: string,
  read: (s: IDBObjectStore) => IDBRequest<T>,
  name: string = DATABASE_NAME,
): Promise<T | undefined> {
  const db = await openExisting(factory, name);
  if (!db) return undefined;
  try {
    if (!db.objectStoreNames.contains(store)) return undefined;
    const request = read(db.transaction(store, 'readonly').objectStore(store));
    return await new Promise<T | undefined>((resolve) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = (event) => {
        event.preventDefault();
        resolve(undefined);
      };
    });
  } catch {
    return undefined;
  } finally {
    // Closes once the read-only transaction finishes.
    db.close();
  }
}

/** The `energy` record under 'battery' as the page stored it (undefined when none). */
export function readBatteryRecord(factory: IDBFactory, name: string = DATABASE_NAME): Promise<unknown> {
  return readStore<unknown>(factory, ENERGY_TABLE, (s) => s.get(BATTERY_KEY), name);
}

/** The `energy` record under 'policySettings' (undefined when none). */
export function readPolicySettingsRecord(factory: IDBFactory, name: string = DATABASE_NAME): Promise<unknown> {
  return readStore<unknown>(factory, ENERGY_TABLE, (s) => s.get(POLICY_SETTINGS_KEY), name);
}

/** Items waiting in the outbox; null when the database cannot be read. */
export async function countOutbox(factory: IDBFactory, name: string = DATABASE_NAME): Promise<number | null> {
  const count = await readStore<number>(factory, OUTBOX_TABLE, (s) => s.count(), name);
  return count ?? null;
}
