// Synthetic grid carbon intensity traces for bench/energy.mjs: hourly
// gCO2eq/kWh, local clock time, one region per trace. Synthetic on purpose (no
// data set to ship or license), generated independently of the app's offline
// heuristic, with weather on top, so the scheduler's forecast knows the
// typical day and not this one.
//
// Shape of a day:
//   base × demand(weekday) × wind(t) × (1 − solar(season)·sun(h)·clear(d)
//   + evening peak + morning peak − night dip) × (1 + noise)
// - season: the day of the year sets s = ½ + ½·cos(2π(day − 172)/365), 1 at
//   the June solstice and 0 at the December one. The solar dip's depth, the
//   length of daylight and the evening peak's time are interpolated between
//   the region's winter and summer values with s (a June week and a January
//   week are very different in solar grids; the heuristic ignores this);
// - sun(h): a sine arch between sunrise and sunset (clock time, daylight
//   saving included: solar noon 12:15 in winter, 13:15 in summer), ±0.25 h per
//   day; clear(d) ∈ [0.3, 1.2] is the day's sunshine (cloudy to clear);
// - the evening peak: 17:30 in winter (dark early) to 19:30 in summer, ±0.75 h
//   from day to day; a morning peak at 08:00; a night dip at 03:30;
// - wind(t) = exp(−windVar·(1 + 0.4(1 − s))·w(t)), w an hourly AR(1) of unit
//   variance and ~1.5-day memory (ρ = 0.97): windy spells lower intensity for
//   a day or two, calm ones raise it, more so in winter;
// - demand 8 % lower on Saturdays and Sundays; 4 % hourly noise.
//
// Calibration (what the parameters were checked against; items marked
// "from memory" were not looked up while writing this and are rough):
// - base: rounded recent annual means (lifecycle, as Electricity Maps and
//   Ember publish them, from memory): GB ~190 (NESO's generation-based
//   figure for 2025 is 129 g/kWh, hoarelea.com 2026-02; lifecycle is higher),
//   DE ~380, US-CAL ~230, FR ~55, PL ~650. Only ratios matter for the
//   headline, except against the policy's 50 g/kWh "always clean" floor.
// - US-CAL: CAISO's "duck curve": in spring and summer the midday intensity
//   is often a half to a third of the evening's (2-3x daily swing, from
//   memory; CAISO publishes the live "emissions rate"). summer depth 0.62
//   gives daily min/max ratios of ~2-3.5x; winter 0.35 (less sun, still the
//   deepest winter dip of these grids).
// - DE: on 13 May 2024, a clear day, solar gave ~44 of 72 GW at 13:00 and
//   the intensity was 166 g/kWh (Reuters via powersystems.technology) against
//   ~380 on average; nights on lignite and gas 400-500 (from memory). Summer
//   depth 0.5 (a clear June day ~2-2.5x, a cloudy one ~1.3x); winter 0.08
//   (December solar is a few per cent of generation, from memory).
// - GB: wind dominates day-to-day (windVar 0.35); a summer day such as
//   24 June 2022 spanned 161-296 g/kWh (electricityinfo.org archive); since
//   2025 solar makes daytime power cheaper than overnight in summer (Electric
//   Insights, 2025), so summer depth 0.3, winter 0.05; a night dip.
// - FR: nuclear and hydro, 30-70 g/kWh with a small evening peak (from
//   memory); mostly under the policy's 50 g/kWh floor.
// - PL: coal-heavy, but 21.6 GW of PV by early 2025 against a 15-20 GW load
//   (Forum Energii monthly, March 2025; Electricity Maps' Poland review 2025),
//   coal down to 44 % of generation in June 2025 (Slo-Tech, 2025-07-07) and
//   negative prices at noon in June and July: a sunny June midday is roughly
//   half the night's intensity (estimate, from those figures). Summer depth
//   0.4, winter 0.05; the old value (0.12, ~15 % range) matched Poland before
//   its PV build-out, not 2025.
// Traces start at 00:00 local time on the day passed in.
import { gaussian, rng } from '../retrieval/data.mjs';

