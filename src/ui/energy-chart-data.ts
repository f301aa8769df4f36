/**
 * Pure helpers of the Energy view (EnergyDialog.svelte): the timeline's chart
 * data (carbon intensity recorded and forecast, charging, job runs) with its
 * table, the words for the signals, decisions and savings, and the settings
 * form read back into settings. Provider reasons come from outside (HTTP
 * error bodies): they are returned as they are, for the view to render as
 * text only.
 */
import { CARBON_REGIONS, HEURISTIC_PROVIDER_ID, REGION_PROFILES, type CarbonRegion } from '../lib/energy/carbon-heuristic';
import type { CarbonProviderId, CarbonSettings } from '../lib/energy/carbon-providers';
import { intensityAt, type SavingsEstimate } from '../lib/energy/energy-estimate';
import { JOB_CLASS_SPECS } from '../lib/energy/jobs';
import { DEFAULT_POLICY_SETTINGS, type JobAction, type PolicySettings } from '../lib/energy/policy';
import type { CarbonPoint } from '../lib/energy/signals';
import type { RunRecord } from '../services/energy-scheduler';
import type { BatteryView, CarbonView, HistorySample, NetworkView } from '../services/energy-signals';
import type { ChartConfig, ChartData, ChartTable } from './Chart.svelte';

const HOUR = 3_600_000;

export interface ChartModel {
  data: ChartData;
  config: ChartConfig;
  table: ChartTable;
}

// ---------------------------------------------------------------------------
// Words

