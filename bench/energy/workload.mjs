// The stream of deferrable jobs for bench/energy.mjs, queued while the person
// uses the device (that is when the learning layer has something to learn
// from), during the first `arrivalDays` days:
// - per 15 minutes of use: an experience extraction with probability 0.5 and
//   a group of practice rollouts with probability 0.06;
// - at the first use of each day: one consolidation, one self-training and
//   one calibration job (the daily maintenance);
// - a sync at most every 4 hours of use, payload log-normal around 200 KB,
//   one in twenty a big one (2-6 MB).
// Deadlines are the job classes' defaults (src/lib/energy/jobs.ts).
import { rng } from '../retrieval/data.mjs';
import { STEPS_PER_HOUR } from './devices.mjs';

/**
 * @param {{ active: boolean[] }} schedule
 * @param {number} arrivalDays
 * @param {number} seed
 * @returns {{ step: number, jobClass: string, payloadBytes?: number }[]}
 */
export function jobArrivals(schedule, arrivalDays, seed) {
  const random = rng(seed);
  const out = [];
  const steps = Math.min(schedule.active.length, arrivalDays * 24 * STEPS_PER_HOUR);
  let lastDay = -1;
  let lastSync = -Infinity;
  for (let step = 0; step < steps; step++) {
    if (!schedule.active[step]) continue;
    const day = Math.floor(step / (24 * STEPS_PER_HOUR));
    if (day !== lastDay) {
      lastDay = day;
      for (const jobClass of ['consolidation', 'self-training', 'calibration']) out.push({ step, jobClass });
    }
    if (random() < 0.5) out.push({ step, jobClass: 'experience-extraction' });
    if (random() < 0.06) out.push({ step, jobClass: 'rollouts' });
    if (step - lastSync >= 4 * STEPS_PER_HOUR) {
      lastSync = step;
      const big = random() < 0.05;
      const payloadBytes = Math.round(big ? 2e6 + 4e6 * random() : 200e3 * Math.exp(0.8 * (random() + random() + random() - 1.5)));
      out.push({ step, jobClass: 'sync', payloadBytes });
    }
  }
  return out;
}
