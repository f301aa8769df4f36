/**
 * The energy signals of this page, read from the browser (DESIGN.md 2.8):
 * the battery (Battery Status API, Chromium only), the grid's carbon
 * intensity (the configured providers, then the offline heuristic) and the
 * network (online, save-data). The pure domain in src/lib/energy decides on
 * them; this service only gathers them, remembers them and says where each
 * one came from.
 *
 * - Battery: every reading is persisted to the `energy` table ('battery') so
 *   that the service worker, which has no Battery API, can decide on the last
 *   known state. Without the API (Firefox, Safari, a refused permission) the
 *   persisted reading is used while it is fresh, then the battery is
 *   "unknown" with the reason: the policy decides on the grid alone.
 * - Carbon: the providers are asked in order with a timeout; every failure
 *   (HTTP error, bad JSON, absurd value, timeout, offline) passes to the next
 *   and finally to the heuristic, and the reason is kept for the view. The
 *   result is cached ('forecast') and asked again at most every 30 minutes,
 *   or at once when the settings change or the network comes back after a
 *   fallback. Between refreshes "now" is read off the cached forecast.
 * - A short history of carbon and charging ('history', the last 48 h) feeds
 *   the timeline and the "at enqueue" intensity of the savings estimate.
 * - Settings ('carbonSettings', 'policySettings') are validated on read: a
 *   damaged record is the defaults, never a crash.
 *
 * Everything from outside (navigator, window events, fetch, the database,
 * the clocks and timers) is injected so that unit tests use doubles.
 */
import { z } from 'zod';
import { heuristicSignal, localHourOf, heuristicIntensity, HEURISTIC_PROVIDER_ID } from '../lib/energy/carbon-heuristic';
import {
  CARBON_PROVIDER_IDS,
  DEFAULT_CARBON_SETTINGS,
  parseCarbonSettings,
  planCarbonRequests,
  readProviderOutcome,
  resolveCarbon,
  type CarbonProviderId,
  type CarbonResolution,
  type CarbonSettings,
  type ChainAttempt,
  type FetchOutcome,
  type ProviderContext,
} from '../lib/energy/carbon-providers';
import { intensityAt } from '../lib/energy/energy-estimate';
import { DEFAULT_POLICY_SETTINGS, type PolicySettings } from '../lib/energy/policy';
import {
  batteryFromManager,
  batteryFromPersisted,
  DEFAULT_BATTERY_MAX_AGE_MS,
  type BatterySignal,
  type CarbonPoint,
  type CarbonSignal,
  type EnergySignals,
  type NetworkSignal,
} from '../lib/energy/signals';
import type { H3lixDatabase } from './db';

/** A row of the `energy` table. */
export interface EnergyRecord {
  key: string;
  value: unknown;
}

export const ENERGY_KEYS = {
  battery: 'battery',
  forecast: 'forecast',
  history: 'history',
  carbonSettings: 'carbonSettings',
  policySettings: 'policySettings',
  runs: 'runs',
} as const;

/** Ask the providers again at most this often (their data changes every half hour). */
export const CARBON_REFRESH_MS = 30 * 60_000;
/** How long one provider may take. */
export const PROVIDER_TIMEOUT_MS = 10_000;
/** How far back the history goes. */
export const HISTORY_MS = 48 * 3_600_000;
/** A history sample at most this often unless the charging state changes. */
export const HISTORY_STEP_MS = 10 * 60_000;
const HISTORY_MAX = 1_000;

// ---------------------------------------------------------------------------
// What is injected.

type Listener = () => void;

/** The parts of a BatteryManager this service reads. */
export interface BatteryManagerLike {
  charging: boolean;
  level: number;
  dischargingTime: number;
  addEventListener(type: string, listener: Listener): void;
  removeEventListener(type: string, listener: Listener): void;
}

export interface ConnectionLike {
  saveData?: boolean;
  addEventListener?(type: 'change', listener: Listener): void;
  removeEventListener?(type: 'change', listener: Listener): void;
}

/** The parts of `navigator` this service reads. */
export interface NavigatorLike {
  onLine: boolean;
  getBattery?: () => Promise<BatteryManagerLike>;
  connection?: ConnectionLike;
}

