// One device in one region over the simulated days, in 15-minute steps, run
// either by the app's policy (src/lib/energy/policy.ts, called as the
// scheduler service will call it) or by "immediate" (every job starts as soon
// as the device is free, the baseline).
//
// Model:
// - A job can start only while the device is awake (in use, or idle on its
//   charger with sleep disabled, or still busy with a job) and, for sync,
//   online. Work is serial: one job at a time, a job's duration is its class's
//   max(CPU, GPU) seconds, doubled when throttled; a started job finishes.
// - Battery: 50 Wh; charging adds 25 % per hour; the device draws 8 W in use,
//   3 W awake and idle, 0.3 W asleep, plus the jobs' energy. Below 12 % the
//   person plugs it in for two hours. The policy sees level, charging and the
//   browser-style time-to-empty (level ÷ current draw).
// - Carbon of a job = its energy (src/lib/energy/jobs.ts) × the intensity of
//   the energy it used: the grid's at its start hour when on the charger (or
//   mains), and on battery the intensity of the energy that went into the
//   battery in the run (grid intensity of each charging step weighted by the
//   watt-hours it took in: a full battery on the charger takes nothing) ÷ 0.9
//   (round-trip loss), since that is when the battery was filled. Both policy
//   and baseline are charged the same way, each with its own charging.
// - What the policy sees of the grid (forecastMode):
//   'anchored' (default): the measured value now (as a provider reports it)
//     and the offline heuristic's daily shape anchored to it, no more: it
//     does not see the trace's weather ahead;
//   'heuristic': no provider at all, the heuristic alone;
//   'oracle': the trace itself as a perfect forecast (an upper bound; the GB
//     API's 48 h forecast is the nearest real thing).
import { STEPS_PER_HOUR } from './devices.mjs';

const STEP_MS = 3_600_000 / STEPS_PER_HOUR;
const HOUR_MS = 3_600_000;
const CAPACITY_WH = 50;
const ROUND_TRIP = 0.9;

/**
 * @param {object} args
 * @param {object} args.lib the app's energy modules
 * @param {string} args.region
 * @param {number[]} args.trace hourly intensities
 * @param {ReturnType<import('./devices.mjs').deviceSchedule>} args.schedule
 * @param {{ step: number, jobClass: string, payloadBytes?: number }[]} args.arrivals
 * @param {'policy' | 'immediate'} args.mode
 * @param {'anchored' | 'heuristic' | 'oracle'} [args.forecastMode]
 * @param {object} [args.settings] policy settings
 * @param {number} args.start epoch ms of step 0 (local midnight; the offset is 0)
 */
