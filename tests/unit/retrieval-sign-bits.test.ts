/** 1-bit sign codes: layout, popcount, Hamming distance and the packed store. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PackedSignStore,
  codeFromBytes,
  codeToBytes,
  hamming,
  hammingWords,
  packSigns,
  popcount32,
  signScale,
  unpackSigns,
  wordsForDimension,
} from '../../src/lib/retrieval/sign-bits';

/** A dimension that is a multiple of 32: 32..512. */
const dimension = fc.integer({ min: 1, max: 16 }).map((w) => w * 32);
const vectorOf = (d: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: d, maxLength: d });
/** Two vectors of one random dimension. */
const vectorPair = dimension.chain((d) => fc.tuple(vectorOf(d), vectorOf(d)));

function naivePopcount(x: number): number {
  let n = 0;
  for (let b = 0; b < 32; b++) n += (x >>> b) & 1;
  return n;
}

function differingSigns(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if ((a[i]! > 0) !== (b[i]! > 0)) n++;
  return n;
}

/** Seeded normal draws so statistical tests are reproducible. */
function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function unit(v: number[]): number[] {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

describe('wordsForDimension', () => {
  it('needs a positive multiple of 32: 384 -> 12 words (48 bytes)', () => {
    expect(wordsForDimension(384)).toBe(12);
    expect(wordsForDimension(32)).toBe(1);
    for (const bad of [0, -32, 100, 33, 1.5, Number.NaN, Infinity]) {
      expect(() => wordsForDimension(bad)).toThrow(/positive multiple of 32/);
    }
  });
});

describe('packSigns / unpackSigns', () => {
  it('puts component i at bit i % 32 of word i / 32', () => {
    const v = new Array<number>(64).fill(-1);
    v[0] = 0.5;
    v[31] = 0.1;
    v[33] = 2;
    const code = packSigns(v);
    expect(Array.from(code)).toEqual([(1 | (1 << 31)) >>> 0, 2]);
  });

  it('tie rule: 0, -0 and NaN give a 0 bit (only > 0 is positive)', () => {
    const v = new Array<number>(32).fill(1);
    v[0] = 0;
    v[1] = -0;
    v[2] = Number.NaN;
    v[3] = Number.MIN_VALUE;
    expect(packSigns(v)[0]).toBe(0xfffffff8);
  });

  it('round trip: unpack(pack(v)) is the sign of v as ±1 (property)', () => {
    fc.assert(
      fc.property(dimension.chain(vectorOf), (v) => {
        const back = unpackSigns(packSigns(v), v.length);
        expect(Array.from(back)).toEqual(v.map((x) => (x > 0 ? 1 : -1)));
      }),
    );
  });

  it('round trip: pack(unpack(code)) is the code (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }).chain((w) => fc.array(fc.nat({ max: 0xffffffff }), { minLength: w, maxLength: w })), (words) => {
        const code = Uint32Array.from(words);
        expect(packSigns(unpackSigns(code, code.length * 32))).toEqual(code);
      }),
    );
  });

  it('writes at an offset into a shared array and checks the room', () => {
    const store = new Uint32Array(3);
    packSigns(new Array<number>(32).fill(1), store, 2);
    expect(Array.from(store)).toEqual([0, 0, 0xffffffff]);
    expect(() => packSigns(new Array<number>(64).fill(1), store, 2)).toThrow(/no room/);
    expect(() => packSigns([1, 2, 3])).toThrow(/multiple of 32/);
  });

  it('unpack validates the code length and the output size', () => {
    expect(() => unpackSigns(new Uint32Array(11), 384)).toThrow(/needs 12 words/);
    expect(() => unpackSigns(new Uint32Array(12), 384, new Float32Array(10))).toThrow(/expected 384/);
  });
});

