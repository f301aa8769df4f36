import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createJob, JOB_CLASSES, type Job, type JobClass } from '../../src/lib/energy/jobs';
import { assessPower, decide, DEFAULT_POLICY_SETTINGS, quantile, type JobAction } from '../../src/lib/energy/policy';
import type { BatterySignal, CarbonSignal, EnergySignals, NetworkSignal } from '../../src/lib/energy/signals';

const HOUR = 3_600_000;
/** Monday 2025-06-02 00:00 UTC; the traces below are in UTC hours. */
const DAY0 = Date.UTC(2025, 5, 2);

/**
 * A simulated day of a solar-heavy grid (gCO2/kWh by hour, repeated on later
 * days): dirty night, a deep midday trough 11:00-14:00, evening peak.
 */
const CARBON_DAY = [420, 415, 410, 410, 415, 420, 410, 390, 350, 310, 270, 240, 220, 225, 245, 290, 350, 420, 470, 490, 480, 460, 440, 430];
/** A laptop's charging over the same day: on the charger overnight until 07:00 and for a top-up 12:00-14:00. */
const CHARGING_DAY = CARBON_DAY.map((_, h) => h < 7 || (h >= 12 && h < 14));

const intensityAt = (t: number) => CARBON_DAY[Math.floor(((t - DAY0) / HOUR) % 24)]!;

function carbonAt(now: number, hours = 48): CarbonSignal {
  const start = Math.floor(now / HOUR) * HOUR;
  const forecast = Array.from({ length: hours }, (_, i) => ({ at: start + i * HOUR, gPerKWh: intensityAt(start + i * HOUR) }));
  return { gPerKWh: intensityAt(now), providerId: 'test-trace', at: now, forecast };
}

function batteryAt(now: number, level: number): BatterySignal {
  const charging = CHARGING_DAY[Math.floor(((now - DAY0) / HOUR) % 24)]!;
  return { kind: 'known', charging, level, dischargingTimeS: charging ? null : 5 * 3600, readAt: now };
}

const online: NetworkSignal = { online: true, saveData: false };

function signalsAt(now: number, level = 0.6, network = online): EnergySignals {
  return { battery: batteryAt(now, level), carbon: carbonAt(now), network };
}

/** Steps through the hours like the scheduler service would: decide, run what may run, keep the rest queued. */
function simulate(jobs: Job[], fromHour: number, toHour: number, level = 0.6): Map<string, { hour: number; action: JobAction }> {
  const ran = new Map<string, { hour: number; action: JobAction }>();
  let queue = [...jobs];
  for (let h = fromHour; h < toHour; h++) {
    const now = DAY0 + h * HOUR;
    const { decisions } = decide({ now, signals: signalsAt(now, level), jobs: queue });
    for (const d of decisions) if (d.action !== 'defer') ran.set(d.jobId, { hour: h, action: d.action });
    queue = queue.filter((job) => !ran.has(job.id));
  }
  return ran;
}