/** A fraction 0..1 as a whole percentage with a space, e.g. `64 %`. */
export function percent(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${Math.round(x * 100)} %`;
}

export function minutesAgo(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  if (ms < 60_000) return 'just now';
  if (ms < HOUR) return `${Math.round(ms / 60_000)} min ago`;
  return `${(ms / HOUR).toFixed(1)} h ago`;
}

/** "Charging" / "On battery, 64 %" / "Battery unknown: <reason>". */
export function batteryWords(battery: Pick<BatteryView, 'signal'>): string {
  const s = battery.signal;
  if (s.kind === 'unknown') return `Battery unknown: ${s.reason}`;
  return s.charging ? 'Charging' : `On battery, ${percent(s.level)}`;
}

/** Where the battery state comes from and how fresh it is. */
export function batterySourceWords(battery: BatteryView): string {
  if (battery.source === 'live') {
    const s = battery.signal;
    return s.kind === 'known' && s.charging ? `read from this browser (${percent(s.level)} full)` : 'read from this browser';
  }
  if (battery.source === 'stored') return `last stored reading, ${minutesAgo(battery.ageMs)} (${battery.apiProblem ?? 'no live reading'})`;
  return 'jobs are scheduled on the grid alone';
}

export const CARBON_SOURCE_LABELS: Readonly<Record<CarbonProviderId | typeof HEURISTIC_PROVIDER_ID, string>> = {
  'uk-carbon-intensity': 'UK Carbon Intensity',
  'electricity-maps': 'Electricity Maps',
  heuristic: 'estimate from the time of day',
};

export function carbonSourceLabel(id: string): string {
  return (CARBON_SOURCE_LABELS as Record<string, string>)[id] ?? id;
}

/** e.g. `212 g CO₂/kWh`. */
export function gramsPerKWh(g: number): string {
  return Number.isFinite(g) ? `${Math.round(g)} g CO₂/kWh` : '—';
}

/** The carbon line: value and source. */
export function carbonWords(carbon: Pick<CarbonView, 'signal' | 'source'>): string {
  return `${gramsPerKWh(carbon.signal.gPerKWh)}, ${carbonSourceLabel(carbon.source)}`;
}

/** Each provider that was not used, with why: `UK Carbon Intensity: HTTP 500`. */
export function carbonFailures(carbon: Pick<CarbonView, 'failures'>): string[] {
  return carbon.failures.map((f) => `${carbonSourceLabel(f.providerId)}: ${f.reason}`);
}

export function networkWords(network: NetworkView): string {
  const s = network.signal;
  const base = s.online ? 'Online' : 'Offline: network jobs wait';
  return s.saveData ? `${base}, data saver on (big syncs wait)` : base;
}

export const ACTION_WORDS: Readonly<Record<JobAction, string>> = {
  run: 'Runs now',
  'run-throttled': 'Runs slowly',
  defer: 'Waits',
};

/** A time of day in the person's locale, with the day when it is not today. */
export function clock(at: number, now: number): string {
  const d = new Date(at);
  const sameDay = new Date(now).toDateString() === d.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

/** The savings estimate in one or two sentences. */
export function savingsWords(s: SavingsEstimate): string {
  if (s.runs === 0) return 'No background job has finished yet, so nothing has been saved yet.';
  const grams = (g: number) => (Math.abs(g) < 10 ? `${g.toFixed(1)} g` : `${Math.round(g)} g`);
  const jobs = `${s.runs} finished ${s.runs === 1 ? 'job' : 'jobs'}, about ${s.energyWh.toFixed(1)} Wh`;
  if (s.gramsSaved >= 0) {
    return `Estimated ${grams(s.gramsSaved)} CO₂ saved (${percent(s.fractionSaved)}) against running everything at once: ${grams(s.gramsScheduled)} instead of ${grams(s.gramsImmediate)} for ${jobs}.`;
  }
  return `Estimated ${grams(-s.gramsSaved)} CO₂ more than running everything at once (${grams(s.gramsScheduled)} instead of ${grams(s.gramsImmediate)} for ${jobs}): deadlines made some jobs run in dirtier hours.`;
}

export function runWords(run: Pick<RunRecord, 'jobClass' | 'throttled' | 'outcome'>): string {
  const label = JOB_CLASS_SPECS[run.jobClass].label;
  const notes = [run.throttled ? 'slowly' : null, run.outcome === 'done' ? null : run.outcome].filter((x): x is string => x !== null);
  return notes.length ? `${label} (${notes.join(', ')})` : label;
}

// ---------------------------------------------------------------------------
// The timeline

export interface TimelineInput {
  now: number;
  /** Recorded carbon and charging, ascending. */
  history: readonly HistorySample[];
  /** The forecast ahead, ascending. */
  forecast: readonly CarbonPoint[];
  runs: readonly RunRecord[];
  /** The intensity now (the value the scheduler decides on). */
  gPerKWhNow: number;
  /** The battery now: true, false, or null when unknown. */
  chargingNow: boolean | null;
  pastMs?: number;
  aheadMs?: number;
}

export const TIMELINE_COLORS = {
  charging: 'rgba(46, 160, 67, 0.45)',
  recorded: 'var(--accent)',
  forecast: 'var(--muted)',
  run: '#1f77b4',
  throttled: '#d62728',
} as const;

/** The charging state in force at a time: the latest sample at or before it. */
function chargingAt(history: readonly HistorySample[], at: number): boolean | null | undefined {
  let found: boolean | null | undefined;
  for (const s of history) {
    if (s.at > at) break;
    found = s.charging;
  }
  return found;
}

/**
 * The last `pastMs` (24 h, from the first thing recorded) and the next
 * `aheadMs` (24 h, as far as the forecast goes) on one time axis: the intensity recorded (solid) and
 * forecast (dashed) in g/kWh, charging as a band along the top, and each job
 * run as a point at its start on the intensity it ran at (throttled runs in
 * their own colour). The x values are whole hours, the moments the charger
 * was plugged in or out, the runs and now.
 */
export function timelineChart(input: TimelineInput): ChartModel {
  const { now } = input;
  const from = now - (input.pastMs ?? 24 * HOUR);
  const lastForecast = input.forecast[input.forecast.length - 1];
  const forecastEnd = lastForecast ? lastForecast.at + HOUR : now;
  const to = Math.max(now, Math.min(now + (input.aheadMs ?? 24 * HOUR), forecastEnd));

  const history = input.history.filter((s) => s.at <= now);
  const runs = input.runs.filter((r) => r.startedAt >= from && r.startedAt <= now);
  // The past only as far back as anything was recorded (a fresh install has no past to show).
  const firstKnown = Math.min(now, history[0]?.at ?? now, ...runs.map((r) => r.startedAt));
  const start = Math.max(from, firstKnown);
  const xs = new Set<number>([now]);
  for (let t = Math.ceil(start / HOUR) * HOUR; t <= to; t += HOUR) xs.add(t);
  let previous: boolean | null | undefined;
  for (const s of history) {
    if (s.at >= from && s.charging !== previous) xs.add(s.at);
    previous = s.charging;
  }
  for (const r of runs) xs.add(r.startedAt);
  const x = [...xs].sort((a, b) => a - b);

  const firstRecorded = history[0]?.at ?? now;
  const recorded = x.map((t) => {
    if (t > now) return null;
    if (t === now) return input.gPerKWhNow;
    return t >= firstRecorded ? intensityAt(history, t) : null;
  });
  const firstForecast = input.forecast[0]?.at ?? Number.POSITIVE_INFINITY;
  const forecast = x.map((t) => {
    if (t < now) return null;
    if (t === now) return input.gPerKWhNow;
    return t >= firstForecast && t < forecastEnd ? intensityAt(input.forecast, t) : null;
  });

  const values = [...recorded, ...forecast, ...runs.map((r) => r.gPerKWhAtRun)].filter((v): v is number => v !== null && Number.isFinite(v));
  const top = values.length ? Math.max(...values) * 1.08 : 100;
  const chargingState = x.map((t) => (t > now ? undefined : t === now ? input.chargingNow : chargingAt(history, t)));
  const charging = chargingState.map((c) => (c === true ? top : null));

  const runsAt = new Map<number, RunRecord[]>();
  for (const r of runs) runsAt.set(r.startedAt, [...(runsAt.get(r.startedAt) ?? []), r]);
  const normal = x.map((t) => {
    const here = (runsAt.get(t) ?? []).filter((r) => !r.throttled);
    return here.length ? here[0]!.gPerKWhAtRun : null;
  });
  const slow = x.map((t) => {
    const here = (runsAt.get(t) ?? []).filter((r) => r.throttled);
    return here.length ? here[0]!.gPerKWhAtRun : null;
  });

  const config: ChartConfig = {
    x: { label: 'Time', kind: 'time' },
    y: { label: 'g CO₂/kWh', min: 0, decimals: 0 },
    series: [
      { label: 'Charging', color: TIMELINE_COLORS.charging },
      { label: 'Grid intensity', color: TIMELINE_COLORS.recorded },
      { label: 'Forecast', color: TIMELINE_COLORS.forecast, dash: [6, 4] },
      { label: 'Job runs', color: TIMELINE_COLORS.run, kind: 'points' },
      { label: 'Throttled runs', color: TIMELINE_COLORS.throttled, kind: 'points' },
    ],
  };

  const cell = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : String(Math.round(v)));
  const chargingCell = (c: boolean | null | undefined) => (c === undefined ? '—' : c === null ? 'Unknown' : c ? 'Yes' : 'No');
  const table: ChartTable = {
    columns: ['Time', 'Grid (g CO₂/kWh)', 'Forecast (g CO₂/kWh)', 'Charging', 'Job runs'],
    rows: x.map((t, i) => [
      `${new Date(t).toLocaleString()}${t === now ? ' (now)' : ''}`,
      cell(recorded[i]),
      cell(forecast[i]),
      chargingCell(chargingState[i]),
      (runsAt.get(t) ?? []).map(runWords).join('; ') || '—',
    ]),
  };

  return { data: [x, charging, recorded, forecast, normal, slow], config, table };
}

// ---------------------------------------------------------------------------
// Settings form

export type CarbonChoice = 'none' | CarbonProviderId;

export const CARBON_CHOICES: readonly { value: CarbonChoice; label: string }[] = [
  { value: 'none', label: 'None (estimate offline)' },
  { value: 'uk-carbon-intensity', label: 'UK Carbon Intensity' },
  { value: 'electricity-maps', label: 'Electricity Maps' },
];

export const REGION_CHOICES: readonly { value: CarbonRegion; label: string }[] = CARBON_REGIONS.map((value) => ({ value, label: REGION_PROFILES[value].label }));

export interface EnergyForm {
  choice: CarbonChoice;
  /** Empty: keep the stored key. */
  apiKey: string;
  region: string;
  /** Percent, 1..100. */
  cleanPercent: number | string | null;
  /** Percent, 0..100. */
  batteryPercent: number | string | null;
}

export function carbonChoiceOf(settings: Pick<CarbonSettings, 'providers'>): CarbonChoice {
  return settings.providers[0] ?? 'none';
}

/** The form as the view starts it: from the stored settings (never the key itself). */
export function formOf(carbon: Pick<CarbonSettings, 'providers' | 'region'>, policy: Pick<PolicySettings, 'cleanQuantile' | 'highBatteryLevel'>): EnergyForm {
  return {
    choice: carbonChoiceOf(carbon),
    apiKey: '',
    region: carbon.region,
    cleanPercent: Math.round(policy.cleanQuantile * 100),
    batteryPercent: Math.round(policy.highBatteryLevel * 100),
  };
}

export type FormResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** The carbon half of the form as settings; the stored key stays unless a new one is typed. */
export function carbonSettingsFromForm(form: Pick<EnergyForm, 'choice' | 'apiKey' | 'region'>, previous: CarbonSettings): FormResult<CarbonSettings> {
  if (!(CARBON_REGIONS as string[]).includes(form.region)) return { ok: false, error: 'Choose a region from the list.' };
  const keys = { ...previous.keys };
  const typed = form.apiKey.trim();
  if (typed) {
    if (typed.length > 512) return { ok: false, error: 'That API key is too long.' };
    keys['electricity-maps'] = typed;
  }
  if (form.choice === 'uk-carbon-intensity' && form.region !== 'GB') {
    return { ok: false, error: 'UK Carbon Intensity covers Great Britain only: choose the region Great Britain, or another source.' };
  }
  if (form.choice === 'electricity-maps') {
    if (!keys['electricity-maps']) return { ok: false, error: 'Electricity Maps needs an API key: enter it, or choose another source.' };
    if (form.region === 'default' && !previous.zone) return { ok: false, error: 'Electricity Maps needs a region: choose one.' };
  }
  const settings: CarbonSettings = { providers: form.choice === 'none' ? [] : [form.choice], keys, region: form.region };
  if (previous.zone !== undefined) settings.zone = previous.zone;
  return { ok: true, value: settings };
}

function readPercent(raw: number | string | null, min: number, name: string): FormResult<number> {
  const n = typeof raw === 'number' ? raw : raw === null || raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n < min || n > 100) return { ok: false, error: `${name} must be a number from ${min} to 100.` };
  return { ok: true, value: n / 100 };
}

/**
 * The policy half of the form. One "clean hours share" for the person: heavy
 * jobs keep their stricter share in the default proportion (half of it), and
 * light jobs on battery never need more charge than heavy ones.
 */
export function policyPatchFromForm(form: Pick<EnergyForm, 'cleanPercent' | 'batteryPercent'>): FormResult<Partial<PolicySettings>> {
  const clean = readPercent(form.cleanPercent, 1, 'Clean hours share');
  if (!clean.ok) return clean;
  const battery = readPercent(form.batteryPercent, 0, 'Battery level for heavy jobs');
  if (!battery.ok) return battery;
  const ratio = DEFAULT_POLICY_SETTINGS.heavyCleanQuantile / DEFAULT_POLICY_SETTINGS.cleanQuantile;
  return {
    ok: true,
    value: {
      cleanQuantile: clean.value,
      heavyCleanQuantile: Math.max(0.01, clean.value * ratio),
      highBatteryLevel: battery.value,
      lightJobMinBatteryLevel: Math.min(DEFAULT_POLICY_SETTINGS.lightJobMinBatteryLevel, battery.value),
    },
  };
}
