/**
 * Runs queued jobs one at a time, in the background, when the device is free.
 *
 * - Only one tab runs jobs (a Web Lock): each tab has its own engine, and a
 *   job found 'running' is only known to be orphaned when no other tab can
 *   be running it. The lock is released when the tab closes.
 * - The person's own chat always comes first: `preempt()` stops the job in
 *   progress (it goes back to the queue, its try not counted) and nothing
 *   starts while `canRun()` says the device is busy.
 * - "Pause" stops and holds everything; "Run now" makes a job due at once.
 * - Energy-adaptive scheduling plugs in through `accept` (which jobs may run
 *   now); until then a job runs as soon as the device is free. A job that runs
 *   in a bad window runs slowly: `speed` says how fast (1 normal, below 1
 *   throttled), and handlers call `context.pace()` between steps, which rests
 *   in proportion to the work done since the last call. A job the person
 *   asked to run now always runs at full speed.
 */
import { failJob, finishJob, requeueJob, runNow as runNowTransition, startJob, type Job, type JobClass } from '../lib/jobs/job';
import type { H3lixDatabase } from './db';
import { claimNextJob, recoverRunningJobs, transitionJob } from './job-queue';

export interface JobProgress {
  /** One line for the person. */
  text: string;
  /** 0..1, null when unknown. */
  fraction: number | null;
}

export interface JobContext {
  signal: AbortSignal;
  progress(progress: JobProgress): void;
  /**
   * Call between steps of the work. At speed 1 it resolves at once; at speed
   * s < 1 it waits (1 - s) / s times the time worked since the previous call
   * (or since the job started), so that the job works about a fraction s of
   * the time (at most MAX_PACE_WAIT_MS per call). The speed is asked afresh
   * on every call, so a charger plugged in mid-job speeds it up. Rejects with
   * the abort reason when the job is stopped (preempted, paused).
   */
  pace(): Promise<void>;
}

/** Does the work; returns one line on how it ended. Throw PermanentJobError for a job that can never succeed. */
export type JobHandler = (job: Job, context: JobContext) => Promise<string>;

/** The job can never succeed (its subject is gone, its input is invalid): no retry. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export interface JobRunnerDeps {
  db: H3lixDatabase;
  now: () => number;
  handlers: Partial<Record<JobClass, JobHandler>>;
  /** Whether background work may use the device now (a model is loaded and no reply is being written). */
  canRun: () => boolean;
  /** Which queued jobs may start now (energy policy); all by default. */
  accept?: (job: Job) => boolean;
  /** Something changed (a job started, progressed, ended): the UI re-reads. */
  onChange: () => void;
  /** A job failed for good (no tries left, or a permanent error). */
  onFailed?: (job: Job, error: string) => Promise<void>;
  /** navigator.locks where available; null runs without cross-tab exclusion (tests, old browsers). */
  locks?: LockManager | null;
  /** How often to look for due jobs when nothing pokes the runner. */
  pollMs?: number;
  /** How fast a running job should go (energy policy): 1 normal, below 1 throttled; 1 by default. Asked on every `pace()`. */
  speed?: (job: Job) => number;
  /** Monotonic ms for pacing (performance.now by default; `now` may be a wall clock that jumps). */
  paceClock?: () => number;
  /** Waits ms or rejects with the signal's reason when it aborts (a timer by default). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The longest one `pace()` call rests, however slow the speed and long the step. */
export const MAX_PACE_WAIT_MS = 5 * 60_000;
/** Speeds below this count as this (speed 0 would never finish). */
export const MIN_PACE_SPEED = 0.05;

/** How long to rest after `workedMs` of work at `speed` so that the work is about that fraction of the time. */
export function paceWaitMs(workedMs: number, speed: number): number {
  if (!Number.isFinite(speed) || speed >= 1 || !(workedMs > 0)) return 0;
  const s = Math.max(MIN_PACE_SPEED, speed);
  return Math.min(MAX_PACE_WAIT_MS, (workedMs * (1 - s)) / s);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The job was stopped.', 'AbortError');
}

