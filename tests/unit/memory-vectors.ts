/**
 * TEST HELPER: arbitrary but deterministic embeddings, for tests of storage
 * and format where what a vector means does not matter (retrieval by meaning
 * uses the real fixture embedder: see model-server.ts).
 */
import { EMBEDDING_DIMENSION } from '../../src/lib/memory/types';

/** A deterministic non-zero 384-d vector per seed (not unit length: storage does not care). */
export function vector(seed: number): Float32Array {
  return Float32Array.from({ length: EMBEDDING_DIMENSION }, (_, i) => Math.sin(seed * 7.1 + i * 0.37) + 0.01);
}
