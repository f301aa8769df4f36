/**
 * Background jobs: the deferrable work energy-adaptive scheduling moves in
 * time (the paper's section 7.3: learning, synchronisation and consolidation,
 * never inference for the person). Each class has a cost estimate, so the
 * view can say what waiting saved, and a default deadline, so nothing waits
 * forever. The person's own chat is not a job class at all: it goes straight
 * to the engine and cannot be queued, deferred or paused here.
 *
 * Costs are seconds of CPU and GPU work on a mid-range laptop running a 1-3 B
 * model through WebGPU, turned into watt-hours with a simple power model
 * (package power under load, not the whole machine, which idles anyway). They
 * are estimates for ordering and for the "saved" numbers, not measurements;
 * the service may replace them with measured durations later.
 *
 * Pure: zod and constants only; the caller passes ids and times.
 */
import { z } from 'zod';

// One list of job classes for the queue and the scheduler.
import { JOB_CLASSES, type JobClass } from '../jobs/job';
export { JOB_CLASSES, type JobClass };

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Light jobs are short enough to finish in a periodic-sync wake-up; heavy ones want the page open and a good window. */
export type JobWeight = 'light' | 'heavy';

export interface DevicePower {
  /** Watts the CPU package draws above idle under load. */
  cpuWatts: number;
  /** Watts the GPU draws above idle under inference load. */
  gpuWatts: number;
}

/** A mid-range laptop: ~15 W CPU package, ~35 W GPU under WebGPU inference. */
export const DEFAULT_DEVICE_POWER: DevicePower = { cpuWatts: 15, gpuWatts: 35 };

export interface JobCost {
  cpuSeconds: number;
  gpuSeconds: number;
}

export interface JobClassSpec {
  label: string;
  weight: JobWeight;
  cost: JobCost;
  /** Watt-hours at DEFAULT_DEVICE_POWER (derived from cost; kept here so the view need not recompute it). */
  energyWh: number;
  /** How long it may wait by default, ms after it is queued. */
  defaultDeadlineMs: number;
  /** Needs the network to do anything (so it waits while offline). */
  needsNetwork: boolean;
}

const HOUR = 3_600_000;

/** Watt-hours of a cost on a device. */
export function energyWhOf(cost: JobCost, power: DevicePower = DEFAULT_DEVICE_POWER): number {
  return (cost.cpuSeconds * power.cpuWatts + cost.gpuSeconds * power.gpuWatts) / 3600;
}

function spec(label: string, weight: JobWeight, cost: JobCost, deadlineHours: number, needsNetwork: boolean): JobClassSpec {
  return { label, weight, cost, energyWh: energyWhOf(cost), defaultDeadlineMs: deadlineHours * HOUR, needsNetwork };
}

export const JOB_CLASS_SPECS: Record<JobClass, JobClassSpec> = {
  // One semantic-advantage prompt over a group of rollouts (~20 s of generation).
  'experience-extraction': spec('Learn from recent answers', 'light', { cpuSeconds: 2, gpuSeconds: 20 }, 24, false),
  // A group of 8 rollouts over a handful of tasks: minutes of generation.
  rollouts: spec('Practice rollouts', 'heavy', { cpuSeconds: 20, gpuSeconds: 480 }, 48, false),
  // Generate, solve with and without experiences, and score synthetic tasks (roadmap phase IV).
  'self-training': spec('Self-training', 'heavy', { cpuSeconds: 60, gpuSeconds: 1200 }, 72, false),
  // Sign, encrypt and exchange artifacts: CPU and network only.
  sync: spec('Sync with the network', 'light', { cpuSeconds: 5, gpuSeconds: 0 }, 12, true),
  // Distil accepted artifacts into playbooks and a dataset export (section 6.5).
  consolidation: spec('Consolidate playbooks', 'heavy', { cpuSeconds: 120, gpuSeconds: 600 }, 72, false),
  // Re-check confidence calibration on held-out tasks.
  calibration: spec('Calibrate confidence', 'light', { cpuSeconds: 5, gpuSeconds: 60 }, 24, false),
  // A peer's artifact tried on a few of this node's checkable episodes, with and without it (~16 short answers).
  'artifact-check': spec('Check a network artifact', 'light', { cpuSeconds: 5, gpuSeconds: 120 }, 24, false),
};

/** A sync payload above this is "big": under save-data it waits (or runs only when overdue). */
export const BIG_PAYLOAD_BYTES = 1024 * 1024;

export interface Job {
  id: string;
  jobClass: JobClass;
  enqueuedAt: number;
  /** ms since the epoch; after it the job runs even in a bad window (throttled). */
  deadline: number;
  state: JobState;
  /** Bytes a network job will send, when known (sync). */
  payloadBytes?: number;
}

export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const jobSchema = z
  .strictObject({
    id: z.string().regex(JOB_ID_PATTERN),
    jobClass: z.enum(JOB_CLASSES),
    enqueuedAt: z.number().int().nonnegative(),
    deadline: z.number().int().nonnegative(),
    state: z.enum(JOB_STATES),
    payloadBytes: z.number().int().nonnegative().optional(),
  })
  .refine((job) => job.deadline >= job.enqueuedAt, { message: 'deadline is before enqueuedAt', path: ['deadline'] });

/** A stored job back into shape (Dexie rows are outside this module's control). Chat and unknown classes are rejected. */
export function parseJob(raw: unknown): { ok: true; job: Job } | { ok: false; reason: string } {
  const parsed = jobSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: issue ? `${issue.path.join('.') || 'job'}: ${issue.message}` : 'invalid job' };
  }
  const { payloadBytes, ...rest } = parsed.data;
  const job: Job = { ...rest };
  if (payloadBytes !== undefined) job.payloadBytes = payloadBytes;
  return { ok: true, job };
}

/** A new queued job with its class's default deadline unless one is given. */
export function createJob(args: { id: string; jobClass: JobClass; now: number; deadlineMs?: number; payloadBytes?: number }): Job {
  if (!JOB_ID_PATTERN.test(args.id)) throw new Error(`invalid job id: ${JSON.stringify(args.id)}`);
  const wait = args.deadlineMs ?? JOB_CLASS_SPECS[args.jobClass].defaultDeadlineMs;
  if (!(Number.isFinite(wait) && wait >= 0)) throw new Error('deadlineMs must be a finite, non-negative duration');
  const job: Job = { id: args.id, jobClass: args.jobClass, enqueuedAt: args.now, deadline: args.now + wait, state: 'queued' };
  if (args.payloadBytes !== undefined) job.payloadBytes = args.payloadBytes;
  return job;
}

/** The energy a job is expected to use. */
export function jobEnergyWh(job: Pick<Job, 'jobClass'>, power: DevicePower = DEFAULT_DEVICE_POWER): number {
  return energyWhOf(JOB_CLASS_SPECS[job.jobClass].cost, power);
}
