import { describe, expect, it } from 'vitest';
import {
  CARBON_PROVIDERS,
  MAX_READING_AGE_MS,
  parseCarbonSettings,
  planCarbonRequests,
  readProviderOutcome,
  resolveCarbon,
  type CarbonSettings,
  type ChainAttempt,
  type FetchOutcome,
  type ProviderContext,
} from '../../src/lib/energy/carbon-providers';
import { heuristicIntensity } from '../../src/lib/energy/carbon-heuristic';

const NOW = Date.UTC(2025, 5, 2, 12, 10);
const ctxFor = (settings: Partial<CarbonSettings>): ProviderContext => ({
  settings: { providers: [], keys: {}, region: 'GB', ...settings },
  now: NOW,
  utcOffsetMinutes: 60,
});

/** The GB API's fw48h shape: half-hour periods, `actual` null once the period has not closed. */
const ukBody = JSON.stringify({
  data: [
    { from: '2025-06-02T11:30Z', to: '2025-06-02T12:00Z', intensity: { forecast: 150, actual: 148, index: 'moderate' } },
    { from: '2025-06-02T12:00Z', to: '2025-06-02T12:30Z', intensity: { forecast: 140, actual: null, index: 'moderate' } },
    { from: '2025-06-02T12:30Z', to: '2025-06-02T13:00Z', intensity: { forecast: 120, actual: null, index: 'low' } },
    { from: '2025-06-02T13:00Z', to: '2025-06-02T13:30Z', intensity: { forecast: 95, actual: null, index: 'low' } },
  ],
});
/** Electricity Maps' latest-intensity shape (with fields we ignore). */
const emBody = JSON.stringify({
  zone: 'DE',
  carbonIntensity: 302,
  datetime: '2025-06-02T12:00:00.000Z',
  updatedAt: '2025-06-02T12:05:00.000Z',
  emissionFactorType: 'lifecycle',
  isEstimated: true,
  estimationMethod: 'TIME_SLICER_AVERAGE',
});
const ok = (text: string): FetchOutcome => ({ kind: 'response', status: 200, text });

describe('requests', () => {
  it('asks the GB API from the current half hour, 48 h ahead, with no key', () => {
    const steps = planCarbonRequests(ctxFor({ providers: ['uk-carbon-intensity'] }));
    expect(steps).toEqual([
      { providerId: 'uk-carbon-intensity', request: { url: 'https://api.carbonintensity.org.uk/intensity/2025-06-02T12:00Z/fw48h', headers: { Accept: 'application/json' } } },
    ]);
    expect(CARBON_PROVIDERS['uk-carbon-intensity'].needsKey).toBe(false);
  });

  it('skips the GB API outside Great Britain', () => {
    const [step] = planCarbonRequests(ctxFor({ providers: ['uk-carbon-intensity'], region: 'DE' }));
    expect(step).toEqual({ providerId: 'uk-carbon-intensity', skipped: expect.stringMatching(/Great Britain only/) });
  });

  it('sends the Electricity Maps key in its header and maps regions to zones', () => {
    const [step] = planCarbonRequests(ctxFor({ providers: ['electricity-maps'], region: 'US-CAL', keys: { 'electricity-maps': 'secret-key' } }));
    expect(step).toEqual({
      providerId: 'electricity-maps',
      request: {
        url: 'https://api.electricitymap.org/v3/carbon-intensity/latest?zone=US-CAL-CISO',
        headers: { 'auth-token': 'secret-key', Accept: 'application/json' },
      },
    });
    expect(CARBON_PROVIDERS['electricity-maps'].needsKey).toBe(true);
  });

  it('skips a keyed provider without a key, and without a zone', () => {
    expect(planCarbonRequests(ctxFor({ providers: ['electricity-maps'], region: 'DE' }))[0]).toEqual({ providerId: 'electricity-maps', skipped: 'no API key set' });
    expect(planCarbonRequests(ctxFor({ providers: ['electricity-maps'], region: 'DE', keys: { 'electricity-maps': '   ' } }))[0]).toMatchObject({ skipped: 'no API key set' });
    expect(planCarbonRequests(ctxFor({ providers: ['electricity-maps'], region: 'default', keys: { 'electricity-maps': 'k' } }))[0]).toMatchObject({ skipped: expect.stringMatching(/no zone/) });
  });
});

