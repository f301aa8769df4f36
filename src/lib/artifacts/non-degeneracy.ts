/**
 * The non-degeneracy spread (postulate ND, DESIGN.md 2.4): how different a
 * set of artifacts is from itself, as the mean pairwise distance of their
 * embeddings. A round, node or network whose artifacts all say the same thing
 * (collapse: one strategy paraphrased, a peer flooding near-copies) shows a
 * spread near 0 and is flagged.
 *
 * Distance: normalised Hamming distance between the sign codes, d / 384, in
 * 0..1 (0 identical, ~0.5 unrelated random directions, 1 opposite). Why not
 * 1 - cosine of the float vectors: artifacts travel with the sign code only
 * (embedding-codec.ts), so the codes are what every receiver has; and on the
 * decoded vectors (±scale per component) cosine = 1 - 2d/384 whatever the
 * scales, so 1 - cosine there is exactly twice this number: nothing is lost by
 * staying in bits, and bits are exact integers, cheap and reproducible across
 * implementations. Real sentence embeddings are not centred, so unrelated
 * texts sit below 0.5 (their codes share the common direction's signs):
 * calibrate the collapse threshold on real data, not on 0.5.
 *
 * Codes are only comparable within one embedder: callers group artifacts by
 * embedderId (and skip those without an embedding) before measuring.
 *
 * Exact spread in O(n * bits), not O(n²): a bit where c of n codes are 1
 * contributes c * (n - c) differing pairs, so the mean over the n(n-1)/2 pairs
 * is sum_b c_b (n - c_b) / (bits * n(n-1)/2). `sampledNdSpread` estimates the
 * same mean from random pairs (seeded generator passed in) for callers that
 * only want a bounded cost per call, e.g. a running check over a stream.
 */
import { EMBEDDING_DIMENSION } from '../memory/types';
import { hammingWords, wordsForDimension } from '../retrieval/sign-bits';
import { embeddingSignCode } from './embedding-codec';

/** A generator of uniform numbers in [0, 1), e.g. a seeded mulberry32; never Math.random inside the domain. */
export type RandomSource = () => number;

/** Sign codes (Uint32Array, as sign-bits.ts packs them) of encoded embeddings (embedding-codec.ts). */
export function signCodesOf(encoded: readonly Uint8Array[]): Uint32Array[] {
  return encoded.map(embeddingSignCode);
}

/**
 * Exact mean pairwise normalised Hamming distance of `codes` (all of one
 * dimension, default 384). null for fewer than two codes: a spread of one
 * thing is undefined, not 0.
 */
export function ndSpread(codes: readonly Uint32Array[], dimension = EMBEDDING_DIMENSION): number | null {
  const words = wordsForDimension(dimension);
  const n = codes.length;
  for (const [i, code] of codes.entries()) {
    if (code.length !== words) throw new RangeError(`ndSpread: code ${i} has ${code.length} words, expected ${words}`);
  }
  if (n < 2) return null;
  const ones = new Uint32Array(dimension);
  for (const code of codes) {
    for (let w = 0; w < words; w++) {
      let word = code[w] as number;
      // Visit set bits only.
      while (word !== 0) {
        const low = word & -word;
        ones[w * 32 + 31 - Math.clz32(low)]!++;
        word = (word ^ low) >>> 0;
      }
    }
  }
  let differing = 0;
  for (let b = 0; b < dimension; b++) {
    const c = ones[b] as number;
    differing += c * (n - c);
  }
  return differing / (dimension * ((n * (n - 1)) / 2));
}

export interface SampledNdSpread {
  /** Mean normalised Hamming distance over the sampled pairs (an unbiased estimate of `ndSpread`). */
  spread: number;
  /** Standard error of that mean (sample standard deviation / sqrt(pairs)). */
  standardError: number;
  pairs: number;
}

/**
 * Estimates `ndSpread` from `pairs` pairs of distinct codes drawn uniformly with
 * replacement using `random`. Cost O(pairs * words), whatever n. null for
 * fewer than two codes.
 */
export function sampledNdSpread(
  codes: readonly Uint32Array[],
  pairs: number,
  random: RandomSource,
  dimension = EMBEDDING_DIMENSION,
): SampledNdSpread | null {
  if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`sampledNdSpread: pairs must be a positive integer, got ${pairs}`);
  const words = wordsForDimension(dimension);
  const n = codes.length;
  if (n < 2) return null;
  let sum = 0;
  let sumSquares = 0;
  for (let s = 0; s < pairs; s++) {
    const i = pick(random, n);
    let j = pick(random, n - 1);
    if (j >= i) j++; // uniform over j != i
    const a = codes[i] as Uint32Array;
    const b = codes[j] as Uint32Array;
    if (a.length !== words || b.length !== words) throw new RangeError(`sampledNdSpread: codes must have ${words} words`);
    const x = hammingWords(a, 0, b, 0, words) / dimension;
    sum += x;
    sumSquares += x * x;
  }
  const mean = sum / pairs;
  const variance = pairs > 1 ? Math.max(0, (sumSquares - pairs * mean * mean) / (pairs - 1)) : 0;
  return { spread: mean, standardError: Math.sqrt(variance / pairs), pairs };
}

/**
 * Whether a spread says the set has collapsed: below `threshold` (0..1). A
 * null spread (fewer than two artifacts) is not a collapse: there is nothing
 * to compare.
 */
export function collapsed(spread: number | null, threshold: number): boolean {
  if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`collapsed: threshold must be in 0..1, got ${threshold}`);
  if (spread === null) return false;
  if (!(spread >= 0 && spread <= 1)) throw new RangeError(`collapsed: spread must be in 0..1, got ${spread}`);
  return spread < threshold;
}

function pick(random: RandomSource, n: number): number {
  const r = random();
  if (!(r >= 0 && r < 1)) throw new RangeError(`random source returned ${r}, expected a number in [0, 1)`);
  return Math.floor(r * n);
}
