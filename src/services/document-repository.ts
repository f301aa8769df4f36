/**
 * Private documents over the local database: a document record and its
 * chunks (text + embedding), written and deleted together.
 *
 * Same style as chat-repository.ts: free functions, the database first, the
 * clock and id maker passed in. The caller extracts the text
 * (src/services/pdf-text.ts for PDFs), chunks it (src/lib/memory/chunking.ts)
 * and embeds the chunks; this module only stores, so it is testable without
 * a model. Adding and deleting each run in one transaction: a document is
 * never visible with half its chunks, and never leaves chunks behind.
 */
import { EXPORT_LIMITS } from '../lib/data/export-format';
import { toStoredEmbedding } from '../lib/memory/embedding';
import type { DocumentChunk, PrivateDocument } from '../lib/memory/types';
import { FieldTooLongError, type RecordMakers } from './chat-repository';
import { toWriteError, type H3lixDatabase } from './db';

/** A document with no text to store (a scanned PDF without a text layer, an empty file). */
export class EmptyDocumentError extends Error {
  override readonly name = 'EmptyDocumentError';
  constructor(readonly documentName: string) {
    super(`"${documentName}" has no text H3LIX can read (a scanned PDF has only pictures of text).`);
  }
}

/** A document with more chunks than H3LIX keeps for one file. */
export class DocumentTooLargeError extends Error {
  override readonly name = 'DocumentTooLargeError';
  constructor(
    readonly documentName: string,
    readonly chunks: number,
    readonly limit: number,
  ) {
    super(
      `"${documentName}" is too long to add (${chunks.toLocaleString('en-US')} parts; ` +
        `the limit is ${limit.toLocaleString('en-US')}). Split it into smaller files.`,
    );
  }
}

/** Most chunks one document may have (about 8 MB of text at the default chunk size). */
export const MAX_CHUNKS_PER_DOCUMENT = 10_000;

export interface NewDocumentChunk {
  text: string;
  embedding: ArrayLike<number>;
}

export interface NewDocument {
  name: string;
  mime: string;
  /** Size of the original file, bytes. */
  bytes: number;
  /** The chunks, in document order (chunkText's output), each with its embedding. */
  chunks: readonly NewDocumentChunk[];
  /** The embedder that made every chunk's embedding. */
  embedderId: string;
}

export interface StoredDocument {
  document: PrivateDocument;
  chunks: DocumentChunk[];
}

/** Adds a document and all its chunks in one transaction. */
export async function addDocument(db: H3lixDatabase, init: NewDocument, { now, newId }: RecordMakers): Promise<StoredDocument> {
  checkLength('document name', init.name, EXPORT_LIMITS.documentNameChars);
  checkLength('file type', init.mime, EXPORT_LIMITS.mimeChars);
  checkLength('embedder id', init.embedderId, EXPORT_LIMITS.embedderIdChars);
  if (init.embedderId === '') throw new RangeError('An embedding must say which embedder made it.');
  if (!Number.isSafeInteger(init.bytes) || init.bytes < 0) throw new RangeError(`A file size must be a whole number of bytes, got ${init.bytes}.`);
  const texts = init.chunks.map((chunk) => chunk.text.trim());
  if (texts.every((text) => text === '')) throw new EmptyDocumentError(init.name);
  if (texts.some((text) => text === '')) throw new RangeError('A document chunk must not be empty.');
  if (init.chunks.length > MAX_CHUNKS_PER_DOCUMENT) {
    throw new DocumentTooLargeError(init.name, init.chunks.length, MAX_CHUNKS_PER_DOCUMENT);
  }
  texts.forEach((text) => checkLength('document part', text, EXPORT_LIMITS.chunkTextChars));
  const embeddings = init.chunks.map((chunk) => toStoredEmbedding(chunk.embedding));

  const document: PrivateDocument = {
    id: newId(),
    name: init.name,
    mime: init.mime,
    bytes: init.bytes,
    addedAt: Math.floor(now()),
    chunkCount: texts.length,
    embedderId: init.embedderId,
  };
  const chunks: DocumentChunk[] = texts.map((text, index) => ({
    id: newId(),
    documentId: document.id,
    index,
    text,
    embedding: embeddings[index] as Float32Array,
  }));
  await write(() =>
    db.transaction('rw', db.documents, db.chunks, async () => {
      await db.documents.add(document);
      await db.chunks.bulkAdd(chunks);
    }),
  );
  return { document, chunks };
}

/** Documents, most recently added first. */
export async function listDocuments(db: H3lixDatabase): Promise<PrivateDocument[]> {
  return db.documents.orderBy('addedAt').reverse().toArray();
}

export async function getDocument(db: H3lixDatabase, id: string): Promise<PrivateDocument | undefined> {
  return db.documents.get(id);
}

/** A document's chunks in document order. */
export async function getChunks(db: H3lixDatabase, documentId: string): Promise<DocumentChunk[]> {
  const chunks = await db.chunks.where('documentId').equals(documentId).toArray();
  return chunks.sort((a, b) => a.index - b.index);
}

/** Deletes a document and its chunks, atomically. Returns the ids of the chunks removed. Deleting a missing one does nothing. */
export async function deleteDocument(db: H3lixDatabase, id: string): Promise<string[]> {
  return write(() =>
    db.transaction('rw', db.documents, db.chunks, async () => {
      const chunkIds = (await db.chunks.where('documentId').equals(id).primaryKeys()) as string[];
      await db.chunks.bulkDelete(chunkIds);
      await db.documents.delete(id);
      return chunkIds;
    }),
  );
}

/**
 * Replaces the embeddings of all of a document's chunks at once (after a
 * change of embedder), with the document's `embedderId`, in one transaction
 * so the document never holds vectors from two embedders. `embeddings` maps
 * chunk id to vector and must cover every chunk. Returns false, writing
 * nothing, when the document was deleted meanwhile or its chunks differ.
 */
export async function replaceDocumentEmbeddings(
  db: H3lixDatabase,
  documentId: string,
  embeddings: ReadonlyMap<string, ArrayLike<number>>,
  embedderId: string,
): Promise<boolean> {
  checkLength('embedder id', embedderId, EXPORT_LIMITS.embedderIdChars);
  const stored = new Map([...embeddings].map(([id, vector]) => [id, toStoredEmbedding(vector)] as const));
  return write(() =>
    db.transaction('rw', db.documents, db.chunks, async () => {
      const document = await db.documents.get(documentId);
      if (!document) return false;
      const chunks = await db.chunks.where('documentId').equals(documentId).toArray();
      if (chunks.length !== stored.size || chunks.some((chunk) => !stored.has(chunk.id))) return false;
      await db.chunks.bulkPut(chunks.map((chunk) => ({ ...chunk, embedding: stored.get(chunk.id) as Float32Array })));
      await db.documents.put({ ...document, embedderId });
      return true;
    }),
  );
}

function checkLength(field: string, value: string, limit: number): void {
  if (value.length > limit) throw new FieldTooLongError(field, value.length, limit);
}

/** Runs a write, turning a full disk into StorageQuotaError. */
async function write<T>(operation: () => PromiseLike<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toWriteError(error);
  }
}
