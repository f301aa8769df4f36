/**
 * The pure half of pluggable grid carbon intensity providers: what to request,
 * how to read the answer, and how a chain of providers falls back to the
 * offline heuristic. The service does the fetching and hands every outcome
 * (a response with its status and raw text, or a network error) back here as
 * data, so that every failure path is a plain function call a test can make.
 *
 * Two kinds of provider are built in:
 * - a keyless regional API: the GB National Grid ESO / NESO Carbon Intensity
 *   API (api.carbonintensity.org.uk), which returns half-hour periods
 *   `{ data: [{ from, to, intensity: { forecast, actual, index } }] }`,
 *   `actual` null for periods that have not closed, and a 48 h forecast;
 * - a keyed commercial API: Electricity Maps' latest carbon intensity
 *   (`/v3/carbon-intensity/latest?zone=…`, key in the `auth-token` header),
 *   which returns `{ zone, carbonIntensity, datetime, … }` and no forecast, so
 *   the heuristic's daily shape, anchored to the measured value, fills it.
 *
 * Responses come from the network and are parsed with zod, loosely where the
 * APIs add fields over time and strictly on the numbers we use: a missing,
 * negative or absurd intensity is a failure with a reason, never a value.
 * Whatever fails, the chain ends in the heuristic and says which source was
 * used and why the others were not.
 *
 * Pure: zod and arithmetic; the caller passes the time.
 */
import { z } from 'zod';
import { anchoredForecast, heuristicSignal, HEURISTIC_PROVIDER_ID } from './carbon-heuristic';
import type { CarbonPoint, CarbonSignal } from './signals';

/** Above any real grid (coal plants alone are ~1,000 g); a larger value is a unit or parsing error. */
export const MAX_PLAUSIBLE_G_PER_KWH = 2_000;
/** A reading older than this is not "now" any more; the heuristic is as good. */
export const MAX_READING_AGE_MS = 3 * 3_600_000;

export const CARBON_PROVIDER_IDS = ['uk-carbon-intensity', 'electricity-maps'] as const;
export type CarbonProviderId = (typeof CARBON_PROVIDER_IDS)[number];

/** Where the scheduler is and which providers it may ask, in order. Persisted settings: parse with `parseCarbonSettings`. */
export interface CarbonSettings {
  /** Tried in order; empty means "none": the heuristic alone. */
  providers: CarbonProviderId[];
  /** API keys by provider; only keyed providers read theirs. */
  keys: Partial<Record<CarbonProviderId, string>>;
  /** A region code of carbon-heuristic.ts ('GB', 'DE', …; anything else is 'default'). */
  region: string;
  /** Electricity Maps zone when it differs from the region's usual one. */
  zone?: string;
}

const carbonSettingsSchema = z.strictObject({
  providers: z.array(z.enum(CARBON_PROVIDER_IDS)).max(CARBON_PROVIDER_IDS.length),
  keys: z.partialRecord(z.enum(CARBON_PROVIDER_IDS), z.string().trim().min(1).max(512)),
  region: z.string().min(1).max(32),
  zone: z.string().regex(/^[A-Za-z0-9-]{1,32}$/).optional(),
});

export const DEFAULT_CARBON_SETTINGS: CarbonSettings = { providers: [], keys: {}, region: 'default' };

