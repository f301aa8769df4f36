/**
 * The document repository against a real (fake-indexeddb) database: a
 * document and its chunks are written and deleted together, never half.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { InvalidEmbeddingError } from '../../src/lib/memory/embedding';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import {
  DocumentTooLargeError,
  EmptyDocumentError,
  MAX_CHUNKS_PER_DOCUMENT,
  addDocument,
  deleteDocument,
  getChunks,
  getDocument,
  listDocuments,
  replaceDocumentEmbeddings,
} from '../../src/services/document-repository';
import { vector } from './memory-vectors';

let db: H3lixDatabase;
let clock = 1_000;
let ids = 0;
const makers = { now: () => clock, newId: () => `id${++ids}` };
const EMBEDDER = 'fixtures/lexical-minilm-384';

beforeEach(async () => {
  db = await openDatabase(`documents-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  clock = 1_000;
  ids = 0;
});
afterEach(async () => {
  await db.delete();
});

const doc = (name: string, texts: string[]) => ({
  name,
  mime: 'text/markdown',
  bytes: 1234,
  chunks: texts.map((text, i) => ({ text, embedding: vector(i + 1) })),
  embedderId: EMBEDDER,
});

describe('document repository', () => {
  it('adds a document with its chunks, numbered in order, in one go', async () => {
    const { document, chunks } = await addDocument(db, doc('notes.md', ['first part', 'second part', 'third part']), makers);
    expect(document).toEqual({
      id: 'id1',
      name: 'notes.md',
      mime: 'text/markdown',
      bytes: 1234,
      addedAt: 1_000,
      chunkCount: 3,
      embedderId: EMBEDDER,
    });
    expect(chunks.map((c) => [c.index, c.text, c.documentId])).toEqual([
      [0, 'first part', 'id1'],
      [1, 'second part', 'id1'],
      [2, 'third part', 'id1'],
    ]);
    expect(await getDocument(db, 'id1')).toEqual(document);
    const stored = await getChunks(db, 'id1');
    expect(stored.map((c) => c.text)).toEqual(['first part', 'second part', 'third part']);
    expect(Array.from(stored[1]!.embedding)).toEqual(Array.from(vector(2)));
  });

  it('lists newest first and deletes a document with all its chunks', async () => {
    await addDocument(db, doc('a.md', ['a1', 'a2']), makers);
    clock = 2_000;
    await addDocument(db, doc('b.md', ['b1']), makers);
    expect((await listDocuments(db)).map((d) => d.name)).toEqual(['b.md', 'a.md']);
    const removed = await deleteDocument(db, 'id1');
    expect(removed.sort()).toEqual(['id2', 'id3']);
    expect(await db.chunks.where('documentId').equals('id1').count()).toBe(0);
    expect(await getChunks(db, 'id4')).toHaveLength(1);
    expect(await deleteDocument(db, 'id1')).toEqual([]);
  });

  it('is all or nothing: a failure while writing chunks leaves no document', async () => {
    db.chunks.hook('creating', (_key, chunk: { index: number }) => {
      if (chunk.index === 1) throw new Error('disk on fire');
    });
    await expect(addDocument(db, doc('x.md', ['one', 'two']), makers)).rejects.toThrow(/disk on fire/);
    expect(await db.documents.count()).toBe(0);
    expect(await db.chunks.count()).toBe(0);
  });

  it('refuses a document with no text, empty chunks, too many chunks or bad embeddings', async () => {
    await expect(addDocument(db, doc('scan.pdf', []), makers)).rejects.toBeInstanceOf(EmptyDocumentError);
    await expect(addDocument(db, doc('scan.pdf', ['  ', ''] ), makers)).rejects.toThrow(/no text/);
    await expect(addDocument(db, doc('holes.md', ['text', ' ']), makers)).rejects.toThrow(/must not be empty/);
    const huge = { ...doc('huge.md', []), chunks: Array.from({ length: MAX_CHUNKS_PER_DOCUMENT + 1 }, () => ({ text: 'x', embedding: vector(1) })) };
    await expect(addDocument(db, huge, makers)).rejects.toBeInstanceOf(DocumentTooLargeError);
    const bad = { ...doc('bad.md', ['x']), chunks: [{ text: 'x', embedding: new Float32Array(384) }] };
    await expect(addDocument(db, bad, makers)).rejects.toBeInstanceOf(InvalidEmbeddingError);
    await expect(addDocument(db, { ...doc('neg.md', ['x']), bytes: -1 }, makers)).rejects.toThrow(RangeError);
    expect(await db.documents.count()).toBe(0);
  });

  it('replaces all chunk embeddings and the embedder id together, or nothing', async () => {
    const { chunks } = await addDocument(db, doc('a.md', ['a1', 'a2']), makers);
    const all = new Map(chunks.map((c, i) => [c.id, vector(10 + i)]));
    expect(await replaceDocumentEmbeddings(db, 'id1', new Map([[chunks[0]!.id, vector(9)]]), 'new/embedder')).toBe(false);
    expect(await getDocument(db, 'id1')).toMatchObject({ embedderId: EMBEDDER });
    expect(await replaceDocumentEmbeddings(db, 'id1', all, 'new/embedder')).toBe(true);
    expect(await getDocument(db, 'id1')).toMatchObject({ embedderId: 'new/embedder' });
    expect(Array.from((await getChunks(db, 'id1'))[1]!.embedding)).toEqual(Array.from(vector(11)));
    expect(await replaceDocumentEmbeddings(db, 'missing', all, 'new/embedder')).toBe(false);
  });
});
