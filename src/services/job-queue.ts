/**
 * The persistent job queue (src/lib/jobs/job.ts) over IndexedDB. Every
 * transition is one transaction that re-reads the job, so two tabs (or a
 * runner and a "Run now" click) cannot both start it.
 */
import { createJob, isLive, jobSchema, nextRunnable, type Job, type JobClass } from '../lib/jobs/job';
import { toWriteError, type H3lixDatabase } from './db';

const jobs = (db: H3lixDatabase) => db.table<Job, string>('jobs');

async function write<T>(operation: () => PromiseLike<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toWriteError(error);
  }
}

/**
 * Queues a job unless one is already queued for the same class and subject;
 * returns the queued job. A running one does not count: what changed since
 * it started (a correction saved mid-rollout) needs a run of its own.
 */
export async function enqueueJob(
  db: H3lixDatabase,
  input: { jobClass: JobClass; subject: string; deadline?: number; notBefore?: number },
  makers: { now: () => number; newId: () => string },
): Promise<Job> {
  return write(() =>
    db.transaction('rw', db.table('jobs'), async () => {
      const existing = await jobs(db).where('[jobClass+subject]').equals([input.jobClass, input.subject]).toArray();
      const queued = existing.find((j) => j.state === 'queued');
      if (queued) return queued;
      const job = createJob({
        id: makers.newId(),
        jobClass: input.jobClass,
        subject: input.subject,
        now: makers.now(),
        ...(input.deadline !== undefined ? { deadline: input.deadline } : {}),
        ...(input.notBefore !== undefined ? { notBefore: input.notBefore } : {}),
      });
      await jobs(db).add(job);
      return job;
    }),
  );
}

/** The jobs of one class and subject, in any state. */
export function jobsFor(db: H3lixDatabase, jobClass: JobClass, subject: string): Promise<Job[]> {
  return jobs(db).where('[jobClass+subject]').equals([jobClass, subject]).toArray();
}

export function listJobs(db: H3lixDatabase): Promise<Job[]> {
  return jobs(db).toArray();
}

export function getJob(db: H3lixDatabase, id: string): Promise<Job | undefined> {
  return jobs(db).get(id);
}

/**
 * Claims the next runnable job (nextRunnable) and marks it running, or null.
 * `accept` filters what may run now (the energy policy, the classes the
 * runner has handlers for).
 */
export async function claimNextJob(db: H3lixDatabase, now: number, start: (job: Job) => Job, accept: (job: Job) => boolean = () => true): Promise<Job | null> {
  return write(() =>
    db.transaction('rw', db.table('jobs'), async () => {
      const queued = (await jobs(db).where('state').equals('queued').toArray()).filter(accept);
      const next = nextRunnable(queued, now);
      if (!next) return null;
      const running = jobSchema.parse(start(next));
      await jobs(db).put(running);
      return running;
    }),
  );
}

/** Applies a transition to the stored job (re-read inside the transaction); returns the new job, or undefined when it is gone. */
export async function transitionJob(db: H3lixDatabase, id: string, step: (job: Job) => Job): Promise<Job | undefined> {
  return write(() =>
    db.transaction('rw', db.table('jobs'), async () => {
      const current = await jobs(db).get(id);
      if (!current) return undefined;
      const next = jobSchema.parse(step(current));
      await jobs(db).put(next);
      return next;
    }),
  );
}

/** Jobs left 'running' by a closed tab go back to the queue (the try does not count). */
export async function recoverRunningJobs(db: H3lixDatabase, requeue: (job: Job) => Job): Promise<number> {
  return write(() =>
    db.transaction('rw', db.table('jobs'), async () => {
      const running = await jobs(db).where('state').equals('running').toArray();
      for (const job of running) await jobs(db).put(jobSchema.parse(requeue(job)));
      return running.length;
    }),
  );
}

/** Finished jobs older than `before` are dropped: the learning log keeps what they did. */
export async function pruneJobs(db: H3lixDatabase, before: number): Promise<number> {
  return write(() =>
    db.transaction('rw', db.table('jobs'), async () => {
      const old = (await jobs(db).toArray()).filter((j) => !isLive(j) && j.updatedAt < before);
      await jobs(db).bulkDelete(old.map((j) => j.id));
      return old.length;
    }),
  );
}
