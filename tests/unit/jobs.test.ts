/**
 * The job queue: pure transitions, and the runner over a real
 * (fake-indexeddb) database: recovery after a closed tab, preemption by the
 * person's chat, backoff, permanent failures, Pause and Run now.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { backoffMs, createJob, failJob, finishJob, MAX_ATTEMPTS, nextRunnable, requeueJob, runNow, startJob, type Job } from '../../src/lib/jobs/job';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { enqueueJob, getJob, listJobs } from '../../src/services/job-queue';
import { JobRunner, PermanentJobError, type JobHandler } from '../../src/services/job-runner';

const job = (id: string, over: Partial<Job> = {}): Job => ({ ...createJob({ id, jobClass: 'rollouts', subject: `e-${id}`, now: 0 }), ...over });

describe('job transitions', () => {
  it('picks the earliest deadline, then the oldest, and skips jobs backing off or not queued', () => {
    const jobs = [job('a', { deadline: 50 }), job('b', { deadline: 10, notBefore: 100 }), job('c', { deadline: 20 }), job('d', { deadline: 1, state: 'done' })];
    expect(nextRunnable(jobs, 0)?.id).toBe('c');
    expect(nextRunnable(jobs, 100)?.id).toBe('b');
    expect(nextRunnable([], 0)).toBeNull();
  });

  it('backs off 1, 4, 16 minutes and fails for good after the last try', () => {
    expect([1, 2, 3].map(backoffMs)).toEqual([60_000, 240_000, 960_000]);
    let j = job('a');
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      j = startJob(j, i * 1000);
      expect(j.attempts).toBe(i);
      j = failJob(j, i * 1000, 'engine crashed', true);
    }
    expect(j.state).toBe('failed');
    expect(j.lastError).toBe('engine crashed');
  });

  it('a permanent error fails at once; a requeue does not count the try; Run now gives a failed job its tries back', () => {
    const started = startJob(job('a'), 5);
    expect(failJob(started, 6, 'episode deleted', false).state).toBe('failed');
    expect(requeueJob(started, 6)).toMatchObject({ state: 'queued', attempts: 0 });
    const failed = failJob(started, 6, 'x', false);
    expect(runNow(failed, 7)).toMatchObject({ state: 'queued', attempts: 0, notBefore: 0 });
    expect(finishJob(started, 8, 'ok')).toMatchObject({ state: 'done', result: 'ok' });
  });

  it('never lets a job run before it is due, nor run one that is not queued (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ deadline: fc.nat(1000), notBefore: fc.nat(1000), state: fc.constantFrom('queued', 'running', 'done', 'failed', 'cancelled') }), { maxLength: 20 }),
        fc.nat(1000),
        (specs, now) => {
          const jobs = specs.map((s, i) => job(`j${i}`, s as Partial<Job>));
          const next = nextRunnable(jobs, now);
          const due = jobs.filter((j) => j.state === 'queued' && j.notBefore <= now);
          if (due.length === 0) expect(next).toBeNull();
          else {
            expect(next?.state).toBe('queued');
            expect(next!.notBefore).toBeLessThanOrEqual(now);
            expect(next!.deadline).toBe(Math.min(...due.map((j) => j.deadline)));
          }
        },
      ),
    );
  });
});

describe('job runner', () => {
  let db: H3lixDatabase;
  let clock = 1_000;
  const now = () => clock;
  let counter = 0;
  const newId = () => `id${++counter}`;
  let runner: JobRunner | null = null;

  beforeEach(async () => {
    db = await openDatabase(`jobs-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  });
  afterEach(async () => {
    await runner?.stop();
    runner = null;
    db.close();
  });

  const until = async (check: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('timed out');
  };
  const stateOf = async (id: string) => (await getJob(db, id))?.state;

  function start(handler: JobHandler, options: { canRun?: () => boolean; paused?: boolean } = {}): JobRunner {
    runner = new JobRunner({ db, now, handlers: { rollouts: handler }, canRun: options.canRun ?? (() => true), onChange: () => {}, locks: null, pollMs: 10 });
    runner.start(options.paused ?? false);
    return runner;
  }

  it('keeps one queued job per subject, and queues another when the first is already running', async () => {
    const a = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    const b = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    expect(b.id).toBe(a.id);
    expect(await listJobs(db)).toHaveLength(1);
    await db.table('jobs').put({ ...a, state: 'running' });
    const c = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    expect(c.id).not.toBe(a.id);
    expect((await listJobs(db)).map((j) => j.state).sort()).toEqual(['queued', 'running']);
  });

  it('runs a queued job and stores its result', async () => {
    const j = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    start(async (job) => `learned from ${job.subject}`);
    await until(async () => (await stateOf(j.id)) === 'done');
    expect((await getJob(db, j.id))?.result).toBe('learned from e1');
  });

  it('puts a job left running by a closed tab back in the queue and runs it', async () => {
    const j = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    await db.table('jobs').put({ ...j, state: 'running', attempts: 1 });
    let runs = 0;
    start(async () => {
      runs++;
      return 'ok';
    });
    await until(async () => (await stateOf(j.id)) === 'done');
    expect(runs).toBe(1);
    expect((await getJob(db, j.id))?.attempts).toBe(1);
  });

  it('stops for the person: a preempted job goes back to the queue without losing a try', async () => {
    const j = await enqueueJob(db, { jobClass: 'rollouts', subject: 'e1' }, { now, newId });
    let busy = false;
    let started = 0;
    const r = start(
      (_job, { signal }) =>
        new Promise((resolve, reject) => {
          started++;
          signal.addEventListener('abort', () => reject(new Error('aborted')));
          if (started > 1) resolve('second run');
        }),
      { canRun: () => !busy },
    );
    await until(async () => (await stateOf(j.id)) === 'running');
    busy = true;
    await r.preempt();
    expect(await getJob(db, j.id)).toMatchObject({ state: 'queued', attempts: 0 });
    busy = false;
    r.poke();
    await until(async () => (await stateOf(j.id)) === 'done');
    expect(started).toBe(2);
  });

  it('backs off after a failure and fails for good on a permanent error', async () => {
    const flaky = await enqueueJob(db, { jobClass: 'rollouts', subject: 'flaky' }, { now, newId });
    const gone = await enqueueJob(db, { jobClass: 'rollouts', subject: 'gone' }, { now, newId });
    start(async (job) => {
      if (job.subject === 'gone') throw new PermanentJobError('Its episode was deleted.');
      throw new Error('The engine crashed.');
    });
    await until(async () => (await stateOf(gone.id)) === 'failed' && (await getJob(db, flaky.id))!.attempts === 1);
    const f = await getJob(db, flaky.id);
    expect(f).toMatchObject({ state: 'queued', lastError: 'The engine crashed.', notBefore: clock + 60_000 });
    expect((await getJob(db, gone.id))?.lastError).toBe('Its episode was deleted.');
  });

  it('runs nothing while paused, except what the person asks to run now', async () => {
    const a = await enqueueJob(db, { jobClass: 'rollouts', subject: 'a' }, { now, newId });
    const b = await enqueueJob(db, { jobClass: 'rollouts', subject: 'b' }, { now, newId });
    const r = start(async () => 'ok', { paused: true });
    await new Promise((res) => setTimeout(res, 60));
    expect(await stateOf(a.id)).toBe('queued');
    await r.runNow(b.id);
    await until(async () => (await stateOf(b.id)) === 'done');
    expect(await stateOf(a.id)).toBe('queued');
    r.resume();
    await until(async () => (await stateOf(a.id)) === 'done');
  });

  it('waits while the device is busy', async () => {
    const j = await enqueueJob(db, { jobClass: 'rollouts', subject: 'a' }, { now, newId });
    let free = false;
    const r = start(async () => 'ok', { canRun: () => free });
    await new Promise((res) => setTimeout(res, 50));
    expect(await stateOf(j.id)).toBe('queued');
    free = true;
    r.poke();
    await until(async () => (await stateOf(j.id)) === 'done');
  });
});
