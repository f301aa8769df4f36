/**
 * Energy-adaptive scheduling of the persistent job queue (DESIGN.md 2.8):
 * the pure policy (src/lib/energy/policy.ts) applied to the queue's jobs
 * (src/lib/jobs/job.ts) with the signals of EnergySignalsService.
 *
 * - `accept(job)` is the JobRunner's filter: a job may start when the policy
 *   says run or run-throttled, and waits when it says defer. It is
 *   synchronous because the runner asks inside a database transaction.
 * - `speed(job)` is the JobRunner's pace: 1, or the policy's throttle when the
 *   window is bad (a deadline passed, or the device lost its charger mid-job).
 * - `decisions()` is what the view lists: every queued job with its action,
 *   reason and when a cleaner window is expected.
 * - `instrument(handlers)` wraps the runner's handlers so that every run is
 *   logged (`recordStart` / `recordEnd`) in the `energy` table ('runs', the
 *   last 500): the timeline and the savings estimate are drawn from it.
 * - `onWake(listener)`: a signal changed (the charger was plugged in, the grid
 *   got cleaner, the network came back) and some queued job may now run, or
 *   the earliest `revisitAt` of a deferred job came: the app pokes the runner.
 *
 * The person's overrides are the runner's (pause, Run now): the runner does
 * not ask `accept` for a job the person asked to run, and runs it at full
 * speed; the view passes the pause state to `decisions` only to word it.
 */
import { z } from 'zod';
import { JOB_CLASS_SPECS, type Job as EnergyJob } from '../lib/energy/jobs';
import { estimateSavings, type SavingsEstimate } from '../lib/energy/energy-estimate';
import { decide, NO_OVERRIDES, type JobAction, type JobDecision, type PersonOverrides, type PolicySettings } from '../lib/energy/policy';
import type { EnergySignals } from '../lib/energy/signals';
import { JOB_CLASSES, type Job, type JobClass } from '../lib/jobs/job';
import type { H3lixDatabase } from './db';
import { ENERGY_KEYS, type EnergyRecord, type Timers } from './energy-signals';
import type { JobContext, JobHandler } from './job-runner';

/** Runs kept in the log. */
export const MAX_RUNS = 500;
/** The earliest a revisit timer fires (a revisitAt in the past is "now", not a busy loop). */
const MIN_WAKE_MS = 1_000;

/** What the scheduler reads from EnergySignalsService. */
export interface SignalSource {
  current(): EnergySignals;
  readonly policySettings: PolicySettings;
  onChange(listener: () => void): () => void;
  /** The grid intensity at a time as well as it is known (history, forecast, estimate). */
  carbonAt(at: number): number;
}

export interface EnergySchedulerDeps {
  db: () => H3lixDatabase;
  now: () => number;
  signals: SignalSource;
  /** Every job of the queue (listJobs); queued ones are decided on. */
  jobs: () => Promise<Job[]>;
  timers?: Timers;
  maxRuns?: number;
}