export function simulateDevice({ lib, region, trace, schedule, arrivals, mode, forecastMode = 'anchored', settings, start }) {
  const steps = schedule.active.length;
  const queue = [];
  const runs = [];
  let arrivalIndex = 0;
  let level = 0.8;
  let forcedUntil = -1;
  let busyUntil = start;
  let chargeGrams = 0;
  let chargeWh = 0;
  let chargeIntensitySum = 0;
  let chargeSteps = 0;
  const chargingAt = new Array(steps).fill(false);
  let nextId = 0;
  const decisionsCount = { run: 0, 'run-throttled': 0, defer: 0 };

  for (let step = 0; step < steps; step++) {
    const now = start + step * STEP_MS;
    const hour = Math.floor(step / STEPS_PER_HOUR);
    const gNow = trace[hour];
    if (schedule.hasBattery && level < 0.12 && !schedule.plugged[step] && forcedUntil < step) forcedUntil = step + 2 * STEPS_PER_HOUR;
    const charging = !schedule.hasBattery || schedule.plugged[step] || step <= forcedUntil;
    chargingAt[step] = charging;
    if (charging && schedule.hasBattery) {
      // What goes into the battery this step, at the grid's intensity now (weighted below).
      const addedWh = Math.min(0.25 / STEPS_PER_HOUR, 1 - level) * CAPACITY_WH;
      chargeGrams += gNow * addedWh;
      chargeWh += addedWh;
      chargeIntensitySum += gNow;
      chargeSteps += 1;
    }
    while (arrivalIndex < arrivals.length && arrivals[arrivalIndex].step === step) {
      const a = arrivals[arrivalIndex++];
      const args = { id: `j${nextId++}`, jobClass: a.jobClass, now };
      if (a.payloadBytes !== undefined) args.payloadBytes = a.payloadBytes;
      queue.push(lib.createJob(args));
    }
    const busy = busyUntil > now;
    const awake = schedule.active[step] || (charging && schedule.awakeOnCharge[step]) || busy;
    const online = schedule.online[step];
    let jobWatts = 0;

    if (awake && queue.length > 0 && busyUntil < now + STEP_MS) {
      let order;
      if (mode === 'immediate') {
        order = queue.filter((job) => online || !lib.JOB_CLASS_SPECS[job.jobClass].needsNetwork).map((job) => ({ job, speed: 1 }));
      } else {
        const drawW = schedule.active[step] ? 8 : 3;
        const battery = schedule.hasBattery
          ? { kind: 'known', charging, level, dischargingTimeS: charging ? null : (level * CAPACITY_WH * 3600) / drawW, readAt: now }
          : { kind: 'unknown', reason: 'no Battery API' };
        const carbon = carbonView(lib, region, trace, now, hour, forecastMode);
        const outcome = lib.decide({ now, signals: { battery, carbon, network: { online, saveData: schedule.saveData[step] } }, jobs: queue, settings });
        const byId = new Map(queue.map((job) => [job.id, job]));
        order = [];
        for (const d of outcome.decisions) {
          decisionsCount[d.action] += 1;
          if (d.action !== 'defer') order.push({ job: byId.get(d.jobId), speed: d.speed, throttled: d.action === 'run-throttled' });
        }
      }
      for (const { job, speed, throttled } of order) {
        const begin = Math.max(now, busyUntil);
        if (begin >= now + STEP_MS) break;
        const cost = lib.JOB_CLASS_SPECS[job.jobClass].cost;
        const duration = (Math.max(cost.cpuSeconds, cost.gpuSeconds) * 1000) / speed;
        busyUntil = begin + duration;
        const energyWh = lib.jobEnergyWh(job);
        runs.push({ job, startedAt: begin, hour: Math.floor((begin - start) / HOUR_MS), energyWh, onCharger: charging, throttled: Boolean(throttled) });
        queue.splice(queue.indexOf(job), 1);
      }
    }
    // Energy drawn by jobs this step, spread over their run time (battery only).
    for (let i = runs.length - 1; i >= 0 && runs[i].startedAt + 3 * HOUR_MS > now; i--) {
      const r = runs[i];
      const cost = lib.JOB_CLASS_SPECS[r.job.jobClass].cost;
      const duration = (Math.max(cost.cpuSeconds, cost.gpuSeconds) * 1000) / (r.throttled ? 0.5 : 1);
      const overlap = Math.max(0, Math.min(r.startedAt + duration, now + STEP_MS) - Math.max(r.startedAt, now));
      jobWatts += (r.energyWh * 3600 * 1000 * (overlap / duration)) / STEP_MS / 3600;
    }
    if (schedule.hasBattery) {
      const baseW = schedule.active[step] ? 8 : awake ? 3 : 0.3;
      if (charging) level = Math.min(1, level + 0.25 / STEPS_PER_HOUR);
      else level = Math.max(0, level - ((baseW + jobWatts) / STEPS_PER_HOUR) / CAPACITY_WH);
    }
  }

  // The battery's energy carries the intensity of the hours it was charged in, weighted by what was actually
  // charged then (a full battery on the charger takes nothing in), plus the round-trip loss. Fallbacks: the
  // plain mean over charging steps when it never took anything in, the trace's mean when it never charged.
  const traceMean = trace.reduce((a, b) => a + b, 0) / trace.length;
  const batteryIntensity = (chargeWh > 0 ? chargeGrams / chargeWh : chargeSteps > 0 ? chargeIntensitySum / chargeSteps : traceMean) / ROUND_TRIP;
  for (const r of runs) {
    r.gPerKWh = r.onCharger ? trace[r.hour] : batteryIntensity;
    r.grams = (r.energyWh * r.gPerKWh) / 1000;
    r.delayH = (r.startedAt - r.job.enqueuedAt) / HOUR_MS;
    // What the view's estimate compares with: the intensity the job would have met had it started when queued.
    r.gAtEnqueue = r.job.enqueuedAt >= 0 ? trace[Math.floor((r.job.enqueuedAt - start) / HOUR_MS)] : r.gPerKWh;
  }
  return { runs, unfinished: queue.length, batteryIntensity, decisionsCount, chargingAt };
}

function carbonView(lib, region, trace, now, hour, forecastMode) {
  const args = { region, now, utcOffsetMinutes: 0, hours: 48 };
  if (forecastMode === 'heuristic') return lib.heuristicSignal(args);
  if (forecastMode === 'oracle') {
    const forecast = [];
    for (let i = 0; i < 48 && hour + i < trace.length; i++) forecast.push({ at: Math.floor(now / HOUR_MS) * HOUR_MS + i * HOUR_MS, gPerKWh: trace[hour + i] });
    return { gPerKWh: trace[hour], providerId: 'oracle', at: now, forecast };
  }
  return { gPerKWh: trace[hour], providerId: 'trace', at: now, forecast: lib.anchoredForecast({ ...args, measured: trace[hour] }) };
}

/**
 * A clairvoyant bound on what any scheduler could save on these jobs, under
 * the constraints the policy has: each job of the immediate run moved, with
 * perfect knowledge of the future, to the cleanest quarter hour between its
 * queueing and its deadline in which the device was awake (in use, or on the
 * charger with sleep off), online when the job needs the network; on the
 * charger it costs the grid then, on battery the battery's charging
 * intensity (the immediate run's: which hours filled it). Looser than the
 * policy in two ways only, both in its favour: no limit on concurrent work
 * and no battery capacity. Returns grams.
 */
export function clairvoyantGrams({ lib, runs, schedule, chargingAt, trace, batteryIntensity, start }) {
  let grams = 0;
  for (const r of runs) {
    const from = Math.round((r.job.enqueuedAt - start) / STEP_MS);
    const to = Math.min(schedule.active.length, Math.round((r.job.deadline - start) / STEP_MS));
    const needsNetwork = lib.JOB_CLASS_SPECS[r.job.jobClass].needsNetwork;
    let best = r.gPerKWh;
    for (let s = from; s < to; s++) {
      const onCharger = !schedule.hasBattery || schedule.plugged[s] || Boolean(chargingAt?.[s]);
      if (!(schedule.active[s] || (onCharger && schedule.awakeOnCharge[s]))) continue;
      if (needsNetwork && !schedule.online[s]) continue;
      best = Math.min(best, onCharger ? trace[Math.floor(s / STEPS_PER_HOUR)] : batteryIntensity);
    }
    grams += (r.energyWh * best) / 1000;
  }
  return grams;
}