describe('reading responses', () => {
  const uk = ctxFor({ providers: ['uk-carbon-intensity'] });
  const em = ctxFor({ providers: ['electricity-maps'], region: 'DE', keys: { 'electricity-maps': 'k' } });

  it('reads the GB API: the current period (forecast where actual is null) and the periods ahead', () => {
    const reading = readProviderOutcome('uk-carbon-intensity', ok(ukBody), uk);
    expect(reading).toEqual({
      ok: true,
      current: { at: Date.UTC(2025, 5, 2, 12, 0), gPerKWh: 140 },
      forecast: [
        { at: Date.UTC(2025, 5, 2, 12, 0), gPerKWh: 140 },
        { at: Date.UTC(2025, 5, 2, 12, 30), gPerKWh: 120 },
        { at: Date.UTC(2025, 5, 2, 13, 0), gPerKWh: 95 },
      ],
    });
  });

  it('reads Electricity Maps and leaves the forecast to the heuristic', () => {
    expect(readProviderOutcome('electricity-maps', ok(emBody), em)).toEqual({ ok: true, current: { at: Date.UTC(2025, 5, 2, 12), gPerKWh: 302 }, forecast: null });
  });

  it('fails on bad JSON, on HTTP errors as data and on network errors, with reasons', () => {
    expect(readProviderOutcome('uk-carbon-intensity', ok('{"data": [ {'), uk)).toEqual({ ok: false, reason: 'the response is not JSON' });
    expect(readProviderOutcome('electricity-maps', { kind: 'response', status: 401, text: '{"error":"Invalid authentication token"}' }, em)).toEqual({
      ok: false,
      reason: 'HTTP 401 (is the API key right?): Invalid authentication token',
    });
    expect(readProviderOutcome('uk-carbon-intensity', { kind: 'response', status: 400, text: '{"error":{"code":"400 Bad Request","message":"Please enter a valid date"}}' }, uk)).toEqual({
      ok: false,
      reason: 'HTTP 400: Please enter a valid date',
    });
    expect(readProviderOutcome('uk-carbon-intensity', { kind: 'response', status: 503, text: '<html>Service Unavailable</html>' }, uk)).toEqual({ ok: false, reason: 'HTTP 503' });
    expect(readProviderOutcome('electricity-maps', { kind: 'response', status: 429, text: '' }, em)).toEqual({ ok: false, reason: 'HTTP 429 (rate limited)' });
    expect(readProviderOutcome('uk-carbon-intensity', { kind: 'network-error', message: 'Failed to fetch' }, uk)).toEqual({ ok: false, reason: 'network error: Failed to fetch' });
  });

  it('fails on the wrong shape, absurd values, stale and future readings', () => {
    const shape = readProviderOutcome('uk-carbon-intensity', ok('{"data":[]}'), uk);
    expect(shape).toMatchObject({ ok: false, reason: expect.stringMatching(/unexpected response shape/) });
    const wrongProvider = readProviderOutcome('electricity-maps', ok(ukBody), em);
    expect(wrongProvider).toMatchObject({ ok: false, reason: expect.stringMatching(/carbonIntensity/) });
    const negative = readProviderOutcome('electricity-maps', ok(emBody.replace('302', '-5')), em);
    expect(negative.ok).toBe(false);
    const absurd = readProviderOutcome('electricity-maps', ok(emBody.replace('302', '302000')), em);
    expect(absurd.ok).toBe(false);
    const asText = readProviderOutcome('electricity-maps', ok(emBody.replace('302', '"302"')), em);
    expect(asText.ok).toBe(false);
    const stale = { ...em, now: Date.UTC(2025, 5, 2, 12) + MAX_READING_AGE_MS + 3_600_000 };
    expect(readProviderOutcome('electricity-maps', ok(emBody), stale)).toEqual({ ok: false, reason: 'the reading is 4 h old' });
    const early = { ...em, now: Date.UTC(2025, 5, 2, 9) };
    expect(readProviderOutcome('electricity-maps', ok(emBody), early)).toEqual({ ok: false, reason: 'the reading is dated in the future' });
    const allNull = JSON.stringify({ data: [{ from: '2025-06-02T12:00Z', to: '2025-06-02T12:30Z', intensity: { forecast: null, actual: null } }] });
    expect(readProviderOutcome('uk-carbon-intensity', ok(allNull), uk)).toEqual({ ok: false, reason: 'no period has a value' });
  });
});

