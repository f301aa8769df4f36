/**
 * Long-term memories over the local database: what the person asked H3LIX
 * to remember, what it proposed, and their edits.
 *
 * Same style as chat-repository.ts: free functions, the database first, the
 * clock and id maker passed in, one transaction per operation that reads
 * before it writes. The repository never calls the embedder: a caller that
 * adds or changes a text passes its embedding (and which embedder made it),
 * so storage stays testable without a model, and the retrieval index
 * (src/services/knowledge.ts) is kept in sync by whoever holds it.
 *
 * Invariants kept here:
 * - Text is trimmed, non-empty and within EXPORT_LIMITS.memoryTextChars, so
 *   every memory can be exported and imported back.
 * - Every embedding is a compact, valid EMBEDDING_DIMENSION Float32Array
 *   (toStoredEmbedding).
 * - One memory per fact: adding or proposing a text that is already stored
 *   (ignoring case and spacing) does not duplicate it.
 */
import { EXPORT_LIMITS } from '../lib/data/export-format';
import { toStoredEmbedding } from '../lib/memory/embedding';
import type { Memory, MemoryStatus } from '../lib/memory/types';
import { FieldTooLongError, type RecordMakers } from './chat-repository';
import { toWriteError, type H3lixDatabase } from './db';

/** An update, accept or delete named a memory that does not exist (deleted in another tab, or a stale id). */
export class MemoryNotFoundError extends Error {
  override readonly name = 'MemoryNotFoundError';
  constructor(readonly id: string) {
    super('That memory no longer exists (it may have been deleted in another tab).');
  }
}

/** A memory needs some text. */
export class EmptyMemoryError extends Error {
  override readonly name = 'EmptyMemoryError';
  constructor() {
    super('A memory needs some text.');
  }
}

export interface NewMemory {
  text: string;
  /** The conversation it comes from; null when typed into the Memory view. */
  conversationId: string | null;
  /** The embedding of `text`. */
  embedding: ArrayLike<number>;
  embedderId: string;
}

export interface MemoryEdit {
  text: string;
  /** The embedding of the new text (the caller re-embeds). */
  embedding: ArrayLike<number>;
  embedderId: string;
}

export interface MemoryQuery {
  status?: MemoryStatus;
  /** Case-insensitive substring of the text ('' or absent: all). */
  text?: string;
}

/** Memories, most recently changed first, optionally only one status and/or matching a text. */
export async function listMemories(db: H3lixDatabase, query: MemoryQuery = {}): Promise<Memory[]> {
  const memories =
    query.status === undefined
      ? await db.memories.orderBy('updatedAt').reverse().toArray()
      : (await db.memories.where('status').equals(query.status).toArray()).sort(byUpdatedDesc);
  return filterMemories(memories, query.text ?? '');
}

export async function getMemory(db: H3lixDatabase, id: string): Promise<Memory | undefined> {
  return db.memories.get(id);
}

/**
 * The Memory view's search: memories whose text contains `query`, ignoring
 * case and Unicode composition ("café" typed either way). Pure.
 */
export function filterMemories(memories: readonly Memory[], query: string): Memory[] {
  const needle = foldForSearch(query.trim());
  if (needle === '') return [...memories];
  return memories.filter((memory) => foldForSearch(memory.text).includes(needle));
}

/**
 * Stores a fact the person asked to remember (origin 'person', accepted at
 * once). If the same fact is already stored it is returned instead, made
 * accepted if it was only proposed, and given this embedding.
 */
export async function addMemory(db: H3lixDatabase, init: NewMemory, makers: RecordMakers): Promise<Memory> {
  return store(db, init, 'accepted', makers);
}

/**
 * Stores a proposal (origin 'proposal', status 'proposed'): not retrieved
 * until the person accepts it. Returns null when the fact is already stored,
 * proposed or accepted: proposing it again would only nag.
 */
export async function proposeMemory(db: H3lixDatabase, init: NewMemory, makers: RecordMakers): Promise<Memory | null> {
  const { memory, created } = await storeOrFind(db, init, 'proposed', makers);
  return created ? memory : null;
}

/** The person accepts a proposal. Accepting an accepted memory changes nothing. */
export async function acceptMemory(db: H3lixDatabase, id: string, now: () => number): Promise<Memory> {
  return write(() =>
    db.transaction('rw', db.memories, async () => {
      const memory = await db.memories.get(id);
      if (!memory) throw new MemoryNotFoundError(id);
      if (memory.status === 'accepted') return memory;
      const accepted: Memory = { ...memory, status: 'accepted', updatedAt: Math.max(memory.updatedAt, stamp(now)) };
      await db.memories.put(accepted);
      return accepted;
    }),
  );
}