/** Where online/offline events arrive (window). */
export interface EventSourceLike {
  addEventListener(type: 'online' | 'offline', listener: Listener): void;
  removeEventListener(type: 'online' | 'offline', listener: Listener): void;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface EnergySignalsDeps {
  db: () => H3lixDatabase;
  /** Wall clock, ms since the epoch. */
  now: () => number;
  /** `navigator` in the page; null where there is none. */
  navigator: NavigatorLike | null;
  /** `window` for online/offline events; null where there is none. */
  events: EventSourceLike | null;
  fetch: (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number; text(): Promise<string> }>;
  /** East-positive minutes at an instant (default from the browser's time zone). */
  utcOffsetMinutes?: (at: number) => number;
  /** An abort signal that fires after ms (default AbortSignal.timeout). */
  timeout?: (ms: number) => AbortSignal;
  providerTimeoutMs?: number;
  refreshMs?: number;
  timers?: Timers;
}

// ---------------------------------------------------------------------------
// What the view and the scheduler read.

export type BatterySource = 'live' | 'stored' | 'none';

export interface BatteryView {
  signal: BatterySignal;
  /** 'live': the Battery API of this page; 'stored': the last reading persisted; 'none': nothing usable. */
  source: BatterySource;
  /** Why the API is not used, when it is not. */
  apiProblem: string | null;
  /** Age of the reading, ms (null when unknown). */
  ageMs: number | null;
}

export interface CarbonView {
  signal: CarbonSignal;
  source: CarbonProviderId | typeof HEURISTIC_PROVIDER_ID;
  /** One sentence: which source and why. */
  reason: string;
  failures: { providerId: CarbonProviderId; reason: string }[];
  /** When the providers were last asked (null: never, the heuristic of this moment). */
  fetchedAt: number | null;
  ageMs: number | null;
  /** A refresh is in progress. */
  refreshing: boolean;
}

export interface NetworkView {
  signal: NetworkSignal;
  /** Whether navigator.connection.saveData exists here. */
  saveDataKnown: boolean;
}

export interface SignalsSnapshot {
  now: number;
  battery: BatteryView;
  carbon: CarbonView;
  network: NetworkView;
}

/** One point of the recorded past: the grid and the charger at a time. */
export interface HistorySample {
  at: number;
  gPerKWh: number;
  /** null: battery unknown. */
  charging: boolean | null;
  level: number | null;
}

// ---------------------------------------------------------------------------
// Stored shapes, validated on read.

const pointSchema = z.object({ at: z.number().finite(), gPerKWh: z.number().finite().min(0).max(100_000) });

const cachedForecastSchema = z.object({
  fetchedAt: z.number().int().nonnegative(),
  settingsKey: z.string(),
  resolution: z.object({
    signal: z.object({ gPerKWh: z.number().finite().min(0), providerId: z.string(), at: z.number().finite(), forecast: z.array(pointSchema).max(2_000) }),
    source: z.enum([...CARBON_PROVIDER_IDS, HEURISTIC_PROVIDER_ID]),
    reason: z.string().max(4_000),
    failures: z.array(z.object({ providerId: z.enum(CARBON_PROVIDER_IDS), reason: z.string().max(2_000) })).max(10),
  }),
});
type CachedForecast = z.infer<typeof cachedForecastSchema>;

const historySchema = z.array(
  z.object({
    at: z.number().finite(),
    gPerKWh: z.number().finite().min(0),
    charging: z.boolean().nullable(),
    level: z.number().min(0).max(1).nullable(),
  }),
);

const fraction = z.number().finite().min(0).max(1);
const policySchema = z.strictObject({
  cleanQuantile: fraction.min(0.01),
  heavyCleanQuantile: fraction.min(0.01),
  horizonHours: z.number().finite().min(1).max(168),
  heavyHorizonHours: z.number().finite().min(1).max(168),
  alwaysCleanGPerKWh: z.number().finite().min(0).max(2_000),
  highBatteryLevel: fraction,
  lightJobMinBatteryLevel: fraction,
  fastDrainHours: z.number().finite().min(0).max(48),
  recheckMs: z.number().int().min(10_000).max(24 * 3_600_000),
  throttle: z.number().finite().min(0.05).max(1),
});

/**
 * Stored policy settings back into shape: the fields present are checked and
 * laid over the defaults (a field added in a later version keeps its
 * default); anything unreadable is the defaults, with the reason.
 */
export function parsePolicySettings(raw: unknown): { settings: PolicySettings; error?: string } {
  if (raw === undefined || raw === null) return { settings: DEFAULT_POLICY_SETTINGS };
  const parsed = policySchema.partial().safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { settings: DEFAULT_POLICY_SETTINGS, error: `policy settings unreadable: ${issue ? `${issue.path.join('.') || 'settings'}: ${issue.message}` : 'invalid'}` };
  }
  const defined = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
  return { settings: { ...DEFAULT_POLICY_SETTINGS, ...defined } };
}

