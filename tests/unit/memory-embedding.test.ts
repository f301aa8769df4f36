/**
 * Stored embeddings: validated, compact copies; and the float32 -> JSON
 * number conversion that keeps export files small and round trips exact.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidEmbeddingError, shortestFloat32, toStoredEmbedding } from '../../src/lib/memory/embedding';
import { EMBEDDING_DIMENSION } from '../../src/lib/memory/types';

describe('toStoredEmbedding', () => {
  it('copies exactly its own floats, even from a view into a bigger buffer', () => {
    const batch = new Float32Array(EMBEDDING_DIMENSION * 3).map((_, i) => i + 1);
    const row = batch.subarray(EMBEDDING_DIMENSION, EMBEDDING_DIMENSION * 2);
    const stored = toStoredEmbedding(row);
    expect(stored.buffer.byteLength).toBe(EMBEDDING_DIMENSION * 4);
    expect(Array.from(stored)).toEqual(Array.from(row));
    expect(toStoredEmbedding(Array.from(row))).toEqual(stored);
    batch[EMBEDDING_DIMENSION] = 0;
    expect(stored[0]).toBe(EMBEDDING_DIMENSION + 1);
  });

  it('refuses wrong lengths, non-finite values and the zero vector', () => {
    expect(() => toStoredEmbedding(new Float32Array(383).fill(1))).toThrow(InvalidEmbeddingError);
    expect(() => toStoredEmbedding(new Float32Array(EMBEDDING_DIMENSION))).toThrow(/all zeros/);
    const nan = new Array<number>(EMBEDDING_DIMENSION).fill(1);
    nan[7] = Number.NaN;
    expect(() => toStoredEmbedding(nan)).toThrow(/component 7/);
    const huge = new Array<number>(EMBEDDING_DIMENSION).fill(1);
    huge[0] = 1e300; // finite as a double, Infinity as a float32
    expect(() => toStoredEmbedding(huge)).toThrow(InvalidEmbeddingError);
  });

  it('stores a negative zero as zero (JSON cannot keep its sign)', () => {
    const v = new Array<number>(EMBEDDING_DIMENSION).fill(0.5);
    v[1] = -0;
    v[2] = -1e-60; // underflows float32 to -0
    const stored = toStoredEmbedding(v);
    expect(Object.is(stored[1], 0)).toBe(true);
    expect(Object.is(stored[2], 0)).toBe(true);
  });
});

describe('shortestFloat32', () => {
  it('is short and reads back to exactly the same float32', () => {
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(0.5)).toBe(0.5);
    expect(shortestFloat32(0)).toBe(0);
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const written = shortestFloat32(x);
        expect(Math.fround(JSON.parse(JSON.stringify(written)) as number)).toBe(Math.fround(x) === 0 ? 0 : Math.fround(x));
        // At most 9 significant digits (leading and trailing zeros are not significant).
        const significant = JSON.stringify(written).replace(/^-|e.*$|\./g, '').replace(/^0+|0+$/g, '');
        expect(significant.length).toBeLessThanOrEqual(9);
      }),
      { numRuns: 2_000 },
    );
  });
});
