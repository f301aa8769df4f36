/**
 * The memory repository against a real (fake-indexeddb) database: adding,
 * proposing, accepting, editing (with the new embedding), deleting, listing
 * and the Memory view's search. Vectors here are arbitrary: the repository
 * never looks at their meaning (retrieval is tested in knowledge.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { EXPORT_LIMITS } from '../../src/lib/data/export-format';
import { InvalidEmbeddingError } from '../../src/lib/memory/embedding';
import type { Memory } from '../../src/lib/memory/types';
import { FieldTooLongError } from '../../src/services/chat-repository';
import { StorageQuotaError, openDatabase, type H3lixDatabase } from '../../src/services/db';
import {
  EmptyMemoryError,
  MemoryNotFoundError,
  acceptMemory,
  addMemory,
  deleteMemory,
  filterMemories,
  getMemory,
  listMemories,
  proposeMemory,
  replaceMemoryEmbedding,
  updateMemory,
} from '../../src/services/memory-repository';
import { vector } from './memory-vectors';

let db: H3lixDatabase;
let clock = 1_000;
let ids = 0;
const makers = { now: () => clock, newId: () => `m${++ids}` };
const now = () => clock;

beforeEach(async () => {
  db = await openDatabase(`memory-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  clock = 1_000;
  ids = 0;
});
afterEach(async () => {
  await db.delete();
});

const EMBEDDER = 'fixtures/lexical-minilm-384';
const init = (text: string, seed = 1, conversationId: string | null = 'c1') => ({ text, conversationId, embedding: vector(seed), embedderId: EMBEDDER });

describe('memory repository', () => {
  it('adds a fact the person asked to remember: accepted, from the person, trimmed, stamped', async () => {
    const memory = await addMemory(db, init('  I am vegan.  '), makers);
    expect(memory).toMatchObject({
      id: 'm1',
      text: 'I am vegan.',
      status: 'accepted',
      origin: 'person',
      conversationId: 'c1',
      createdAt: 1_000,
      updatedAt: 1_000,
      embedderId: EMBEDDER,
    });
    const stored = await getMemory(db, 'm1');
    expect(stored?.embedding).toBeInstanceOf(Float32Array);
    expect(Array.from(stored!.embedding)).toEqual(Array.from(vector(1)));
  });

  it('a proposal is stored apart until accepted', async () => {
    const proposal = await proposeMemory(db, init('I live in Lisbon'), makers);
    expect(proposal).toMatchObject({ status: 'proposed', origin: 'proposal' });
    expect(await listMemories(db, { status: 'accepted' })).toEqual([]);
    expect((await listMemories(db, { status: 'proposed' })).map((m) => m.text)).toEqual(['I live in Lisbon']);
    clock = 2_000;
    const accepted = await acceptMemory(db, proposal!.id, now);
    expect(accepted).toMatchObject({ status: 'accepted', origin: 'proposal', updatedAt: 2_000, createdAt: 1_000 });
    expect(await acceptMemory(db, proposal!.id, now)).toEqual(accepted);
    await expect(acceptMemory(db, 'missing', now)).rejects.toBeInstanceOf(MemoryNotFoundError);
  });

  it('does not duplicate a fact; proposing a stored fact again returns null; asking to remember a proposal accepts it', async () => {
    const first = await addMemory(db, init('I am vegan'), makers);
    expect(await addMemory(db, init('i am  VEGAN.', 2), makers)).toEqual(first);
    expect(await proposeMemory(db, init('I am vegan', 3), makers)).toBeNull();
    const proposal = await proposeMemory(db, init('I work as a nurse', 4), makers);
    expect(await proposeMemory(db, init('I work as a nurse', 5), makers)).toBeNull();
    clock = 5_000;
    const accepted = await addMemory(db, init('I work as a nurse', 6), makers);
    expect(accepted).toMatchObject({ id: proposal!.id, status: 'accepted', updatedAt: 5_000 });
    expect(Array.from(accepted.embedding)).toEqual(Array.from(vector(6)));
    expect(await db.memories.count()).toBe(2);
  });

  it('editing replaces text and embedding and moves updatedAt; the list is newest first', async () => {
    await addMemory(db, init('A'), makers);
    clock = 2_000;
    await addMemory(db, init('B', 2), makers);
    clock = 3_000;
    const edited = await updateMemory(db, 'm1', { text: 'A, edited', embedding: vector(9), embedderId: 'another/embedder' }, now);
    expect(edited).toMatchObject({ text: 'A, edited', updatedAt: 3_000, embedderId: 'another/embedder' });
    expect(Array.from((await getMemory(db, 'm1'))!.embedding)).toEqual(Array.from(vector(9)));
    expect((await listMemories(db)).map((m) => m.text)).toEqual(['A, edited', 'B']);
    await expect(updateMemory(db, 'nope', { text: 'x', embedding: vector(1), embedderId: EMBEDDER }, now)).rejects.toBeInstanceOf(
      MemoryNotFoundError,
    );
  });

  it('deletes (a missing one is no error)', async () => {
    await addMemory(db, init('gone soon'), makers);
    await deleteMemory(db, 'm1');
    await deleteMemory(db, 'm1');
    expect(await db.memories.count()).toBe(0);
  });

  it('refuses empty or oversized text and bad embeddings, storing nothing', async () => {
    await expect(addMemory(db, init('   '), makers)).rejects.toBeInstanceOf(EmptyMemoryError);
    await expect(addMemory(db, init('x'.repeat(EXPORT_LIMITS.memoryTextChars + 1)), makers)).rejects.toBeInstanceOf(FieldTooLongError);
    await expect(addMemory(db, { ...init('ok'), embedding: new Float32Array(10) }, makers)).rejects.toBeInstanceOf(InvalidEmbeddingError);
    await expect(addMemory(db, { ...init('ok'), embedderId: '' }, makers)).rejects.toThrow(/embedder/);
    expect(await db.memories.count()).toBe(0);
  });

  it('re-embedding writes only while the text is unchanged, without moving updatedAt', async () => {
    await addMemory(db, init('I prefer tea'), makers);
    expect(await replaceMemoryEmbedding(db, 'm1', 'I prefer tea', vector(5), 'new/embedder')).toBe(true);
    expect(await getMemory(db, 'm1')).toMatchObject({ embedderId: 'new/embedder', updatedAt: 1_000 });
    expect(await replaceMemoryEmbedding(db, 'm1', 'an older text', vector(6), 'newer/embedder')).toBe(false);
    expect(await replaceMemoryEmbedding(db, 'missing', 'x', vector(6), 'newer/embedder')).toBe(false);
    expect(await getMemory(db, 'm1')).toMatchObject({ embedderId: 'new/embedder' });
  });

  it('a full disk is StorageQuotaError', async () => {
    db.memories.hook('creating', () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    await expect(addMemory(db, init('x'), makers)).rejects.toBeInstanceOf(StorageQuotaError);
  });
});

describe('the Memory view search', () => {
  const memory = (text: string): Memory => ({
    id: text,
    text,
    status: 'accepted',
    origin: 'person',
    conversationId: null,
    createdAt: 1,
    updatedAt: 1,
    embedding: vector(1),
    embedderId: EMBEDDER,
  });

  it('matches a case-insensitive substring, whatever the Unicode composition', () => {
    const all = ['I live in Lisbon', 'My CAT is called Mia', 'Café au lait every morning'].map(memory);
    expect(filterMemories(all, 'cat').map((m) => m.text)).toEqual(['My CAT is called Mia']);
    expect(filterMemories(all, 'LISB').map((m) => m.text)).toEqual(['I live in Lisbon']);
    expect(filterMemories(all, 'cafe\u0301').map((m) => m.text)).toEqual(['Café au lait every morning']);
    expect(filterMemories(all, '  ')).toHaveLength(3);
    expect(filterMemories(all, 'dog')).toEqual([]);
  });

  it('listMemories filters by status and text together', async () => {
    await addMemory(db, init('My cat is Mia'), makers);
    await proposeMemory(db, init('My cat is old', 2), makers);
    expect((await listMemories(db, { text: 'cat' })).map((m) => m.text).sort()).toEqual(['My cat is Mia', 'My cat is old']);
    expect((await listMemories(db, { status: 'proposed', text: 'CAT' })).map((m) => m.text)).toEqual(['My cat is old']);
  });
});
