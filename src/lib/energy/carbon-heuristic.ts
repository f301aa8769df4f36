/**
 * The offline estimate of grid carbon intensity: what the scheduler uses when
 * no provider is configured or every provider failed. It knows only the
 * region and the local time, so it cannot see today's weather; it encodes the
 * shape every grid repeats day after day, which is what decides whether
 * "later today" is cleaner than "now":
 *
 * - a midday dip where solar is large (deepest in California's "duck curve",
 *   clear in Germany and New South Wales, mild in Britain and France);
 * - a morning and a larger evening peak when demand rises and gas or coal
 *   plants follow it after sunset;
 * - in wind- and nuclear-heavy grids (Britain, France) a night-time dip, when
 *   demand is lowest and the marginal plants switch off first.
 *
 * Each region's profile is normalised so that its 24-hour mean equals the
 * region's base level. The base levels are rounded annual means of recent
 * years' public figures (lifecycle gCO2eq/kWh as Electricity Maps and Ember
 * report them): rough on purpose, good to a few tens of per cent. The depths
 * of the dip and peaks are fractions of the base, chosen to reproduce the
 * typical daily range of each grid, not a fit to any data set. Seasons are
 * ignored (a summer solar dip is deeper than a winter one); a provider gives
 * the real values where there is one.
 *
 * Pure: arithmetic only; the caller passes the time and its UTC offset.
 */
import type { CarbonPoint, CarbonSignal } from './signals';

export interface RegionProfile {
  /** Human-readable name for the settings view. */
  label: string;
  /** 24-hour mean, gCO2eq/kWh. */
  base: number;
  /** Depth of the solar dip at its deepest (12:30 local), fraction of base. */
  solar: number;
  /** Height of the evening peak (19:00), fraction of base. */
  evening: number;
  /** Height of the morning peak (08:00), fraction of base. */
  morning: number;
  /** Depth of the night dip (03:30), fraction of base. */
  night: number;
}

export const HEURISTIC_PROVIDER_ID = 'heuristic';
export const DEFAULT_REGION = 'default';

export const REGION_PROFILES = {
  GB: { label: 'Great Britain', base: 190, solar: 0.22, evening: 0.22, morning: 0.08, night: 0.15 },
  DE: { label: 'Germany', base: 380, solar: 0.4, evening: 0.15, morning: 0.08, night: 0.02 },
  FR: { label: 'France', base: 55, solar: 0.15, evening: 0.15, morning: 0.05, night: 0.1 },
  'US-CAL': { label: 'California (CAISO)', base: 230, solar: 0.6, evening: 0.25, morning: 0.05, night: 0 },
  PL: { label: 'Poland', base: 650, solar: 0.12, evening: 0.06, morning: 0.03, night: 0.03 },
  IN: { label: 'India', base: 680, solar: 0.15, evening: 0.08, morning: 0.02, night: 0 },
  'AU-NSW': { label: 'New South Wales', base: 600, solar: 0.35, evening: 0.15, morning: 0.08, night: 0 },
  default: { label: 'Elsewhere (world average)', base: 470, solar: 0.2, evening: 0.12, morning: 0.05, night: 0.05 },
} as const satisfies Record<string, RegionProfile>;

export type CarbonRegion = keyof typeof REGION_PROFILES;
export const CARBON_REGIONS = Object.keys(REGION_PROFILES) as CarbonRegion[];

const HOUR_MS = 3_600_000;

const bump = (hour: number, centre: number, width: number): number => {
  // Circular distance so that a bump near midnight wraps around.
  const d = Math.min(Math.abs(hour - centre), 24 - Math.abs(hour - centre));
  return Math.exp(-(d * d) / (2 * width * width));
};
/** Solar output: zero before 06:00 and after 19:00, highest at 12:30. */
const sun = (hour: number): number => (hour > 6 && hour < 19 ? Math.sin((Math.PI * (hour - 6)) / 13) : 0);

