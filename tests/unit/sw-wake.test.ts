/**
 * The service worker's pure side (src/lib/energy/wake.ts, sw-messages.ts):
 * whether a periodic wake-up wakes the page, when a sync for the outbox is
 * settled, the message guards, and the raw IndexedDB reads against the app's
 * real schema (fake-indexeddb), and that its zod-free battery rule agrees
 * with signals.ts and policy.ts on random records.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { DEFAULT_DATABASE_NAME, openDatabase } from '../../src/services/db';
import { batteryFromPersisted, DEFAULT_BATTERY_MAX_AGE_MS, type PersistedBattery } from '../../src/lib/energy/signals';
import { assessPower, DEFAULT_POLICY_SETTINGS } from '../../src/lib/energy/policy';
import {
  BATTERY_KEY,
  BATTERY_MAX_AGE_MS,
  batteryFromStored,
  countOutbox,
  DATABASE_NAME,
  decideLightJobsWake,
  energyRecordValue,
  ENERGY_TABLE,
  judgeOutboxSync,
  lightJobsPower,
  openExisting,
  OUTBOX_TABLE,
  POLICY_SETTINGS_KEY,
  readBatteryRecord,
  readPolicySettingsRecord,
  WAKE_POWER_SETTINGS,
  wakePowerSettingsFrom,
} from '../../src/lib/energy/wake';
import {
  isFlushOutboxMessage,
  isOutboxFlushedMessage,
  isSkipWaitingMessage,
  isWakeJobsMessage,
  isWorkerToPageMessage,
  LIGHT_JOBS_MIN_INTERVAL_MS,
  LIGHT_JOBS_PERIODIC_TAG,
  OUTBOX_SYNC_TAG,
} from '../../src/lib/energy/sw-messages';

const NOW = Date.UTC(2025, 5, 2, 12);
const fresh = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;
const reading = (over: Partial<PersistedBattery> = {}): PersistedBattery => ({
  kind: 'known',
  charging: false,
  level: 0.9,
  dischargingTimeS: null,
  readAt: NOW - 60_000,
  ...over,
});
const record = (value: unknown) => ({ key: BATTERY_KEY, value });

describe('constants shared with the app', () => {
  it('names the database, tables and tags the app uses', () => {
    expect(DATABASE_NAME).toBe(DEFAULT_DATABASE_NAME);
    expect(ENERGY_TABLE).toBe('energy');
    expect(OUTBOX_TABLE).toBe('outbox');
    expect(OUTBOX_SYNC_TAG).toBe('h3lix-outbox');
    expect(LIGHT_JOBS_PERIODIC_TAG).toBe('h3lix-light-jobs');
    expect(LIGHT_JOBS_MIN_INTERVAL_MS).toBe(12 * 3_600_000);
  });
});

describe('energyRecordValue', () => {
  it('unwraps { key, value } and passes anything else through', () => {
    expect(energyRecordValue(undefined)).toBeUndefined();
    expect(energyRecordValue(null)).toBeUndefined();
    expect(energyRecordValue(record(42))).toBe(42);
    expect(energyRecordValue('junk')).toBe('junk');
    expect(energyRecordValue({ key: 'battery' })).toEqual({ key: 'battery' });
  });
});

describe('decideLightJobsWake', () => {
  it('wakes on a charger', () => {
    const d = decideLightJobsWake(record(reading({ charging: true, level: 0.2 })), NOW);
    expect(d.wake).toBe(true);
    expect(d.reason).toMatch(/charging/);
    expect(d.battery.kind).toBe('known');
  });

  it('wakes on a half-full battery that is not draining fast (light jobs)', () => {
    expect(decideLightJobsWake(record(reading({ level: 0.6, dischargingTimeS: 8 * 3600 })), NOW).wake).toBe(true);
  });

  it('does not wake on a low or fast-draining battery', () => {
    const low = decideLightJobsWake(record(reading({ level: 0.3 })), NOW);
    expect(low.wake).toBe(false);
    expect(low.reason).toMatch(/waiting for a charger/);
    expect(decideLightJobsWake(record(reading({ level: 0.95, dischargingTimeS: 3600 })), NOW).wake).toBe(false);
  });

  it('treats a stale, missing, future or malformed reading as unknown, and unknown wakes (the page decides on the grid)', () => {
    const stale = decideLightJobsWake(record(reading({ level: 0.1, readAt: NOW - DEFAULT_BATTERY_MAX_AGE_MS - 60_000 })), NOW);
    expect(stale).toMatchObject({ wake: true, battery: { kind: 'unknown' } });
    expect(stale.reason).toMatch(/min old/);
    expect(decideLightJobsWake(undefined, NOW).reason).toMatch(/no battery reading/);
    expect(decideLightJobsWake(record({ level: 'full' }), NOW).reason).toMatch(/malformed/);
    expect(decideLightJobsWake('junk', NOW).reason).toMatch(/malformed/);
    expect(decideLightJobsWake(record(reading({ readAt: NOW + 3_600_000 })), NOW).reason).toMatch(/future/);
  });

  it('takes the max age as an option', () => {
    const old = record(reading({ level: 0.1, readAt: NOW - 10 * 60_000 }));
    expect(decideLightJobsWake(old, NOW).wake).toBe(false);
    expect(decideLightJobsWake(old, NOW, { maxAgeMs: 5 * 60_000 }).wake).toBe(true);
  });
});

describe('wakePowerSettingsFrom', () => {
  it("lays the person's battery thresholds over the defaults", () => {
    expect(wakePowerSettingsFrom(undefined)).toEqual(WAKE_POWER_SETTINGS);
    expect(wakePowerSettingsFrom({ key: POLICY_SETTINGS_KEY, value: { lightJobMinBatteryLevel: 0.3, cleanQuantile: 0.2 } })).toEqual({
      ...WAKE_POWER_SETTINGS,
      lightJobMinBatteryLevel: 0.3,
    });
    expect(wakePowerSettingsFrom({ key: POLICY_SETTINGS_KEY, value: { highBatteryLevel: 0.9, fastDrainHours: 1 } })).toEqual({
      ...WAKE_POWER_SETTINGS,
      highBatteryLevel: 0.9,
      fastDrainHours: 1,
    });
  });

  it('falls back to the defaults when a threshold is out of range or the record is junk', () => {
    for (const value of [{ lightJobMinBatteryLevel: 1.5 }, { highBatteryLevel: '0.9' }, { fastDrainHours: 49 }, { fastDrainHours: Number.NaN }, 'junk', [0.3], null]) {
      expect(wakePowerSettingsFrom({ key: POLICY_SETTINGS_KEY, value })).toEqual(WAKE_POWER_SETTINGS);
    }
  });

  it('changes the verdict: a person who allows light jobs down to 30 %', () => {
    const battery = record(reading({ level: 0.35 }));
    expect(decideLightJobsWake(battery, NOW).wake).toBe(false);
    const settings = wakePowerSettingsFrom({ key: POLICY_SETTINGS_KEY, value: { lightJobMinBatteryLevel: 0.3 } });
    expect(decideLightJobsWake(battery, NOW, { settings })).toMatchObject({ wake: true, reason: 'on battery at 35 %: light jobs only' });
  });
});

describe('judgeOutboxSync', () => {
  const base = { outboxCount: 3, windows: 2, replies: [], timedOut: false };

  it('resolves at once when the outbox is empty', () => {
    expect(judgeOutboxSync({ ...base, outboxCount: 0, windows: 0 })).toMatchObject({ settle: 'resolve' });
  });

  it('rejects when no window is open, so that the browser retries', () => {
    const v = judgeOutboxSync({ ...base, windows: 0 });
    expect(v.settle).toBe('reject');
    expect(v.settle === 'reject' && v.reason).toMatch(/no H3LIX window/);
    // Also when the outbox could not be read.
    expect(judgeOutboxSync({ ...base, outboxCount: null, windows: 0 }).settle).toBe('reject');
  });

  it('resolves on the first answer that leaves nothing', () => {
    expect(judgeOutboxSync({ ...base, replies: [{ sent: 3, left: 0 }] })).toEqual({ settle: 'resolve', reason: 'outbox emptied (3 sent)' });
  });

  it('waits for the other windows while items are left', () => {
    expect(judgeOutboxSync({ ...base, replies: [{ sent: 0, left: 3 }] })).toEqual({ settle: 'wait' });
    expect(judgeOutboxSync({ ...base, outboxCount: null })).toEqual({ settle: 'wait' });
  });

  it('rejects once every window answered with items left, or on timeout', () => {
    const all = judgeOutboxSync({ ...base, replies: [{ sent: 1, left: 2 }, { sent: 0, left: 2 }] });
    expect(all).toEqual({ settle: 'reject', reason: '2 items still waiting for peers (1 sent)' });
    const partial = judgeOutboxSync({ ...base, replies: [{ sent: 0, left: 1 }], timedOut: true });
    expect(partial).toEqual({ settle: 'reject', reason: '1 item still waiting for peers (0 sent)' });
    expect(judgeOutboxSync({ ...base, timedOut: true })).toEqual({ settle: 'reject', reason: 'no window answered in time' });
  });
});

describe('message guards', () => {
  it('accepts the messages of the protocol', () => {
    expect(isFlushOutboxMessage({ type: 'flush-outbox', requestId: 'r' })).toBe(true);
    expect(isWakeJobsMessage({ type: 'wake-jobs', reason: 'charging' })).toBe(true);
    expect(isWakeJobsMessage({ type: 'wake-jobs' })).toBe(true);
    expect(isWorkerToPageMessage({ type: 'wake-jobs' })).toBe(true);
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', requestId: 'r', sent: 1, left: 0 })).toBe(true);
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', sent: 0, left: 2 })).toBe(true);
    expect(isSkipWaitingMessage({ type: 'SKIP_WAITING' })).toBe(true);
  });

  it('rejects anything else', () => {
    for (const junk of [null, undefined, 'flush-outbox', 42, {}, { type: 'flush-outbox' }, { type: 'wake-jobs', reason: 3 }]) {
      expect(isWorkerToPageMessage(junk)).toBe(false);
    }
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', sent: -1, left: 0 })).toBe(false);
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', sent: 1.5, left: 0 })).toBe(false);
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', sent: 1 })).toBe(false);
    expect(isOutboxFlushedMessage({ type: 'outbox-flushed', requestId: 7, sent: 1, left: 0 })).toBe(false);
    expect(isSkipWaitingMessage({ type: 'skip_waiting' })).toBe(false);
  });
});

describe('reading IndexedDB without Dexie', () => {
  const listed = async (name: string) => (await indexedDB.databases()).some((d) => d.name === name);

  it('does not create the database when it does not exist', async () => {
    const name = fresh('missing');
    expect(await openExisting(indexedDB, name)).toBeNull();
    expect(await listed(name)).toBe(false);
    expect(await readBatteryRecord(indexedDB, name)).toBeUndefined();
    expect(await countOutbox(indexedDB, name)).toBeNull();
    expect(await listed(name)).toBe(false);
    // The app can still create it at its own version afterwards.
    const db = await openDatabase(name, { indexedDB, IDBKeyRange });
    expect(db.verno).toBeGreaterThanOrEqual(7);
    db.close();
  });

  it('reads the battery record and counts the outbox of the app database', async () => {
    const name = fresh('app');
    const db = await openDatabase(name, { indexedDB, IDBKeyRange });
    expect(await readBatteryRecord(indexedDB, name)).toBeUndefined();
    expect(await readPolicySettingsRecord(indexedDB, name)).toBeUndefined();
    expect(await countOutbox(indexedDB, name)).toBe(0);
    const value = reading({ charging: true });
    await db.table('energy').put({ key: BATTERY_KEY, value });
    await db.table('energy').put({ key: POLICY_SETTINGS_KEY, value: { lightJobMinBatteryLevel: 0.4 } });
    expect(wakePowerSettingsFrom(await readPolicySettingsRecord(indexedDB, name)).lightJobMinBatteryLevel).toBe(0.4);
    await db.table('outbox').bulkPut([
      { id: 'a', createdAt: 1, itemId: 'a', attempts: 0 },
      { id: 'b', createdAt: 2, itemId: 'b', attempts: 1 },
    ]);
    const stored = await readBatteryRecord(indexedDB, name);
    expect(stored).toEqual({ key: BATTERY_KEY, value });
    expect(decideLightJobsWake(stored, NOW).wake).toBe(true);
    expect(await countOutbox(indexedDB, name)).toBe(2);
    db.close();
  });

  it('answers undefined for a database without the tables (an old version)', async () => {
    const name = fresh('old');
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name, 10);
      req.onupgradeneeded = () => req.result.createObjectStore('settings', { keyPath: 'key' });
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
      req.onerror = () => reject(req.error);
    });
    expect(await readBatteryRecord(indexedDB, name)).toBeUndefined();
    expect(await countOutbox(indexedDB, name)).toBeNull();
  });

  it("never blocks a page's upgrade: an open connection closes on versionchange", async () => {
    const name = fresh('upgrade');
    (await openDatabase(name, { indexedDB, IDBKeyRange })).close();
    const held = await openExisting(indexedDB, name);
    expect(held).not.toBeNull();
    const version = held!.version;
    let blocked = false;
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name, version + 10);
      req.onblocked = () => (blocked = true);
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
      req.onerror = () => reject(req.error);
    });
    expect(blocked).toBe(false);
  });

  it('answers null when the factory refuses', async () => {
    const throwing = { open: () => { throw new DOMException('no', 'SecurityError'); } } as unknown as IDBFactory;
    expect(await openExisting(throwing, 'x')).toBeNull();
    expect(await countOutbox(throwing, 'x')).toBeNull();
  });
});

describe('the zod-free restatement agrees with signals.ts and policy.ts', () => {
  it('uses the same constants', () => {
    expect(BATTERY_MAX_AGE_MS).toBe(DEFAULT_BATTERY_MAX_AGE_MS);
    const { highBatteryLevel, lightJobMinBatteryLevel, fastDrainHours } = DEFAULT_POLICY_SETTINGS;
    expect(WAKE_POWER_SETTINGS).toEqual({ highBatteryLevel, lightJobMinBatteryLevel, fastDrainHours });
  });

  const number = fc.oneof(
    fc.double({ min: -2, max: 2 }),
    fc.double(),
    fc.integer({ min: -10, max: 200_000 }),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5, 0.8, 1, 10_800, 10_799.5),
  );
  const readAt = fc.oneof(
    fc.integer({ min: NOW - 2 * DEFAULT_BATTERY_MAX_AGE_MS, max: NOW + 120_000 }),
    fc.constantFrom(NOW - DEFAULT_BATTERY_MAX_AGE_MS, NOW + 60_000, NOW + 60_001, NOW + 0.5, -1, Number.MAX_SAFE_INTEGER + 2),
    number,
  );
  const validish = fc.record(
    {
      kind: fc.oneof(fc.constant('known'), fc.constant('unknown'), fc.anything()),
      charging: fc.oneof(fc.boolean(), fc.anything()),
      level: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), number),
      dischargingTimeS: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 40_000, noNaN: true }), number),
      readAt,
      extra: fc.anything(),
    },
    { requiredKeys: ['kind', 'charging', 'level', 'readAt'] },
  );
  const raw = fc.oneof(
    { weight: 6, arbitrary: validish },
    { weight: 1, arbitrary: fc.anything() },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, [], 'known') },
  );

  it('parses and judges every record as batteryFromPersisted + assessPower do', () => {
    fc.assert(
      fc.property(raw, fc.constantFrom(undefined, 5 * 60_000, 2 * 3_600_000), (value, maxAgeMs) => {
        const expected = batteryFromPersisted(value, NOW, maxAgeMs);
        expect(batteryFromStored(value, NOW, maxAgeMs)).toEqual(expected);
        const power = assessPower(expected);
        const decision = decideLightJobsWake(record(value), NOW, maxAgeMs === undefined ? {} : { maxAgeMs });
        expect(decision).toEqual({ wake: power.light, reason: power.reason, battery: expected });
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees at the thresholds', () => {
    for (const level of [0.49, 0.5, 0.79, 0.8, 1]) {
      for (const dischargingTimeS of [null, 10_799, 10_800, 10_801]) {
        const battery = reading({ level, dischargingTimeS, readAt: NOW });
        const full = assessPower(battery);
        expect(lightJobsPower(battery)).toEqual({ light: full.light, reason: full.reason });
      }
    }
  });

  it('judges every valid reading as assessPower does, under other settings too', () => {
    const reading = fc.record({
      kind: fc.constant('known' as const),
      charging: fc.boolean(),
      level: fc.double({ min: 0, max: 1, noNaN: true }),
      dischargingTimeS: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 40_000, noNaN: true })),
      readAt: fc.constant(NOW),
    });
    const settings = fc.record({
      highBatteryLevel: fc.double({ min: 0.5, max: 1, noNaN: true }),
      lightJobMinBatteryLevel: fc.double({ min: 0, max: 0.5, noNaN: true }),
      fastDrainHours: fc.double({ min: 0, max: 10, noNaN: true }),
    });
    fc.assert(
      fc.property(reading, settings, (battery, s) => {
        const full = assessPower(battery, { ...DEFAULT_POLICY_SETTINGS, ...s });
        expect(lightJobsPower(battery, s)).toEqual({ light: full.light, reason: full.reason });
      }),
      { numRuns: 2000 },
    );
  });
});
