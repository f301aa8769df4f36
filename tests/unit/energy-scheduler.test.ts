/**
 * EnergyScheduler over a simulated day: a solar-heavy grid and a laptop's
 * charging, the queue's jobs, which of them the runner may start hour by
 * hour, throttling past a deadline, wake-ups on a charging change, and the
 * run log with its savings estimate.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { createJob, type Job, type JobClass } from '../../src/lib/jobs/job';
import type { PolicySettings } from '../../src/lib/energy/policy';
import type { BatterySignal, CarbonSignal, EnergySignals, NetworkSignal } from '../../src/lib/energy/signals';
import { JOB_CLASS_SPECS } from '../../src/lib/energy/jobs';
import { EnergyScheduler, MAX_RUNS, parseRuns, toEnergyJob, type SignalSource } from '../../src/services/energy-scheduler';
import { ENERGY_KEYS, type EnergyRecord, type Timers } from '../../src/services/energy-signals';
import { PermanentJobError, type JobContext } from '../../src/services/job-runner';

const HOUR = 3_600_000;
/** Monday 2025-06-02 00:00 UTC; traces are in UTC hours. */
const DAY0 = Date.UTC(2025, 5, 2);
/** A solar-heavy grid: dirty night, midday trough 11:00-14:00, evening peak (gCO2/kWh by hour). */
const CARBON_DAY = [420, 415, 410, 410, 415, 420, 410, 390, 350, 310, 270, 240, 220, 225, 245, 290, 350, 420, 470, 490, 480, 460, 440, 430];
/** On the charger overnight until 07:00 and for a top-up 12:00-14:00. */
const CHARGING_DAY = CARBON_DAY.map((_, h) => h < 7 || (h >= 12 && h < 14));
/** The policy's settings pinned here, so that tuning the defaults does not move these expectations. */
const SETTINGS: PolicySettings = {
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
const hourOf = (t: number) => ((Math.floor((t - DAY0) / HOUR) % 24) + 24) % 24;
const intensityAt = (t: number) => CARBON_DAY[hourOf(t)]!;

/** A SignalSource replaying the traces at the test's clock; `override` pins a signal. */
class TraceSignals implements SignalSource {
  policySettings: PolicySettings = SETTINGS;
  level = 0.6;
  override: Partial<EnergySignals> = {};
  network: NetworkSignal = { online: true, saveData: false };
  #listeners = new Set<() => void>();
  constructor(private readonly clock: () => number) {}

  carbon(now: number): CarbonSignal {
    const start = Math.floor(now / HOUR) * HOUR;
    const forecast = Array.from({ length: 48 }, (_, i) => ({ at: start + i * HOUR, gPerKWh: intensityAt(start + i * HOUR) }));
    return { gPerKWh: intensityAt(now), providerId: 'test-trace', at: now, forecast };
  }
  battery(now: number): BatterySignal {
    const charging = CHARGING_DAY[hourOf(now)]!;
    return { kind: 'known', charging, level: this.level, dischargingTimeS: charging ? null : 5 * 3600, readAt: now };
  }
  current(): EnergySignals {
    const now = this.clock();
    return { battery: this.battery(now), carbon: this.carbon(now), network: this.network, ...this.override };
  }
  carbonAt(at: number): number {
    return intensityAt(at);
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(): void {
    for (const l of this.#listeners) l();
  }
}

class FakeTimers implements Timers {
  pending: { callback: () => void; ms: number; id: number }[] = [];
  #next = 0;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.pending.push({ callback, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((t) => t.id !== handle);
  }
}

describe('EnergyScheduler', () => {
  let db: H3lixDatabase;
  let clock = DAY0;
  let signals: TraceSignals;
  let queue: Job[];
  let timers: FakeTimers;
  let scheduler: EnergyScheduler;

  const enqueue = (id: string, jobClass: JobClass, over: Partial<Job> = {}): Job => {
    const job = { ...createJob({ id, jobClass, subject: `s-${id}`, now: clock }), ...over };
    queue.push(job);
    return job;
  };
  const make = (maxRuns?: number) =>
    new EnergyScheduler({ db: () => db, now: () => clock, signals, jobs: async () => queue.map((j) => ({ ...j })), timers, ...(maxRuns ? { maxRuns } : {}) });

  beforeEach(async () => {
    db = await openDatabase(`energy-scheduler-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
    clock = DAY0;
    signals = new TraceSignals(() => clock);
    queue = [];
    timers = new FakeTimers();
    scheduler = make();
  });
  afterEach(() => {
    scheduler.stop();
    db.close();
  });

  /** Hour by hour as the runner would: start (and finish) every queued job `accept` lets through. */
  async function simulate(fromHour: number, toHour: number): Promise<Map<string, { hour: number; throttled: boolean }>> {
    const ran = new Map<string, { hour: number; throttled: boolean }>();
    for (let h = fromHour; h < toHour; h++) {
      clock = DAY0 + h * HOUR;
      for (const job of queue.filter((j) => j.state === 'queued')) {
        if (!scheduler.accept(job)) continue;
        const running = { ...job, state: 'running' as const };
        await scheduler.recordStart(running);
        clock += 10 * 60_000;
        await scheduler.recordEnd(running, 'done');
        clock -= 10 * 60_000;
        job.state = 'done';
        ran.set(job.id, { hour: h, throttled: scheduler.runs.at(-1)!.throttled });
      }
    }
    return ran;
  }

  it('over a simulated day: a heavy job waits for the charger in the midday trough, a light one for the cleanest hour before its deadline', async () => {
    clock = DAY0 + 19 * HOUR;
    enqueue('rollouts', 'rollouts'); // deadline 24 h
    enqueue('extract', 'experience-extraction'); // deadline 6 h, light
    const before = await scheduler.decisions();
    expect(before.map((d) => [d.jobId, d.action])).toEqual([
      ['extract', 'defer'],
      ['rollouts', 'defer'],
    ]);
    expect(before[1]!.reason).toBe('on battery at 60 %: light jobs only');

    const ran = await simulate(19, 24 + 24);
    // The light job takes the cleanest hour before its 01:00 deadline (midnight); the heavy one
    // not overnight although the laptop charges (dirty grid), but in the charging top-up in the trough.
    expect(ran.get('extract')).toEqual({ hour: 24, throttled: false });
    expect(ran.get('rollouts')).toEqual({ hour: 24 + 12, throttled: false });

    // Waiting saved carbon against running both at 19:00 (490 g/kWh).
    const savings = scheduler.savings();
    expect(savings.runs).toBe(2);
    expect(savings.gramsImmediate).toBeCloseTo(((JOB_CLASS_SPECS.rollouts.energyWh + JOB_CLASS_SPECS['experience-extraction'].energyWh) * 490) / 1000, 6);
    expect(savings.gramsSaved).toBeGreaterThan(0);
    expect(savings.fractionSaved).toBeGreaterThan(0.4);
  });

  it('runs a job whose deadline passed, throttled in a bad window, and says so', async () => {
    clock = DAY0 + 19 * HOUR; // evening peak, on battery
    signals.level = 0.3;
    const late = enqueue('late', 'rollouts', { deadline: clock - 2 * HOUR, createdAt: clock - 26 * HOUR });
    expect(scheduler.accept(late)).toBe(true);
    const [decision] = await scheduler.decisions();
    expect(decision).toMatchObject({ jobId: 'late', action: 'run-throttled', speed: SETTINGS.throttle });
    expect(decision!.reason).toMatch(/^deadline passed 2\.0 h ago; running slowly/);
    expect(scheduler.speed({ ...late, state: 'running' })).toBe(SETTINGS.throttle);
    expect(scheduler.speedOf('late')).toBe(SETTINGS.throttle);
    await scheduler.recordStart({ ...late, state: 'running' });
    expect(scheduler.runs.at(-1)).toMatchObject({ jobId: 'late', throttled: true, gPerKWhAtRun: 490, gPerKWhAtEnqueue: intensityAt(clock - 26 * HOUR) });

    // Plugged in, in the trough: the same job at full speed.
    clock = DAY0 + 12 * HOUR;
    expect(scheduler.speed({ ...late, state: 'running' })).toBe(1);
    expect(scheduler.speedOf('unknown-job')).toBe(1);
  });

  it('a charging change wakes the runner when a deferred job may now run, and only then', async () => {
    // 12:30 in the trough, but the charger is out and the battery at 30 %: the heavy job waits.
    clock = DAY0 + 12 * HOUR + 30 * 60_000;
    signals.level = 0.3;
    signals.override = { battery: { kind: 'known', charging: false, level: 0.3, dischargingTimeS: 4 * 3600, readAt: clock } };
    const job = enqueue('heavy', 'self-training');
    let wakes = 0;
    scheduler.onWake(() => wakes++);
    await scheduler.start();
    expect(scheduler.accept(job)).toBe(false);
    expect(wakes).toBe(0);

    // The level changes but nothing may run: no wake.
    signals.override = { battery: { kind: 'known', charging: false, level: 0.35, dischargingTimeS: 4 * 3600, readAt: clock } };
    signals.emit();
    await scheduler.evaluate();
    expect(wakes).toBe(0);

    // Plugged in.
    signals.override = {};
    signals.emit();
    await scheduler.evaluate();
    expect(wakes).toBe(1);
    expect(scheduler.accept(job)).toBe(true);
  });

  it('arms a timer at the earliest revisit of a deferred job, and looks again when it fires', async () => {
    clock = DAY0 + 19 * HOUR;
    enqueue('extract', 'experience-extraction');
    let wakes = 0;
    scheduler.onWake(() => wakes++);
    await scheduler.start();
    expect(timers.pending).toHaveLength(1);
    expect(timers.pending[0]!.ms).toBe(SETTINGS.recheckMs);
    // Midnight: the light job's cleanest hour before its deadline.
    clock = DAY0 + 24 * HOUR;
    timers.pending.shift()!.callback();
    await scheduler.evaluate();
    expect(wakes).toBe(1);
    scheduler.stop();
    expect(timers.pending).toHaveLength(0);
  });

  it('lists offline network jobs as waiting and knows nothing of the person\'s overrides but what it is told', async () => {
    clock = DAY0 + 12 * HOUR;
    signals.network = { online: false, saveData: false };
    enqueue('sync', 'sync');
    enqueue('calib', 'calibration');
    const decisions = await scheduler.decisions();
    expect(decisions.find((d) => d.jobId === 'sync')).toMatchObject({ action: 'defer', reason: 'offline; waits for the network', label: 'Sync with the network' });
    expect(decisions.find((d) => d.jobId === 'calib')?.action).toBe('run');
    const paused = await scheduler.decisions({ paused: true, runNow: [] });
    expect(paused.every((d) => d.action === 'defer' && d.reason.startsWith('paused by you'))).toBe(true);
  });

  it('says when a job is backing off after a failure', async () => {
    clock = DAY0 + 12 * HOUR;
    enqueue('calib', 'calibration', { notBefore: clock + 4 * 60_000, attempts: 1 });
    const [d] = await scheduler.decisions();
    expect(d!.notBefore).toBe(clock + 4 * 60_000);
    expect(d!.reason).toMatch(/retrying after a failure/);
  });

  it('keeps a bounded run log that survives a reload; a run left open by a closed tab is interrupted', async () => {
    const small = make(3);
    clock = DAY0 + 12 * HOUR;
    for (let i = 0; i < 5; i++) {
      const job = enqueue(`j${i}`, 'calibration');
      await small.recordStart(job);
      clock += 60_000;
      if (i < 4) await small.recordEnd(job, i === 1 ? 'failed' : 'done');
    }
    expect(small.runs.map((r) => [r.jobId, r.outcome])).toEqual([
      ['j2', 'done'],
      ['j3', 'done'],
      ['j4', 'running'],
    ]);
    const stored = (await db.table<EnergyRecord, string>('energy').get(ENERGY_KEYS.runs))?.value;
    expect(parseRuns(stored)).toHaveLength(3);
    const reloaded = make(3);
    await reloaded.load();
    expect(reloaded.runs.map((r) => r.outcome)).toEqual(['done', 'done', 'interrupted']);
    expect(MAX_RUNS).toBe(500);
  });

  it('reads a damaged run log as empty and drops malformed entries', async () => {
    await db.table<EnergyRecord, string>('energy').put({ key: ENERGY_KEYS.runs, value: 'garbage' });
    await scheduler.load();
    expect(scheduler.runs).toEqual([]);
    expect(parseRuns([{ jobId: 'x' }, null])).toEqual([]);
    expect(scheduler.savings()).toMatchObject({ runs: 0, gramsSaved: 0 });
  });

  it('instruments handlers: every run logged as done, failed or interrupted', async () => {
    clock = DAY0 + 12 * HOUR;
    const ok = enqueue('ok', 'calibration');
    const bad = enqueue('bad', 'consolidation');
    const stopped = enqueue('stopped', 'sync');
    const handlers = scheduler.instrument({
      calibration: async () => 'fine',
      consolidation: async () => {
        throw new PermanentJobError('gone');
      },
      sync: async (_job, ctx) => {
        (ctx.signal as AbortSignal & { abortNow?: () => void }).abortNow?.();
        throw new Error('aborted');
      },
    });
    const context = (): JobContext => ({ signal: new AbortController().signal, progress: () => {}, pace: async () => {} });
    await expect(handlers.calibration!(ok, context())).resolves.toBe('fine');
    await expect(handlers.consolidation!(bad, context())).rejects.toThrow('gone');
    const aborted = new AbortController();
    aborted.abort();
    await expect(handlers.sync!(stopped, { ...context(), signal: aborted.signal })).rejects.toThrow('aborted');
    expect(scheduler.runs.map((r) => [r.jobId, r.outcome])).toEqual([
      ['ok', 'done'],
      ['bad', 'failed'],
      ['stopped', 'interrupted'],
    ]);
    expect(handlers.rollouts).toBeUndefined();
  });

  it('adapts a queue job to the policy job', () => {
    const job = createJob({ id: 'a', jobClass: 'rollouts', subject: 'e', now: 5, deadline: 99 });
    expect(toEnergyJob(job)).toEqual({ id: 'a', jobClass: 'rollouts', enqueuedAt: 5, deadline: 99, state: 'queued' });
    expect(toEnergyJob({ ...job, state: 'running' }).state).toBe('queued');
    expect(toEnergyJob({ ...job, state: 'done' }).state).toBe('done');
  });
});