// solar/solarWinter: depth of the midday dip on a clear-ish day (× clear(d));
// dayLength/dayLengthWinter: hours of daylight at the solstices (latitude).
export const TRACE_REGIONS = {
  GB: { base: 190, solar: 0.3, solarWinter: 0.05, dayLength: 16.5, dayLengthWinter: 7.8, evening: 0.22, morning: 0.08, night: 0.15, windVar: 0.35 },
  DE: { base: 380, solar: 0.5, solarWinter: 0.08, dayLength: 16.2, dayLengthWinter: 8.1, evening: 0.15, morning: 0.08, night: 0.02, windVar: 0.22 },
  'US-CAL': { base: 230, solar: 0.62, solarWinter: 0.35, dayLength: 14.5, dayLengthWinter: 9.8, evening: 0.25, morning: 0.05, night: 0, windVar: 0.08 },
  FR: { base: 55, solar: 0.15, solarWinter: 0.04, dayLength: 15.8, dayLengthWinter: 8.5, evening: 0.15, morning: 0.05, night: 0.1, windVar: 0.15 },
  PL: { base: 650, solar: 0.4, solarWinter: 0.05, dayLength: 16.6, dayLengthWinter: 7.8, evening: 0.06, morning: 0.03, night: 0.03, windVar: 0.1 },
};

const bump = (h, centre, width) => {
  const d = Math.min(Math.abs(h - centre), 24 - Math.abs(h - centre));
  return Math.exp(-(d * d) / (2 * width * width));
};

/** 1 at the June solstice, 0 at the December one (day of the year, 0-based). */
export const summerness = (dayOfYear) => 0.5 + 0.5 * Math.cos((2 * Math.PI * (dayOfYear - 172)) / 365);

/**
 * @param {string} region a key of TRACE_REGIONS
 * @param {number} days
 * @param {number} seed
 * @param {number} [firstDayOfYear] day of the year (0 = 1 January) of the first day; 152 = 2 June
 * @returns {number[]} hourly intensities, days × 24 values
 */
export function carbonTrace(region, days, seed, firstDayOfYear = 152) {
  const p = TRACE_REGIONS[region];
  if (!p) throw new Error(`unknown trace region ${region}`);
  const random = rng(seed);
  const normal = gaussian(random);
  const out = [];
  const rho = 0.97;
  let w = normal();
  for (let d = 0; d < days; d++) {
    const s = summerness((firstDayOfYear + d) % 365);
    const solar = p.solarWinter + (p.solar - p.solarWinter) * s;
    const daylight = p.dayLengthWinter + (p.dayLength - p.dayLengthWinter) * s;
    const noon = 12.25 + s; // clock time: daylight saving in summer
    const clear = 0.3 + 0.9 * random();
    const sunrise = noon - daylight / 2 + 0.5 * (random() - 0.5);
    const sunset = noon + daylight / 2 + 0.5 * (random() - 0.5);
    const eveningAt = 17.5 + 2 * s + 1.5 * (random() - 0.5);
    const windVar = p.windVar * (1 + 0.4 * (1 - s));
    const weekend = d % 7 >= 5;
    for (let h = 0; h < 24; h++) {
      w = rho * w + Math.sqrt(1 - rho * rho) * normal();
      const hour = h + 0.5;
      const sun = hour > sunrise && hour < sunset ? Math.sin((Math.PI * (hour - sunrise)) / (sunset - sunrise)) : 0;
      const shape = 1 - solar * sun * clear + p.evening * bump(hour, eveningAt, 2) + p.morning * bump(hour, 8, 1.5) - p.night * bump(hour, 3.5, 2.5);
      const value = p.base * (weekend ? 0.92 : 1) * Math.exp(-windVar * w) * Math.max(0.15, shape) * (1 + 0.04 * normal());
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
