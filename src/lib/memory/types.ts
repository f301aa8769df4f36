/**
 * Long-term memory and private documents as stored, exported and retrieved.
 *
 * Embeddings are Float32Array: that is what the embedder produces and what
 * the retrieval index consumes, IndexedDB stores it compactly (1,536 bytes
 * for 384 dimensions, against ~3.5 KB for a number[]), and the export format
 * writes it as a list of numbers that reads back to the same floats (see
 * src/lib/data/export-format.ts). Every record says which embedder made its
 * vector (`embedderId`): vectors of two embedders live in different spaces
 * and must never be compared, so a change of embedder marks the old ones for
 * re-embedding instead of mixing them.
 *
 * Pure types and constants: no Dexie, no model library.
 */

/** Length of every stored embedding (all-MiniLM-L6-v2 and the fixture that mimics it). */
export const EMBEDDING_DIMENSION = 384;

/** The canonical embedder (a transformers.js repository id). Deployments may configure another. */
export const DEFAULT_EMBEDDER = 'Xenova/all-MiniLM-L6-v2';

/**
 * - `accepted`: in use: retrieved for prompts, listed in the Memory view;
 * - `proposed`: suggested from something the person said; retrieved only once they accept it.
 */
export type MemoryStatus = 'accepted' | 'proposed';

/**
 * - `person`: they asked for it ("remember that …") or typed it into the Memory view;
 * - `proposal`: H3LIX suggested it from a self-description ("I live in …").
 */
export type MemoryOrigin = 'person' | 'proposal';

export const MEMORY_STATUSES = ['accepted', 'proposed'] as const satisfies readonly MemoryStatus[];
export const MEMORY_ORIGINS = ['person', 'proposal'] as const satisfies readonly MemoryOrigin[];

export interface Memory {
  id: string;
  /** The fact, in the person's words. */
  text: string;
  status: MemoryStatus;
  origin: MemoryOrigin;
  /** The conversation it was learnt in; null when entered directly in the Memory view. */
  conversationId: string | null;
  /** ms since epoch */
  createdAt: number;
  updatedAt: number;
  /** Unit vector of `text`, EMBEDDING_DIMENSION long, made by `embedderId`. */
  embedding: Float32Array;
  embedderId: string;
}

/**
 * A file the person added so answers can draw on it. The file itself is not
 * kept: its text lives in its chunks, which is all retrieval needs, and
 * keeping the original would double what the device (and every export) holds.
 */
export interface PrivateDocument {
  id: string;
  /** File name as the person knows it. */
  name: string;
  /** MIME type of the original file ('application/pdf', 'text/markdown', …). */
  mime: string;
  /** Size of the original file, bytes. */
  bytes: number;
  /** ms since epoch */
  addedAt: number;
  chunkCount: number;
  /** The embedder that made every one of its chunks' vectors. */
  embedderId: string;
}

export interface DocumentChunk {
  id: string;
  documentId: string;
  /** Position in the document, from 0. */
  index: number;
  text: string;
  /** Made by the document's `embedderId`. */
  embedding: Float32Array;
}

/** Anything that turns texts into embeddings: the embedder client in the app, the real pipeline in tests. */
export interface TextEmbedder {
  /** Which model makes the vectors; stored with each one. */
  readonly embedderId: string;
  /** One unit vector per text, in order. Rejects with AbortedError when `signal` fires. */
  embed(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
}
