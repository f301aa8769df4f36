import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createJob, DEFAULT_DEVICE_POWER, energyWhOf, JOB_CLASS_SPECS, JOB_CLASSES, jobEnergyWh, parseJob } from '../../src/lib/energy/jobs';
import { batteryFromManager, batteryFromPersisted, DEFAULT_BATTERY_MAX_AGE_MS } from '../../src/lib/energy/signals';
import { estimateSavings, gramsOf, intensityAt } from '../../src/lib/energy/energy-estimate';

const NOW = Date.UTC(2025, 5, 2, 12);
const HOUR = 3_600_000;

describe('jobs', () => {
  it('has the seven deferrable classes and no chat', () => {
    expect([...JOB_CLASSES].sort()).toEqual(['artifact-check', 'calibration', 'consolidation', 'experience-extraction', 'rollouts', 'self-training', 'sync']);
    for (const raw of ['chat', 'inference', 'reply']) {
      expect(parseJob({ id: 'x', jobClass: raw, enqueuedAt: NOW, deadline: NOW, state: 'queued' }).ok).toBe(false);
    }
  });

  it('derives energy from the cost and the power model', () => {
    expect(energyWhOf({ cpuSeconds: 3600, gpuSeconds: 0 })).toBe(DEFAULT_DEVICE_POWER.cpuWatts);
    expect(energyWhOf({ cpuSeconds: 0, gpuSeconds: 1800 }, { cpuWatts: 0, gpuWatts: 40 })).toBe(20);
    for (const jobClass of JOB_CLASSES) {
      const spec = JOB_CLASS_SPECS[jobClass];
      expect(spec.energyWh).toBeCloseTo(energyWhOf(spec.cost), 12);
      expect(spec.weight === 'heavy').toBe(spec.energyWh > 2);
      expect(spec.defaultDeadlineMs).toBeGreaterThan(0);
    }
    expect(JOB_CLASS_SPECS.sync.needsNetwork).toBe(true);
    expect(JOB_CLASSES.filter((c) => JOB_CLASS_SPECS[c].needsNetwork)).toEqual(['sync']);
  });

  it('creates queued jobs with the default or a given deadline', () => {
    expect(createJob({ id: 'a', jobClass: 'rollouts', now: NOW })).toEqual({ id: 'a', jobClass: 'rollouts', enqueuedAt: NOW, deadline: NOW + 48 * HOUR, state: 'queued' });
    expect(createJob({ id: 'b', jobClass: 'sync', now: NOW, deadlineMs: HOUR, payloadBytes: 10 })).toMatchObject({ deadline: NOW + HOUR, payloadBytes: 10 });
    expect(() => createJob({ id: 'bad id', jobClass: 'sync', now: NOW })).toThrow(/invalid job id/);
    expect(() => createJob({ id: 'c', jobClass: 'sync', now: NOW, deadlineMs: -1 })).toThrow(/deadlineMs/);
  });

  it('round-trips through parseJob and rejects malformed rows', () => {
    fc.assert(
      fc.property(fc.constantFrom(...JOB_CLASSES), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 30 }), (jobClass, now, wait) => {
        const job = createJob({ id: 'j_1', jobClass, now, deadlineMs: wait });
        expect(parseJob(JSON.parse(JSON.stringify(job)))).toEqual({ ok: true, job });
      }),
    );
    expect(parseJob({ id: 'x', jobClass: 'sync', enqueuedAt: NOW, deadline: NOW - 1, state: 'queued' })).toEqual({ ok: false, reason: 'deadline: deadline is before enqueuedAt' });
    expect(parseJob({ id: 'x', jobClass: 'sync', enqueuedAt: NOW, deadline: NOW, state: 'sleeping' }).ok).toBe(false);
    expect(parseJob({ id: 'x', jobClass: 'sync', enqueuedAt: NOW, deadline: NOW, state: 'queued', extra: true }).ok).toBe(false);
    expect(jobEnergyWh({ jobClass: 'self-training' })).toBe(JOB_CLASS_SPECS['self-training'].energyWh);
  });
});

