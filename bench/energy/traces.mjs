// Synthetic grid carbon intensity traces for bench/energy.mjs: hourly
// gCO2eq/kWh, local time, one region per trace.
//
// Shape of a day (the same family of effects the app's offline heuristic
// encodes, but generated independently here and with weather on top, so the
// scheduler's forecast knows the typical day and not this one):
//   base × demand(weekday) × wind(t) × (1 − solar·sun(h)·clear(d) + evening
//   peak + morning peak − night dip) × (1 + noise)
// - sun(h): 0 before sunrise (06:00 ± 0.5 h per day) and after sunset
//   (19:30 ± 0.5 h), a sine arch in between; clear(d) ∈ [0.3, 1.2] is the
//   day's sunshine (cloudy to clear), uniform per day;
// - the evening peak's centre moves ±0.75 h from day to day around 19:00;
// - wind(t) = exp(−windVar · w(t)) with w an hourly AR(1) process of unit
//   variance and ~1.5-day memory (ρ = 0.97): windy spells lower intensity for
//   a day or two, calm ones raise it. Britain's grid swings most with wind;
// - demand is 8 % lower on Saturdays and Sundays (less industry);
// - noise: 4 % hourly, independent.
// Region parameters: base = rounded recent annual means (as Electricity Maps
// and Ember publish them), depths chosen to give each grid its typical daily
// range (California's midday trough roughly half its evening peak, Poland's
// within ~15 %). Traces start on a Monday at 00:00 local time.
import { gaussian, rng } from '../retrieval/data.mjs';

export const TRACE_REGIONS = {
  GB: { base: 190, solar: 0.25, evening: 0.22, morning: 0.08, night: 0.15, windVar: 0.35 },
  DE: { base: 380, solar: 0.42, evening: 0.15, morning: 0.08, night: 0.02, windVar: 0.22 },
  'US-CAL': { base: 230, solar: 0.62, evening: 0.25, morning: 0.05, night: 0, windVar: 0.08 },
  FR: { base: 55, solar: 0.15, evening: 0.15, morning: 0.05, night: 0.1, windVar: 0.15 },
  PL: { base: 650, solar: 0.12, evening: 0.06, morning: 0.03, night: 0.03, windVar: 0.08 },
};

const bump = (h, centre, width) => {
  const d = Math.min(Math.abs(h - centre), 24 - Math.abs(h - centre));
  return Math.exp(-(d * d) / (2 * width * width));
};

/**
 * @param {string} region a key of TRACE_REGIONS
 * @param {number} days
 * @param {number} seed
 * @returns {number[]} hourly intensities, days × 24 values
 */
export function carbonTrace(region, days, seed) {
  const p = TRACE_REGIONS[region];
  if (!p) throw new Error(`unknown trace region ${region}`);
  const random = rng(seed);
  const normal = gaussian(random);
  const out = [];
  const rho = 0.97;
  let w = normal();
  for (let d = 0; d < days; d++) {
    const clear = 0.3 + 0.9 * random();
    const sunrise = 6 + (random() - 0.5);
    const sunset = 19.5 + (random() - 0.5);
    const eveningAt = 19 + 1.5 * (random() - 0.5);
    const weekend = d % 7 >= 5;
    for (let h = 0; h < 24; h++) {
      w = rho * w + Math.sqrt(1 - rho * rho) * normal();
      const hour = h + 0.5;
      const sun = hour > sunrise && hour < sunset ? Math.sin((Math.PI * (hour - sunrise)) / (sunset - sunrise)) : 0;
      const shape = 1 - p.solar * sun * clear + p.evening * bump(hour, eveningAt, 2) + p.morning * bump(hour, 8, 1.5) - p.night * bump(hour, 3.5, 2.5);
      const value = p.base * (weekend ? 0.92 : 1) * Math.exp(-p.windVar * w) * Math.max(0.15, shape) * (1 + 0.04 * normal());
      out.push(Math.max(5, value));
    }
  }
  return out;
}

/** The hours (indices) whose intensity is among the lowest `fraction` of the trace. */
export function cleanestHours(trace, fraction) {
  const order = trace.map((g, i) => [g, i]).sort((a, b) => a[0] - b[0]);
  return new Set(order.slice(0, Math.round(fraction * trace.length)).map(([, i]) => i));
}