/** Stored settings back into shape; anything unreadable is the defaults (the heuristic alone), with the reason. */
export function parseCarbonSettings(raw: unknown): { settings: CarbonSettings; error?: string } {
  const parsed = carbonSettingsSchema.safeParse(raw);
  if (!parsed.success) return { settings: DEFAULT_CARBON_SETTINGS, error: `carbon settings unreadable: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const providers = [...new Set(parsed.data.providers)];
  const settings: CarbonSettings = { providers, keys: parsed.data.keys, region: parsed.data.region };
  if (parsed.data.zone !== undefined) settings.zone = parsed.data.zone;
  return { settings };
}

export interface ProviderRequest {
  url: string;
  headers: Record<string, string>;
}

/** What the service observed when it asked: the response as text (JSON is parsed here), or why there was none. */
export type FetchOutcome =
  | { kind: 'response'; status: number; text: string }
  | { kind: 'network-error'; message: string };

export interface ProviderContext {
  settings: CarbonSettings;
  now: number;
  /** East-positive minutes, for the heuristic's local hours. */
  utcOffsetMinutes: number;
}

export type ProviderReading =
  | { ok: true; current: CarbonPoint; forecast: CarbonPoint[] | null }
  | { ok: false; reason: string };

export interface CarbonProvider {
  id: CarbonProviderId;
  label: string;
  needsKey: boolean;
  /** The request to make, or why this provider cannot answer for these settings (no key, outside its area). */
  request(ctx: ProviderContext): { ok: true; request: ProviderRequest } | { ok: false; reason: string };
  /** Reads a 2xx response's parsed JSON. */
  parse(body: unknown, ctx: ProviderContext): ProviderReading;
}

const finiteIntensity = z.number().finite().min(0).max(MAX_PLAUSIBLE_G_PER_KWH);
const isoTime = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'not a date');

// ---------------------------------------------------------------------------
// GB Carbon Intensity API (keyless, Great Britain only).

const ukPeriod = z.object({
  from: isoTime,
  to: isoTime,
  intensity: z.object({ forecast: finiteIntensity.nullable(), actual: finiteIntensity.nullable().optional() }),
});
const ukBody = z.object({ data: z.array(ukPeriod).min(1) });

/** The API's own time format: minutes, UTC, 'Z' (e.g. 2025-06-01T12:00Z). */
const ukTime = (ms: number): string => new Date(ms).toISOString().slice(0, 16) + 'Z';

export const ukCarbonIntensity: CarbonProvider = {
  id: 'uk-carbon-intensity',
  label: 'GB National Grid Carbon Intensity (free, no key)',
  needsKey: false,
  request(ctx) {
    if (ctx.settings.region !== 'GB') return { ok: false, reason: `covers Great Britain only (region is ${ctx.settings.region})` };
    // From the current half hour, 48 h ahead: the present value and the forecast in one call.
    const from = Math.floor(ctx.now / 1_800_000) * 1_800_000;
    return { ok: true, request: { url: `https://api.carbonintensity.org.uk/intensity/${ukTime(from)}/fw48h`, headers: { Accept: 'application/json' } } };
  },
  parse(body, ctx) {
    const parsed = ukBody.safeParse(body);
    if (!parsed.success) return { ok: false, reason: `unexpected response shape (${describeIssue(parsed.error)})` };
    const periods = parsed.data.data
      .map((p) => ({ from: Date.parse(p.from), to: Date.parse(p.to), value: p.intensity.actual ?? p.intensity.forecast }))
      .filter((p): p is { from: number; to: number; value: number } => p.value !== null && p.to > p.from)
      .sort((a, b) => a.from - b.from);
    if (periods.length === 0) return { ok: false, reason: 'no period has a value' };
    const current = periods.find((p) => p.from <= ctx.now && ctx.now < p.to) ?? nearest(periods, ctx.now);
    return {
      ok: true,
      current: { at: current.from, gPerKWh: current.value },
      forecast: periods.filter((p) => p.to > ctx.now).map((p) => ({ at: p.from, gPerKWh: p.value })),
    };
  },
};

function nearest<T extends { from: number }>(items: T[], now: number): T {
  let best = items[0]!;
  for (const item of items) if (Math.abs(item.from - now) < Math.abs(best.from - now)) best = item;
  return best;
}

// ---------------------------------------------------------------------------
// Electricity Maps (keyed, worldwide zones, current value only).

/** Our heuristic regions to Electricity Maps zones where the names differ. */
const ELECTRICITY_MAPS_ZONES: Record<string, string> = { 'US-CAL': 'US-CAL-CISO' };

const electricityMapsBody = z.object({
  zone: z.string().optional(),
  carbonIntensity: finiteIntensity,
  datetime: isoTime,
});

export const electricityMaps: CarbonProvider = {
  id: 'electricity-maps',
  label: 'Electricity Maps (needs an API key)',
  needsKey: true,
  request(ctx) {
    const key = ctx.settings.keys['electricity-maps']?.trim();
    if (!key) return { ok: false, reason: 'no API key set' };
    const zone = ctx.settings.zone ?? ELECTRICITY_MAPS_ZONES[ctx.settings.region] ?? ctx.settings.region;
    if (zone === 'default') return { ok: false, reason: 'no zone set (choose a region or a zone)' };
    return {
      ok: true,
      request: {
        url: `https://api.electricitymap.org/v3/carbon-intensity/latest?zone=${encodeURIComponent(zone)}`,
        headers: { 'auth-token': key, Accept: 'application/json' },
      },
    };
  },
  parse(body) {
    const parsed = electricityMapsBody.safeParse(body);
    if (!parsed.success) return { ok: false, reason: `unexpected response shape (${describeIssue(parsed.error)})` };
    return { ok: true, current: { at: Date.parse(parsed.data.datetime), gPerKWh: parsed.data.carbonIntensity }, forecast: null };
  },
};

export const CARBON_PROVIDERS: Record<CarbonProviderId, CarbonProvider> = {
  'uk-carbon-intensity': ukCarbonIntensity,
  'electricity-maps': electricityMaps,
};

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** Error bodies of both APIs carry a message in one of these places. */
const errorMessage = z.union([
  z.object({ error: z.object({ message: z.string() }) }).transform((b) => b.error.message),
  z.object({ error: z.string() }).transform((b) => b.error),
  z.object({ message: z.string() }).transform((b) => b.message),
]);

