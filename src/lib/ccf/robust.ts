/**
 * Robust statistics for values a peer controls (confidences, rates, counts,
 * distances). A plain mean moves without bound when one peer reports an
 * extreme value; a median or a trimmed mean moves by at most one rank per
 * lying peer. DESIGN.md 2.6: "medians and trimmed means, never plain means,
 * over anything a peer controls".
 *
 * Pure: numbers only.
 */

/** Median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Weighted lower median: the smallest value v such that the weight of values
 * <= v is at least half the total. A lower median (not an interpolation) so
 * the result is always a value someone actually reported, and so adding
 * weight above a threshold can never pull the median below it (aggregation's
 * monotonicity rests on this). NaN when the total weight is 0.
 */
export function weightedMedian(values: readonly number[], weights: readonly number[]): number {
  if (values.length !== weights.length) throw new RangeError('weightedMedian: values and weights differ in length');
  const order = values.map((_, i) => i).filter((i) => (weights[i] as number) > 0);
  let total = 0;
  for (const i of order) total += weights[i] as number;
  if (!(total > 0)) return Number.NaN;
  order.sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  let cumulative = 0;
  for (const i of order) {
    cumulative += weights[i] as number;
    if (cumulative >= total / 2) return values[i] as number;
  }
  return values[order[order.length - 1] as number] as number;
}

/** Median absolute deviation from the median (unscaled); NaN for none. */
export function medianAbsoluteDeviation(values: readonly number[]): number {
  const m = median(values);
  return median(values.map((v) => Math.abs(v - m)));
}

/**
 * Consistency constant: 1.4826 * MAD estimates the standard deviation of
 * normally distributed data, so a robust z-score reads like an ordinary one.
 */
export const MAD_TO_SIGMA = 1.4826;

/**
 * Mean after dropping the `trim` fraction (0..0.5) of values at each end.
 * With trim = 0.25 this is the interquartile mean: a quarter of the values
 * can be arbitrarily wrong without moving it past the honest range.
 */
export function trimmedMean(values: readonly number[], trim: number): number {
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`trimmedMean: trim must be in [0, 0.5), got ${trim}`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length * trim);
  const kept = sorted.slice(cut, sorted.length - cut);
  let sum = 0;
  for (const v of kept) sum += v;
  return sum / kept.length;
}

/**
 * Upper robust bound: median + k * (scaled MAD), never below `floor`. Used by
 * the detectors to say "far above what peers usually do" without letting the
 * peers being measured set the bar.
 */
export function robustUpperBound(values: readonly number[], k: number, floor: number): number {
  if (values.length === 0) return floor;
  const bound = median(values) + k * MAD_TO_SIGMA * medianAbsoluteDeviation(values);
  return Math.max(floor, bound);
}
