import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeEmbedding, embeddingHamming, encodeEmbedding } from '../../src/lib/artifacts/embedding-codec';
import { collapsed, ndSpread, sampledNdSpread, signCodesOf } from '../../src/lib/artifacts/non-degeneracy';
import { hamming } from '../../src/lib/retrieval/sign-bits';
import { seededRandom } from '../../src/lib/random/seeded';

const DIM = 384;

const rng = seededRandom;

function randomCode(random: () => number, words = 12): Uint32Array {
  return Uint32Array.from({ length: words }, () => Math.floor(random() * 2 ** 32));
}

function gaussianVector(random: () => number): Float64Array {
  const v = new Float64Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return v;
}

/** The O(n²) definition, as the oracle. */
function pairwiseSpread(codes: Uint32Array[], dimension = DIM): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < codes.length; i++) {
    for (let j = i + 1; j < codes.length; j++) {
      sum += hamming(codes[i]!, codes[j]!) / dimension;
      pairs++;
    }
  }
  return sum / pairs;
}

const codeArb = fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 12, maxLength: 12 }).map((w) => Uint32Array.from(w));

describe('ndSpread', () => {
  it('is 0 for identical artifacts and null for fewer than two', () => {
    const code = randomCode(rng(1));
    expect(ndSpread([code, code.slice(), code.slice(), code.slice()])).toBe(0);
    expect(ndSpread([code])).toBeNull();
    expect(ndSpread([])).toBeNull();
  });

  it('is 1 for a code and its complement, 0.5 for two codes that differ in half the bits', () => {
    const code = randomCode(rng(2));
    expect(ndSpread([code, code.map((w) => ~w >>> 0)])).toBe(1);
    const half = code.map((w, i) => (i < 6 ? ~w >>> 0 : w));
    expect(ndSpread([code, half])).toBe(0.5);
  });

  it('is about 0.5 for random codes and for the codes of random Gaussian vectors', () => {
    const random = rng(3);
    const codes = Array.from({ length: 200 }, () => randomCode(random));
    expect(Math.abs(ndSpread(codes)! - 0.5)).toBeLessThan(0.01);
    const fromVectors = signCodesOf(Array.from({ length: 100 }, () => encodeEmbedding(gaussianVector(random))));
    expect(Math.abs(ndSpread(fromVectors)! - 0.5)).toBeLessThan(0.01);
  });

  it('equals the O(n²) mean pairwise normalised Hamming distance exactly (property)', () => {
    fc.assert(
      fc.property(fc.array(codeArb, { minLength: 2, maxLength: 30 }), (codes) => {
        expect(ndSpread(codes)).toBeCloseTo(pairwiseSpread(codes), 12);
      }),
    );
    // Other dimensions too.
    const random = rng(4);
    const small = Array.from({ length: 9 }, () => randomCode(random, 2));
    expect(ndSpread(small, 64)).toBeCloseTo(pairwiseSpread(small, 64), 12);
  });

  it('falls as a set collapses onto one artifact', () => {
    const random = rng(5);
    const centre = gaussianVector(random);
    const spreads = [0, 0.3, 1, 3].map((noise) => {
      const encoded = Array.from({ length: 40 }, () => {
        const jitter = gaussianVector(random);
        return encodeEmbedding(centre.map((x, i) => x + noise * jitter[i]!));
      });
      return ndSpread(signCodesOf(encoded))!;
    });
    expect(spreads[0]).toBe(0);
    for (let i = 1; i < spreads.length; i++) expect(spreads[i]!).toBeGreaterThan(spreads[i - 1]!);
  });

  it('is half of 1 - cosine between the decoded vectors', () => {
    const random = rng(6);
    const a = encodeEmbedding(gaussianVector(random));
    const b = encodeEmbedding(gaussianVector(random));
    const da = decodeEmbedding(a);
    const db = decodeEmbedding(b);
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < DIM; i++) {
      dot += da[i]! * db[i]!;
      na += da[i]! * da[i]!;
      nb += db[i]! * db[i]!;
    }
    const oneMinusCosine = 1 - dot / Math.sqrt(na * nb);
    expect(ndSpread(signCodesOf([a, b]))).toBeCloseTo(oneMinusCosine / 2, 6);
    expect(ndSpread(signCodesOf([a, b]))).toBe(embeddingHamming(a, b) / DIM);
  });

  it('refuses codes of the wrong size', () => {
    expect(() => ndSpread([new Uint32Array(12), new Uint32Array(11)])).toThrow(/code 1 has 11 words, expected 12/);
    expect(() => ndSpread([], 100)).toThrow(RangeError);
  });
});

describe('sampledNdSpread', () => {
  it('estimates the exact spread within a few standard errors, reproducibly for a seed', () => {
    const random = rng(7);
    // Two clusters, so pair distances vary and the estimate has something to estimate.
    const centres = [randomCode(random), randomCode(random)];
    const codes = Array.from({ length: 2000 }, (_, i) => {
      const code = centres[i % 2]!.slice();
      for (let flips = 0; flips < 40; flips++) {
        const bit = Math.floor(random() * DIM);
        code[bit >> 5] = (code[bit >> 5]! ^ (1 << (bit & 31))) >>> 0;
      }
      return code;
    });
    const exact = ndSpread(codes)!;
    const estimate = sampledNdSpread(codes, 4000, rng(42))!;
    expect(estimate.pairs).toBe(4000);
    expect(estimate.standardError).toBeGreaterThan(0);
    expect(estimate.standardError).toBeLessThan(0.01);
    expect(Math.abs(estimate.spread - exact)).toBeLessThan(4 * estimate.standardError);
    expect(sampledNdSpread(codes, 4000, rng(42))).toEqual(estimate);
  });

  it('never pairs a code with itself: identical sets give 0, two distinct codes give their distance', () => {
    const code = randomCode(rng(8));
    expect(sampledNdSpread([code, code, code], 100, rng(1))).toEqual({ spread: 0, standardError: 0, pairs: 100 });
    const other = code.map((w) => ~w >>> 0);
    expect(sampledNdSpread([code, other], 50, rng(1))!.spread).toBe(1);
    expect(sampledNdSpread([code], 10, rng(1))).toBeNull();
  });

  it('checks its arguments', () => {
    const codes = [randomCode(rng(9)), randomCode(rng(10))];
    expect(() => sampledNdSpread(codes, 0, rng(1))).toThrow(/positive integer/);
    expect(() => sampledNdSpread(codes, 10, () => 1)).toThrow(/expected a number in \[0, 1\)/);
  });
});

describe('collapsed', () => {
  it('flags spreads below the threshold, never an undefined spread', () => {
    expect(collapsed(0.05, 0.1)).toBe(true);
    expect(collapsed(0.1, 0.1)).toBe(false);
    expect(collapsed(0.4, 0.1)).toBe(false);
    expect(collapsed(null, 0.1)).toBe(false);
    expect(() => collapsed(0.2, 1.5)).toThrow(/threshold/);
    expect(() => collapsed(Number.NaN, 0.1)).toThrow(/spread/);
  });
});
