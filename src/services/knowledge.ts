/**
 * The retrieval service: what H3LIX knows about the person (accepted
 * memories) and from their files (document chunks), searchable by meaning.
 *
 * At start-up `KnowledgeBase.open` loads every stored vector made by the
 * current embedder into one in-memory VectorIndex (src/lib/retrieval), so a
 * search costs no database round trip. Items embedded by another embedder
 * live in another vector space: they are never mixed in, only counted in
 * `stale`, until `reembedAll` brings them over. Proposals are not indexed
 * until the person accepts them.
 *
 * Writes go through this class (it calls the repositories, then updates the
 * index), so the index cannot drift from storage within this tab. Another
 * tab's writes, an import or "delete everything" are not seen until
 * `reload()`.
 *
 * `retrieve` returns `RetrievedItem`s, exactly what prompt assembly
 * (src/lib/governance/prompt-assembly.ts) takes, with the provenance the
 * evidence record keeps (src/lib/governance/evidence.ts).
 */
import { AbortedError } from '../lib/engine/errors';
import { truncateAtWord, type RetrievedItem } from '../lib/governance/prompt-assembly';
import { EMBEDDING_DIMENSION, type Memory, type PrivateDocument, type TextEmbedder } from '../lib/memory/types';
import { VectorIndex } from '../lib/retrieval/vector-index';
import type { RecordMakers } from './chat-repository';
import type { H3lixDatabase } from './db';
import {
  addDocument,
  deleteDocument,
  getChunks,
  replaceDocumentEmbeddings,
  type NewDocument,
  type StoredDocument,
} from './document-repository';
import {
  acceptMemory,
  addMemory,
  deleteMemory,
  getMemory,
  proposeMemory,
  replaceMemoryEmbedding,
  updateMemory,
  type NewMemory,
} from './memory-repository';

/** How many items a search returns at most, by default. */
export const DEFAULT_RETRIEVE_K = 6;
/**
 * Cosine similarity below which an item is not worth a place in the prompt.
 * all-MiniLM-L6-v2 puts paraphrases around 0.5-0.9 and unrelated sentences
 * around 0-0.15; the lexical test fixture puts sentences sharing their key
 * words above 0.6 and unrelated ones near 0.
 */
export const DEFAULT_MIN_SCORE = 0.3;
/** Memory titles: the start of the fact, as the person will recognise it. */
const MEMORY_TITLE_CHARS = 60;
/** Texts embedded per step of `reembedAll` (progress and cancellation happen between steps). */
const REEMBED_BATCH = 32;

export interface RetrieveOptions {
  /** Most items returned (default DEFAULT_RETRIEVE_K). */
  k?: number;
  /** Lowest score returned (default DEFAULT_MIN_SCORE). */
  minScore?: number;
}

/** Stored items whose vectors were made by another embedder: left out of retrieval until re-embedded. */
export interface StaleReport {
  memories: number;
  documents: number;
  chunks: number;
}

export interface ReembedProgress {
  /** Texts embedded so far (memories and chunks). */
  done: number;
  total: number;
}

export interface ReembedOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ReembedProgress) => void;
}

type Entry =
  | { kind: 'memory'; id: string; text: string; createdAt: number; conversationId: string | null }
  | { kind: 'document'; id: string; text: string; documentId: string; documentName: string; index: number };

const memoryKey = (id: string): string => `memory:${id}`;
const chunkKey = (id: string): string => `chunk:${id}`;

/** Everything searchable, replaced whole by `reload` so a failed reload leaves the old one intact. */
class IndexState {
  readonly index: VectorIndex<string>;
  readonly entries = new Map<string, Entry>();
  /** Chunk keys per document id, for removal. */
  readonly chunksOf = new Map<string, Set<string>>();
  readonly staleMemories = new Set<string>();
  /** Stale document id -> its chunk count. */
  readonly staleDocuments = new Map<string, number>();

  constructor(initialCapacity: number) {
    this.index = new VectorIndex<string>({ dimension: EMBEDDING_DIMENSION, initialCapacity: Math.max(1, initialCapacity) });
  }
}

export class KnowledgeBase {
  readonly db: H3lixDatabase;
  /** The embedder whose vectors are searched; new items must be embedded by it. */
  readonly embedderId: string;
  #state = new IndexState(0);

  private constructor(db: H3lixDatabase, embedderId: string) {
    this.db = db;
    this.embedderId = embedderId;
  }

  /** Loads everything embedded by `embedderId` into a fresh index. */
  static async open(db: H3lixDatabase, embedderId: string): Promise<KnowledgeBase> {
    if (embedderId === '') throw new RangeError('KnowledgeBase: embedderId must not be empty');
    const knowledge = new KnowledgeBase(db, embedderId);
    await knowledge.reload();
    return knowledge;
  }