describe('signScale', () => {
  it('is the mean absolute component, the L2-best scale for the ±1 vector', () => {
    expect(signScale([0.5, -0.25, 0, 0.25])).toBeCloseTo(0.25);
    expect(signScale([])).toBe(0);
    // A slightly larger or smaller scale approximates worse.
    const v = unit(Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) + 0.1));
    const signs = unpackSigns(packSigns(v), 64);
    const error = (s: number) => v.reduce((sum, x, i) => sum + (x - s * signs[i]!) ** 2, 0);
    const best = signScale(v);
    expect(error(best)).toBeLessThan(error(best * 1.05));
    expect(error(best)).toBeLessThan(error(best * 0.95));
  });
});

describe('codeToBytes / codeFromBytes', () => {
  it('is little-endian: vector bit i is bit i % 8 of byte i / 8', () => {
    const v = new Array<number>(64).fill(-1);
    v[0] = 1;
    v[9] = 1;
    v[63] = 1;
    const bytes = codeToBytes(packSigns(v));
    expect(bytes).toHaveLength(8);
    expect(Array.from(bytes)).toEqual([1, 2, 0, 0, 0, 0, 0, 0x80]);
  });

  it('round trips, 48 bytes for 384 dims, and checks the length (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 12, maxLength: 12 }), (words) => {
        const code = Uint32Array.from(words);
        const bytes = codeToBytes(code);
        expect(bytes).toHaveLength(48);
        expect(codeFromBytes(bytes, 384)).toEqual(code);
      }),
    );
    expect(() => codeFromBytes(new Uint8Array(47), 384)).toThrow(/48 bytes, got 47/);
  });
});

describe('popcount32', () => {
  it('counts set bits of any 32-bit pattern, signed or unsigned (property)', () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(-1)).toBe(32);
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (x) => {
        expect(popcount32(x)).toBe(naivePopcount(x));
        expect(popcount32(x | 0)).toBe(naivePopcount(x));
      }),
    );
  });
});

describe('hamming', () => {
  it('equals the number of differing signs (property)', () => {
    fc.assert(
      fc.property(vectorPair, ([a, b]) => {
        expect(hamming(packSigns(a), packSigns(b))).toBe(differingSigns(a, b));
      }),
    );
  });

  it('is a metric on codes: d(a,a) = 0, symmetric, triangle inequality (property)', () => {
    const codes = fc.integer({ min: 1, max: 40 }).chain((w) =>
      fc.tuple(
        ...[0, 1, 2].map(() => fc.array(fc.nat({ max: 0xffffffff }), { minLength: w, maxLength: w }).map((x) => Uint32Array.from(x))),
      ),
    );
    fc.assert(
      fc.property(codes, ([a, b, c]) => {
        expect(hamming(a!, a!)).toBe(0);
        expect(hamming(a!, b!)).toBe(hamming(b!, a!));
        expect(hamming(a!, c!)).toBeLessThanOrEqual(hamming(a!, b!) + hamming(b!, c!));
      }),
    );
  });

  it('folds long codes correctly (more than 31 words)', () => {
    const ones = new Uint32Array(100).fill(0xffffffff);
    const zeros = new Uint32Array(100);
    expect(hamming(ones, zeros)).toBe(3200);
    expect(hammingWords(ones, 10, zeros, 0, 62)).toBe(62 * 32);
  });

  it('rejects codes of different lengths', () => {
    expect(() => hamming(new Uint32Array(12), new Uint32Array(11))).toThrow(/differ in length/);
  });

  it('tracks the angle: E[distance] = d * angle / pi, rising with the angle', () => {
    // For random directions, each sign differs with probability angle / pi
    // (random hyperplane argument), so the mean over many pairs at a fixed
    // angle is close to d * angle / pi and grows with it.
    const d = 384;
    const normal = normals(42);
    const angles = [0.1, 0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 2.8];
    const means = angles.map((angle) => {
      let total = 0;
      const pairs = 200;
      for (let p = 0; p < pairs; p++) {
        const a = unit(Array.from({ length: d }, normal));
        const r = Array.from({ length: d }, normal);
        const along = r.reduce((s, x, i) => s + x * a[i]!, 0);
        const u = unit(r.map((x, i) => x - along * a[i]!)); // orthogonal to a
        const b = a.map((x, i) => Math.cos(angle) * x + Math.sin(angle) * u[i]!);
        total += hamming(packSigns(a), packSigns(b));
      }
      return total / pairs;
    });
    means.forEach((mean, i) => {
      expect(Math.abs(mean - (d * angles[i]!) / Math.PI)).toBeLessThan(0.03 * d);
      if (i > 0) expect(mean).toBeGreaterThan(means[i - 1]!);
    });
  });
});

