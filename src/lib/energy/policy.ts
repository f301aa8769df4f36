/**
 * The scheduling policy: for the queued jobs, now and the current signals,
 * which job runs, which waits, and why (DESIGN.md 2.8, the paper's 7.3).
 *
 * A job runs in a good window: the device has power to spare (charging, or a
 * high battery that is not draining fast; light jobs also on a half-full one,
 * since they cost well under 2 % of a laptop battery) and the grid is clean.
 * "Clean" is relative, because a fixed threshold would mean "never" in Poland
 * and "always" in France: now is clean for a job when its intensity is within
 * the cleanest fraction (`cleanQuantile`, stricter `heavyCleanQuantile` for
 * heavy jobs, which are most of the energy) of what the forecast expects
 * between now and the job's deadline (at most `horizonHours` /
 * `heavyHorizonHours` ahead, and no further than the forecast goes; beyond it
 * the shape of a typical day is guesswork anyway). So a job with days to go
 * holds out for the day's trough, and one whose deadline is near takes the
 * best of the few hours left; below `alwaysCleanGPerKWh` any hour is clean.
 * Once the deadline has passed a job is never deferred again (unless paused or
 * unable to run at all, offline): it runs, throttled when the window is bad so
 * that it does not hog a discharging device.
 *
 * The person decides over all of it: "Pause" stops everything (including
 * their own "Run now", which waits until they resume), "Run now" runs the
 * chosen job whatever the window. Their own chat is not a job (jobs.ts) and
 * never passes through here. Every decision carries a sentence for the view.
 *
 * Pure: the caller passes now, the signals, the jobs and the settings.
 */
import { BIG_PAYLOAD_BYTES, JOB_CLASS_SPECS, type Job } from './jobs';
import type { BatterySignal, CarbonPoint, EnergySignals } from './signals';

export interface PolicySettings {
  /** Light jobs: now is clean when it is within this lowest fraction of the intensities expected before the deadline. */
  cleanQuantile: number;
  /** The same for heavy jobs, stricter: they are most of the energy, so holding them for the trough is what saves carbon. */
  heavyCleanQuantile: number;
  /** How far ahead light jobs' comparison looks at most (hours). */
  horizonHours: number;
  /** How far ahead heavy jobs' comparison looks at most (hours); also bounded by the forecast's length. */
  heavyHorizonHours: number;
  /** At or below this (gCO2/kWh) any time is clean: waiting cannot save much. */
  alwaysCleanGPerKWh: number;
  /** A battery at or above this level, not draining fast, counts as power to spare. */
  highBatteryLevel: number;
  /** Light jobs also run on battery at or above this level. */
  lightJobMinBatteryLevel: number;
  /** "Draining fast": the browser expects the battery to be empty within this many hours. */
  fastDrainHours: number;
  /** How soon a deferred job should be looked at again when nothing else wakes the scheduler (ms). */
  recheckMs: number;
  /** Speed of a throttled run relative to a normal one (the service spaces its steps by 1/throttle). */
  throttle: number;
}

export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  // Tuned on bench/energy.mjs (see bench/README.md): stricter than "the cleanest 30 %" because a
  // daily trough lasts a few hours and heavy jobs, most of the energy, can wait up to two days for it.
  cleanQuantile: 0.2,
  heavyCleanQuantile: 0.1,
  horizonHours: 24,
  heavyHorizonHours: 48,
  alwaysCleanGPerKWh: 50,
  highBatteryLevel: 0.8,
  lightJobMinBatteryLevel: 0.5,
  fastDrainHours: 3,
  recheckMs: 15 * 60_000,
  throttle: 0.5,
};

export interface PersonOverrides {
  /** "Pause": nothing runs. */
  paused: boolean;
  /** "Run now": ids of jobs the person asked to run regardless of the window. */
  runNow: readonly string[];
}

export const NO_OVERRIDES: PersonOverrides = { paused: false, runNow: [] };

export type JobAction = 'run' | 'defer' | 'run-throttled';

