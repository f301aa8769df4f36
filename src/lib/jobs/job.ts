/**
 * Deferrable background work (rollouts now; sync, consolidation and the rest
 * with the network and energy issues) as records in a persistent queue.
 * These are the pure transitions; src/services/job-queue.ts stores them and
 * src/services/job-runner.ts runs them when the device is free.
 *
 * Why a queue of records and not promises: a rollout takes minutes on a
 * phone, the tab may close at any point, and the energy scheduler decides
 * *when* work runs. A job therefore survives reloads, a job found 'running'
 * at startup was cut off and goes back to the queue, and a failing job
 * backs off instead of spinning.
 */
import { z } from 'zod';

export const JOB_CLASSES = ['experience-extraction', 'rollouts', 'self-training', 'sync', 'consolidation', 'calibration', 'artifact-check'] as const;
export type JobClass = (typeof JOB_CLASSES)[number];

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Tries before a job fails for good. */
export const MAX_ATTEMPTS = 3;
/** Backoff after the n-th failure: 1 min, 4 min, 16 min… (capped at a day). */
export const BACKOFF_BASE_MS = 60_000;
export const MAX_BACKOFF_MS = 86_400_000;
/** Default time a rollout may wait for a good window (the energy policy runs it throttled after that). */
export const DEFAULT_DEADLINE_MS: Readonly<Record<JobClass, number>> = {
  'experience-extraction': 6 * 3_600_000,
  rollouts: 24 * 3_600_000,
  'self-training': 72 * 3_600_000,
  sync: 3_600_000,
  consolidation: 7 * 86_400_000,
  calibration: 24 * 3_600_000,
  // A peer's artifact judged on this node's own checkable episodes: votes matter while the artifact is young.
  'artifact-check': 24 * 3_600_000,
};

const timeSchema = z.int().min(0).max(8_640_000_000_000_000);

export const jobSchema = z.strictObject({
  id: z.string().min(1).max(128),
  jobClass: z.enum(JOB_CLASSES),
  /** What the job works on (an episode id for rollouts); one live job per class and subject. */
  subject: z.string().min(1).max(128),
  state: z.enum(JOB_STATES),
  attempts: z.int().min(0).max(1000),
  createdAt: timeSchema,
  updatedAt: timeSchema,
  /** Not before this time (backoff). */
  notBefore: timeSchema,
  deadline: timeSchema,
  /** Last failure, for the person; never the stack. */
  lastError: z.string().max(2000).nullable(),
  /** One line on how it ended. */
  result: z.string().max(2000).nullable(),
});

export type Job = z.infer<typeof jobSchema>;

export const isLive = (job: Pick<Job, 'state'>): boolean => job.state === 'queued' || job.state === 'running';

export interface NewJobInput {
  id: string;
  jobClass: JobClass;
  subject: string;
  now: number;
  deadline?: number;
  /** Not before this time (default now). */
  notBefore?: number;
}

export function createJob(input: NewJobInput): Job {
  return jobSchema.parse({
    id: input.id,
    jobClass: input.jobClass,
    subject: input.subject,
    state: 'queued',
    attempts: 0,
    createdAt: input.now,
    updatedAt: input.now,
    notBefore: Math.max(input.now, input.notBefore ?? input.now),
    deadline: input.deadline ?? input.now + DEFAULT_DEADLINE_MS[input.jobClass],
    lastError: null,
    result: null,
  });
}

/** The next job to run at `now`: queued, not backing off; earliest deadline first, then oldest, then id. */
export function nextRunnable(jobs: readonly Job[], now: number): Job | null {
  let best: Job | null = null;
  for (const job of jobs) {
    if (job.state !== 'queued' || job.notBefore > now) continue;
    if (
      !best ||
      job.deadline < best.deadline ||
      (job.deadline === best.deadline && (job.createdAt < best.createdAt || (job.createdAt === best.createdAt && job.id < best.id)))
    ) {
      best = job;
    }
  }
  return best;
}

const later = (now: number, job: Job): number => Math.max(now, job.updatedAt);

export function startJob(job: Job, now: number): Job {
  if (job.state !== 'queued') throw new RangeError(`startJob: job ${job.id} is ${job.state}`);
  return { ...job, state: 'running', attempts: job.attempts + 1, updatedAt: later(now, job) };
}

export function finishJob(job: Job, now: number, result: string): Job {
  return { ...job, state: 'done', updatedAt: later(now, job), result: result.slice(0, 2000), lastError: null };
}

export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BACKOFF_BASE_MS * 4 ** Math.max(0, attempts - 1));
}

/** A failure: back to the queue after a backoff while tries remain and the error may pass, otherwise failed for good. */
export function failJob(job: Job, now: number, error: string, retryable: boolean): Job {
  const t = later(now, job);
  const base = { ...job, updatedAt: t, lastError: error.slice(0, 2000) };
  if (retryable && job.attempts < MAX_ATTEMPTS) return { ...base, state: 'queued', notBefore: t + backoffMs(job.attempts) };
  return { ...base, state: 'failed', result: null };
}

/**
 * Put back a job that stopped without failing: the person started a chat
 * (their own work always comes first), paused learning, or the tab closed.
 * The try does not count against it.
 */
export function requeueJob(job: Job, now: number): Job {
  if (job.state !== 'running') return job;
  return { ...job, state: 'queued', attempts: Math.max(0, job.attempts - 1), updatedAt: later(now, job) };
}

export function cancelJob(job: Job, now: number): Job {
  return isLive(job) ? { ...job, state: 'cancelled', updatedAt: later(now, job) } : job;
}

/** "Run now": due at once, backoff forgotten, a failed job gets its tries back. */
export function runNow(job: Job, now: number): Job {
  if (job.state === 'running' || job.state === 'done') return job;
  return { ...job, state: 'queued', notBefore: Math.min(job.notBefore, now), attempts: job.state === 'failed' || job.state === 'cancelled' ? 0 : job.attempts, updatedAt: later(now, job) };
}