describe('PackedSignStore', () => {
  it('scans like pairwise hamming, for the 384-dim fast path and the generic ones (property)', () => {
    for (const d of [384, 64, 32 * 40]) {
      fc.assert(
        fc.property(fc.array(vectorOf(d), { minLength: 1, maxLength: 12 }), vectorOf(d), (vectors, query) => {
          const store = new PackedSignStore(d, 2);
          for (const v of vectors) store.push(v);
          const q = packSigns(query);
          const distances = store.hammingScan(q);
          expect(Array.from(distances.subarray(0, vectors.length))).toEqual(vectors.map((v) => differingSigns(v, query)));
        }),
        { numRuns: 30 },
      );
    }
  });

  it('counts the largest distances right on every path (no byte overflow)', () => {
    for (const d of [32, 256, 384, 992, 1024, 32 * 40]) {
      const store = new PackedSignStore(d);
      store.push(new Array<number>(d).fill(1));
      store.push(new Array<number>(d).fill(-1));
      const distances = store.hammingScan(packSigns(new Array<number>(d).fill(-1)));
      expect(Array.from(distances)).toEqual([d, 0]);
    }
  });

  it('nearest: the count closest by distance, ties to the lower slot, closest first (property)', () => {
    const d = 64;
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat({ max: 0xffffffff }), { minLength: 2, maxLength: 2 }), { minLength: 0, maxLength: 80 }),
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 2, maxLength: 2 }),
        fc.integer({ min: 0, max: 100 }),
        (codes, query, count) => {
          // Few distinct bits make many ties at the cut-off.
          const store = new PackedSignStore(d);
          const q = Uint32Array.from(query.map((x) => x & 0x0000000f));
          const cs = codes.map((c) => Uint32Array.from(c.map((x) => x & 0x0000000f)));
          for (const c of cs) store.pushCode(c);
          const expected = cs
            .map((c, slot) => ({ slot, distance: hamming(c, q) }))
            .sort((x, y) => x.distance - y.distance || x.slot - y.slot)
            .slice(0, count)
            .map((x) => x.slot);
          expect(Array.from(store.nearest(q, count))).toEqual(expected);
        },
      ),
    );
  });

  it('grows, swap-removes, and reports its bytes', () => {
    const store = new PackedSignStore(32, 1);
    const v = (sign: number) => new Array<number>(32).fill(sign);
    expect(store.push(v(1))).toBe(0);
    expect(store.push(v(-1))).toBe(1);
    expect(store.pushCode(Uint32Array.of(0xff))).toBe(2);
    expect(store.size).toBe(3);
    expect(store.capacity).toBeGreaterThanOrEqual(3);
    expect(store.byteLength).toBe(12);
    expect(store.swapRemove(0)).toBe(2); // slot 2 moved into 0
    expect(Array.from(store.words)).toEqual([0xff, 0]);
    expect(store.swapRemove(1)).toBe(-1); // the last one: nothing moves
    expect(store.size).toBe(1);
    store.set(0, v(1));
    expect(store.code(0)[0]).toBe(0xffffffff);
    expect(() => store.code(1)).toThrow(/out of range/);
    expect(() => store.push(new Array<number>(64).fill(1))).toThrow(/dimension 64, the store holds 32/);
    expect(() => store.pushCode(new Uint32Array(2))).toThrow(/2 words/);
    expect(() => store.hammingScan(new Uint32Array(2))).toThrow(/query has 2 words/);
  });
});