function rawShape(p: RegionProfile, hour: number): number {
  const m = 1 - p.solar * sun(hour) + p.evening * bump(hour, 19, 2) + p.morning * bump(hour, 8, 1.5) - p.night * bump(hour, 3.5, 2.5);
  return Math.max(0.15, m);
}

/** Mean of the raw shape over the day (fine grid), so profiles can be normalised to their base. */
const shapeMeans = new Map<RegionProfile, number>();
function shapeMean(p: RegionProfile): number {
  let mean = shapeMeans.get(p);
  if (mean === undefined) {
    let sum = 0;
    const steps = 24 * 12;
    for (let i = 0; i < steps; i++) sum += rawShape(p, (i * 24) / steps);
    mean = sum / steps;
    shapeMeans.set(p, mean);
  }
  return mean;
}

/** The profile of a region code; unknown codes get the world-average profile. */
export function regionProfile(region: string): RegionProfile {
  return (REGION_PROFILES as Record<string, RegionProfile>)[region] ?? REGION_PROFILES.default;
}

/** The estimated intensity, gCO2eq/kWh, at a local hour (0 <= hour < 24, fractional). */
export function heuristicIntensity(region: string, localHour: number): number {
  const p = regionProfile(region);
  const hour = ((localHour % 24) + 24) % 24;
  return (p.base * rawShape(p, hour)) / shapeMean(p);
}

/**
 * The local hour of an instant. `utcOffsetMinutes` is east-positive (UTC+1 is
 * 60), the opposite sign of Date#getTimezoneOffset.
 */
export function localHourOf(now: number, utcOffsetMinutes: number): number {
  const hours = now / HOUR_MS + utcOffsetMinutes / 60;
  return ((hours % 24) + 24) % 24;
}

export interface HeuristicArgs {
  region: string;
  now: number;
  utcOffsetMinutes: number;
  /** How far ahead the forecast goes (hours); 48 covers any default deadline's day and night. */
  hours?: number;
}

/** Hourly points from the start of the current hour, each the estimate at the middle of its hour. */
export function heuristicForecast({ region, now, utcOffsetMinutes, hours = 48 }: HeuristicArgs): CarbonPoint[] {
  const start = Math.floor(now / HOUR_MS) * HOUR_MS;
  const points: CarbonPoint[] = [];
  for (let i = 0; i < hours; i++) {
    const at = start + i * HOUR_MS;
    points.push({ at, gPerKWh: heuristicIntensity(region, localHourOf(at + HOUR_MS / 2, utcOffsetMinutes)) });
  }
  return points;
}

/** The whole signal from the heuristic alone. */
export function heuristicSignal(args: HeuristicArgs): CarbonSignal {
  return {
    gPerKWh: heuristicIntensity(args.region, localHourOf(args.now, args.utcOffsetMinutes)),
    providerId: HEURISTIC_PROVIDER_ID,
    at: args.now,
    forecast: heuristicForecast(args),
  };
}

/** How fast a measured deviation from the typical day fades (hours): weather persists for hours, not days. */
export const ANCHOR_DECAY_HOURS = 12;

/**
 * A forecast for a provider that gives only the current value: the region's
 * daily shape, scaled so that it passes through the measured value now, the
 * scale fading back to the typical day over ANCHOR_DECAY_HOURS. A windy
 * morning (measured value below the shape) so makes the next hours look
 * cleaner too, but not next week.
 */
export function anchoredForecast(args: HeuristicArgs & { measured: number }): CarbonPoint[] {
  const typicalNow = heuristicIntensity(args.region, localHourOf(args.now, args.utcOffsetMinutes));
  const ratio = typicalNow > 0 ? args.measured / typicalNow : 1;
  return heuristicForecast(args).map((point) => {
    const aheadH = Math.max(0, (point.at + HOUR_MS / 2 - args.now) / HOUR_MS);
    const scale = 1 + (ratio - 1) * Math.exp(-aheadH / ANCHOR_DECAY_HOURS);
    return { at: point.at, gPerKWh: point.gPerKWh * scale };
  });
}