/** The person edits a memory's text; its embedding is replaced by the one given for the new text. */
export async function updateMemory(db: H3lixDatabase, id: string, edit: MemoryEdit, now: () => number): Promise<Memory> {
  const text = checkText(edit.text);
  const embedding = toStoredEmbedding(edit.embedding);
  const embedderId = checkEmbedderId(edit.embedderId);
  return write(() =>
    db.transaction('rw', db.memories, async () => {
      const memory = await db.memories.get(id);
      if (!memory) throw new MemoryNotFoundError(id);
      const updated: Memory = { ...memory, text, embedding, embedderId, updatedAt: Math.max(memory.updatedAt, stamp(now)) };
      await db.memories.put(updated);
      return updated;
    }),
  );
}

/** Deletes a memory (or dismisses a proposal). Deleting a missing one does nothing. */
export async function deleteMemory(db: H3lixDatabase, id: string): Promise<void> {
  await write(() => db.memories.delete(id));
}

/**
 * Writes a new embedding for a memory whose text is still `text` (used when
 * re-embedding after a change of embedder). Returns false, writing nothing,
 * when the memory was deleted or its text edited meanwhile: the edit already
 * stored a fresh embedding. `updatedAt` does not move: the person changed nothing.
 */
export async function replaceMemoryEmbedding(
  db: H3lixDatabase,
  id: string,
  text: string,
  embedding: ArrayLike<number>,
  embedderId: string,
): Promise<boolean> {
  const stored = toStoredEmbedding(embedding);
  const checkedId = checkEmbedderId(embedderId);
  return write(() =>
    db.transaction('rw', db.memories, async () => {
      const memory = await db.memories.get(id);
      if (!memory || memory.text !== text) return false;
      await db.memories.put({ ...memory, embedding: stored, embedderId: checkedId });
      return true;
    }),
  );
}

// ---------------------------------------------------------------------------

async function store(db: H3lixDatabase, init: NewMemory, status: MemoryStatus, makers: RecordMakers): Promise<Memory> {
  return (await storeOrFind(db, init, status, makers)).memory;
}

/**
 * Adds the memory, or finds the one with the same fact. An accepted request
 * for a fact that is only proposed accepts it (with this embedding); a
 * proposal never downgrades anything.
 */
async function storeOrFind(
  db: H3lixDatabase,
  init: NewMemory,
  status: MemoryStatus,
  { now, newId }: RecordMakers,
): Promise<{ memory: Memory; created: boolean }> {
  const text = checkText(init.text);
  const embedding = toStoredEmbedding(init.embedding);
  const embedderId = checkEmbedderId(init.embedderId);
  if (init.conversationId !== null) checkLength('conversation id', init.conversationId, EXPORT_LIMITS.idChars);
  const key = sameFactKey(text);
  return write(() =>
    db.transaction('rw', db.memories, async () => {
      // Memories number in the hundreds or thousands: a scan is cheaper than an index
      // rewritten on every put, and runs only when a fact is added.
      const existing = await db.memories.filter((m) => sameFactKey(m.text) === key).first();
      const at = stamp(now);
      if (existing) {
        if (status === 'proposed' || existing.status === 'accepted') return { memory: existing, created: false };
        const accepted: Memory = { ...existing, status: 'accepted', embedding, embedderId, updatedAt: Math.max(existing.updatedAt, at) };
        await db.memories.put(accepted);
        return { memory: accepted, created: false };
      }
      const memory: Memory = {
        id: newId(),
        text,
        status,
        origin: status === 'proposed' ? 'proposal' : 'person',
        conversationId: init.conversationId,
        createdAt: at,
        updatedAt: at,
        embedding,
        embedderId,
      };
      await db.memories.add(memory);
      return { memory, created: true };
    }),
  );
}

function checkText(raw: string): string {
  const text = raw.trim();
  if (text === '') throw new EmptyMemoryError();
  checkLength('memory', text, EXPORT_LIMITS.memoryTextChars);
  return text;
}

function checkEmbedderId(embedderId: string): string {
  if (embedderId === '') throw new RangeError('An embedding must say which embedder made it.');
  checkLength('embedder id', embedderId, EXPORT_LIMITS.embedderIdChars);
  return embedderId;
}

function checkLength(field: string, value: string, limit: number): void {
  if (value.length > limit) throw new FieldTooLongError(field, value.length, limit);
}

function foldForSearch(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** Two texts state the same fact when they differ only in case, spacing and final punctuation. */
function sameFactKey(text: string): string {
  return foldForSearch(text).replace(/\s+/g, ' ').replace(/[\s.!]+$/u, '').trim();
}

function byUpdatedDesc(a: Memory, b: Memory): number {
  return b.updatedAt - a.updatedAt;
}

/** Timestamps are whole milliseconds (the export format insists). */
function stamp(now: () => number): number {
  return Math.floor(now());
}

/** Runs a write, turning a full disk into StorageQuotaError. */
async function write<T>(operation: () => PromiseLike<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toWriteError(error);
  }
}