describe('policy over a simulated day', () => {
  it('holds heavy jobs queued in the evening for the charging top-up in the midday trough', () => {
    const evening = DAY0 + 19 * HOUR;
    const jobs = [createJob({ id: 'rollouts', jobClass: 'rollouts', now: evening }), createJob({ id: 'selftrain', jobClass: 'self-training', now: evening })];
    const ran = simulate(jobs, 19, 24 + 24);
    // Not overnight although the laptop charges then (the grid is dirty), not at 11:00 (clean but on battery at 60 %).
    expect(ran.get('rollouts')).toEqual({ hour: 24 + 12, action: 'run' });
    expect(ran.get('selftrain')).toEqual({ hour: 24 + 12, action: 'run' });
  });

  it('runs light jobs on a half-full battery in the trough, before the charger is back', () => {
    // Queued at 08:00 with 4 h to go: 11:00 (240) is the cleanest hour before the deadline, on battery.
    const morning = DAY0 + 8 * HOUR;
    const job = createJob({ id: 'extract', jobClass: 'experience-extraction', now: morning, deadlineMs: 4 * HOUR });
    expect(simulate([job], 8, 24).get('extract')).toEqual({ hour: 11, action: 'run' });
  });

  it('keeps light jobs waiting on a nearly empty battery until the charger', () => {
    const morning = DAY0 + 8 * HOUR;
    const job = createJob({ id: 'extract', jobClass: 'experience-extraction', now: morning, deadlineMs: 4 * HOUR });
    // At 12:00 the deadline has passed, but the charger is back and the grid clean: a full-speed run.
    expect(simulate([job], 8, 24, 0.3).get('extract')).toEqual({ hour: 12, action: 'run' });
  });

  it('light jobs with a day to go wait for the trough too', () => {
    const evening = DAY0 + 20 * HOUR;
    const ran = simulate([createJob({ id: 'extract', jobClass: 'experience-extraction', now: evening })], 20, 48);
    expect(ran.get('extract')).toEqual({ hour: 24 + 12, action: 'run' });
  });

  it('runs a job whose deadline passes in a dirty window throttled, at the deadline', () => {
    const evening = DAY0 + 17 * HOUR;
    const job = createJob({ id: 'calib', jobClass: 'calibration', now: evening, deadlineMs: 3 * HOUR });
    const ran = simulate([job], 17, 24, 0.3);
    expect(ran.get('calib')).toEqual({ hour: 20, action: 'run-throttled' });
    const outcome = decide({ now: DAY0 + 20 * HOUR, signals: signalsAt(DAY0 + 20 * HOUR, 0.3), jobs: [job] });
    expect(outcome.decisions[0]!.reason).toMatch(/deadline passed/);
    expect(outcome.decisions[0]!.speed).toBe(DEFAULT_POLICY_SETTINGS.throttle);
  });

  it('runs an overdue job at full speed when the window is good', () => {
    const noon = DAY0 + 12 * HOUR;
    const job = createJob({ id: 'late', jobClass: 'rollouts', now: noon - 60 * HOUR, deadlineMs: 48 * HOUR });
    const [d] = decide({ now: noon, signals: signalsAt(noon), jobs: [job] }).decisions;
    expect(d).toMatchObject({ action: 'run', speed: 1 });
  });

  it('a job with little time left takes the best of the hours it has', () => {
    // Queued at 17:00 with 4 h: 17:00 (420) is the cleanest hour before 21:00, so a light job runs now; a heavy one still needs power to spare.
    const at = DAY0 + 17 * HOUR;
    const light = createJob({ id: 'light', jobClass: 'experience-extraction', now: at, deadlineMs: 4 * HOUR });
    expect(decide({ now: at, signals: signalsAt(at), jobs: [light] }).decisions[0]!.action).toBe('run');
    const heavy = createJob({ id: 'heavy', jobClass: 'consolidation', now: at, deadlineMs: 4 * HOUR });
    const d = decide({ now: at, signals: signalsAt(at), jobs: [heavy] }).decisions[0]!;
    expect(d.action).toBe('defer');
    expect(d.reason).toMatch(/battery at 60 %/);
  });

  it('gives deferred jobs a revisit time no later than their deadline and the expected clean hour', () => {
    const at = DAY0 + 19 * HOUR;
    const job = createJob({ id: 'r', jobClass: 'rollouts', now: at });
    const d = decide({ now: at, signals: { ...signalsAt(at), battery: { kind: 'unknown', reason: 'no Battery API' } }, jobs: [job] }).decisions[0]!;
    expect(d.action).toBe('defer');
    // The 10 % cleanest of the next 48 h are at or below 240 g: first reached at 11:00 tomorrow.
    expect(d.expectedAt).toBe(DAY0 + (24 + 11) * HOUR);
    expect(d.revisitAt).toBeLessThanOrEqual(at + DEFAULT_POLICY_SETTINGS.recheckMs);
  });
});