/** setTimeout that ends early, rejecting, when the signal aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const RUNNER_LOCK = 'h3lix-job-runner';
const DEFAULT_POLL_MS = 5_000;

export class JobRunner {
  #deps: JobRunnerDeps;
  #active = false;
  #running: { job: Job; abort: AbortController; done: Promise<void>; preempted: boolean } | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #paused = false;
  #progress: JobProgress | null = null;
  #releaseLock: (() => void) | null = null;
  #ticking = false;

  constructor(deps: JobRunnerDeps) {
    this.#deps = deps;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** The job in progress and its latest progress, or null. */
  get current(): { job: Job; progress: JobProgress | null } | null {
    return this.#running ? { job: this.#running.job, progress: this.#progress } : null;
  }

  /** Whether this tab holds the runner (another tab may be running the jobs). */
  get active(): boolean {
    return this.#active;
  }

  /** Takes the runner lock (waiting while another tab holds it), recovers orphaned jobs, starts polling. */
  start(paused = false): void {
    this.#paused = paused;
    const locks = this.#deps.locks;
    if (!locks) {
      void this.#activate();
      return;
    }
    void locks.request(RUNNER_LOCK, () => {
      if (this.#stopped) return undefined;
      void this.#activate();
      // Held until stop() or the tab closes.
      return new Promise<void>((resolve) => (this.#releaseLock = resolve));
    });
  }

  async #activate(): Promise<void> {
    if (this.#stopped) return;
    await recoverRunningJobs(this.#deps.db, (job) => requeueJob(job, this.#deps.now()));
    this.#active = true;
    this.#deps.onChange();
    this.poke();
  }

  /** Stops the job in progress (back to the queue) and the polling; releases the lock. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.preempt();
    this.#releaseLock?.();
    this.#active = false;
  }

  /** The person's work comes first: stop the job in progress (requeued, try not counted) and wait until it has. */
  async preempt(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.preempted = true;
    running.abort.abort();
    await running.done;
  }

  async pause(): Promise<void> {
    this.#paused = true;
    await this.preempt();
    this.#deps.onChange();
  }

  resume(): void {
    this.#paused = false;
    this.#deps.onChange();
    this.poke();
  }

  /** "Run now": the job is due at once (a failed one gets its tries back); runs even while paused, as soon as the device is free. */
  async runNow(jobId: string): Promise<void> {
    await transitionJob(this.#deps.db, jobId, (job) => runNowTransition(job, this.#deps.now()));
    this.#forced.add(jobId);
    this.#deps.onChange();
    this.poke();
  }

  #forced = new Set<string>();

  /** Look for work now (a job was queued, the device became free). */
  poke(): void {
    if (this.#stopped || !this.#active) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#running || this.#stopped) return;
    this.#ticking = true;
    try {
      if (!this.#deps.canRun()) return;
      const { handlers, accept } = this.#deps;
      const job = await claimNextJob(this.#deps.db, this.#deps.now(), (j) => startJob(j, this.#deps.now()), (j) => {
        if (!handlers[j.jobClass]) return false;
        if (this.#forced.has(j.id)) return true;
        return !this.#paused && (accept ? accept(j) : true);
      });
      if (!job) return;
      const forced = this.#forced.delete(job.id);
      this.#execute(job, forced);
    } catch (error) {
      console.warn('The job runner could not read the queue', error);
    } finally {
      this.#ticking = false;
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#stopped || this.#running || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, this.#deps.pollMs ?? DEFAULT_POLL_MS);
  }

  #execute(job: Job, forced = false): void {
    const handler = this.#deps.handlers[job.jobClass];
    const abort = new AbortController();
    let markDone: () => void = () => {};
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const running = { job, abort, done, preempted: false };
    this.#running = running;
    this.#progress = null;
    this.#deps.onChange();
    const clock = this.#deps.paceClock ?? (() => performance.now());
    const sleep = this.#deps.sleep ?? sleepUnlessAborted;
    let lastPace = clock();
    const context: JobContext = {
      signal: abort.signal,
      progress: (p) => {
        this.#progress = p;
        this.#deps.onChange();
      },
      pace: async () => {
        if (abort.signal.aborted) throw abortReason(abort.signal);
        const t = clock();
        let speed = 1;
        if (!forced && this.#deps.speed) {
          try {
            speed = this.#deps.speed(job);
          } catch (error) {
            console.warn('Could not read the speed of a job', error);
          }
        }
        const wait = paceWaitMs(t - lastPace, speed);
        if (wait > 0) await sleep(wait, abort.signal);
        lastPace = clock();
      },
    };
    void (async () => {
      const { db, now } = this.#deps;
      try {
        if (!handler) throw new PermanentJobError(`No handler for ${job.jobClass} jobs.`);
        const result = await handler(job, context);
        await transitionJob(db, job.id, (j) => finishJob(j, now(), result));
      } catch (error) {
        if (running.preempted) await transitionJob(db, job.id, (j) => requeueJob(j, now()));
        else {
          const message = error instanceof Error ? error.message : String(error);
          const failed = await transitionJob(db, job.id, (j) => failJob(j, now(), message, !(error instanceof PermanentJobError)));
          if (failed?.state === 'failed') await this.#deps.onFailed?.(failed, message);
        }
      }
    })()
      .catch((error: unknown) => console.warn('Could not store the end of a job', error))
      .finally(() => {
        this.#running = null;
        this.#progress = null;
        markDone();
        this.#deps.onChange();
        if (!running.preempted) this.poke();
        else this.#schedule();
      });
  }
}