  /** Entries searchable now (accepted memories and chunks of the current embedder). */
  get size(): number {
    return this.#state.index.size;
  }

  get stale(): StaleReport {
    let chunks = 0;
    for (const count of this.#state.staleDocuments.values()) chunks += count;
    return { memories: this.#state.staleMemories.size, documents: this.#state.staleDocuments.size, chunks };
  }

  /** Rebuilds the index from storage: after an import, "delete everything", or another tab's changes. */
  async reload(): Promise<void> {
    const { db } = this;
    // One read transaction: memories, documents and chunks from the same moment.
    const state = await db.transaction('r', db.memories, db.documents, db.chunks, async () => {
      const memories = await db.memories.toArray();
      const documents = await db.documents.toArray();
      const next = new IndexState(memories.length + (await db.chunks.count()));
      for (const memory of memories) this.#syncMemory(memory, next);
      const current = new Map<string, PrivateDocument>();
      for (const document of documents) {
        if (document.embedderId === this.embedderId) current.set(document.id, document);
        else next.staleDocuments.set(document.id, document.chunkCount);
      }
      // A cursor rather than toArray: chunks are the bulk of the data, and only their vectors and text stay in memory.
      await db.chunks.each((chunk) => {
        const document = current.get(chunk.documentId);
        if (document) this.#addChunk(document, chunk, next);
      });
      return next;
    });
    this.#state = state;
  }

  // -------------------------------------------------------------------------
  // Search

  /**
   * The stored items most similar to `queryEmbedding` (a vector from this
   * embedder), best first, at most `k`, none below `minScore`.
   */
  retrieve(queryEmbedding: ArrayLike<number>, options: RetrieveOptions = {}): RetrievedItem[] {
    const k = options.k ?? DEFAULT_RETRIEVE_K;
    const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
    const { index, entries } = this.#state;
    if (index.size === 0) return [];
    const items: RetrievedItem[] = [];
    for (const hit of index.search(queryEmbedding, k)) {
      if (!(hit.score >= minScore)) continue;
      const entry = entries.get(hit.id);
      if (entry) items.push(toRetrievedItem(entry, hit.score));
    }
    return items;
  }

  // -------------------------------------------------------------------------
  // Memories (embeddings must come from this.embedderId)

  async addMemory(init: Omit<NewMemory, 'embedderId'>, makers: RecordMakers): Promise<Memory> {
    const memory = await addMemory(this.db, { ...init, embedderId: this.embedderId }, makers);
    this.#syncMemory(memory);
    return memory;
  }

  /** A proposal: stored, not searchable until accepted. Null when the fact is already stored. */
  async proposeMemory(init: Omit<NewMemory, 'embedderId'>, makers: RecordMakers): Promise<Memory | null> {
    const memory = await proposeMemory(this.db, { ...init, embedderId: this.embedderId }, makers);
    if (memory) this.#syncMemory(memory);
    return memory;
  }

  async acceptMemory(id: string, now: () => number): Promise<Memory> {
    const memory = await acceptMemory(this.db, id, now);
    this.#syncMemory(memory);
    return memory;
  }

  async updateMemory(id: string, edit: { text: string; embedding: ArrayLike<number> }, now: () => number): Promise<Memory> {
    const memory = await updateMemory(this.db, id, { ...edit, embedderId: this.embedderId }, now);
    this.#syncMemory(memory);
    return memory;
  }

  async deleteMemory(id: string): Promise<void> {
    await deleteMemory(this.db, id);
    this.#forgetMemory(id);
  }

  // -------------------------------------------------------------------------
  // Documents (chunk embeddings must come from this.embedderId)

  async addDocument(init: Omit<NewDocument, 'embedderId'>, makers: RecordMakers): Promise<StoredDocument> {
    const stored = await addDocument(this.db, { ...init, embedderId: this.embedderId }, makers);
    for (const chunk of stored.chunks) this.#addChunk(stored.document, chunk);
    return stored;
  }

  async deleteDocument(id: string): Promise<void> {
    await deleteDocument(this.db, id);
    this.#forgetDocument(id);
  }

  // -------------------------------------------------------------------------
  // After a change of embedder

  /**
   * Re-embeds every stored item made by another embedder with `embedder`
   * (which must be this knowledge base's), making it searchable again.
   * Work is saved as it goes: a cancel (AbortedError) or a failure keeps
   * what was done, and calling again resumes. A memory edited meanwhile is
   * skipped (its edit stored a fresh vector).
   */
  async reembedAll(embedder: TextEmbedder, options: ReembedOptions = {}): Promise<StaleReport> {
    if (embedder.embedderId !== this.embedderId) {
      throw new RangeError(
        `reembedAll: this knowledge base searches ${this.embedderId} vectors; the embedder given makes ${embedder.embedderId} ones.`,
      );
    }
    const { signal, onProgress } = options;
    const memories = await this.db.memories.filter((m) => m.embedderId !== this.embedderId).toArray();
    const documents = await this.db.documents.filter((d) => d.embedderId !== this.embedderId).toArray();
    const total = memories.length + documents.reduce((n, d) => n + d.chunkCount, 0);
    const done: StaleReport = { memories: 0, documents: 0, chunks: 0 };
    let progressed = 0;
    const report = (n: number): void => {
      progressed += n;
      onProgress?.({ done: progressed, total });
    };
    report(0);

    for (let start = 0; start < memories.length; start += REEMBED_BATCH) {
      throwIfAborted(signal);
      const batch = memories.slice(start, start + REEMBED_BATCH);
      const vectors = await embedder.embed(batch.map((m) => m.text), signal ? { signal } : {});
      for (const [i, memory] of batch.entries()) {
        if (await replaceMemoryEmbedding(this.db, memory.id, memory.text, vectors[i] as Float32Array, this.embedderId)) {
          done.memories++;
          const fresh = await getMemory(this.db, memory.id);
          if (fresh) this.#syncMemory(fresh);
        }
      }
      report(batch.length);
    }

    for (const document of documents) {
      throwIfAborted(signal);
      const chunks = await getChunks(this.db, document.id);
      const embeddings = new Map<string, Float32Array>();
      for (let start = 0; start < chunks.length; start += REEMBED_BATCH) {
        throwIfAborted(signal);
        const batch = chunks.slice(start, start + REEMBED_BATCH);
        const vectors = await embedder.embed(batch.map((c) => c.text), signal ? { signal } : {});
        batch.forEach((chunk, i) => embeddings.set(chunk.id, vectors[i] as Float32Array));
        report(batch.length);
      }
      if (await replaceDocumentEmbeddings(this.db, document.id, embeddings, this.embedderId)) {
        done.documents++;
        done.chunks += chunks.length;
        this.#state.staleDocuments.delete(document.id);
        const updated = { ...document, embedderId: this.embedderId };
        for (const chunk of chunks) this.#addChunk(updated, { ...chunk, embedding: embeddings.get(chunk.id) as Float32Array });
      }
    }
    return done;
  }

  // -------------------------------------------------------------------------

  /** Puts a memory where it belongs: searchable, stale, or (a proposal) neither. */
  #syncMemory(memory: Memory, state: IndexState = this.#state): void {
    this.#forgetMemory(memory.id, state);
    if (memory.embedderId !== this.embedderId) {
      state.staleMemories.add(memory.id);
      return;
    }
    if (memory.status !== 'accepted') return;
    const key = memoryKey(memory.id);
    state.index.add(key, memory.embedding);
    state.entries.set(key, {
      kind: 'memory',
      id: memory.id,
      text: memory.text,
      createdAt: memory.createdAt,
      conversationId: memory.conversationId,
    });
  }

  #forgetMemory(id: string, state: IndexState = this.#state): void {
    const key = memoryKey(id);
    state.index.remove(key);
    state.entries.delete(key);
    state.staleMemories.delete(id);
  }

