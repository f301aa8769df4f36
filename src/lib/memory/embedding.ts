/**
 * Embeddings as records hold them: checked, compact Float32Array copies.
 *
 * Two traps this closes. A vector handed over as a view into a larger buffer
 * (one row of a batch) would be stored with the WHOLE buffer, because
 * structured cloning a typed array copies its entire ArrayBuffer; so every
 * stored vector is a fresh copy of exactly its own floats. And a wrong
 * length, a NaN or an all-zero vector would silently poison every later
 * score; so they are refused at the door with a named error.
 *
 * Pure: no storage, no model library.
 */
import { EMBEDDING_DIMENSION } from './types';

export class InvalidEmbeddingError extends Error {
  override readonly name = 'InvalidEmbeddingError';
}

/** A fresh, validated Float32Array of exactly EMBEDDING_DIMENSION finite floats, not all zero. */
export function toStoredEmbedding(vector: ArrayLike<number>): Float32Array {
  if (vector.length !== EMBEDDING_DIMENSION) {
    throw new InvalidEmbeddingError(
      `An embedding must have ${EMBEDDING_DIMENSION} numbers; this one has ${vector.length}.`,
    );
  }
  const copy = new Float32Array(EMBEDDING_DIMENSION);
  let nonZero = false;
  for (let i = 0; i < EMBEDDING_DIMENSION; i++) {
    const x = vector[i] as number;
    // Math.fround: a finite double may still overflow float32 to Infinity.
    if (typeof x !== 'number' || !Number.isFinite(Math.fround(x))) {
      throw new InvalidEmbeddingError(`Embedding component ${i} is not a finite number (${String(x)}).`);
    }
    copy[i] = x;
    // A zero (including a tiny double that underflows float32) is stored as +0:
    // JSON cannot write the sign of zero, and a round trip must be exact.
    if (copy[i] === 0) copy[i] = 0;
    else nonZero = true;
  }
  if (!nonZero) throw new InvalidEmbeddingError('The embedding is all zeros: it has no direction to compare.');
  return copy;
}

/**
 * The shortest decimal number that reads back as the float32 `value`
 * (at most 9 significant digits), for writing vectors to JSON: the default
 * double repr of a float32 takes up to 17 digits, which nearly doubles the
 * size of an export whose bulk is embeddings.
 */
export function shortestFloat32(value: number): number {
  const target = Math.fround(value);
  if (!Number.isFinite(target) || target === 0) return target;
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  // 9 significant digits always identify a float32.
  return Number(target.toPrecision(9));
}