describe('network, data saver and the person', () => {
  const at = DAY0 + 12 * HOUR + 30 * 60_000; // charging, in the trough
  const sync = createJob({ id: 'sync', jobClass: 'sync', now: at, payloadBytes: 10_000 });
  const bigSync = createJob({ id: 'big', jobClass: 'sync', now: at, payloadBytes: 5_000_000 });
  const rollouts = createJob({ id: 'roll', jobClass: 'rollouts', now: at });

  it('offline defers network jobs, even overdue ones, but not local work', () => {
    const offline = { online: false, saveData: false };
    const overdue = { ...sync, deadline: at - HOUR };
    const out = decide({ now: at, signals: signalsAt(at, 0.6, offline), jobs: [sync, overdue].map((j, i) => ({ ...j, id: `s${i}` })).concat(rollouts) });
    const byId = Object.fromEntries(out.decisions.map((d) => [d.jobId, d]));
    expect(byId.s0!.action).toBe('defer');
    expect(byId.s1!.action).toBe('defer');
    expect(byId.s1!.reason).toMatch(/offline; overdue/);
    expect(byId.roll!.action).toBe('run');
  });

  it('data saver defers a big sync but not a small one; an overdue big sync goes out slowly', () => {
    const saver = { online: true, saveData: true };
    const out = decide({ now: at, signals: signalsAt(at, 0.6, saver), jobs: [sync, bigSync] });
    const byId = Object.fromEntries(out.decisions.map((d) => [d.jobId, d]));
    expect(byId.sync!.action).toBe('run');
    expect(byId.big!.action).toBe('defer');
    expect(byId.big!.reason).toMatch(/data saver/);
    const late = decide({ now: bigSync.deadline + 1, signals: signalsAt(bigSync.deadline + 1, 0.6, saver), jobs: [bigSync] });
    expect(late.decisions[0]!.action).toBe('run-throttled');
  });

  it('Pause runs nothing, not even Run now or overdue jobs', () => {
    const overdue = { ...rollouts, id: 'late', deadline: at - HOUR };
    const out = decide({ now: at, signals: signalsAt(at), jobs: [sync, rollouts, overdue], overrides: { paused: true, runNow: ['roll'] } });
    expect(out.decisions.every((d) => d.action === 'defer' && d.revisitAt === null)).toBe(true);
    expect(out.decisions.find((d) => d.jobId === 'roll')!.reason).toMatch(/Run now/);
  });

  it('Run now runs the chosen job in a bad window and puts it first', () => {
    const night = DAY0 + 20 * HOUR;
    const a = createJob({ id: 'a', jobClass: 'self-training', now: night });
    const b = createJob({ id: 'b', jobClass: 'consolidation', now: night });
    const out = decide({ now: night, signals: signalsAt(night, 0.2), jobs: [a, b], overrides: { paused: false, runNow: ['b'] } });
    expect(out.decisions.map((d) => [d.jobId, d.action])).toEqual([
      ['b', 'run'],
      ['a', 'defer'],
    ]);
  });

  it('without the Battery API it decides on the grid alone', () => {
    const unknown: BatterySignal = { kind: 'unknown', reason: 'no Battery API' };
    expect(assessPower(unknown)).toMatchObject({ heavy: true, light: true });
    const dirty = DAY0 + 19 * HOUR;
    const job = createJob({ id: 'x', jobClass: 'rollouts', now: at });
    expect(decide({ now: at, signals: { ...signalsAt(at), battery: unknown }, jobs: [job] }).decisions[0]!.action).toBe('run');
    expect(decide({ now: dirty, signals: { ...signalsAt(dirty), battery: unknown }, jobs: [{ ...job, enqueuedAt: dirty, deadline: dirty + 48 * HOUR }] }).decisions[0]!.action).toBe('defer');
  });

  it('battery rules: high and steady is enough, high but draining fast is not', () => {
    expect(assessPower({ kind: 'known', charging: false, level: 0.9, dischargingTimeS: 6 * 3600, readAt: 0 }).heavy).toBe(true);
    expect(assessPower({ kind: 'known', charging: false, level: 0.9, dischargingTimeS: 3600, readAt: 0 })).toMatchObject({ heavy: false, light: false });
    expect(assessPower({ kind: 'known', charging: false, level: 0.6, dischargingTimeS: null, readAt: 0 })).toMatchObject({ heavy: false, light: true });
    expect(assessPower({ kind: 'known', charging: true, level: 0.05, dischargingTimeS: null, readAt: 0 })).toMatchObject({ heavy: true, light: true });
  });

  it('leaves jobs that are not queued alone', () => {
    const running: Job = { ...rollouts, id: 'busy', state: 'running' };
    const done: Job = { ...rollouts, id: 'done', state: 'done' };
    expect(decide({ now: at, signals: signalsAt(at), jobs: [running, done] }).decisions).toEqual([]);
  });

  it('treats a very clean grid as clean whatever the forecast', () => {
    const carbon: CarbonSignal = { gPerKWh: 30, providerId: 't', at, forecast: [{ at: at + HOUR, gPerKWh: 5 }] };
    const out = decide({ now: at, signals: { ...signalsAt(at), carbon }, jobs: [rollouts] });
    expect(out.decisions[0]!.action).toBe('run');
  });
});