  #addChunk(
    document: PrivateDocument,
    chunk: { id: string; index: number; text: string; embedding: Float32Array },
    state: IndexState = this.#state,
  ): void {
    const key = chunkKey(chunk.id);
    state.index.add(key, chunk.embedding);
    state.entries.set(key, {
      kind: 'document',
      id: chunk.id,
      text: chunk.text,
      documentId: document.id,
      documentName: document.name,
      index: chunk.index,
    });
    const keys = state.chunksOf.get(document.id);
    if (keys) keys.add(key);
    else state.chunksOf.set(document.id, new Set([key]));
  }

  #forgetDocument(id: string): void {
    const state = this.#state;
    for (const key of state.chunksOf.get(id) ?? []) {
      state.index.remove(key);
      state.entries.delete(key);
    }
    state.chunksOf.delete(id);
    state.staleDocuments.delete(id);
  }
}

function toRetrievedItem(entry: Entry, score: number): RetrievedItem {
  if (entry.kind === 'memory') {
    return {
      kind: 'memory',
      id: entry.id,
      title: truncateAtWord(entry.text.replace(/\s+/g, ' '), MEMORY_TITLE_CHARS),
      text: entry.text,
      score,
      provenance: { kind: 'memory', createdAt: entry.createdAt, conversationId: entry.conversationId },
    };
  }
  return {
    kind: 'document',
    id: entry.id,
    title: entry.documentName,
    text: entry.text,
    score,
    provenance: { kind: 'document', documentId: entry.documentId, documentName: entry.documentName, chunk: entry.index },
  };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Re-embedding was cancelled; what was done is kept.');
}