export interface JobDecision {
  jobId: string;
  action: JobAction;
  /** One sentence for the person. */
  reason: string;
  /** Speed factor for a run: 1, or `throttle` for a throttled one; 0 when deferred. */
  speed: number;
  /** When a deferred job should be looked at again at the latest (null when paused: only resuming wakes it). */
  revisitAt: number | null;
  /** For a deferred job, the first forecast hour that looks clean enough for it, if any. */
  expectedAt: number | null;
}

export interface PowerAssessment {
  /** Power to spare for heavy jobs. */
  heavy: boolean;
  /** Power to spare for light jobs. */
  light: boolean;
  reason: string;
}

export interface PolicyOutcome {
  /** Queued jobs only, in the order to run them: Run-now first, then overdue, then by deadline; deferred last. */
  decisions: JobDecision[];
  power: PowerAssessment;
  /** One line on the grid now, for the view. */
  grid: string;
}

const HOUR = 3_600_000;
const pct = (x: number) => `${Math.round(x * 100)} %`;
const hours = (ms: number) => (ms < HOUR ? `${Math.max(1, Math.round(ms / 60_000))} min` : `${(ms / HOUR).toFixed(ms < 10 * HOUR ? 1 : 0)} h`);

/** Whether the device has energy to spare, and why. */
export function assessPower(battery: BatterySignal, settings: PolicySettings = DEFAULT_POLICY_SETTINGS): PowerAssessment {
  if (battery.kind === 'unknown') {
    // Desktops, Firefox, Safari and workers: no Battery API. Most such devices are plugged in; decide on the grid alone.
    return { heavy: true, light: true, reason: `battery state unknown (${battery.reason}); deciding on the grid alone` };
  }
  if (battery.charging) return { heavy: true, light: true, reason: `charging (${pct(battery.level)})` };
  const drainingFast = battery.dischargingTimeS !== null && battery.dischargingTimeS < settings.fastDrainHours * 3600;
  if (battery.level >= settings.highBatteryLevel && !drainingFast) {
    return { heavy: true, light: true, reason: `on battery but ${pct(battery.level)} full and not draining fast` };
  }
  const light = battery.level >= settings.lightJobMinBatteryLevel && !drainingFast;
  const why = drainingFast ? `draining fast (${pct(battery.level)})` : `on battery at ${pct(battery.level)}`;
  return { heavy: false, light, reason: light ? `${why}: light jobs only` : `${why}: waiting for a charger` };
}

/** The q-quantile (lower) of some numbers; q in 0..1. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export interface GridVerdict {
  clean: boolean;
  threshold: number;
  reason: string;
  expectedAt: number | null;
}

/** How strict "clean" is for one job: its class's quantile and horizon, and the absolute floor. */
export interface GridRule {
  quantile: number;
  horizonHours: number;
  alwaysCleanGPerKWh: number;
}

/** Whether now is clean for a job due at `until`: now against the forecast up to then. */
export function assessGrid(
  now: number,
  current: number,
  forecast: readonly CarbonPoint[],
  until: number,
  rule: GridRule,
): GridVerdict {
  const end = Math.min(until, now + rule.horizonHours * HOUR);
  // Hours still ahead (the current hour is the measured value itself).
  const ahead = forecast.filter((p) => p.at > now && p.at < end);
  const threshold = Math.max(quantile([current, ...ahead.map((p) => p.gPerKWh)], rule.quantile), rule.alwaysCleanGPerKWh);
  const g = Math.round(current);
  if (current <= rule.alwaysCleanGPerKWh) return { clean: true, threshold, reason: `grid very clean (${g} g/kWh)`, expectedAt: null };
  if (current <= threshold) {
    return {
      clean: true,
      threshold,
      reason: ahead.length ? `grid clean for now (${g} g/kWh, among the cleanest ${pct(rule.quantile)} before the deadline)` : `grid at ${g} g/kWh, no cleaner time before the deadline`,
      expectedAt: null,
    };
  }
  const next = ahead.find((p) => p.gPerKWh <= threshold) ?? null;
  return {
    clean: false,
    threshold,
    reason: `grid at ${g} g/kWh, cleaner expected${next ? ` around ${new Date(next.at).toISOString().slice(11, 16)} UTC` : ''} (≤ ${Math.round(threshold)})`,
    expectedAt: next ? next.at : null,
  };
}

