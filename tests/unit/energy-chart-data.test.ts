import { describe, expect, it } from 'vitest';
import {
  ACTION_WORDS,
  CARBON_CHOICES,
  REGION_CHOICES,
  batterySourceWords,
  batteryWords,
  carbonChoiceOf,
  carbonFailures,
  carbonSettingsFromForm,
  carbonWords,
  formOf,
  networkWords,
  policyPatchFromForm,
  runWords,
  savingsWords,
  timelineChart,
  type TimelineInput,
} from '../../src/ui/energy-chart-data';
import { DEFAULT_POLICY_SETTINGS } from '../../src/lib/energy/policy';
import { estimateSavings } from '../../src/lib/energy/energy-estimate';
import type { RunRecord } from '../../src/services/energy-scheduler';
import type { BatteryView } from '../../src/services/energy-signals';

const HOUR = 3_600_000;
type Column = (number | null)[];
const NOW = Date.UTC(2025, 5, 2, 12, 30);

const run = (over: Partial<RunRecord>): RunRecord => ({
  jobId: 'j',
  jobClass: 'rollouts',
  enqueuedAt: NOW - 10 * HOUR,
  startedAt: NOW - 2 * HOUR,
  finishedAt: NOW - 2 * HOUR + 60_000,
  outcome: 'done',
  energyWh: 4.8,
  gPerKWhAtEnqueue: 400,
  gPerKWhAtRun: 200,
  throttled: false,
  ...over,
});

describe('signal words', () => {
  const view = (signal: BatteryView['signal'], over: Partial<BatteryView> = {}): BatteryView => ({ signal, source: 'live', apiProblem: null, ageMs: 0, ...over });

  it('says Charging, On battery with the level, or why the battery is unknown', () => {
    expect(batteryWords(view({ kind: 'known', charging: true, level: 1, dischargingTimeS: null, readAt: NOW }))).toBe('Charging');
    expect(batteryWords(view({ kind: 'known', charging: false, level: 0.643, dischargingTimeS: 9000, readAt: NOW }))).toBe('On battery, 64 %');
    expect(batteryWords(view({ kind: 'unknown', reason: 'this browser has no Battery Status API' }))).toBe('Battery unknown: this browser has no Battery Status API');
  });

  it('says where the battery state came from', () => {
    expect(batterySourceWords(view({ kind: 'known', charging: true, level: 0.5, dischargingTimeS: null, readAt: NOW }))).toBe('read from this browser (50 % full)');
    expect(
      batterySourceWords(view({ kind: 'known', charging: false, level: 0.5, dischargingTimeS: null, readAt: NOW }, { source: 'stored', ageMs: 12 * 60_000, apiProblem: 'no API' })),
    ).toBe('last stored reading, 12 min ago (no API)');
    expect(batterySourceWords(view({ kind: 'unknown', reason: 'x' }, { source: 'none' }))).toMatch(/grid alone/);
  });

  it('says the grid, its source and why the other sources were not used', () => {
    const signal = { gPerKWh: 212.4, providerId: 'uk-carbon-intensity', at: NOW, forecast: [] };
    expect(carbonWords({ signal, source: 'uk-carbon-intensity' })).toBe('212 g CO₂/kWh, UK Carbon Intensity');
    expect(carbonWords({ signal, source: 'heuristic' })).toBe('212 g CO₂/kWh, estimate from the time of day');
    expect(carbonFailures({ failures: [{ providerId: 'electricity-maps', reason: 'HTTP 500: <b>boom</b>' }] })).toEqual(['Electricity Maps: HTTP 500: <b>boom</b>']);
  });

  it('says the network', () => {
    expect(networkWords({ signal: { online: true, saveData: false }, saveDataKnown: true })).toBe('Online');
    expect(networkWords({ signal: { online: false, saveData: true }, saveDataKnown: true })).toBe('Offline: network jobs wait, data saver on (big syncs wait)');
  });

  it('words actions, runs and savings, and calls the savings an estimate', () => {
    expect(ACTION_WORDS).toEqual({ run: 'Runs now', 'run-throttled': 'Runs slowly', defer: 'Waits' });
    expect(runWords(run({ throttled: true, outcome: 'failed' }))).toBe('Practice rollouts (slowly, failed)');
    expect(runWords(run({}))).toBe('Practice rollouts');
    expect(savingsWords(estimateSavings([]))).toMatch(/nothing has been saved yet/);
    const saved = savingsWords(estimateSavings([run({})]));
    expect(saved).toBe('Estimated 1.0 g CO₂ saved (50 %) against running everything at once: 1.0 g instead of 1.9 g for 1 finished job, about 4.8 Wh.');
    expect(savingsWords(estimateSavings([run({ gPerKWhAtRun: 600 })]))).toMatch(/^Estimated 1\.0 g CO₂ more than running everything at once/);
  });
});

