import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  anchoredForecast,
  CARBON_REGIONS,
  heuristicForecast,
  heuristicIntensity,
  heuristicSignal,
  localHourOf,
  REGION_PROFILES,
  regionProfile,
} from '../../src/lib/energy/carbon-heuristic';

const HOUR = 3_600_000;
const day = (region: string) => Array.from({ length: 24 }, (_, h) => heuristicIntensity(region, h + 0.5));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const argmin = (xs: number[]) => xs.indexOf(Math.min(...xs));
const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));

describe('offline carbon heuristic', () => {
  it('averages to each region base level over the day', () => {
    for (const region of CARBON_REGIONS) {
      expect(mean(day(region)) / REGION_PROFILES[region].base).toBeCloseTo(1, 2);
    }
  });

  it('has the solar dip at midday and the peak in the evening in solar-heavy grids', () => {
    for (const region of ['DE', 'US-CAL', 'AU-NSW']) {
      const d = day(region);
      expect(argmin(d)).toBeGreaterThanOrEqual(11);
      expect(argmin(d)).toBeLessThanOrEqual(14);
      expect(argmax(d)).toBeGreaterThanOrEqual(18);
      expect(argmax(d)).toBeLessThanOrEqual(20);
    }
    const cal = day('US-CAL');
    // The duck curve: the trough is roughly half of the evening peak.
    expect(Math.min(...cal) / Math.max(...cal)).toBeLessThan(0.55);
  });

  it('is nearly flat in coal grids and lower at night than in the evening in Britain', () => {
    const pl = day('PL');
    expect(Math.min(...pl) / Math.max(...pl)).toBeGreaterThan(0.8);
    const gb = day('GB');
    expect(gb[3]!).toBeLessThan(gb[19]! * 0.8);
  });

  it('uses the world-average profile for unknown regions', () => {
    expect(regionProfile('XX')).toBe(REGION_PROFILES.default);
    expect(heuristicIntensity('XX', 12)).toBe(heuristicIntensity('default', 12));
  });

  it('is positive and finite at every hour, wrapping around midnight', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CARBON_REGIONS), fc.double({ min: -1000, max: 1000, noNaN: true }), (region, hour) => {
        const g = heuristicIntensity(region, hour);
        expect(g).toBeGreaterThan(0);
        expect(Number.isFinite(g)).toBe(true);
        expect(g).toBeCloseTo(heuristicIntensity(region, hour + 24), 9);
      }),
    );
  });

  it('computes local hours from an east-positive offset', () => {
    const t = Date.UTC(2025, 5, 2, 23, 30);
    expect(localHourOf(t, 0)).toBeCloseTo(23.5, 9);
    expect(localHourOf(t, 120)).toBeCloseTo(1.5, 9);
    expect(localHourOf(t, -480)).toBeCloseTo(15.5, 9);
  });

  it('forecasts hourly from the start of the current hour in local time', () => {
    const now = Date.UTC(2025, 5, 2, 10, 20);
    const f = heuristicForecast({ region: 'DE', now, utcOffsetMinutes: 120, hours: 30 });
    expect(f).toHaveLength(30);
    expect(f[0]!.at).toBe(Date.UTC(2025, 5, 2, 10));
    for (let i = 1; i < f.length; i++) expect(f[i]!.at - f[i - 1]!.at).toBe(HOUR);
    // 10:00 UTC is 12:00 local: the value of the local hour's middle.
    expect(f[0]!.gPerKWh).toBeCloseTo(heuristicIntensity('DE', 12.5), 9);
    const signal = heuristicSignal({ region: 'DE', now, utcOffsetMinutes: 120 });
    expect(signal).toMatchObject({ providerId: 'heuristic', at: now });
    expect(signal.forecast).toHaveLength(48);
  });

  it('anchors the daily shape to a measured value, fading back to the typical day', () => {
    const now = Date.UTC(2025, 5, 2, 12);
    const typical = heuristicForecast({ region: 'GB', now, utcOffsetMinutes: 0 });
    const anchored = anchoredForecast({ region: 'GB', now, utcOffsetMinutes: 0, measured: heuristicIntensity('GB', 12) * 0.5 });
    // Half the typical value now, close to half in the first hour, back to ~typical two days later.
    expect(anchored[0]!.gPerKWh / typical[0]!.gPerKWh).toBeCloseTo(0.5, 1);
    expect(anchored[47]!.gPerKWh / typical[47]!.gPerKWh).toBeGreaterThan(0.97);
    for (let i = 1; i < anchored.length; i++) {
      expect(anchored[i]!.gPerKWh / typical[i]!.gPerKWh).toBeGreaterThanOrEqual(anchored[i - 1]!.gPerKWh / typical[i - 1]!.gPerKWh - 1e-12);
    }
  });
});
