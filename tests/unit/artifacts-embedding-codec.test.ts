import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ENCODED_EMBEDDING_BYTES,
  EmbeddingCodecError,
  compressEmbedding,
  decodeEmbedding,
  embeddingFromJson,
  embeddingHamming,
  embeddingScale,
  embeddingSignCode,
  embeddingToJson,
  encodeEmbedding,
} from '../../src/lib/artifacts/embedding-codec';
import { compressedEmbeddingSchema } from '../../src/lib/artifacts/schema';
import { EMBEDDING_DIMENSION } from '../../src/lib/memory/types';
import { packSigns } from '../../src/lib/retrieval/sign-bits';
import { seededRandom } from '../../src/lib/random/seeded';

const DIM = EMBEDDING_DIMENSION;

const rng = seededRandom;

function gaussianVector(random: () => number, dim = DIM): Float64Array {
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    let u = 0;
    while (u === 0) u = random();
    v[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return v;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}

function normalise(v: Float64Array): Float64Array {
  const n = Math.sqrt(dot(v, v));
  return v.map((x) => x / n);
}

/** A unit vector at angle theta from unit `x`, in a random direction. */
function atAngle(x: Float64Array, theta: number, random: () => number): Float64Array {
  const z = gaussianVector(random, x.length);
  const along = dot(z, x);
  for (let i = 0; i < z.length; i++) z[i] = (z[i] as number) - along * (x[i] as number);
  const zn = normalise(z);
  return x.map((xi, i) => Math.cos(theta) * xi + Math.sin(theta) * (zn[i] as number));
}

/** Ranks from 1, ties given their average rank. */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (ra.length + 1) / 2;
  const ca = ra.map((r) => r - mean);
  const cb = rb.map((r) => r - mean);
  return dot(ca, cb) / Math.sqrt(dot(ca, ca) * dot(cb, cb));
}

const vectorArb = fc
  .array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: DIM, maxLength: DIM })
  .filter((v) => v.some((x) => Math.abs(x) > 1e-30));