describe('timelineChart', () => {
  const history = [
    { at: NOW - 30 * HOUR, gPerKWh: 999, charging: true, level: 1 }, // outside the window: the state carried into it
    { at: NOW - 20 * HOUR, gPerKWh: 400, charging: false, level: 0.9 },
    { at: NOW - 3 * HOUR - 15 * 60_000, gPerKWh: 250, charging: true, level: 0.4 },
    { at: NOW - 60 * 60_000, gPerKWh: 220, charging: true, level: 0.7 },
  ];
  const forecast = Array.from({ length: 30 }, (_, i) => ({ at: Math.floor(NOW / HOUR) * HOUR + i * HOUR, gPerKWh: 200 + i }));
  const input: TimelineInput = {
    now: NOW,
    history,
    forecast,
    runs: [run({ jobId: 'a', startedAt: NOW - 2 * HOUR - 5 * 60_000, gPerKWhAtRun: 240 }), run({ jobId: 'b', startedAt: NOW - 90 * 60_000, throttled: true, gPerKWhAtRun: 230 }), run({ jobId: 'old', startedAt: NOW - 30 * HOUR })],
    gPerKWhNow: 215,
    chargingNow: true,
  };

  it('puts the last 24 h and the next 24 h on one time axis with charging, runs and now', () => {
    const { data, config, table } = timelineChart(input);
    const [x, charging, recorded, ahead, runs, throttled] = data as unknown as [number[], Column, Column, Column, Column, Column];
    expect(config.x.kind).toBe('time');
    expect(config.series.map((s) => [s.label, s.kind ?? 'line'])).toEqual([
      ['Charging', 'line'],
      ['Grid intensity', 'line'],
      ['Forecast', 'line'],
      ['Job runs', 'points'],
      ['Throttled runs', 'points'],
    ]);
    expect(x[0]).toBe(Math.ceil((NOW - 24 * HOUR) / HOUR) * HOUR);
    expect(x[x.length - 1]).toBe(Math.floor(NOW / HOUR) * HOUR + 24 * HOUR);
    expect([...x].sort((a, b) => a - b)).toEqual(x);
    expect(new Set(x).size).toBe(x.length);
    for (const column of data.slice(1)) expect(column).toHaveLength(x.length);

    const at = (t: number) => x.indexOf(t);
    // Now: both lines meet at the value the scheduler uses.
    expect(recorded[at(NOW)]).toBe(215);
    expect(ahead[at(NOW)]).toBe(215);
    // Past: recorded only; ahead: forecast only.
    const pastHour = Math.floor(NOW / HOUR) * HOUR - 5 * HOUR;
    expect(recorded[at(pastHour)]).toBe(400);
    expect(ahead[at(pastHour)]).toBeNull();
    const nextHour = Math.floor(NOW / HOUR) * HOUR + 2 * HOUR;
    expect(recorded[at(nextHour)]).toBeNull();
    expect(ahead[at(nextHour)]).toBe(202);
    // Charging: a band along the top while charging (from the carried-in state too), nothing ahead.
    const top = charging.find((v) => v !== null);
    expect(top).toBeGreaterThan(400);
    expect(charging[0]).toBe(top);
    expect(charging[at(pastHour)]).toBeNull();
    expect(charging[at(NOW - 3 * HOUR - 15 * 60_000)]).toBe(top);
    expect(charging[at(nextHour)]).toBeNull();
    // Runs as points at their start, throttled apart; a run outside the window is left out.
    expect(runs[at(NOW - 2 * HOUR - 5 * 60_000)]).toBe(240);
    expect(throttled[at(NOW - 2 * HOUR - 5 * 60_000)]).toBeNull();
    expect(throttled[at(NOW - 90 * 60_000)]).toBe(230);
    expect(runs.filter((v) => v !== null)).toHaveLength(1);

    // The table says the same in words.
    expect(table.columns).toEqual(['Time', 'Grid (g CO₂/kWh)', 'Forecast (g CO₂/kWh)', 'Charging', 'Job runs']);
    expect(table.rows).toHaveLength(x.length);
    const nowRow = table.rows[at(NOW)]!;
    expect(nowRow[0]).toMatch(/\(now\)$/);
    expect(nowRow.slice(1)).toEqual(['215', '215', 'Yes', '—']);
    expect(table.rows[at(NOW - 90 * 60_000)]![4]).toBe('Practice rollouts (slowly)');
    expect(table.rows[at(nextHour)]![3]).toBe('—');
    expect(table.rows[at(pastHour)]![3]).toBe('No');
  });

  it('draws something sensible with nothing recorded and no forecast', () => {
    const { data, table } = timelineChart({ now: NOW, history: [], forecast: [], runs: [], gPerKWhNow: 300, chargingNow: null });
    const [x, charging, recorded, ahead] = data as unknown as [number[], Column, Column, Column];
    expect(x).toEqual([NOW]);
    expect(x[x.length - 1]).toBe(NOW);
    expect(recorded.filter((v) => v !== null)).toEqual([300]);
    expect(ahead.filter((v) => v !== null)).toEqual([300]);
    expect(charging.every((v) => v === null)).toBe(true);
    expect(table.rows.at(-1)!.slice(1)).toEqual(['300', '300', 'Unknown', '—']);
  });
});