describe('quantile', () => {
  it('takes the lower order statistic', () => {
    expect(quantile([5, 1, 3, 2, 4], 0.2)).toBe(1);
    expect(quantile([5, 1, 3, 2, 4], 0.4)).toBe(2);
    expect(quantile([5, 1, 3, 2, 4], 1)).toBe(5);
    expect(quantile([7], 0)).toBe(7);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Properties over arbitrary signals and queues.

const arbBattery: fc.Arbitrary<BatterySignal> = fc.oneof(
  fc.record({
    kind: fc.constant('known' as const),
    charging: fc.boolean(),
    level: fc.double({ min: 0, max: 1, noNaN: true }),
    dischargingTimeS: fc.option(fc.integer({ min: 0, max: 48 * 3600 }), { nil: null }),
    readAt: fc.constant(DAY0),
  }),
  fc.constant({ kind: 'unknown' as const, reason: 'no Battery API' }),
);
const arbCarbon: fc.Arbitrary<CarbonSignal> = fc
  .tuple(fc.integer({ min: 0, max: 900 }), fc.array(fc.integer({ min: 0, max: 900 }), { maxLength: 48 }))
  .map(([now, ahead]) => ({ gPerKWh: now, providerId: 'p', at: DAY0, forecast: ahead.map((g, i) => ({ at: DAY0 + i * HOUR, gPerKWh: g })) }));
const arbNetwork = fc.record({ online: fc.boolean(), saveData: fc.boolean() });
const arbJobs = fc
  .array(
    fc.record({
      jobClass: fc.constantFrom<JobClass>(...JOB_CLASSES),
      enqueuedOffsetH: fc.integer({ min: -100, max: 0 }),
      waitH: fc.integer({ min: 0, max: 100 }),
      payloadBytes: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
      state: fc.constantFrom<Job['state']>('queued', 'queued', 'queued', 'running', 'done'),
    }),
    { maxLength: 12 },
  )
  .map((specs) =>
    specs.map((s, i): Job => {
      const job = createJob({ id: `j${i}`, jobClass: s.jobClass, now: DAY0 + s.enqueuedOffsetH * HOUR, deadlineMs: s.waitH * HOUR, ...(s.payloadBytes === undefined ? {} : { payloadBytes: s.payloadBytes }) });
      return { ...job, state: s.state };
    }),
  );
const arbSignals = fc.record({ battery: arbBattery, carbon: arbCarbon, network: arbNetwork });

describe('policy properties', () => {
  it('decides once for every queued job, with a reason, and for nothing else', () => {
    fc.assert(
      fc.property(arbSignals, arbJobs, fc.boolean(), (signals, jobs, paused) => {
        const { decisions } = decide({ now: DAY0, signals, jobs, overrides: { paused, runNow: [] } });
        const queued = jobs.filter((j) => j.state === 'queued').map((j) => j.id).sort();
        expect(decisions.map((d) => d.jobId).sort()).toEqual(queued);
        for (const d of decisions) expect(d.reason.length).toBeGreaterThan(5);
      }),
    );
  });

  it('a job past its deadline is never deferred again, unless paused or offline for a network job', () => {
    fc.assert(
      fc.property(arbSignals, arbJobs, (signals, jobs) => {
        const { decisions } = decide({ now: DAY0, signals, jobs });
        for (const d of decisions) {
          const job = jobs.find((j) => j.id === d.jobId)!;
          const blocked = job.jobClass === 'sync' && !signals.network.online;
          if (DAY0 >= job.deadline && !blocked) expect(d.action).not.toBe('defer');
        }
      }),
    );
  });

  it('Pause runs nothing', () => {
    fc.assert(
      fc.property(arbSignals, arbJobs, fc.array(fc.integer({ min: 0, max: 12 })), (signals, jobs, picks) => {
        const runNow = picks.map((i) => `j${i}`);
        const { decisions } = decide({ now: DAY0, signals, jobs, overrides: { paused: true, runNow } });
        expect(decisions.every((d) => d.action === 'defer')).toBe(true);
      }),
    );
  });

  it('Run now runs exactly the chosen job and changes no other decision', () => {
    fc.assert(
      fc.property(arbSignals, arbJobs, fc.nat(), (signals, jobs, pick) => {
        const queued = jobs.filter((j) => j.state === 'queued');
        fc.pre(queued.length > 0);
        const chosen = queued[pick % queued.length]!;
        fc.pre(signals.network.online || chosen.jobClass !== 'sync');
        const without = decide({ now: DAY0, signals, jobs }).decisions;
        const withRunNow = decide({ now: DAY0, signals, jobs, overrides: { paused: false, runNow: [chosen.id] } }).decisions;
        expect(withRunNow[0]).toMatchObject({ jobId: chosen.id, action: 'run', speed: 1 });
        const others = (ds: typeof without) => Object.fromEntries(ds.filter((d) => d.jobId !== chosen.id).map((d) => [d.jobId, d]));
        expect(others(withRunNow)).toEqual(others(without));
      }),
    );
  });

  it('runs come before deferrals in the returned order', () => {
    fc.assert(
      fc.property(arbSignals, arbJobs, (signals, jobs) => {
        const actions = decide({ now: DAY0, signals, jobs }).decisions.map((d) => d.action);
        const firstDefer = actions.indexOf('defer');
        if (firstDefer >= 0) expect(actions.slice(firstDefer).every((a) => a === 'defer')).toBe(true);
      }),
    );
  });
});