describe('encodeEmbedding / decodeEmbedding', () => {
  it('is 52 bytes: 48 bytes of sign bits in the retrieval layout, then the float32 mean |v|', () => {
    const v = gaussianVector(rng(1));
    const encoded = encodeEmbedding(v);
    expect(encoded).toBeInstanceOf(Uint8Array);
    expect(encoded.length).toBe(52);
    expect(ENCODED_EMBEDDING_BYTES).toBe(52);
    expect(embeddingSignCode(encoded)).toEqual(packSigns(v));
    const meanAbs = v.reduce((s, x) => s + Math.abs(x), 0) / DIM;
    expect(embeddingScale(encoded)).toBe(Math.fround(meanAbs));
    expect(new DataView(encoded.buffer).getFloat32(48, true)).toBe(Math.fround(meanAbs));
  });

  it('round-trips the signs exactly and the scale as a float32 (property)', () => {
    fc.assert(
      fc.property(vectorArb, (v) => {
        const encoded = encodeEmbedding(v);
        const decoded = decodeEmbedding(encoded);
        const scale = embeddingScale(encoded);
        expect(decoded.length).toBe(DIM);
        for (let i = 0; i < DIM; i++) {
          // Tie rule of sign-bits.ts: only > 0 is positive.
          expect(decoded[i]).toBe((v[i] as number) > 0 ? scale : -scale);
        }
        // Decoding then encoding again gives the same bytes.
        expect(encodeEmbedding(decoded)).toEqual(encoded);
        // The binary and JSON forms carry the same thing.
        const json = embeddingToJson(encoded);
        expect(compressedEmbeddingSchema.safeParse(json).success).toBe(true);
        expect(embeddingFromJson(json)).toEqual(encoded);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps the direction: cosine to the original never below 1/sqrt(384) and ~sqrt(2/pi) for typical vectors', () => {
    fc.assert(
      fc.property(vectorArb, (v) => {
        expect(cosine(decodeEmbedding(encodeEmbedding(v)), v)).toBeGreaterThanOrEqual(1 / Math.sqrt(DIM) - 1e-9);
      }),
      { numRuns: 100 },
    );
    const random = rng(7);
    const cosines: number[] = [];
    for (let k = 0; k < 200; k++) {
      // Gaussian directions, and embedding-like ones (a shared mean direction plus noise, unit length).
      const g = gaussianVector(random);
      cosines.push(cosine(decodeEmbedding(encodeEmbedding(g)), g));
      const mean = gaussianVector(rng(99));
      const e = normalise(g.map((x, i) => 0.3 * (mean[i] as number) + x));
      cosines.push(cosine(decodeEmbedding(encodeEmbedding(e)), e));
    }
    for (const c of cosines) {
      expect(c).toBeGreaterThan(0.75);
      expect(c).toBeLessThan(0.85);
    }
    const average = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    expect(average).toBeCloseTo(Math.sqrt(2 / Math.PI), 1);
  });

  it('refuses wrong lengths, NaN, infinities and zero vectors with clear errors', () => {
    expect(() => encodeEmbedding(new Float32Array(383))).toThrow(/383 components, expected 384/);
    expect(() => encodeEmbedding([])).toThrow(EmbeddingCodecError);
    const nan = new Float32Array(DIM).fill(0.1);
    nan[5] = Number.NaN;
    expect(() => encodeEmbedding(nan)).toThrow(/component 5 is NaN/);
    const inf = new Float64Array(DIM).fill(0.1);
    inf[9] = -Infinity;
    expect(() => encodeEmbedding(inf)).toThrow(/component 9 is -Infinity/);
    expect(() => encodeEmbedding(new Float32Array(DIM))).toThrow(/zero vector/);
    expect(() => encodeEmbedding(new Float64Array(DIM).fill(1e-300))).toThrow(/zero vector/);
    expect(() => encodeEmbedding(new Float64Array(DIM).fill(1e300))).toThrow(/too large/);

    expect(() => decodeEmbedding(new Uint8Array(51))).toThrow(/51 bytes, expected 52/);
    expect(() => decodeEmbedding(new Uint8Array(1536))).toThrow(EmbeddingCodecError);
    // Zero, negative and NaN scales are not embeddings.
    const bad = encodeEmbedding(gaussianVector(rng(2)));
    new DataView(bad.buffer).setFloat32(48, 0, true);
    expect(() => decodeEmbedding(bad)).toThrow(/scale is 0/);
    new DataView(bad.buffer).setFloat32(48, -1, true);
    expect(() => decodeEmbedding(bad)).toThrow(/scale is -1/);
    new DataView(bad.buffer).setFloat32(48, Number.NaN, true);
    expect(() => embeddingToJson(bad)).toThrow(/scale is NaN/);
    expect(() => embeddingHamming(bad, new Uint8Array(48))).toThrow(/48 bytes, expected 52/);
  });

  it('reads the JSON form strictly', () => {
    const json = compressEmbedding(gaussianVector(rng(3)));
    expect(json.bits).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(() => embeddingFromJson({ ...json, bits: json.bits.slice(1) })).toThrow(/63 base64url characters, expected 64/);
    expect(() => embeddingFromJson({ ...json, bits: `${json.bits.slice(0, 63)}+` })).toThrow(/not a base64url character/);
    expect(() => embeddingFromJson({ ...json, bits: `${json.bits.slice(0, 62)}==` })).toThrow(/not a base64url character/);
    expect(() => embeddingFromJson({ ...json, scale: 0.1 })).toThrow(/not a finite float32/);
    expect(() => embeddingFromJson({ ...json, scale: 0 })).toThrow(/not a finite float32/);
  });

  it('a code decoded from JSON is the same 52 bytes, bit for bit (known vector)', () => {
    const v = new Float32Array(DIM).map((_, i) => (i % 3 === 0 ? 0.5 : -0.25));
    const json = compressEmbedding(v);
    // Components 0, 3, 6, … positive: bytes 0b01001001, 0b10010010, 0b00100100 repeating.
    expect(json.bits.slice(0, 4)).toBe('SZIk');
    expect(json.scale).toBe(Math.fround((128 * 0.5 + 256 * 0.25) / DIM));
  });
});

describe('Hamming distance between codes tracks cosine', () => {
  it('is 0 for a vector and its positive multiples, 384 for its negation', () => {
    const v = gaussianVector(rng(4));
    const a = encodeEmbedding(v);
    expect(embeddingHamming(a, encodeEmbedding(v.map((x) => 3 * x)))).toBe(0);
    expect(embeddingHamming(a, encodeEmbedding(v.map((x) => -x)))).toBe(DIM);
  });

  it('decoded cosine is exactly 1 - 2 * hamming / 384, whatever the scales', () => {
    const random = rng(5);
    for (let k = 0; k < 50; k++) {
      const a = encodeEmbedding(gaussianVector(random).map((x) => x * 3));
      const b = encodeEmbedding(gaussianVector(random));
      expect(cosine(decodeEmbedding(a), decodeEmbedding(b))).toBeCloseTo(1 - (2 * embeddingHamming(a, b)) / DIM, 6);
    }
  });

  it('Spearman correlation of Hamming and cosine distance above 0.95 over random pairs (property over seeds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const random = rng(seed);
        const hammings: number[] = [];
        const cosineDistances: number[] = [];
        for (let k = 0; k < 300; k++) {
          const x = normalise(gaussianVector(random));
          const y = atAngle(x, Math.PI * random(), random);
          hammings.push(embeddingHamming(encodeEmbedding(x), encodeEmbedding(y)));
          cosineDistances.push(1 - cosine(x, y));
        }
        expect(spearman(hammings, cosineDistances)).toBeGreaterThan(0.95);
      }),
      { numRuns: 10 },
    );
  });

  it('is monotone on average: mean Hamming distance rises with the angle, close to 384 * angle / pi', () => {
    const random = rng(6);
    const bins = 12;
    const sums = new Array<number>(bins).fill(0);
    const counts = new Array<number>(bins).fill(0);
    for (let k = 0; k < 2400; k++) {
      const bin = k % bins;
      const theta = (Math.PI * (bin + random())) / bins;
      const x = normalise(gaussianVector(random));
      const y = atAngle(x, theta, random);
      sums[bin]! += embeddingHamming(encodeEmbedding(x), encodeEmbedding(y));
      counts[bin]!++;
    }
    const means = sums.map((s, i) => s / counts[i]!);
    for (let i = 1; i < bins; i++) expect(means[i]!).toBeGreaterThan(means[i - 1]!);
    // For directions spread uniformly, P(sign differs) = angle / pi (random hyperplane argument).
    means.forEach((m, i) => expect(Math.abs(m - (DIM * (i + 0.5)) / bins)).toBeLessThan(10));
  });
});