describe('battery signal', () => {
  const stored = { kind: 'known', charging: true, level: 0.42, dischargingTimeS: null, readAt: NOW - 60_000 };

  it('reads back the persisted state while it is fresh', () => {
    expect(batteryFromPersisted(stored, NOW)).toEqual(stored);
  });

  it('is unknown when missing, malformed, stale or from the future', () => {
    expect(batteryFromPersisted(undefined, NOW)).toEqual({ kind: 'unknown', reason: 'no battery reading has been stored' });
    expect(batteryFromPersisted({ ...stored, level: 1.5 }, NOW)).toEqual({ kind: 'unknown', reason: 'the stored battery reading is malformed' });
    expect(batteryFromPersisted({ ...stored, charging: 'yes' }, NOW).kind).toBe('unknown');
    expect(batteryFromPersisted({ ...stored, readAt: NOW - DEFAULT_BATTERY_MAX_AGE_MS - 60_000 }, NOW)).toEqual({ kind: 'unknown', reason: 'the last battery reading is 31 min old' });
    expect(batteryFromPersisted({ ...stored, readAt: NOW + HOUR }, NOW)).toEqual({ kind: 'unknown', reason: 'the stored battery reading is dated in the future' });
  });

  it('maps a BatteryManager, Infinity to null', () => {
    expect(batteryFromManager({ charging: true, level: 0.5, dischargingTime: Infinity }, NOW)).toEqual({ kind: 'known', charging: true, level: 0.5, dischargingTimeS: null, readAt: NOW });
    expect(batteryFromManager({ charging: false, level: 0.8, dischargingTime: 7200 }, NOW)).toMatchObject({ dischargingTimeS: 7200 });
  });
});

describe('energy estimate', () => {
  it('compares the schedule with running everything when queued', () => {
    const est = estimateSavings([
      { energyWh: 10, enqueuedAt: 0, startedAt: 10 * HOUR, gPerKWhAtRun: 200, gPerKWhAtEnqueue: 400 },
      { energyWh: 2, enqueuedAt: 0, startedAt: HOUR, gPerKWhAtRun: 300, gPerKWhAtEnqueue: 300 },
      { energyWh: 1, enqueuedAt: 0, startedAt: 2 * HOUR, gPerKWhAtRun: 500, gPerKWhAtEnqueue: 400 },
    ]);
    expect(est.energyWh).toBe(13);
    expect(est.gramsImmediate).toBeCloseTo(4 + 0.6 + 0.4, 12);
    expect(est.gramsScheduled).toBeCloseTo(2 + 0.6 + 0.5, 12);
    expect(est.gramsSaved).toBeCloseTo(1.9, 12);
    expect(est.fractionSaved).toBeCloseTo(1.9 / 5, 12);
    expect(est.medianDelayMs).toBe(2 * HOUR);
  });

  it('reports a loss as a negative saving and nothing as zero', () => {
    expect(estimateSavings([{ energyWh: 1, enqueuedAt: 0, startedAt: 0, gPerKWhAtRun: 300, gPerKWhAtEnqueue: 200 }]).fractionSaved).toBeCloseTo(-0.5, 12);
    expect(estimateSavings([])).toEqual({ runs: 0, energyWh: 0, gramsScheduled: 0, gramsImmediate: 0, gramsSaved: 0, fractionSaved: 0, medianDelayMs: 0 });
    expect(gramsOf(1000, 250)).toBe(250);
  });

  it('looks up the intensity in force', () => {
    const trace = [
      { at: 10, gPerKWh: 100 },
      { at: 20, gPerKWh: 200 },
    ];
    expect(intensityAt(trace, 5)).toBeNull();
    expect(intensityAt(trace, 10)).toBe(100);
    expect(intensityAt(trace, 19)).toBe(100);
    expect(intensityAt(trace, 99)).toBe(200);
  });
});
