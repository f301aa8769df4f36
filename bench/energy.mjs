// `npm run bench:energy`: the benchmark of issue "Energy-adaptive scheduling,
// background sync and consolidation".
//
// Does the app's scheduling policy move deferrable work into clean hours, and
// how long does the work wait? For one week per season (January, April, July,
// October), every region of bench/energy/traces.mjs and every device profile of
// bench/energy/devices.mjs it simulates BENCH_DAYS (7) days of job arrivals (bench/energy/workload.mjs) plus 3 days for the last
// deadlines to pass, in 15-minute steps (bench/energy/simulate.mjs), twice on
// the same traces, device behaviour and jobs: once run by
// src/lib/energy/policy.ts (`decide`, with the default settings) and once
// running every job immediately. Then:
// - carbon_saved: 1 − policy gCO2 / immediate gCO2, summed over all runs;
// - clean_share: of the policy's deferrable work (energy-weighted), the share
//   started in the cleanest 30 % of the hours of its region's trace;
// - median_delay_h: median over jobs of start − queued, hours.
// Goal: carbon_saved >= 0.30 at median_delay_h <= 12.
//
// The TypeScript sources run as they are (Node 22.18+ strips types; the hook in
// bench/ts-source.mjs adds the `.ts` our extensionless imports leave out).
// Progress goes to stdout; the LAST line is one JSON object.
// Environment: BENCH_SEED (20250602), BENCH_DAYS (7), BENCH_FORECAST
// ('anchored' | 'heuristic' | 'oracle', what the headline uses; the others
// are reported as extras), BENCH_REGIONS (comma-separated, default all),
// BENCH_SEASONS (comma-separated, default all four), BENCH_SETTINGS (JSON
// overrides of the policy's defaults). Also printed: the clairvoyant bound
// (bench/energy/simulate.mjs) overall, per region, device and season.
import { enableTypeScriptSources } from './ts-source.mjs';