// ---------------------------------------------------------------------------
// The chain.

/** One step of the chain as the service should run it. */
export type PlannedStep =
  | { providerId: CarbonProviderId; request: ProviderRequest }
  | { providerId: CarbonProviderId; skipped: string };

/** Which requests to make, in order; providers that cannot answer are listed as skipped with the reason. */
export function planCarbonRequests(ctx: ProviderContext): PlannedStep[] {
  return ctx.settings.providers.map((providerId) => {
    const planned = CARBON_PROVIDERS[providerId].request(ctx);
    return planned.ok ? { providerId, request: planned.request } : { providerId, skipped: planned.reason };
  });
}

/** A provider's outcome read into a signal or a reason (bad JSON, HTTP errors, stale or absurd values all fail here). */
export function readProviderOutcome(providerId: CarbonProviderId, outcome: FetchOutcome, ctx: ProviderContext): ProviderReading {
  if (outcome.kind === 'network-error') return { ok: false, reason: `network error: ${outcome.message}` };
  let body: unknown;
  let jsonError: string | null = null;
  try {
    body = JSON.parse(outcome.text);
  } catch (error) {
    jsonError = error instanceof Error ? error.message : String(error);
  }
  if (outcome.status < 200 || outcome.status > 299) {
    const message = jsonError === null ? errorMessage.safeParse(body) : null;
    const detail = message?.success ? `: ${message.data.slice(0, 200)}` : '';
    const hint = outcome.status === 401 || outcome.status === 403 ? ' (is the API key right?)' : outcome.status === 429 ? ' (rate limited)' : '';
    return { ok: false, reason: `HTTP ${outcome.status}${hint}${detail}` };
  }
  if (jsonError !== null) return { ok: false, reason: 'the response is not JSON' };
  const reading = CARBON_PROVIDERS[providerId].parse(body, ctx);
  if (!reading.ok) return reading;
  if (ctx.now - reading.current.at > MAX_READING_AGE_MS) {
    return { ok: false, reason: `the reading is ${Math.round((ctx.now - reading.current.at) / 3_600_000)} h old` };
  }
  if (reading.current.at - ctx.now > 3_600_000) return { ok: false, reason: 'the reading is dated in the future' };
  return reading;
}

export interface ChainAttempt {
  providerId: CarbonProviderId;
  /** A skipped step (from the plan) or what came back. */
  result: { skipped: string } | ProviderReading;
}

export interface CarbonResolution {
  signal: CarbonSignal;
  /** The provider whose value is used, or 'heuristic'. */
  source: CarbonProviderId | typeof HEURISTIC_PROVIDER_ID;
  /** For people: which source and why. */
  reason: string;
  /** Every provider that was not used, with why. */
  failures: { providerId: CarbonProviderId; reason: string }[];
}

/**
 * The first provider that answered, else the heuristic. A provider with a
 * forecast keeps it; one without gets the heuristic's shape anchored to its
 * value. Attempts after the first success are ignored (the service stops
 * asking there anyway).
 */
export function resolveCarbon(attempts: ChainAttempt[], ctx: ProviderContext): CarbonResolution {
  const failures: CarbonResolution['failures'] = [];
  const base = { region: ctx.settings.region, now: ctx.now, utcOffsetMinutes: ctx.utcOffsetMinutes };
  for (const attempt of attempts) {
    const result = attempt.result;
    if ('skipped' in result) {
      failures.push({ providerId: attempt.providerId, reason: result.skipped });
      continue;
    }
    if (!result.ok) {
      failures.push({ providerId: attempt.providerId, reason: result.reason });
      continue;
    }
    const forecast =
      result.forecast && result.forecast.length > 0 ? result.forecast : anchoredForecast({ ...base, measured: result.current.gPerKWh });
    const label = CARBON_PROVIDERS[attempt.providerId].label;
    const skippedNote = failures.length ? ` (${failures.map((f) => `${f.providerId}: ${f.reason}`).join('; ')})` : '';
    return {
      signal: { gPerKWh: result.current.gPerKWh, providerId: attempt.providerId, at: result.current.at, forecast },
      source: attempt.providerId,
      reason: `${label}: ${Math.round(result.current.gPerKWh)} gCO2/kWh${result.forecast?.length ? ' with its forecast' : ', forecast from the daily pattern'}${skippedNote}`,
      failures,
    };
  }
  const signal = heuristicSignal(base);
  const why =
    ctx.settings.providers.length === 0 && failures.length === 0
      ? 'no provider configured'
      : failures.length === 0
        ? 'no provider answered'
        : failures.map((f) => `${f.providerId}: ${f.reason}`).join('; ');
  return { signal, source: HEURISTIC_PROVIDER_ID, reason: `estimated from the time of day for ${ctx.settings.region} (${why})`, failures };
}
