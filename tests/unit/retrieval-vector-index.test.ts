/** The in-memory vector index: exact and sign-prefilter search, add/remove, validation. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hamming, packSigns } from '../../src/lib/retrieval/sign-bits';
import { DEFAULT_CANDIDATES, VectorIndex } from '../../src/lib/retrieval/vector-index';

const D = 64;

/**
 * Non-zero vectors of dimension D (one component pinned away from 0). Tiny
 * components become 0: the index stores Float32, where they would round to 0
 * and flip a sign bit that the test computes from the doubles.
 */
const vector = fc
  .array(fc.double({ min: -1, max: 1, noNaN: true }).map((x) => (Math.abs(x) < 1e-6 ? 0 : x)), { minLength: D, maxLength: D })
  .map((v) => {
    v[0] = v[0]! >= 0 ? v[0]! + 0.01 : v[0]! - 0.01;
    return v;
  });

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Naive top-k: score everything, sort, slice. */
function naiveTop(entries: Map<number, number[]>, query: number[], k: number): { id: number; score: number }[] {
  return [...entries]
    .map(([id, v]) => ({ id, score: cosine(v, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

/**
 * Same scores as the naive top-k (ties may swap ids), and every reported
 * score is the true cosine of the id it is reported for.
 */
function expectSameTop(got: { id: number; score: number }[], want: { id: number; score: number }[], entries: Map<number, number[]>, query: number[]) {
  expect(got.map((h) => h.score)).toHaveLength(want.length);
  got.forEach((hit, i) => {
    expect(hit.score).toBeCloseTo(want[i]!.score, 5);
    expect(hit.score).toBeCloseTo(cosine(entries.get(hit.id)!, query), 5);
  });
  expect(new Set(got.map((h) => h.id)).size).toBe(got.length);
}

function build(vectors: number[][], capacity = 4): { index: VectorIndex<number>; entries: Map<number, number[]> } {
  const index = new VectorIndex<number>({ dimension: D, initialCapacity: capacity });
  const entries = new Map<number, number[]>();
  vectors.forEach((v, id) => {
    index.add(id, v);
    entries.set(id, v);
  });
  return { index, entries };
}

describe('VectorIndex: exact search', () => {
  it('returns the true top-k, best first, with exact cosine scores (property)', () => {
    fc.assert(
      fc.property(fc.array(vector, { minLength: 1, maxLength: 60 }), vector, fc.integer({ min: 1, max: 70 }), (vectors, query, k) => {
        const { index, entries } = build(vectors);
        const got = index.search(query, k, { strategy: 'exact' });
        expectSameTop(got, naiveTop(entries, query, k), entries, query);
        for (let i = 1; i < got.length; i++) expect(got[i]!.score).toBeLessThanOrEqual(got[i - 1]!.score);
      }),
      { numRuns: 60 },
    );
  });

  it('scores are cosines: scaling a stored vector or the query changes nothing', () => {
    const index = new VectorIndex<string>({ dimension: 32 });
    const e0 = Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
    const mixed = Array.from({ length: 32 }, (_, i) => (i < 2 ? 1 : 0));
    index.add('x', e0.map((x) => x * 7));
    index.add('xy', mixed);
    const hits = index.search(e0.map((x) => x * 0.01), 2, { strategy: 'exact' });
    expect(hits.map((h) => h.id)).toEqual(['x', 'xy']);
    expect(hits[0]!.score).toBeCloseTo(1, 6);
    expect(hits[1]!.score).toBeCloseTo(Math.SQRT1_2, 6);
  });
});

describe('VectorIndex: sign-prefilter search', () => {
  it('with candidates = n it equals exact (property)', () => {
    fc.assert(
      fc.property(fc.array(vector, { minLength: 1, maxLength: 50 }), vector, fc.integer({ min: 1, max: 12 }), (vectors, query, k) => {
        const { index } = build(vectors);
        const exact = index.search(query, k, { strategy: 'exact' });
        expect(index.search(query, k, { strategy: 'sign-prefilter', candidates: vectors.length })).toEqual(exact);
      }),
      { numRuns: 60 },
    );
  });

  it('with fewer candidates it is the exact top-k of the Hamming-nearest ones (property)', () => {
    fc.assert(
      fc.property(
        fc.array(vector, { minLength: 2, maxLength: 60 }),
        vector,
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 59 }),
        (vectors, query, k, c) => {
          const candidates = Math.min(Math.max(c, k), vectors.length - 1);
          fc.pre(candidates >= k);
          const { index, entries } = build(vectors);
          const q = packSigns(query);
          // Without removals, slot = insertion order = id, so the store's
          // tie rule (lower slot first) is "lower id first".
          const chosen = vectors
            .map((v, id) => ({ id, distance: hamming(packSigns(v), q) }))
            .sort((a, b) => a.distance - b.distance || a.id - b.id)
            .slice(0, candidates);
          const pool = new Map(chosen.map(({ id }) => [id, entries.get(id)!]));
          const got = index.search(query, k, { strategy: 'sign-prefilter', candidates });
          expectSameTop(got, naiveTop(pool, query, k), entries, query);
          for (const hit of got) expect(pool.has(hit.id)).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('finds near neighbours of a clustered set with the default candidates', () => {
    // 40 clusters of 50 around random centres; queries are fresh members.
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
    const centres = Array.from({ length: 40 }, () => Array.from({ length: D }, random));
    const member = (c: number) => centres[c]!.map((x) => x + 0.4 * random());
    const vectors = Array.from({ length: 2000 }, (_, i) => member(i % 40));
    const { index, entries } = build(vectors, 2000);
    let found = 0;
    for (let c = 0; c < 40; c++) {
      const query = member(c);
      const want = new Set(naiveTop(entries, query, 10).map((h) => h.id));
      for (const hit of index.search(query, 10, { candidates: 200 })) if (want.has(hit.id)) found++;
    }
    expect(found / 400).toBeGreaterThan(0.9);
    expect(DEFAULT_CANDIDATES).toBeGreaterThanOrEqual(100);
  });
});

describe('VectorIndex: add, remove, storage', () => {
  it('stays consistent with a model under any sequence of add / replace / remove (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), id: fc.integer({ min: 0, max: 30 }), v: vector }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), vector, (ops, query) => {
        const index = new VectorIndex<number>({ dimension: D, initialCapacity: 1 });
        const model = new Map<number, number[]>();
        for (const o of ops) {
          if (o.kind === 'add') {
            index.add(o.id, o.v);
            model.set(o.id, o.v);
          } else {
            expect(index.remove(o.id)).toBe(model.delete(o.id));
          }
        }
        expect(index.size).toBe(model.size);
        for (const id of model.keys()) expect(index.has(id)).toBe(true);
        const all = naiveTop(model, query, 5);
        expectSameTop(index.search(query, 5, { strategy: 'exact' }), all, model, query);
        // A small candidate pool exercises the code store after swap-removes:
        // hits must be live ids with their exact scores.
        for (const hit of index.search(query, 5, { candidates: 5 })) {
          expect(model.has(hit.id)).toBe(true);
          expect(hit.score).toBeCloseTo(cosine(model.get(hit.id)!, query), 5);
        }
        expect(index.memory()).toEqual({ floatBytes: model.size * D * 4, codeBytes: (model.size * D) / 8 });
      }),
      { numRuns: 80 },
    );
  });

  it('a removed id is never returned; removing an unknown id says false', () => {
    const index = new VectorIndex<string>({ dimension: 32 });
    const v = Array.from({ length: 32 }, (_, i) => (i === 3 ? 1 : 0.01));
    index.add('a', v);
    index.add('b', v.map((x) => -x));
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.search(v, 5).map((h) => h.id)).toEqual(['b']);
    expect(index.remove('b')).toBe(true);
    expect(index.search(v, 5)).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('memory: 1,536 float bytes and 48 code bytes per 384-dim entry', () => {
    const index = new VectorIndex<number>({ dimension: 384, initialCapacity: 1 });
    for (let i = 0; i < 10; i++) index.add(i, Array.from({ length: 384 }, (_, j) => Math.sin(i + j)));
    expect(index.memory()).toEqual({ floatBytes: 15_360, codeBytes: 480 });
  });
});

describe('VectorIndex: validation', () => {
  it('rejects dimensions that are not a positive multiple of 32', () => {
    expect(() => new VectorIndex({ dimension: 100 })).toThrow(/positive multiple of 32, got 100/);
    expect(() => new VectorIndex({ dimension: 0 })).toThrow(/positive multiple of 32/);
    expect(() => new VectorIndex({ dimension: 64, candidates: 0 })).toThrow(/candidates must be a positive integer/);
  });

  it('rejects vectors and queries of the wrong dimension, non-finite or zero', () => {
    const index = new VectorIndex<string>({ dimension: 32 });
    expect(() => index.add('a', new Array<number>(31).fill(1))).toThrow(/vector has dimension 31, the index holds 32/);
    const nan = new Array<number>(32).fill(1);
    nan[5] = Number.NaN;
    expect(() => index.add('a', nan)).toThrow(/component 5 is not a finite number/);
    expect(() => index.add('a', new Array<number>(32).fill(0))).toThrow(/zero vector/);
    expect(index.size).toBe(0);
    index.add('a', new Array<number>(32).fill(1));
    expect(() => index.search(new Float32Array(384), 1)).toThrow(/query has dimension 384/);
    expect(() => index.search(new Array<number>(32).fill(1), 0)).toThrow(/k must be a positive integer/);
    expect(() => index.search(new Array<number>(32).fill(1), 1, { candidates: -3 })).toThrow(/candidates must be/);
    expect(() => index.search(new Array<number>(32).fill(1), 1, { strategy: 'fuzzy' as never })).toThrow(/unknown strategy/);
  });

  it('returns at most the number of entries, and nothing from an empty index', () => {
    const index = new VectorIndex<string>({ dimension: 32 });
    expect(index.search(new Array<number>(32).fill(1), 3)).toEqual([]);
    index.add('only', new Array<number>(32).fill(1));
    expect(index.search(new Array<number>(32).fill(1), 3)).toHaveLength(1);
  });
});
