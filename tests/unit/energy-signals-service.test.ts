/**
 * EnergySignalsService against test doubles: a fake BatteryManager with
 * events, a navigator without the Battery API, providers that fail in every
 * way (HTTP 500, malformed JSON, a timeout, an absurd value), offline, and
 * damaged stored records, over a fake-indexeddb database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import {
  CARBON_REFRESH_MS,
  ENERGY_KEYS,
  EnergySignalsService,
  parsePolicySettings,
  type EnergyRecord,
  type EnergySignalsDeps,
  type NavigatorLike,
} from '../../src/services/energy-signals';
import { DEFAULT_POLICY_SETTINGS } from '../../src/lib/energy/policy';
import { BATTERY_KEY } from '../../src/lib/energy/wake';
import type { CarbonSettings } from '../../src/lib/energy/carbon-providers';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 5, 2, 12, 10);

class FakeBattery extends EventTarget {
  charging = true;
  level = 1;
  dischargingTime = Infinity;
  set(patch: Partial<Pick<FakeBattery, 'charging' | 'level' | 'dischargingTime'>>, event = 'chargingchange'): void {
    Object.assign(this, patch);
    this.dispatchEvent(new Event(event));
  }
}

class FakeConnection extends EventTarget {
  saveData = false;
}

type Reply = { status: number; text: string } | 'hang' | 'network-error';

const ukBody = (now: number, values: number[], actual = true) =>
  JSON.stringify({
    data: values.map((v, i) => {
      const from = Math.floor(now / 1_800_000) * 1_800_000 + i * 1_800_000;
      return {
        from: new Date(from).toISOString().slice(0, 16) + 'Z',
        to: new Date(from + 1_800_000).toISOString().slice(0, 16) + 'Z',
        intensity: { forecast: v, actual: actual && i === 0 ? v : null, index: 'moderate' },
      };
    }),
  });
const emBody = (at: number, g: number) => JSON.stringify({ zone: 'GB', carbonIntensity: g, datetime: new Date(at).toISOString(), updatedAt: new Date(at).toISOString() });

describe('EnergySignalsService', () => {
  let db: H3lixDatabase;
  let clock = T0;
  let battery: FakeBattery;
  let connection: FakeConnection;
  let nav: NavigatorLike & { onLine: boolean };
  let win: EventTarget;
  let replies: Record<string, Reply[]>;
  let requests: { url: string; headers: Record<string, string> }[];
  let service: EnergySignalsService | null;

  const fakeFetch: EnergySignalsDeps['fetch'] = (url, init) => {
    requests.push({ url, headers: init.headers });
    const host = new URL(url).host;
    const reply = replies[host]?.shift() ?? { status: 404, text: 'not found' };
    if (reply === 'network-error') return Promise.reject(new TypeError('Failed to fetch'));
    if (reply === 'hang') {
      return new Promise((_, reject) => {
        init.signal.addEventListener('abort', () => reject(init.signal.reason));
      });
    }
    return Promise.resolve({ status: reply.status, text: async () => reply.text });
  };

  function make(over: Partial<EnergySignalsDeps> = {}): EnergySignalsService {
    service = new EnergySignalsService({
      db: () => db,
      now: () => clock,
      navigator: nav,
      events: win,
      fetch: fakeFetch,
      utcOffsetMinutes: () => 60,
      providerTimeoutMs: 30,
      // No background timer in tests: each test drives the service by hand.
      timers: { setTimeout: () => 0, clearTimeout: () => {} },
      ...over,
    });
    return service;
  }

  const stored = async (key: string) => (await db.table<EnergyRecord, string>('energy').get(key))?.value;
  const store = (key: string, value: unknown) => db.table<EnergyRecord, string>('energy').put({ key, value });
  const settings = (over: Partial<CarbonSettings>): CarbonSettings => ({ providers: [], keys: {}, region: 'GB', ...over });

  beforeEach(async () => {
    db = await openDatabase(`energy-signals-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
    clock = T0;
    battery = new FakeBattery();
    connection = new FakeConnection();
    nav = { onLine: true, getBattery: async () => battery, connection };
    win = new EventTarget();
    replies = {};
    requests = [];
    service = null;
  });
  afterEach(() => {
    service?.stop();
    db.close();
  });

  describe('battery', () => {
    it('reads the Battery API, maps Infinity to null, persists every reading and tells its listeners', async () => {
      const s = make();
      await s.start();
      expect(s.snapshot().battery).toMatchObject({ source: 'live', signal: { kind: 'known', charging: true, level: 1, dischargingTimeS: null } });
      expect(await stored(ENERGY_KEYS.battery)).toEqual({ kind: 'known', charging: true, level: 1, dischargingTimeS: null, readAt: T0 });
      // The service worker reads the same key.
      expect(ENERGY_KEYS.battery).toBe(BATTERY_KEY);

      let changes = 0;
      s.onChange(() => changes++);
      clock += 60_000;
      battery.set({ charging: false, level: 0.64, dischargingTime: 7200 });
      // Listeners hear of it once the reading is stored.
      await until(async () => changes >= 1);
      expect(((await stored(ENERGY_KEYS.battery)) as { charging: boolean }).charging).toBe(false);
      expect(s.current().battery).toMatchObject({ kind: 'known', charging: false, level: 0.64, dischargingTimeS: 7200 });
      expect(await stored(ENERGY_KEYS.battery)).toEqual({ kind: 'known', charging: false, level: 0.64, dischargingTimeS: 7200, readAt: T0 + 60_000 });

      battery.set({ level: 0.6 }, 'levelchange');
      await until(async () => ((await stored(ENERGY_KEYS.battery)) as { level: number }).level === 0.6);
      battery.set({ dischargingTime: 3600 }, 'dischargingtimechange');
      await until(async () => ((await stored(ENERGY_KEYS.battery)) as { dischargingTimeS: number }).dischargingTimeS === 3600);
      // Charging changes are kept in the history for the timeline.
      expect(s.history.map((h) => h.charging)).toEqual([true, false]);
    });

    it('stops listening when stopped', async () => {
      const s = make();
      await s.start();
      s.stop();
      let changes = 0;
      s.onChange(() => changes++);
      battery.set({ charging: false });
      await new Promise((r) => setTimeout(r, 20));
      expect(changes).toBe(0);
    });

    it('without the Battery API uses the persisted reading while fresh, then says unknown and why', async () => {
      await store(ENERGY_KEYS.battery, { kind: 'known', charging: false, level: 0.9, dischargingTimeS: null, readAt: T0 - 10 * 60_000 });
      nav = { onLine: true };
      const s = make();
      await s.start();
      expect(s.snapshot().battery).toMatchObject({ source: 'stored', signal: { kind: 'known', charging: false, level: 0.9 }, ageMs: 10 * 60_000 });
      expect(s.snapshot().battery.apiProblem).toMatch(/no Battery Status API/);

      clock += 40 * 60_000;
      const later = s.snapshot().battery;
      expect(later.source).toBe('none');
      expect(later.signal).toEqual({ kind: 'unknown', reason: 'this browser has no Battery Status API; the last battery reading is 50 min old' });
    });

    it('with nothing stored and no API the battery is unknown, and the policy still decides', async () => {
      nav = { onLine: true };
      const s = make();
      await s.start();
      const b = s.current().battery;
      expect(b.kind).toBe('unknown');
      expect(b.kind === 'unknown' && b.reason).toMatch(/no Battery Status API; no battery reading has been stored/);
    });

    it('a refused getBattery and a damaged stored reading are reasons, not crashes', async () => {
      await store(ENERGY_KEYS.battery, { kind: 'known', charging: 'yes' });
      nav = { onLine: true, getBattery: () => Promise.reject(new DOMException('not allowed', 'NotAllowedError')) };
      const s = make();
      await s.start();
      const b = s.current().battery;
      expect(b.kind === 'unknown' && b.reason).toBe('the browser refused the battery state (not allowed); the stored battery reading is malformed');
    });
  });

  describe('carbon', () => {
    it('uses the first provider that answers and says why the others were not used', async () => {
      replies['api.carbonintensity.org.uk'] = [{ status: 500, text: JSON.stringify({ error: { code: '500', message: 'Internal Server Error' } }) }];
      replies['api.electricitymap.org'] = [{ status: 200, text: emBody(T0 - 5 * 60_000, 143) }];
      await store(ENERGY_KEYS.carbonSettings, settings({ providers: ['uk-carbon-intensity', 'electricity-maps'], keys: { 'electricity-maps': 'secret-key' } }));
      const s = make();
      await s.start();
      const carbon = s.snapshot().carbon;
      expect(carbon.source).toBe('electricity-maps');
      expect(carbon.signal.gPerKWh).toBe(143);
      expect(carbon.failures).toEqual([{ providerId: 'uk-carbon-intensity', reason: 'HTTP 500: Internal Server Error' }]);
      expect(carbon.reason).toMatch(/forecast from the daily pattern/);
      expect(carbon.signal.forecast.length).toBeGreaterThan(24);
      expect(requests.map((r) => new URL(r.url).host)).toEqual(['api.carbonintensity.org.uk', 'api.electricitymap.org']);
      expect(requests[1]!.headers['auth-token']).toBe('secret-key');
      expect(requests[1]!.url).toContain('zone=GB');
    });

    it('falls back to the heuristic on malformed JSON, an absurd value and a timeout, with every reason', async () => {
      replies['api.carbonintensity.org.uk'] = [{ status: 200, text: '{"data": [' }];
      replies['api.electricitymap.org'] = [{ status: 200, text: emBody(T0, 5_000) }];
      await store(ENERGY_KEYS.carbonSettings, settings({ providers: ['uk-carbon-intensity', 'electricity-maps'], keys: { 'electricity-maps': 'k' } }));
      const s = make();
      await s.start();
      let carbon = s.snapshot().carbon;
      expect(carbon.source).toBe('heuristic');
      expect(carbon.failures[0]).toEqual({ providerId: 'uk-carbon-intensity', reason: 'the response is not JSON' });
      expect(carbon.failures[1]!.providerId).toBe('electricity-maps');
      expect(carbon.failures[1]!.reason).toMatch(/^unexpected response shape \(carbonIntensity/);
      expect(carbon.reason).toMatch(/^estimated from the time of day for GB/);
      expect(carbon.signal.gPerKWh).toBeGreaterThan(0);
      expect(carbon.signal.gPerKWh).toBeLessThan(500);

      replies['api.carbonintensity.org.uk'] = ['hang'];
      replies['api.electricitymap.org'] = ['network-error'];
      await s.refreshCarbon({ force: true });
      carbon = s.snapshot().carbon;
      expect(carbon.source).toBe('heuristic');
      expect(carbon.failures).toEqual([
        { providerId: 'uk-carbon-intensity', reason: 'network error: no answer within 30 ms' },
        { providerId: 'electricity-maps', reason: 'network error: Failed to fetch' },
      ]);
    });

    it('reads the UK forecast, caches it for 30 minutes and asks again after', async () => {
      replies['api.carbonintensity.org.uk'] = [{ status: 200, text: ukBody(T0, [180, 170, 160, 150, 140, 130]) }];
      await store(ENERGY_KEYS.carbonSettings, settings({ providers: ['uk-carbon-intensity'] }));
      const s = make();
      await s.start();
      expect(s.snapshot().carbon).toMatchObject({ source: 'uk-carbon-intensity', fetchedAt: T0, signal: { gPerKWh: 180 } });
      expect(s.snapshot().carbon.signal.forecast.map((p) => p.gPerKWh)).toEqual([180, 170, 160, 150, 140, 130]);
      expect(await stored(ENERGY_KEYS.forecast)).toMatchObject({ fetchedAt: T0, resolution: { source: 'uk-carbon-intensity' } });

      clock += 20 * 60_000;
      await s.refreshCarbon();
      expect(requests).toHaveLength(1);

      // A new page reads the cache instead of asking.
      const again = make();
      await again.start();
      expect(requests).toHaveLength(1);
      expect(again.snapshot().carbon.source).toBe('uk-carbon-intensity');
      again.stop();

      // Past the refresh interval: now is read off the forecast until the providers are asked again.
      clock = T0 + CARBON_REFRESH_MS + 30 * 60_000;
      expect(s.current().carbon.gPerKWh).toBe(160);
      replies['api.carbonintensity.org.uk'] = [{ status: 200, text: ukBody(clock, [120, 110]) }];
      await s.refreshCarbon();
      expect(requests).toHaveLength(2);
      expect(s.current().carbon.gPerKWh).toBe(120);
    });

    it('asks at once when the settings change, and the stored key never leaves through the chain reason', async () => {
      const s = make();
      await s.start();
      expect(s.snapshot().carbon.reason).toMatch(/no provider configured/);
      expect(requests).toHaveLength(0);
      replies['api.electricitymap.org'] = [{ status: 401, text: JSON.stringify({ message: 'invalid token' }) }];
      await s.saveCarbonSettings(settings({ providers: ['electricity-maps'], keys: { 'electricity-maps': 'wrong-key' }, region: 'DE' }));
      expect(requests).toHaveLength(1);
      const carbon = s.snapshot().carbon;
      expect(carbon.failures).toEqual([{ providerId: 'electricity-maps', reason: 'HTTP 401 (is the API key right?): invalid token' }]);
      expect(carbon.reason).not.toContain('wrong-key');
      expect(await stored(ENERGY_KEYS.carbonSettings)).toEqual({ providers: ['electricity-maps'], keys: { 'electricity-maps': 'wrong-key' }, region: 'DE' });
      await expect(s.saveCarbonSettings({ providers: ['nonsense'], keys: {}, region: 'GB' } as unknown as CarbonSettings)).rejects.toThrow(/not valid/);
    });

    it('offline: asks nobody, estimates, and asks again when the network is back', async () => {
      nav.onLine = false;
      await store(ENERGY_KEYS.carbonSettings, settings({ providers: ['uk-carbon-intensity'] }));
      const s = make();
      await s.start();
      expect(requests).toHaveLength(0);
      expect(s.snapshot().network.signal).toEqual({ online: false, saveData: false });
      expect(s.snapshot().carbon).toMatchObject({ source: 'heuristic', failures: [{ providerId: 'uk-carbon-intensity', reason: 'offline' }] });

      let changes = 0;
      s.onChange(() => changes++);
      replies['api.carbonintensity.org.uk'] = [{ status: 200, text: ukBody(T0, [200, 210]) }];
      nav.onLine = true;
      win.dispatchEvent(new Event('online'));
      // One change for the network, one when the providers' answer is in.
      await until(async () => s.snapshot().carbon.source === 'uk-carbon-intensity' && changes >= 2);
      expect(s.current().network.online).toBe(true);

      win.dispatchEvent(new Event('offline'));
      expect(s.current().network.online).toBe(false);
    });

    it('reports save-data and its changes', async () => {
      const s = make();
      await s.start();
      expect(s.snapshot().network).toEqual({ signal: { online: true, saveData: false }, saveDataKnown: true });
      let changes = 0;
      s.onChange(() => changes++);
      connection.saveData = true;
      connection.dispatchEvent(new Event('change'));
      expect(changes).toBe(1);
      expect(s.current().network.saveData).toBe(true);
    });

    it('knows the intensity of a past time from its history, and of a future one from the forecast', async () => {
      replies['api.carbonintensity.org.uk'] = [{ status: 200, text: ukBody(T0, [180, 170, 160, 150]) }];
      await store(ENERGY_KEYS.carbonSettings, settings({ providers: ['uk-carbon-intensity'] }));
      const s = make();
      await s.start();
      expect(s.carbonAt(T0)).toBe(180);
      expect(s.carbonAt(T0 + 65 * 60_000)).toBe(160);
      // Before anything was recorded: the time-of-day estimate.
      expect(s.carbonAt(T0 - 10 * HOUR)).toBeGreaterThan(0);
    });
  });

  describe('settings', () => {
    it('damaged stored records are the defaults, with the reason, never a crash', async () => {
      await store(ENERGY_KEYS.carbonSettings, { providers: ['uk-carbon-intensity'], keys: 'oops', region: 'GB' });
      await store(ENERGY_KEYS.policySettings, { cleanQuantile: 7 });
      await store(ENERGY_KEYS.forecast, { fetchedAt: 'yesterday' });
      await store(ENERGY_KEYS.history, 'not a list');
      const s = make();
      await s.start();
      expect(s.carbonSettings).toEqual({ providers: [], keys: {}, region: 'default' });
      expect(s.policySettings).toEqual(DEFAULT_POLICY_SETTINGS);
      expect(s.settingsErrors).toHaveLength(2);
      expect(s.snapshot().carbon.source).toBe('heuristic');
      expect(s.history).toHaveLength(1);
    });

    it('policy settings: stored fields over the defaults; saving validates', async () => {
      expect(parsePolicySettings({ cleanQuantile: 0.3 }).settings).toEqual({ ...DEFAULT_POLICY_SETTINGS, cleanQuantile: 0.3 });
      expect(parsePolicySettings(undefined)).toEqual({ settings: DEFAULT_POLICY_SETTINGS });
      expect(parsePolicySettings({ unknownField: 1 }).error).toMatch(/policy settings unreadable/);
      const s = make();
      await s.start();
      let changes = 0;
      s.onChange(() => changes++);
      await s.savePolicySettings({ cleanQuantile: 0.4, highBatteryLevel: 0.6 });
      expect(changes).toBe(1);
      expect(s.policySettings).toMatchObject({ cleanQuantile: 0.4, highBatteryLevel: 0.6, throttle: DEFAULT_POLICY_SETTINGS.throttle });
      expect(await stored(ENERGY_KEYS.policySettings)).toMatchObject({ cleanQuantile: 0.4, highBatteryLevel: 0.6 });
      await expect(s.savePolicySettings({ highBatteryLevel: 1.5 })).rejects.toThrow(/highBatteryLevel/);
      expect(s.policySettings.highBatteryLevel).toBe(0.6);
    });
  });

  it('wires to the browser objects as they are typed', () => {
    // Compile-time check: the real navigator, window and fetch fit the injected shapes.
    const wire = (n: Navigator, w: Window) =>
      new EnergySignalsService({ db: () => db, now: Date.now, navigator: n, events: w, fetch: (url, init) => fetch(url, init) });
    expect(typeof wire).toBe('function');
  });
});

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('timed out');
}