describe('settings form', () => {
  const previous = { providers: [], keys: { 'electricity-maps': 'stored-key' }, region: 'DE' };

  it('starts from the stored settings without the key', () => {
    expect(formOf({ providers: ['electricity-maps'], region: 'DE' }, { cleanQuantile: 0.2, highBatteryLevel: 0.8 })).toEqual({ choice: 'electricity-maps', apiKey: '', region: 'DE', cleanPercent: 20, batteryPercent: 80 });
    expect(carbonChoiceOf({ providers: [] })).toBe('none');
    expect(CARBON_CHOICES.map((c) => c.label)).toEqual(['None (estimate offline)', 'UK Carbon Intensity', 'Electricity Maps']);
    expect(REGION_CHOICES.find((r) => r.value === 'GB')?.label).toBe('Great Britain');
  });

  it('keeps the stored key unless a new one is typed, and checks what each source needs', () => {
    expect(carbonSettingsFromForm({ choice: 'electricity-maps', apiKey: '', region: 'DE' }, previous)).toEqual({
      ok: true,
      value: { providers: ['electricity-maps'], keys: { 'electricity-maps': 'stored-key' }, region: 'DE' },
    });
    expect(carbonSettingsFromForm({ choice: 'electricity-maps', apiKey: '  new-key ', region: 'FR' }, previous)).toMatchObject({ ok: true, value: { keys: { 'electricity-maps': 'new-key' } } });
    expect(carbonSettingsFromForm({ choice: 'electricity-maps', apiKey: '', region: 'FR' }, { providers: [], keys: {}, region: 'FR' })).toEqual({
      ok: false,
      error: 'Electricity Maps needs an API key: enter it, or choose another source.',
    });
    expect(carbonSettingsFromForm({ choice: 'uk-carbon-intensity', apiKey: '', region: 'DE' }, previous).ok).toBe(false);
    expect(carbonSettingsFromForm({ choice: 'uk-carbon-intensity', apiKey: '', region: 'GB' }, previous)).toMatchObject({ ok: true, value: { providers: ['uk-carbon-intensity'], region: 'GB' } });
    expect(carbonSettingsFromForm({ choice: 'none', apiKey: '', region: 'Atlantis' }, previous).ok).toBe(false);
    expect(carbonSettingsFromForm({ choice: 'none', apiKey: '', region: 'default' }, previous)).toMatchObject({ ok: true, value: { providers: [] } });
  });

  it('reads the percentages into policy settings', () => {
    // Heavy jobs keep the defaults' proportion; light jobs never need more charge than heavy ones.
    const ratio = DEFAULT_POLICY_SETTINGS.heavyCleanQuantile / DEFAULT_POLICY_SETTINGS.cleanQuantile;
    const patch = policyPatchFromForm({ cleanPercent: 30, batteryPercent: '4' });
    expect(patch).toEqual({ ok: true, value: { cleanQuantile: 0.3, heavyCleanQuantile: expect.closeTo(0.3 * ratio, 9), highBatteryLevel: 0.04, lightJobMinBatteryLevel: 0.04 } });
    expect(policyPatchFromForm({ cleanPercent: 20, batteryPercent: 100 })).toMatchObject({ ok: true, value: { highBatteryLevel: 1, lightJobMinBatteryLevel: DEFAULT_POLICY_SETTINGS.lightJobMinBatteryLevel } });
    expect(policyPatchFromForm({ cleanPercent: 0, batteryPercent: 80 })).toEqual({ ok: false, error: 'Clean hours share must be a number from 1 to 100.' });
    expect(policyPatchFromForm({ cleanPercent: 20, batteryPercent: '' })).toEqual({ ok: false, error: 'Battery level for heavy jobs must be a number from 0 to 100.' });
    expect(policyPatchFromForm({ cleanPercent: null, batteryPercent: 50 }).ok).toBe(false);
    expect(policyPatchFromForm({ cleanPercent: 101, batteryPercent: 50 }).ok).toBe(false);
  });
});