describe('the fallback chain', () => {
  const both = ctxFor({ providers: ['electricity-maps', 'uk-carbon-intensity'], keys: { 'electricity-maps': 'k' } });

  /** Runs the chain the way the service does: plan, fetch (here: canned outcomes), read, stop at the first success. */
  function runChain(ctx: ProviderContext, outcomes: Partial<Record<string, FetchOutcome>>): { attempts: ChainAttempt[]; fetched: string[] } {
    const attempts: ChainAttempt[] = [];
    const fetched: string[] = [];
    for (const step of planCarbonRequests(ctx)) {
      if ('skipped' in step) {
        attempts.push({ providerId: step.providerId, result: { skipped: step.skipped } });
        continue;
      }
      fetched.push(step.providerId);
      const outcome = outcomes[step.providerId] ?? { kind: 'network-error', message: 'unreachable' };
      const result = readProviderOutcome(step.providerId, outcome, ctx);
      attempts.push({ providerId: step.providerId, result });
      if (result.ok) break;
    }
    return { attempts, fetched };
  }

  it('uses the first provider that answers and says why the others were not used', () => {
    const { attempts, fetched } = runChain(both, { 'electricity-maps': { kind: 'response', status: 500, text: 'oops' }, 'uk-carbon-intensity': ok(ukBody) });
    expect(fetched).toEqual(['electricity-maps', 'uk-carbon-intensity']);
    const resolved = resolveCarbon(attempts, both);
    expect(resolved.source).toBe('uk-carbon-intensity');
    expect(resolved.signal.gPerKWh).toBe(140);
    expect(resolved.signal.forecast).toHaveLength(3);
    expect(resolved.failures).toEqual([{ providerId: 'electricity-maps', reason: 'HTTP 500' }]);
    expect(resolved.reason).toMatch(/GB National Grid.*140.*electricity-maps: HTTP 500/);
  });

  it('stops at the first success', () => {
    const { fetched, attempts } = runChain(both, { 'electricity-maps': ok(emBody.replace('"DE"', '"GB"')) });
    expect(fetched).toEqual(['electricity-maps']);
    const resolved = resolveCarbon(attempts, both);
    expect(resolved.source).toBe('electricity-maps');
    // No forecast from the API: the heuristic's GB shape anchored to the measured 302 g.
    expect(resolved.signal.forecast).toHaveLength(48);
    expect(resolved.signal.forecast[0]!.gPerKWh).toBeGreaterThan(250);
    expect(resolved.reason).toMatch(/forecast from the daily pattern/);
  });

  it('falls back to the heuristic when every provider fails', () => {
    const { attempts } = runChain(both, { 'electricity-maps': ok('not json'), 'uk-carbon-intensity': { kind: 'response', status: 502, text: '' } });
    const resolved = resolveCarbon(attempts, both);
    expect(resolved.source).toBe('heuristic');
    expect(resolved.signal.providerId).toBe('heuristic');
    expect(resolved.signal.gPerKWh).toBeCloseTo(heuristicIntensity('GB', 13 + 10 / 60), 6);
    expect(resolved.failures.map((f) => f.reason)).toEqual(['the response is not JSON', 'HTTP 502']);
    expect(resolved.reason).toMatch(/^estimated from the time of day for GB \(electricity-maps: the response is not JSON; uk-carbon-intensity: HTTP 502\)$/);
  });

  it('falls back when the key is missing, without fetching anything', () => {
    const ctx = ctxFor({ providers: ['electricity-maps'], region: 'DE' });
    const { attempts, fetched } = runChain(ctx, {});
    expect(fetched).toEqual([]);
    const resolved = resolveCarbon(attempts, ctx);
    expect(resolved.source).toBe('heuristic');
    expect(resolved.reason).toMatch(/electricity-maps: no API key set/);
  });

  it('uses the heuristic alone when no provider is configured', () => {
    const ctx = ctxFor({ providers: [], region: 'FR' });
    const resolved = resolveCarbon([], ctx);
    expect(resolved).toMatchObject({ source: 'heuristic', failures: [] });
    expect(resolved.reason).toMatch(/no provider configured/);
    expect(resolved.signal.forecast).toHaveLength(48);
  });
});

describe('settings', () => {
  it('parses stored settings and de-duplicates the chain', () => {
    const parsed = parseCarbonSettings({ providers: ['uk-carbon-intensity', 'uk-carbon-intensity'], keys: {}, region: 'GB' });
    expect(parsed).toEqual({ settings: { providers: ['uk-carbon-intensity'], keys: {}, region: 'GB' } });
  });

  it('turns anything unreadable into the defaults, with the reason', () => {
    for (const raw of [null, 'x', { providers: ['carbon-aware-sdk'], keys: {}, region: 'GB' }, { providers: [], keys: {}, region: 'GB', extra: 1 }, { providers: [], keys: { 'electricity-maps': '' }, region: 'GB' }]) {
      const parsed = parseCarbonSettings(raw);
      expect(parsed.settings).toEqual({ providers: [], keys: {}, region: 'default' });
      expect(parsed.error).toMatch(/carbon settings unreadable/);
    }
  });
});