/** What distinguishes one provider configuration from another for the cache (the key itself is not stored twice). */
function settingsKeyOf(s: CarbonSettings): string {
  return JSON.stringify({ p: s.providers, r: s.region, z: s.zone ?? null, k: s.providers.map((id) => (s.keys[id] ? 1 : 0)) });
}

const defaultOffset = (at: number): number => -new Date(at).getTimezoneOffset();

function describeError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error || error instanceof DOMException) {
    if (error.name === 'TimeoutError') return `no answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`;
    if (error.name === 'AbortError') return 'the request was cancelled';
    return error.message || error.name;
  }
  return String(error);
}

export class EnergySignalsService {
  #deps: EnergySignalsDeps;
  #listeners = new Set<Listener>();
  #timers: Timers;

  #carbonSettings: CarbonSettings = DEFAULT_CARBON_SETTINGS;
  #policySettings: PolicySettings = DEFAULT_POLICY_SETTINGS;
  #settingsErrors: string[] = [];

  #manager: BatteryManagerLike | null = null;
  #live: BatterySignal | null = null;
  #stored: unknown = undefined;
  #apiProblem: string | null = null;

  #cached: CachedForecast | null = null;
  #refreshing: Promise<void> | null = null;
  #history: HistorySample[] = [];
  #historyWrite: Promise<void> = Promise.resolve();

  #online = true;
  #started = false;
  #stopped = false;
  #timer: unknown = null;
  #unsubscribe: (() => void)[] = [];

  constructor(deps: EnergySignalsDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
    this.#online = deps.navigator?.onLine ?? true;
  }

