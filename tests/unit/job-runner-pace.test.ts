/**
 * Throttled runs: JobRunner's `speed` dependency and the handlers'
 * `context.pace()` (rests in proportion to the work since the last call),
 * full speed for "Run now", and aborts with the job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { enqueueJob, getJob } from '../../src/services/job-queue';
import { JobRunner, MAX_PACE_WAIT_MS, MIN_PACE_SPEED, paceWaitMs, sleepUnlessAborted, type JobHandler, type JobRunnerDeps } from '../../src/services/job-runner';

describe('paceWaitMs', () => {
  it('rests (1 - s) / s of the work: a quarter speed works a quarter of the time', () => {
    expect(paceWaitMs(100, 1)).toBe(0);
    expect(paceWaitMs(100, 1.5)).toBe(0);
    expect(paceWaitMs(100, 0.25)).toBe(300);
    expect(paceWaitMs(100, 0.5)).toBe(100);
    const worked = 100;
    expect(worked / (worked + paceWaitMs(worked, 0.25))).toBeCloseTo(0.25);
  });
  it('never rests for nothing, forever, or on nonsense', () => {
    expect(paceWaitMs(0, 0.25)).toBe(0);
    expect(paceWaitMs(-5, 0.25)).toBe(0);
    expect(paceWaitMs(100, Number.NaN)).toBe(0);
    expect(paceWaitMs(100, 0)).toBeCloseTo((100 * (1 - MIN_PACE_SPEED)) / MIN_PACE_SPEED);
    expect(paceWaitMs(10 * MAX_PACE_WAIT_MS, 0.1)).toBe(MAX_PACE_WAIT_MS);
  });
});

describe('sleepUnlessAborted', () => {
  it('waits, or rejects with the abort reason', async () => {
    await expect(sleepUnlessAborted(1, new AbortController().signal)).resolves.toBeUndefined();
    const c = new AbortController();
    const sleeping = sleepUnlessAborted(60_000, c.signal);
    c.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await expect(sleepUnlessAborted(1, c.signal)).rejects.toThrow('stop');
  });
});

describe('JobRunner pace', () => {
  let db: H3lixDatabase;
  let runner: JobRunner | null = null;
  let counter = 0;
  const now = () => 1_000;
  const newId = () => `p${++counter}`;
  let mono = 0;
  let sleeps: number[] = [];

  beforeEach(async () => {
    db = await openDatabase(`pace-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
    mono = 0;
    sleeps = [];
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

  function start(handler: JobHandler, over: Partial<JobRunnerDeps> = {}, paused = false): JobRunner {
    runner = new JobRunner({
      db,
      now,
      handlers: { calibration: handler },
      canRun: () => true,
      onChange: () => {},
      locks: null,
      pollMs: 10,
      paceClock: () => mono,
      sleep: async (ms) => {
        sleeps.push(ms);
        mono += ms;
      },
      ...over,
    });
    runner.start(paused);
    return runner;
  }

  /** A job of three steps of 100 ms each, pacing after each. */
  const threeSteps: JobHandler = async (_job, { pace }) => {
    for (let i = 0; i < 3; i++) {
      mono += 100;
      await pace();
    }
    return 'done';
  };

  it('resolves at once at speed 1 (and without a speed)', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    start(threeSteps);
    await until(async () => (await stateOf(j.id)) === 'done');
    expect(sleeps).toEqual([]);
  });

  it('at speed 0.25 rests three times the work after every step, reading the speed afresh each time', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    const speeds = [0.25, 0.25, 1];
    const asked: string[] = [];
    start(threeSteps, {
      speed: (job) => {
        asked.push(job.id);
        return speeds.shift() ?? 1;
      },
    });
    await until(async () => (await stateOf(j.id)) === 'done');
    // The rest itself is not counted as work: each step's 100 ms alone decides the next rest.
    expect(sleeps).toEqual([300, 300]);
    expect(asked).toEqual([j.id, j.id, j.id]);
  });

  it('a speed that throws counts as full speed', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    start(threeSteps, {
      speed: () => {
        throw new Error('policy broke');
      },
    });
    await until(async () => (await stateOf(j.id)) === 'done');
    expect(sleeps).toEqual([]);
  });

  it('runs a job the person asked to run now at full speed, past accept and speed', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    const r = start(threeSteps, { accept: () => false, speed: () => 0.1 });
    await new Promise((res) => setTimeout(res, 40));
    expect(await stateOf(j.id)).toBe('queued');
    await r.runNow(j.id);
    await until(async () => (await stateOf(j.id)) === 'done');
    expect(sleeps).toEqual([]);
  });

  it('a rest ends when the job is preempted; the job goes back to the queue', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    let resting = false;
    const r = start(
      async (_job, { pace }) => {
        mono += 1_000;
        resting = true;
        await pace();
        return 'should not finish';
      },
      { speed: () => 0.1, sleep: sleepUnlessAborted },
    );
    await until(async () => resting);
    await r.pause();
    expect(await getJob(db, j.id)).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('pace after an abort rejects at once', async () => {
    const j = await enqueueJob(db, { jobClass: 'calibration', subject: 'a' }, { now, newId });
    let outcome = '';
    let started = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((res) => (release = res));
    const r = start(async (_job, { pace, signal }) => {
      started = true;
      await gate;
      try {
        await pace();
        outcome = 'resolved';
      } catch {
        outcome = `rejected (aborted: ${signal.aborted})`;
      }
      throw new Error('stopped');
    });
    await until(async () => started);
    const preempting = r.preempt();
    release();
    await preempting;
    expect(outcome).toBe('rejected (aborted: true)');
    expect(await stateOf(j.id)).toBe('queued');
  });
});
