// Synthetic device behaviour for bench/energy.mjs, in 15-minute steps from a
// Monday 00:00 local time: when the person uses the device (jobs are queued
// then), when it is on its charger, whether it stays awake while idle on the
// charger (a sleeping laptop runs nothing, page or service worker), and when
// it is offline or on data saver. Battery levels are not here: they depend on
// what runs, so bench/energy/simulate.mjs integrates them.
//
// Three profiles, each drawn per day from the seed:
// - laptop-home: used briefly in the morning (07:00-08:30) and in the evening
//   (18:00-23:00) on weekdays, through the day at weekends; used on its
//   charger (at a table, on the sofa by a socket) on half of those evenings
//   and weekend days, on battery otherwise (an assumption: surveys of laptop
//   use find much of it on mains, from memory, but no figure for a home
//   laptop's evenings was looked up); plugged in overnight on 80 % of nights
//   (from 22:00-24:00 to 07:00), plus a daytime top-up of 1-3 h on 35 % of
//   days while shut (nobody at home on a weekday: it sleeps); stays awake on
//   the charger on 40 % of nights (power settings); on data saver 5 % of the
//   hours (tethering).
// - laptop-desk: a work laptop, used 09:00-17:30 on weekdays (85 % per hour)
//   and plugged in at the desk on 90 % of workdays, awake there through the
//   working day; evenings 20:00-22:00 on 30 % of days, plugged in overnight on
//   40 % of nights and awake then on 30 % of those.
// - desktop: no Battery API (mains power), awake 08:00-24:00 and all night on
//   30 % of nights, used 09:00-12:00 and 14:00-18:00 on weekdays (60 % per
//   hour) and 19:00-23:00 (50 %).
// All are online 98 % of the hours.
// No phone profile: the job costs (src/lib/energy/jobs.ts) are a laptop GPU's,
// and a phone browser freezes a page in the background, so on a phone the
// policy could only act while the app is open, and phones charge at night
// with the screen off (nothing runs). It would add a device with almost no
// room to shift work, not a different answer.
import { rng } from '../retrieval/data.mjs';

export const STEPS_PER_HOUR = 4;
export const DEVICE_PROFILES = ['laptop-home', 'laptop-desk', 'desktop'];

/**
 * @param {string} profile
 * @param {number} days
 * @param {number} seed
 */
export function deviceSchedule(profile, days, seed) {
  const random = rng(seed);
  const n = days * 24 * STEPS_PER_HOUR;
  const active = new Array(n).fill(false);
  const plugged = new Array(n).fill(false);
  const awakeOnCharge = new Array(n).fill(false);
  const online = new Array(n).fill(true);
  const saveData = new Array(n).fill(false);
  const hasBattery = profile !== 'desktop';
  const at = (d, hour) => Math.round((d * 24 + hour) * STEPS_PER_HOUR);
  const fill = (arr, from, to, value = true) => {
    for (let i = Math.max(0, from); i < Math.min(n, to); i++) arr[i] = value;
  };
  const hourly = (d, fromH, toH, p) => {
    for (let h = fromH; h < toH; h++) if (random() < p) fill(active, at(d, h), at(d, h + 1));
  };

  for (let d = 0; d < days; d++) {
    const weekend = d % 7 >= 5;
    if (profile === 'laptop-home') {
      if (weekend) {
        hourly(d, 9, 23, 0.55);
        if (random() < 0.5) fill(plugged, at(d, 9), at(d, 23));
      } else {
        if (random() < 0.7) fill(active, at(d, 7), at(d, 8.5));
        hourly(d, 18, 23, 0.75);
        if (random() < 0.5) fill(plugged, at(d, 18), at(d, 23));
      }
      if (random() < 0.8) {
        const from = at(d, 22 + 2 * random());
        const to = at(d + 1, 7);
        fill(plugged, from, to);
        if (random() < 0.4) fill(awakeOnCharge, from, to);
      }
      if (random() < 0.35) {
        const start = 11 + 6 * random();
        fill(plugged, at(d, start), at(d, start + 1 + 2 * random()));
      }
      for (let h = 0; h < 24; h++) if (random() < 0.05) fill(saveData, at(d, h), at(d, h + 1));
    } else if (profile === 'laptop-desk') {
      if (!weekend) {
        hourly(d, 9, 17, 0.85);
        if (random() < 0.9) {
          fill(plugged, at(d, 9), at(d, 17.5));
          fill(awakeOnCharge, at(d, 9), at(d, 17.5));
        }
      } else hourly(d, 10, 18, 0.2);
      if (random() < 0.3) hourly(d, 20, 22, 0.8);
      if (random() < 0.4) {
        fill(plugged, at(d, 22), at(d + 1, 8));
        if (random() < 0.3) fill(awakeOnCharge, at(d, 22), at(d + 1, 8));
      }
    } else if (profile === 'desktop') {
      if (!weekend) {
        hourly(d, 9, 12, 0.6);
        hourly(d, 14, 18, 0.6);
      }
      hourly(d, 19, 23, 0.5);
      fill(plugged, at(d, 0), at(d + 1, 0));
      fill(awakeOnCharge, at(d, 8), at(d + 1, 0));
      if (random() < 0.3) fill(awakeOnCharge, at(d + 1, 0), at(d + 1, 8));
    } else throw new Error(`unknown device profile ${profile}`);
    for (let h = 0; h < 24; h++) if (random() < 0.02) fill(online, at(d, h), at(d, h + 1), false);
  }
  return { profile, hasBattery, active, plugged, awakeOnCharge, online, saveData };
}
