/**
 * Randomised response on the shared embedding's sign bits: the flip rate is
 * p = 1 / (1 + e^ε), ε = ∞ or no LDP flips nothing, the randomness is the
 * caller's, and what ε the person chose is reported back (per bit and for the
 * whole 384-bit code).
 */
import { describe, expect, it } from 'vitest';
import { compressedEmbeddingSchema, type CompressedEmbedding } from '../../src/lib/artifacts/schema';
import { compressEmbedding, embeddingFromJson, embeddingHamming, embeddingScale } from '../../src/lib/artifacts/embedding-codec';
import { LDP_PUBLIC_SCALE, flipProbabilityFor, projectForSharing, randomisedResponse, type ProjectionContext } from '../../src/lib/learning/privacy-projection';
import { seededRandom } from '../../src/lib/random/seeded';

const BITS = 384;
const NOW = Date.UTC(2025, 5, 1, 12);
const TEXT = 'When a question mixes units, convert everything to SI before computing.';

const rng = seededRandom;

function gaussianEmbedding(seed: number): CompressedEmbedding {
  const random = rng(seed);
  return compressEmbedding(Array.from({ length: BITS }, () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
}

const context = (random: () => number, epsilon?: number): ProjectionContext => ({
  privateVocabulary: [],
  now: NOW,
  random,
  ...(epsilon === undefined ? {} : { ldp: { epsilon } }),
});

function bitsOf(embedding: CompressedEmbedding): Uint8Array {
  return embeddingFromJson(embedding).subarray(0, BITS / 8);
}

const noRandom = () => {
  throw new Error('random() must not be called');
};

describe('flip probability', () => {
  it('is 1 / (1 + e^ε)', () => {
    expect(flipProbabilityFor(0)).toBe(0.5);
    expect(flipProbabilityFor(Math.log(3))).toBeCloseTo(0.25, 12);
    expect(flipProbabilityFor(1)).toBeCloseTo(0.2689414213699951, 12);
    expect(flipProbabilityFor(Infinity)).toBe(0);
    expect(() => flipProbabilityFor(-0.1)).toThrow(RangeError);
  });
});

describe('randomised response', () => {
  const original = gaussianEmbedding(1);

  it.each([0, 0.5, 1, 2, 4])('flips each bit at rate p for ε = %s (seeded, 400 x 384 bits)', (epsilon) => {
    const random = rng(1000 + epsilon * 10);
    const runs = 400;
    const p = flipProbabilityFor(epsilon);
    let flips = 0;
    const perBit = new Uint32Array(BITS);
    const originalBits = bitsOf(original);
    for (let r = 0; r < runs; r++) {
      const result = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(random, epsilon));
      if (!result.ok || !result.projected.embedding) throw new Error('expected a shared embedding');
      const bits = bitsOf(result.projected.embedding);
      for (let i = 0; i < BITS; i++) {
        if (((bits[i >>> 3]! ^ originalBits[i >>> 3]!) >>> (i & 7)) & 1) {
          flips++;
          perBit[i]!++;
        }
      }
    }
    const n = runs * BITS;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    // Within 5 standard errors overall (about 0.004 at p = 0.27).
    expect(Math.abs(flips / n - p)).toBeLessThan(5 * sigma);
    // Every position is randomised, not just some: per-bit rates within 6 standard errors of p.
    const sigmaBit = Math.sqrt((p * (1 - p)) / runs);
    for (let i = 0; i < BITS; i++) expect(Math.abs(perBit[i]! / runs - p)).toBeLessThan(6 * sigmaBit + 1e-12);
  });

  it('draws exactly one random number per bit', () => {
    let draws = 0;
    const random = rng(7);
    randomisedResponse(original, 0.3, () => {
      draws++;
      return random();
    });
    expect(draws).toBe(BITS);
  });

  it('is reproducible with the same seed and differs with another', () => {
    const a = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(rng(42), 1));
    const b = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(rng(42), 1));
    const c = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(rng(43), 1));
    expect(a).toEqual(b);
    expect(a.ok && c.ok && a.projected.embedding?.bits !== c.projected.embedding?.bits).toBe(true);
  });

  it('reports ε per bit and for the whole code, and shares a public scale', () => {
    const result = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(rng(3), 2));
    expect(result).toMatchObject({ ok: true, epsilonSpent: 2 * BITS, ldp: { epsilonPerBit: 2, flipProbability: flipProbabilityFor(2), bits: BITS } });
    if (!result.ok || !result.projected.embedding) throw new Error('expected a shared embedding');
    expect(compressedEmbeddingSchema.safeParse(result.projected.embedding).success).toBe(true);
    expect(result.projected.embedding.scale).toBe(LDP_PUBLIC_SCALE);
    expect(embeddingScale(embeddingFromJson(result.projected.embedding))).toBe(LDP_PUBLIC_SCALE);
  });

  it('flips nothing at ε = ∞ (and draws nothing)', () => {
    const result = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(noRandom, Infinity));
    expect(result.ok && result.projected.embedding?.bits).toBe(original.bits);
    expect(result.ok && result.epsilonSpent).toBe(Infinity);
  });

  it('shares the embedding as it is without LDP (and draws nothing)', () => {
    const result = projectForSharing({ text: TEXT, createdAt: NOW, embedding: original }, context(noRandom));
    expect(result).toMatchObject({ ok: true, projected: { embedding: original }, epsilonSpent: Infinity });
    expect(result.ok && result.ldp).toBeUndefined();
  });

  it('spends nothing when there is no embedding', () => {
    const result = projectForSharing({ text: TEXT, createdAt: NOW }, context(noRandom, 1));
    expect(result).toMatchObject({ ok: true, epsilonSpent: 0 });
    expect(result.ok && result.projected.embedding).toBeUndefined();
  });

  it('refuses a random source outside [0, 1)', () => {
    expect(() => randomisedResponse(original, 0.2, () => 1)).toThrow(RangeError);
    expect(() => randomisedResponse(original, 0.2, () => Number.NaN)).toThrow(RangeError);
  });

  it('keeps the code useful at moderate ε: expected Hamming distance is 384 p', () => {
    const random = rng(11);
    const p = flipProbabilityFor(3);
    let total = 0;
    for (let r = 0; r < 200; r++) {
      const noisy = randomisedResponse(original, p, random);
      total += embeddingHamming(embeddingFromJson(original), embeddingFromJson(noisy));
    }
    expect(total / 200).toBeGreaterThan(BITS * p - 3);
    expect(total / 200).toBeLessThan(BITS * p + 3);
  });

  it('why a candidate must be projected once: a majority over many fresh releases recovers the bits', () => {
    const random = rng(5);
    const p = flipProbabilityFor(1);
    const releases = 61;
    const ones = new Uint32Array(BITS);
    for (let r = 0; r < releases; r++) {
      const bits = bitsOf(randomisedResponse(original, p, random));
      for (let i = 0; i < BITS; i++) ones[i]! += (bits[i >>> 3]! >>> (i & 7)) & 1;
    }
    const originalBits = bitsOf(original);
    let recovered = 0;
    for (let i = 0; i < BITS; i++) if ((ones[i]! > releases / 2 ? 1 : 0) === ((originalBits[i >>> 3]! >>> (i & 7)) & 1)) recovered++;
    expect(recovered / BITS).toBeGreaterThan(0.99);
  });
});