/**
 * Decides for every queued job. Jobs in other states are left out (they are
 * running or finished); the order of `decisions` is the order to start them in.
 */
export function decide(args: {
  now: number;
  signals: EnergySignals;
  jobs: readonly Job[];
  overrides?: PersonOverrides;
  settings?: PolicySettings;
}): PolicyOutcome {
  const { now, signals } = args;
  const overrides = args.overrides ?? NO_OVERRIDES;
  const settings = args.settings ?? DEFAULT_POLICY_SETTINGS;
  const power = assessPower(signals.battery, settings);
  const runNow = new Set(overrides.runNow);
  const grid = `${Math.round(signals.carbon.gPerKWh)} gCO2/kWh from ${signals.carbon.providerId}`;

  const queued = args.jobs.filter((job) => job.state === 'queued');
  const decisions = queued.map((job): { decision: JobDecision; rank: number } => {
    const spec = JOB_CLASS_SPECS[job.jobClass];
    const overdue = now >= job.deadline;
    const defer = (reason: string, revisitAt: number | null, expectedAt: number | null = null) => ({
      decision: { jobId: job.id, action: 'defer' as const, reason, speed: 0, revisitAt, expectedAt },
      rank: 3,
    });
    const run = (reason: string, rank: number) => ({ decision: { jobId: job.id, action: 'run' as const, reason, speed: 1, revisitAt: null, expectedAt: null }, rank });
    const throttled = (reason: string) => ({
      decision: { jobId: job.id, action: 'run-throttled' as const, reason, speed: settings.throttle, revisitAt: null, expectedAt: null },
      rank: 1,
    });
    const recheck = Math.min(now + settings.recheckMs, Math.max(job.deadline, now));

    if (overrides.paused) return defer(runNow.has(job.id) ? 'paused by you; your "Run now" waits until you resume' : 'paused by you', null);
    if (spec.needsNetwork && !signals.network.online) {
      return defer(overdue ? 'offline; overdue, runs as soon as the network is back' : 'offline; waits for the network', now + settings.recheckMs);
    }
    if (runNow.has(job.id)) return run('you asked to run it now', 0);

    const bigPayload = job.jobClass === 'sync' && (job.payloadBytes ?? 0) > BIG_PAYLOAD_BYTES;
    const hasPower = spec.weight === 'heavy' ? power.heavy : power.light;

    const heavy = spec.weight === 'heavy';
    const verdict = assessGrid(now, signals.carbon.gPerKWh, signals.carbon.forecast, job.deadline, {
      quantile: heavy ? settings.heavyCleanQuantile : settings.cleanQuantile,
      horizonHours: heavy ? settings.heavyHorizonHours : settings.horizonHours,
      alwaysCleanGPerKWh: settings.alwaysCleanGPerKWh,
    });

    if (overdue) {
      const late = `deadline passed ${hours(now - job.deadline)} ago`;
      if (bigPayload && signals.network.saveData) return throttled(`${late}; sending despite data saver, slowly`);
      if (hasPower && verdict.clean) return run(`${late}; ${power.reason}, ${verdict.reason}`, 1);
      return throttled(`${late}; running slowly (${!hasPower ? power.reason : verdict.reason})`);
    }
    if (bigPayload && signals.network.saveData) return defer('data saver is on; a big sync waits', recheck);
    if (!hasPower) return defer(power.reason, recheck, verdict.clean ? null : verdict.expectedAt);
    if (!verdict.clean) return defer(verdict.reason, Math.min(recheck, verdict.expectedAt ?? recheck), verdict.expectedAt);
    return run(`${power.reason}, ${verdict.reason}`, 2);
  });

  const deadlines = new Map(queued.map((job) => [job.id, job.deadline]));
  const deadlineOf = (id: string) => deadlines.get(id) ?? Number.POSITIVE_INFINITY;
  decisions.sort((a, b) => a.rank - b.rank || deadlineOf(a.decision.jobId) - deadlineOf(b.decision.jobId));
  return { decisions: decisions.map((d) => d.decision), power, grid };
}