  #table() {
    return this.#deps.db().table<EnergyRecord, string>('energy');
  }

  /** Something changed (charging, level, grid, network, settings): `listener` runs. Returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        console.warn('An energy listener failed', error);
      }
    }
  }

  get carbonSettings(): CarbonSettings {
    return this.#carbonSettings;
  }

  get policySettings(): PolicySettings {
    return this.#policySettings;
  }

  /** Why stored settings were not used (damaged records), for the view. */
  get settingsErrors(): readonly string[] {
    return this.#settingsErrors;
  }

  /** The recorded past (ascending), the last 48 h. */
  get history(): readonly HistorySample[] {
    return this.#history;
  }

  /**
   * Reads the stored state, subscribes to the browser's events, asks the
   * providers when the cached forecast is stale, and refreshes every
   * `refreshMs` from then on. Never throws: whatever fails is a reason in
   * the snapshot.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#load();
    this.#subscribeNetwork();
    await this.#subscribeBattery();
    if (this.#stopped) return;
    await this.refreshCarbon();
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
  }

  async #load(): Promise<void> {
    this.#settingsErrors = [];
    let rows: (EnergyRecord | undefined)[] = [];
    try {
      rows = await this.#table().bulkGet([ENERGY_KEYS.carbonSettings, ENERGY_KEYS.policySettings, ENERGY_KEYS.battery, ENERGY_KEYS.forecast, ENERGY_KEYS.history]);
    } catch (error) {
      this.#settingsErrors.push(`energy settings could not be read: ${describeError(error, 0)}`);
    }
    const [carbonRow, policyRow, batteryRow, forecastRow, historyRow] = rows;
    if (carbonRow) {
      const read = parseCarbonSettings(carbonRow.value);
      this.#carbonSettings = read.settings;
      if (read.error) this.#settingsErrors.push(read.error);
    }
    const policy = parsePolicySettings(policyRow?.value);
    this.#policySettings = policy.settings;
    if (policy.error) this.#settingsErrors.push(policy.error);
    this.#stored = batteryRow?.value;
    if (forecastRow) {
      const read = cachedForecastSchema.safeParse(forecastRow.value);
      this.#cached = read.success ? read.data : null;
    }
    if (historyRow) {
      const read = historySchema.safeParse(historyRow.value);
      this.#history = read.success ? read.data.sort((a, b) => a.at - b.at) : [];
    }
    for (const error of this.#settingsErrors) console.warn(error);
  }

  // -------------------------------------------------------------------------
  // Battery

  async #subscribeBattery(): Promise<void> {
    const nav = this.#deps.navigator;
    if (!nav || typeof nav.getBattery !== 'function') {
      this.#apiProblem = 'this browser has no Battery Status API';
      return;
    }
    let manager: BatteryManagerLike;
    try {
      manager = await nav.getBattery();
    } catch (error) {
      this.#apiProblem = `the browser refused the battery state (${describeError(error, 0)})`;
      return;
    }
    if (this.#stopped) return;
    this.#manager = manager;
    this.#apiProblem = null;
    const onEvent = () => void this.#readBattery();
    for (const type of ['chargingchange', 'levelchange', 'dischargingtimechange']) {
      manager.addEventListener(type, onEvent);
      this.#unsubscribe.push(() => manager.removeEventListener(type, onEvent));
    }
    await this.#readBattery();
  }

  async #readBattery(): Promise<void> {
    const manager = this.#manager;
    if (!manager) return;
    const previous = this.#live;
    const reading = batteryFromManager(manager, this.#deps.now());
    this.#live = reading;
    this.#stored = reading;
    const changed =
      !previous ||
      previous.kind !== reading.kind ||
      (previous.kind === 'known' && reading.kind === 'known' && (previous.charging !== reading.charging || previous.level !== reading.level || previous.dischargingTimeS !== reading.dischargingTimeS));
    try {
      await this.#table().put({ key: ENERGY_KEYS.battery, value: reading });
    } catch (error) {
      console.warn('Could not store the battery reading', error);
    }
    const chargingChanged = !previous || previous.kind !== 'known' || reading.kind !== 'known' || previous.charging !== reading.charging;
    await this.#sample(chargingChanged);
    if (changed) this.#emit();
  }

  #battery(now: number): BatteryView {
    if (this.#live && this.#manager) {
      // The API fires events on every change, so the live reading is current however old it is.
      const live = this.#live;
      return { signal: live.kind === 'known' ? { ...live, readAt: now } : live, source: 'live', apiProblem: null, ageMs: 0 };
    }
    const signal = batteryFromPersisted(this.#stored, now, DEFAULT_BATTERY_MAX_AGE_MS);
    const problem = this.#apiProblem ?? 'the battery state has not been read yet';
    if (signal.kind === 'known') return { signal, source: 'stored', apiProblem: problem, ageMs: Math.max(0, now - signal.readAt) };
    return { signal: { kind: 'unknown', reason: `${problem}; ${signal.reason}` }, source: 'none', apiProblem: problem, ageMs: null };
  }

  // -------------------------------------------------------------------------
  // Network

  #saveData(): boolean {
    return this.#deps.navigator?.connection?.saveData === true;
  }

  #subscribeNetwork(): void {
    const events = this.#deps.events;
    if (events) {
      const online = () => this.#setOnline(true);
      const offline = () => this.#setOnline(false);
      events.addEventListener('online', online);
      events.addEventListener('offline', offline);
      this.#unsubscribe.push(() => {
        events.removeEventListener('online', online);
        events.removeEventListener('offline', offline);
      });
    }
    const connection = this.#deps.navigator?.connection;
    if (connection?.addEventListener) {
      const change = () => this.#emit();
      connection.addEventListener('change', change);
      this.#unsubscribe.push(() => connection.removeEventListener?.('change', change));
    }
  }

  #setOnline(online: boolean): void {
    if (this.#online === online) return;
    this.#online = online;
    this.#emit();
    // Back online after the providers could not be reached: ask them now rather than in half an hour.
    if (online && this.#carbonSettings.providers.length > 0 && this.#cached?.resolution.source === HEURISTIC_PROVIDER_ID) {
      void this.refreshCarbon({ force: true });
    }
  }

  #network(): NetworkView {
    const nav = this.#deps.navigator;
    const online = nav ? nav.onLine && this.#online : this.#online;
    return { signal: { online, saveData: this.#saveData() }, saveDataKnown: typeof nav?.connection?.saveData === 'boolean' };
  }

  // -------------------------------------------------------------------------
  // Carbon

  #offset(at: number): number {
    return (this.#deps.utcOffsetMinutes ?? defaultOffset)(at);
  }

  #context(now: number): ProviderContext {
    return { settings: this.#carbonSettings, now, utcOffsetMinutes: this.#offset(now) };
  }

  /** Whether the cached forecast is still good for the current settings. */
  #fresh(now: number): boolean {
    const cached = this.#cached;
    if (!cached || cached.settingsKey !== settingsKeyOf(this.#carbonSettings)) return false;
    return now - cached.fetchedAt >= 0 && now - cached.fetchedAt < (this.#deps.refreshMs ?? CARBON_REFRESH_MS);
  }

  /**
   * Asks the providers (in order, stopping at the first good answer) unless
   * the cached answer is younger than `refreshMs`; `force` asks anyway.
   * Concurrent calls share one refresh. Never throws.
   */
  refreshCarbon(options: { force?: boolean } = {}): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    if (!options.force && this.#fresh(this.#deps.now())) return Promise.resolve();
    this.#refreshing = this.#refresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const settings = this.#carbonSettings;
    const now = this.#deps.now();
    const ctx: ProviderContext = { settings, now, utcOffsetMinutes: this.#offset(now) };
    const attempts: ChainAttempt[] = [];
    const offline = !this.#network().signal.online;
    for (const step of planCarbonRequests(ctx)) {
      if ('skipped' in step) {
        attempts.push({ providerId: step.providerId, result: { skipped: step.skipped } });
        continue;
      }
      if (offline) {
        attempts.push({ providerId: step.providerId, result: { skipped: 'offline' } });
        continue;
      }
      const outcome = await this.#ask(step.request.url, step.request.headers);
      const reading = readProviderOutcome(step.providerId, outcome, ctx);
      attempts.push({ providerId: step.providerId, result: reading });
      if (reading.ok) break;
    }
    const resolution = resolveCarbon(attempts, ctx);
    // The settings may have changed while we waited: the newer refresh wins.
    if (settings !== this.#carbonSettings || this.#stopped) return;
    this.#cached = { fetchedAt: now, settingsKey: settingsKeyOf(settings), resolution };
    try {
      await this.#table().put({ key: ENERGY_KEYS.forecast, value: this.#cached });
    } catch (error) {
      console.warn('Could not store the carbon forecast', error);
    }
    await this.#sample(true);
    this.#emit();
  }

  async #ask(url: string, headers: Record<string, string>): Promise<FetchOutcome> {
    const timeoutMs = this.#deps.providerTimeoutMs ?? PROVIDER_TIMEOUT_MS;
    const signal = (this.#deps.timeout ?? ((ms: number) => AbortSignal.timeout(ms)))(timeoutMs);
    try {
      const response = await this.#deps.fetch(url, { headers, signal });
      const text = await response.text();
      return { kind: 'response', status: response.status, text };
    } catch (error) {
      return { kind: 'network-error', message: describeError(error, timeoutMs) };
    }
  }

  /** The carbon signal now: the cached answer, its "now" moved along its forecast as time passes. */
  #carbon(now: number): CarbonView {
    const cached = this.#cached;
    const refreshing = this.#refreshing !== null;
    if (!cached) {
      const providers = this.#carbonSettings.providers.length > 0;
      const signal = heuristicSignal({ region: this.#carbonSettings.region, now, utcOffsetMinutes: this.#offset(now) });
      const reason = `estimated from the time of day for ${this.#carbonSettings.region} (${providers ? 'the providers have not been asked yet' : 'no provider configured'})`;
      return { signal, source: HEURISTIC_PROVIDER_ID, reason, failures: [], fetchedAt: null, ageMs: null, refreshing };
    }
    const { resolution } = cached;
    const forecast = resolution.signal.forecast;
    const last = forecast[forecast.length - 1];
    let signal: CarbonSignal = resolution.signal;
    if (!last || now >= last.at + 3_600_000) {
      // The forecast has run out (a long time offline): the time-of-day estimate, which is what it would fall back to.
      signal = heuristicSignal({ region: this.#carbonSettings.region, now, utcOffsetMinutes: this.#offset(now) });
      return {
        signal,
        source: HEURISTIC_PROVIDER_ID,
        reason: `estimated from the time of day for ${this.#carbonSettings.region} (the last forecast has run out)`,
        failures: resolution.failures,
        fetchedAt: cached.fetchedAt,
        ageMs: now - cached.fetchedAt,
        refreshing,
      };
    }
    if (now - cached.fetchedAt >= (this.#deps.refreshMs ?? CARBON_REFRESH_MS)) {
      const projected = intensityAt(forecast, now);
      if (projected !== null) signal = { ...signal, gPerKWh: projected, at: now };
    }
    return {
      signal,
      source: resolution.source,
      reason: resolution.reason,
      failures: resolution.failures,
      fetchedAt: cached.fetchedAt,
      ageMs: Math.max(0, now - cached.fetchedAt),
      refreshing,
    };
  }

  /**
   * The intensity at a past or future time as well as this device knows it:
   * the recorded history, else the forecast, else the time-of-day estimate.
   */
  carbonAt(at: number): number {
    const fromHistory = this.#history.length > 0 && at >= this.#history[0]!.at ? intensityAt(this.#history, at) : null;
    if (fromHistory !== null && at <= this.#history[this.#history.length - 1]!.at + HISTORY_STEP_MS * 3) return fromHistory;
    const forecast = this.#cached?.resolution.signal.forecast ?? [];
    const last = forecast[forecast.length - 1];
    if (forecast.length > 0 && at >= forecast[0]!.at && last && at < last.at + 3_600_000) {
      const fromForecast = intensityAt(forecast, at);
      if (fromForecast !== null) return fromForecast;
    }
    if (fromHistory !== null) return fromHistory;
    return heuristicIntensity(this.#carbonSettings.region, localHourOf(at, this.#offset(at)));
  }

  /** The forecast ahead as it stands (ascending). */
  forecast(): CarbonPoint[] {
    return this.#carbon(this.#deps.now()).signal.forecast;
  }

  // -------------------------------------------------------------------------
  // History

  async #sample(force: boolean): Promise<void> {
    const now = this.#deps.now();
    const last = this.#history[this.#history.length - 1];
    if (!force && last && now - last.at < HISTORY_STEP_MS) return;
    const battery = this.#battery(now).signal;
    const sample: HistorySample = {
      at: now,
      gPerKWh: this.#carbon(now).signal.gPerKWh,
      charging: battery.kind === 'known' ? battery.charging : null,
      level: battery.kind === 'known' ? battery.level : null,
    };
    this.#history = [...this.#history.filter((s) => s.at > now - HISTORY_MS && s.at < now), sample].slice(-HISTORY_MAX);
    const history = this.#history;
    this.#historyWrite = this.#historyWrite
      .then(async () => {
        await this.#table().put({ key: ENERGY_KEYS.history, value: history });
      })
      .catch((error: unknown) => console.warn('Could not store the energy history', error));
    await this.#historyWrite;
  }

  /** Records a sample now if the last one is older than HISTORY_STEP_MS (the timer calls it; tests may too). */
  tick(): Promise<void> {
    return this.#sample(false);
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      void (async () => {
        await this.refreshCarbon();
        await this.#sample(false);
        // Even without a refresh the grid "now" moved along the forecast: let the scheduler look again.
        this.#emit();
      })().finally(() => this.#arm());
    }, HISTORY_STEP_MS);
  }

  // -------------------------------------------------------------------------
  // Reading

  /** The signals the policy decides on, now. Synchronous: the runner asks inside a database transaction. */
  current(): EnergySignals {
    const now = this.#deps.now();
    return { battery: this.#battery(now).signal, carbon: this.#carbon(now).signal, network: this.#network().signal };
  }

  /** The signals with where each came from, for the view. */
  snapshot(): SignalsSnapshot {
    const now = this.#deps.now();
    return { now, battery: this.#battery(now), carbon: this.#carbon(now), network: this.#network() };
  }

  // -------------------------------------------------------------------------
  // Settings

  /** Validates, stores and applies carbon settings, then asks the providers again. Throws on invalid settings. */
  async saveCarbonSettings(settings: CarbonSettings): Promise<CarbonSettings> {
    const read = parseCarbonSettings(settings);
    if (read.error) throw new Error(read.error.replace(/^carbon settings unreadable/, 'These carbon settings are not valid'));
    await this.#table().put({ key: ENERGY_KEYS.carbonSettings, value: read.settings });
    this.#carbonSettings = read.settings;
    this.#settingsErrors = this.#settingsErrors.filter((e) => !e.startsWith('carbon settings'));
    // A refresh under the old settings may be running; it discards its answer (the settings object changed).
    await this.#refreshing;
    await this.refreshCarbon({ force: true });
    return read.settings;
  }

  /** Validates, stores and applies policy settings (fields given are laid over the current ones). Throws on invalid settings. */
  async savePolicySettings(patch: Partial<PolicySettings>): Promise<PolicySettings> {
    const merged = { ...this.#policySettings, ...patch };
    const parsed = policySchema.safeParse(merged);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`These policy settings are not valid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
    }
    await this.#table().put({ key: ENERGY_KEYS.policySettings, value: parsed.data });
    this.#policySettings = parsed.data;
    this.#settingsErrors = this.#settingsErrors.filter((e) => !e.startsWith('policy settings'));
    this.#emit();
    return parsed.data;
  }
}