export const RUN_OUTCOMES = ['running', 'done', 'failed', 'interrupted'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** One run of a job, as the timeline and the savings estimate read it. */
export interface RunRecord {
  jobId: string;
  jobClass: JobClass;
  enqueuedAt: number;
  startedAt: number;
  /** null while running (or when the tab closed mid-run). */
  finishedAt: number | null;
  outcome: RunOutcome;
  /** Estimated energy of the job (JOB_CLASS_SPECS). */
  energyWh: number;
  gPerKWhAtEnqueue: number;
  gPerKWhAtRun: number;
  /** Started slower than normal (a bad window after the deadline). */
  throttled: boolean;
}

const runSchema = z.object({
  jobId: z.string().min(1).max(128),
  jobClass: z.enum(JOB_CLASSES),
  enqueuedAt: z.number().finite(),
  startedAt: z.number().finite(),
  finishedAt: z.number().finite().nullable(),
  outcome: z.enum(RUN_OUTCOMES),
  energyWh: z.number().finite().min(0),
  gPerKWhAtEnqueue: z.number().finite().min(0),
  gPerKWhAtRun: z.number().finite().min(0),
  throttled: z.boolean(),
});

/** A stored run log back into shape: malformed entries are dropped, never the app. */
export function parseRuns(raw: unknown): RunRecord[] {
  if (!Array.isArray(raw)) return [];
  const runs: RunRecord[] = [];
  for (const item of raw) {
    const parsed = runSchema.safeParse(item);
    if (parsed.success) runs.push(parsed.data);
  }
  return runs;
}

/** A queued job with the policy's decision, for the view. */
export interface ScheduledJob {
  jobId: string;
  jobClass: JobClass;
  label: string;
  subject: string;
  createdAt: number;
  deadline: number;
  action: JobAction;
  reason: string;
  speed: number;
  /** For a deferred job: the first hour the forecast looks clean enough. */
  expectedAt: number | null;
  revisitAt: number | null;
  /** Backing off after a failure until then (the queue, not the policy, holds it). */
  notBefore: number | null;
}

const finiteOr = (value: number, fallback: number): number => (Number.isFinite(value) && value >= 0 ? value : fallback);

/** The queue's job as the policy sees it (the policy decides only on queued jobs, so a running one is asked about as queued). */
export function toEnergyJob(job: Job): EnergyJob {
  return { id: job.id, jobClass: job.jobClass, enqueuedAt: job.createdAt, deadline: job.deadline, state: job.state === 'running' ? 'queued' : job.state };
}

export class EnergyScheduler {
  #deps: EnergySchedulerDeps;
  #timers: Timers;
  #runs: RunRecord[] = [];
  #loaded: Promise<void> | null = null;
  #write: Promise<void> = Promise.resolve();
  #wakeListeners = new Set<() => void>();
  #changeListeners = new Set<() => void>();
  #timer: unknown = null;
  #unsubscribe: (() => void) | null = null;
  #stopped = false;
  /** Jobs last seen, by id, so that speedOf can answer from an id. */
  #known = new Map<string, Job>();
  #evaluating: Promise<void> | null = null;
  /** Jobs that could run at the last evaluation. */
  #runnable = new Set<string>();
  #again = false;

  constructor(deps: EnergySchedulerDeps) {
    this.#deps = deps;
    this.#timers = deps.timers ?? { setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
  }

  #table() {
    return this.#deps.db().table<EnergyRecord, string>('energy');
  }

  /** Reads the run log, listens to the signals and arms the revisit timer. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.load();
    this.#unsubscribe ??= this.#deps.signals.onChange(() => void this.evaluate());
    await this.evaluate();
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  load(): Promise<void> {
    this.#loaded ??= (async () => {
      try {
        const row = await this.#table().get(ENERGY_KEYS.runs);
        this.#runs = parseRuns(row?.value);
        // A run left 'running' by a closed tab ended without a word.
        this.#runs = this.#runs.map((r) => (r.outcome === 'running' ? { ...r, outcome: 'interrupted' } : r));
      } catch (error) {
        console.warn('Could not read the energy run log', error);
        this.#runs = [];
      }
    })();
    return this.#loaded;
  }

  /** `listener` runs when deferred work may be able to run now: poke the runner. */
  onWake(listener: () => void): () => void {
    this.#wakeListeners.add(listener);
    return () => this.#wakeListeners.delete(listener);
  }

  /** `listener` runs when the run log changed (the view re-reads). */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  #notify(listeners: Set<() => void>): void {
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        console.warn('An energy scheduler listener failed', error);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Deciding

  #decideOne(job: Job, overrides: PersonOverrides = NO_OVERRIDES): JobDecision | null {
    const outcome = decide({
      now: this.#deps.now(),
      signals: this.#deps.signals.current(),
      jobs: [toEnergyJob(job)],
      overrides,
      settings: this.#deps.signals.policySettings,
    });
    return outcome.decisions[0] ?? null;
  }

  /** For JobRunner's `accept`: run and run-throttled may start, defer waits. */
  #remember(job: Job): void {
    // Bounded: the queue prunes finished jobs, this map must not outlive them by much.
    if (this.#known.size > 1_000 && !this.#known.has(job.id)) this.#known.clear();
    this.#known.set(job.id, job);
  }

  accept(job: Job): boolean {
    this.#remember(job);
    try {
      const decision = this.#decideOne(job);
      return decision !== null && decision.action !== 'defer';
    } catch (error) {
      // A policy failure must not stall the queue for good: run as if there were no policy.
      console.warn('The energy policy failed; running the job', error);
      return true;
    }
  }

  /** For JobRunner's `speed`: 1 in a good window, the throttle otherwise (also when the window turned bad mid-run). */
  speed(job: Job): number {
    this.#remember(job);
    try {
      const decision = this.#decideOne(job);
      if (!decision) return 1;
      if (decision.action === 'run') return 1;
      return this.#deps.signals.policySettings.throttle;
    } catch {
      return 1;
    }
  }

  /** The speed of a job known by its id (from the runner, the queue or a recorded start); 1 when unknown. */
  speedOf(jobId: string): number {
    const job = this.#known.get(jobId);
    return job ? this.speed(job) : 1;
  }

  /** Every queued job with the policy's decision, in the order they would start; deferred last. */
  async decisions(overrides: PersonOverrides = NO_OVERRIDES): Promise<ScheduledJob[]> {
    const jobs = await this.#deps.jobs();
    return this.#decideAll(jobs, overrides);
  }

  #decideAll(jobs: readonly Job[], overrides: PersonOverrides): ScheduledJob[] {
    const now = this.#deps.now();
    const queued = jobs.filter((j) => j.state === 'queued');
    for (const job of queued) this.#remember(job);
    const byId = new Map(queued.map((j) => [j.id, j]));
    const outcome = decide({ now, signals: this.#deps.signals.current(), jobs: queued.map(toEnergyJob), overrides, settings: this.#deps.signals.policySettings });
    return outcome.decisions.flatMap((d) => {
      const job = byId.get(d.jobId);
      if (!job) return [];
      const backingOff = job.notBefore > now;
      return [
        {
          jobId: job.id,
          jobClass: job.jobClass,
          label: JOB_CLASS_SPECS[job.jobClass].label,
          subject: job.subject,
          createdAt: job.createdAt,
          deadline: job.deadline,
          action: d.action,
          reason: backingOff ? `${d.reason}; retrying after a failure, not before ${new Date(job.notBefore).toLocaleTimeString()}` : d.reason,
          speed: d.speed,
          expectedAt: d.expectedAt,
          revisitAt: d.revisitAt,
          notBefore: backingOff ? job.notBefore : null,
        },
      ];
    });
  }

  /**
   * Looks at the queue again: wakes the listeners when a queued job may run
   * now, and arms the timer for the earliest revisit of a deferred one.
   * Called on every signal change and by the timer; calls during one are
   * folded into one more.
   */
  evaluate(): Promise<void> {
    if (this.#evaluating) {
      this.#again = true;
      return this.#evaluating;
    }
    this.#evaluating = (async () => {
      do {
        this.#again = false;
        await this.#evaluateOnce();
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#evaluating = null;
    });
    return this.#evaluating;
  }

  async #evaluateOnce(): Promise<void> {
    if (this.#stopped) return;
    let scheduled: ScheduledJob[];
    try {
      scheduled = this.#decideAll(await this.#deps.jobs(), NO_OVERRIDES);
    } catch (error) {
      console.warn('The energy scheduler could not read the queue', error);
      return;
    }
    if (this.#stopped) return;
    const now = this.#deps.now();
    // Wake only for jobs that became runnable since the last look: the runner polls anyway, a wake is for news.
    const runnable = new Set(scheduled.filter((s) => s.action !== 'defer' && s.notBefore === null).map((s) => s.jobId));
    const news = [...runnable].some((id) => !this.#runnable.has(id));
    this.#runnable = runnable;
    if (news) this.#notify(this.#wakeListeners);
    const revisits = scheduled.flatMap((s) => (s.action === 'defer' && s.revisitAt !== null ? [s.revisitAt] : []));
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    if (revisits.length === 0) return;
    const delay = Math.max(MIN_WAKE_MS, Math.min(...revisits) - now);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      void this.evaluate();
    }, delay);
  }

  // -------------------------------------------------------------------------
  // The run log

  get runs(): readonly RunRecord[] {
    return this.#runs;
  }

  /** A job started: log it with the grid now and then. */
  async recordStart(job: Job): Promise<void> {
    await this.load();
    this.#remember(job);
    const now = this.#deps.now();
    const signals = this.#deps.signals;
    const run: RunRecord = {
      jobId: job.id,
      jobClass: job.jobClass,
      enqueuedAt: job.createdAt,
      startedAt: now,
      finishedAt: null,
      outcome: 'running',
      energyWh: JOB_CLASS_SPECS[job.jobClass].energyWh,
      gPerKWhAtEnqueue: 0,
      gPerKWhAtRun: 0,
      throttled: this.speed(job) < 1,
    };
    const atRun = finiteOr(signals.current().carbon.gPerKWh, 0);
    run.gPerKWhAtRun = atRun;
    run.gPerKWhAtEnqueue = finiteOr(signals.carbonAt(job.createdAt), atRun);
    // An earlier run of the same job left open (preempted without a word) ends here.
    this.#runs = [...this.#runs.map((r) => (r.jobId === job.id && r.outcome === 'running' ? { ...r, outcome: 'interrupted' as const, finishedAt: now } : r)), run].slice(
      -(this.#deps.maxRuns ?? MAX_RUNS),
    );
    await this.#persist();
  }

  /** The run of a job ended: done, failed, or interrupted (preempted, paused, the tab closing). */
  async recordEnd(job: Pick<Job, 'id'>, outcome: Exclude<RunOutcome, 'running'>): Promise<void> {
    await this.load();
    const now = this.#deps.now();
    let index = -1;
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      if (this.#runs[i]!.jobId === job.id && this.#runs[i]!.outcome === 'running') {
        index = i;
        break;
      }
    }
    if (index < 0) return;
    this.#runs = this.#runs.map((r, i) => (i === index ? { ...r, outcome, finishedAt: now } : r));
    await this.#persist();
  }

  async #persist(): Promise<void> {
    const runs = this.#runs;
    this.#write = this.#write
      .then(async () => {
        await this.#table().put({ key: ENERGY_KEYS.runs, value: runs });
      })
      .catch((error: unknown) => console.warn('Could not store the energy run log', error));
    await this.#write;
    this.#notify(this.#changeListeners);
  }

  /**
   * The runner's handlers with every run logged: start, then done, failed,
   * or interrupted when the job was stopped (the runner puts it back).
   */
  instrument(handlers: Partial<Record<JobClass, JobHandler>>): Partial<Record<JobClass, JobHandler>> {
    const wrapped: Partial<Record<JobClass, JobHandler>> = {};
    for (const [jobClass, handler] of Object.entries(handlers) as [JobClass, JobHandler | undefined][]) {
      if (!handler) continue;
      wrapped[jobClass] = async (job: Job, context: JobContext) => {
        await this.recordStart(job).catch((error: unknown) => console.warn('Could not log a job start', error));
        try {
          const result = await handler(job, context);
          await this.recordEnd(job, 'done').catch((error: unknown) => console.warn('Could not log a job end', error));
          return result;
        } catch (error) {
          await this.recordEnd(job, context.signal.aborted ? 'interrupted' : 'failed').catch((e: unknown) => console.warn('Could not log a job end', e));
          throw error;
        }
      };
    }
    return wrapped;
  }

  /** The carbon saved by waiting against running every finished job at once (an estimate). */
  savings(): SavingsEstimate {
    return estimateSavings(
      this.#runs
        .filter((r) => r.outcome === 'done')
        .map((r) => ({ energyWh: r.energyWh, enqueuedAt: r.enqueuedAt, startedAt: r.startedAt, gPerKWhAtRun: r.gPerKWhAtRun, gPerKWhAtEnqueue: r.gPerKWhAtEnqueue })),
    );
  }
}