const fail = (error) => {
  console.log(JSON.stringify({ bench: 'energy', error: String(error?.stack ?? error?.message ?? error) }));
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

enableTypeScriptSources('energy');

const policy = await import('../src/lib/energy/policy.ts');
const jobs = await import('../src/lib/energy/jobs.ts');
const heuristic = await import('../src/lib/energy/carbon-heuristic.ts');
const estimate = await import('../src/lib/energy/energy-estimate.ts');
const { carbonTrace, cleanestHours, TRACE_REGIONS } = await import('./energy/traces.mjs');
const { deviceSchedule, DEVICE_PROFILES } = await import('./energy/devices.mjs');
const { jobArrivals } = await import('./energy/workload.mjs');
const { clairvoyantGrams, simulateDevice } = await import('./energy/simulate.mjs');

const SEED = Number(process.env.BENCH_SEED ?? 20250602);
const DAYS = Number(process.env.BENCH_DAYS ?? 7);
const FORECAST = process.env.BENCH_FORECAST ?? 'anchored';
const REGIONS = (process.env.BENCH_REGIONS ?? Object.keys(TRACE_REGIONS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
// One simulated week per season, each starting on a Monday 00:00 (read as local time; the simulation's UTC
// offset is 0). The headline pools all of them: a year, not the sunniest week of it.
const SEASON_STARTS = { winter: Date.UTC(2025, 0, 13), spring: Date.UTC(2025, 3, 14), summer: Date.UTC(2025, 6, 14), autumn: Date.UTC(2025, 9, 13) };
const SEASONS = (process.env.BENCH_SEASONS ?? Object.keys(SEASON_STARTS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
let SETTINGS = policy.DEFAULT_POLICY_SETTINGS;
if (!Number.isInteger(SEED)) fail(`BENCH_SEED must be an integer, got ${process.env.BENCH_SEED}`);
if (!(Number.isInteger(DAYS) && DAYS >= 1 && DAYS <= 60)) fail(`BENCH_DAYS must be an integer in 1..60, got ${process.env.BENCH_DAYS}`);
if (!['anchored', 'heuristic', 'oracle'].includes(FORECAST)) fail(`BENCH_FORECAST must be anchored, heuristic or oracle, got ${FORECAST}`);
for (const r of REGIONS) if (!TRACE_REGIONS[r]) fail(`unknown region ${r} (have ${Object.keys(TRACE_REGIONS).join(', ')})`);
for (const s of SEASONS) if (!SEASON_STARTS[s]) fail(`unknown season ${s} (have ${Object.keys(SEASON_STARTS).join(', ')})`);
if (process.env.BENCH_SETTINGS) {
  // Overrides of the policy's defaults as JSON, for trying settings; the JSON line reports what was used.
  SETTINGS = { ...SETTINGS, ...JSON.parse(process.env.BENCH_SETTINGS) };
}
const SPILL_DAYS = 3;
const SIM_DAYS = DAYS + SPILL_DAYS;
const CLEAN_FRACTION = 0.3;
const DAY_MS = 86_400_000;

const lib = { ...policy, ...jobs, ...heuristic };
const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);
const round = (x, digits = 3) => Number(x.toFixed(digits));
const median = (values) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const quantileOf = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
};

// Seeds: one per (season, region) trace, one per (season, region, device) for behaviour and jobs, all from BENCH_SEED.
const traces = {};
SEASONS.forEach((season, si) => {
  const dayOfYear = Math.round((SEASON_STARTS[season] - Date.UTC(2025, 0, 1)) / DAY_MS);
  traces[season] = Object.fromEntries(REGIONS.map((region, i) => [region, carbonTrace(region, SIM_DAYS, SEED + 1000 * (i + 1) + 100_003 * si, dayOfYear)]));
  for (const region of REGIONS) {
    const t = traces[season][region];
    const ratios = [];
    const daily = [];
    for (let d = 0; d < DAYS; d++) {
      const day = t.slice(d * 24, d * 24 + 24);
      daily.push(`${Math.round(Math.min(...day))}-${Math.round(Math.max(...day))}`);
      ratios.push(Math.max(...day) / Math.min(...day));
    }
    say(`trace ${season.padEnd(6)} ${region.padEnd(6)} mean ${String(Math.round(t.reduce((a, b) => a + b, 0) / t.length)).padStart(3)} g/kWh; daily max/min median ${median(ratios).toFixed(2)}; daily min-max ${daily.join(' ')}`);
  }
});

function runScenario(forecastMode, settings) {
  const all = { policy: [], immediate: [] };
  const groups = { region: {}, device: {}, season: {} };
  const bounds = { all: { bound: 0, immediate: 0 }, region: {}, device: {}, season: {} };
  let unfinished = 0;
  const decisions = { run: 0, 'run-throttled': 0, defer: 0 };
  const add = (kind, key, mode, runs) => ((groups[kind][key] ??= { policy: [], immediate: [] })[mode].push(...runs));
  const addBound = (kind, key, bound, immediate) => {
    const b = kind === 'all' ? bounds.all : (bounds[kind][key] ??= { bound: 0, immediate: 0 });
    b.bound += bound;
    b.immediate += immediate;
  };
  SEASONS.forEach((season, si) => {
    const start = SEASON_STARTS[season];
    REGIONS.forEach((region, ri) => {
      const trace = traces[season][region];
      const clean = cleanestHours(trace, CLEAN_FRACTION);
      DEVICE_PROFILES.forEach((profile, di) => {
        const seed = SEED + 7919 * (ri + 1) + 104729 * (di + 1) + 15_485_863 * si;
        const schedule = deviceSchedule(profile, SIM_DAYS, seed);
        const arrivals = jobArrivals(schedule, DAYS, seed + 1);
        for (const mode of ['policy', 'immediate']) {
          const result = simulateDevice({ lib, region, trace, schedule, arrivals, mode, forecastMode, settings, start });
          unfinished += result.unfinished;
          if (mode === 'policy') for (const k of Object.keys(decisions)) decisions[k] += result.decisionsCount[k];
          else {
            const bound = clairvoyantGrams({ lib, runs: result.runs, schedule, chargingAt: result.chargingAt, trace, batteryIntensity: result.batteryIntensity, start });
            const immediate = result.runs.reduce((sum, r) => sum + r.grams, 0);
            addBound('all', null, bound, immediate);
            addBound('region', region, bound, immediate);
            addBound('device', profile, bound, immediate);
            addBound('season', season, bound, immediate);
          }
          for (const r of result.runs) r.clean = clean.has(r.hour);
          all[mode].push(...result.runs);
          add('region', region, mode, result.runs);
          add('device', profile, mode, result.runs);
          add('season', season, mode, result.runs);
        }
      });
    });
  });
  const ceiling = (b) => 1 - b.bound / b.immediate;
  const summarised = (kind) => Object.fromEntries(Object.entries(groups[kind]).map(([k, v]) => [k, { ...summarise(v), bound: ceiling(bounds[kind][k]) }]));
  const perRegion = summarised('region');
  return {
    summary: summarise(all),
    perRegion,
    perDevice: summarised('device'),
    perSeason: summarised('season'),
    // Every region counted once, whatever its grams: the saving a person in a region sees, averaged.
    regionMean: {
      carbon_saved: Object.values(perRegion).reduce((s, r) => s + r.carbon_saved, 0) / REGIONS.length,
      bound: Object.values(perRegion).reduce((s, r) => s + r.bound, 0) / REGIONS.length,
    },
    unfinished,
    decisions,
    ceiling: ceiling(bounds.all),
  };
}

function summarise({ policy: p, immediate: im }) {
  const grams = (runs) => runs.reduce((s, r) => s + r.grams, 0);
  const energy = (runs) => runs.reduce((s, r) => s + r.energyWh, 0);
  const cleanShare = (runs) => runs.filter((r) => r.clean).reduce((s, r) => s + r.energyWh, 0) / Math.max(1e-9, energy(runs));
  const delays = p.map((r) => r.delayH);
  // Median delay weighted by energy: where most of the watt-hours wait (the headline median counts jobs).
  const byDelay = [...p].sort((a, b) => a.delayH - b.delayH);
  let acc = 0;
  let energyMedianDelay = 0;
  for (const r of byDelay) {
    acc += r.energyWh;
    if (acc >= energy(p) / 2) {
      energyMedianDelay = r.delayH;
      break;
    }
  }
  // The app's own estimator on the policy's runs, intensities as the view would see them (grid at queue time vs at run).
  const view = estimate.estimateSavings(p.map((r) => ({ energyWh: r.energyWh, enqueuedAt: r.job.enqueuedAt, startedAt: r.startedAt, gPerKWhAtRun: r.gPerKWh, gPerKWhAtEnqueue: r.gAtEnqueue })));
  return {
    carbon_saved: 1 - grams(p) / grams(im),
    clean_share: cleanShare(p),
    clean_share_immediate: cleanShare(im),
    median_delay_h: median(delays),
    p90_delay_h: quantileOf(delays, 0.9),
    energy_median_delay_h: energyMedianDelay,
    throttled_share: p.filter((r) => r.throttled).length / Math.max(1, p.length),
    on_battery_share: energy(p.filter((r) => !r.onCharger)) / Math.max(1e-9, energy(p)),
    on_battery_share_immediate: energy(im.filter((r) => !r.onCharger)) / Math.max(1e-9, energy(im)),
    jobs: p.length,
    jobs_immediate: im.length,
    energy_wh: energy(p),
    energy_wh_immediate: energy(im),
    grams: grams(p),
    grams_immediate: grams(im),
    view_estimate_saved: view.fractionSaved,
  };
}

const scenarios = {};
for (const mode of ['anchored', 'heuristic', 'oracle']) {
  const s = runScenario(mode, SETTINGS);
  scenarios[mode] = s;
  say(`forecast ${mode.padEnd(9)}: carbon_saved ${round(s.summary.carbon_saved)} (mean of regions ${round(s.regionMean.carbon_saved)}), clean_share ${round(s.summary.clean_share)} (immediate ${round(s.summary.clean_share_immediate)}), median delay ${round(s.summary.median_delay_h, 2)} h, p90 ${round(s.summary.p90_delay_h, 1)} h, throttled ${round(s.summary.throttled_share)}, unfinished ${s.unfinished}; clairvoyant bound ${round(s.ceiling)} (mean of regions ${round(s.regionMean.bound)})`);
  for (const [kind, rows] of [['region', s.perRegion], ['device', s.perDevice], ['season', s.perSeason]]) {
    for (const [key, r] of Object.entries(rows)) {
      say(`  ${kind.padEnd(6)} ${key.padEnd(12)} saved ${round(r.carbon_saved).toFixed(3).padStart(6)} / bound ${round(r.bound).toFixed(3)}  clean ${round(r.clean_share).toFixed(3)} (imm ${round(r.clean_share_immediate).toFixed(3)})  median ${round(r.median_delay_h, 2)} h  p90 ${round(r.p90_delay_h, 1)} h  on battery ${round(r.on_battery_share, 2)} (imm ${round(r.on_battery_share_immediate, 2)})  jobs ${r.jobs}`);
    }
  }
}

const head = scenarios[FORECAST];
const pick = (r) => ({ carbon_saved: round(r.carbon_saved), bound: round(r.bound), clean_share: round(r.clean_share), median_delay_h: round(r.median_delay_h, 2) });
const goal = head.summary.carbon_saved >= 0.3 && head.summary.median_delay_h <= 12;
say(`goal (>= 0.30 saved at median delay <= 12 h): ${goal ? 'met' : 'NOT met'}; clairvoyant bound ${round(head.ceiling)}${head.ceiling < 0.3 ? ' (below the goal: no scheduler could meet it in this model)' : ''}`);
console.log(
  JSON.stringify({
    bench: 'energy',
    clean_share: round(head.summary.clean_share),
    carbon_saved: round(head.summary.carbon_saved),
    median_delay_h: round(head.summary.median_delay_h, 2),
    goal_met: goal,
    clairvoyant_saved: round(head.ceiling),
    region_mean_saved: round(head.regionMean.carbon_saved),
    region_mean_bound: round(head.regionMean.bound),
    forecast: FORECAST,
    clean_share_immediate: round(head.summary.clean_share_immediate),
    p90_delay_h: round(head.summary.p90_delay_h, 2),
    energy_median_delay_h: round(head.summary.energy_median_delay_h, 2),
    decisions: head.decisions,
    throttled_share: round(head.summary.throttled_share),
    on_battery_share: round(head.summary.on_battery_share),
    unfinished_jobs: head.unfinished,
    jobs: head.summary.jobs,
    energy_wh: round(head.summary.energy_wh, 1),
    grams: round(head.summary.grams, 1),
    grams_immediate: round(head.summary.grams_immediate, 1),
    view_estimate_saved: round(head.summary.view_estimate_saved),
    per_region: Object.fromEntries(Object.entries(head.perRegion).map(([k, v]) => [k, pick(v)])),
    per_device: Object.fromEntries(Object.entries(head.perDevice).map(([k, v]) => [k, pick(v)])),
    per_season: Object.fromEntries(Object.entries(head.perSeason).map(([k, v]) => [k, pick(v)])),
    other_forecasts: Object.fromEntries(Object.entries(scenarios).filter(([k]) => k !== FORECAST).map(([k, v]) => [k, { ...pick({ ...v.summary, bound: v.ceiling }), region_mean_saved: round(v.regionMean.carbon_saved) }])),
    settings: SETTINGS,
    settings_are_defaults: JSON.stringify(SETTINGS) === JSON.stringify(policy.DEFAULT_POLICY_SETTINGS),
    regions: REGIONS,
    devices: DEVICE_PROFILES,
    seasons: Object.fromEntries(SEASONS.map((k) => [k, new Date(SEASON_STARTS[k]).toISOString().slice(0, 10)])),
    days: DAYS,
    spill_days: SPILL_DAYS,
    seed: SEED,
  }),
);
