/**
 * The person's ownership of their data: everything out as one file,
 * everything back in from one, and deleting it all.
 *
 * "Everything" is every table except the node identity (its private key is
 * non-extractable by design): conversations, messages, settings, memories,
 * documents and their chunks, evidence, and the audit log.
 *
 * Import validates the whole file before touching the database (see
 * src/lib/data/export-format.ts), then writes in ONE transaction over all
 * tables: a file is imported completely or not at all. Records whose id is
 * already stored are replaced by the file's; everything else stays. A
 * document in the file replaces the stored one whole, chunks included (a
 * stored chunk the file's version lacks would otherwise linger in retrieval).
 *
 * After an import or a delete, the in-memory retrieval index is stale: the
 * caller reloads it (KnowledgeBase.reload in src/services/knowledge.ts).
 */

import type { Table } from 'dexie';
import { version as PACKAGE_VERSION } from '../../package.json';
import {
  buildExport,
  checkExportFileSize,
  parseExport,
  serializeExport,
  utf8ByteLength,
  toStoredData,
  validateExport,
  type ExportMeta,
} from '../lib/data/export-format';
import { toWriteError, type H3lixDatabase } from './db';

export const APP_INFO: ExportMeta['app'] = { name: 'H3LIX', version: PACKAGE_VERSION };

/** A file that cannot be imported. Nothing was changed. `problems` lists why, one sentence each. */
export class ImportError extends Error {
  override readonly name = 'ImportError';
  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? `This file cannot be imported: ${problems[0]}.`
        : `This file cannot be imported (${problems.length} problems, the first: ${problems[0]}).`,
    );
  }
}

/** The data cannot be written into a file that H3LIX could import again (e.g. over the size limit). */
export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(readonly problems: readonly string[]) {
    super(`Your data cannot be exported as one file: ${problems[0] ?? 'unknown problem'}.`);
  }
}

export interface ImportCounts {
  conversations: number;
  messages: number;
  settings: number;
  memories: number;
  documents: number;
  chunks: number;
  evidence: number;
  audit: number;
}

/** How many records the file held (all written), and how many of those replaced one with the same id. */
export interface ImportSummary extends ImportCounts {
  replaced: ImportCounts;
}

/**
 * Everything as the text of one export file. Read in one transaction, so the
 * file is a consistent snapshot even while another tab writes. Throws
 * ExportError rather than produce a file that import would refuse.
 */
export async function exportAll(db: H3lixDatabase, now: () => number, app: ExportMeta['app'] = APP_INFO): Promise<string> {
  const tables = [db.conversations, db.messages, db.settings, db.memories, db.documents, db.chunks, db.evidence, db.audit];
  const data = await db.transaction('r', tables, async () => ({
    conversations: await db.conversations.toArray(),
    messages: await db.messages.toArray(),
    settings: await db.settings.toArray(),
    memories: await db.memories.toArray(),
    documents: await db.documents.toArray(),
    chunks: await db.chunks.toArray(),
    evidence: await db.evidence.toArray(),
    audit: await db.audit.toArray(),
  }));
  // Evidence of an answer that was since deleted explains nothing any more: it
  // is left out rather than making the whole export impossible (the file
  // format insists that evidence belongs to a message in the file).
  const messageIds = new Set(data.messages.map((m) => m.id));
  data.evidence = data.evidence.filter((record) => messageIds.has(record.messageId));
  const document = buildExport(data, { exportedAt: now(), app });

  // The repository keeps records within the format's limits; this catches
  // whatever slipped past it (counts, old records) before the person relies
  // on a backup that cannot be restored.
  const check = validateExport(document);
  if (!check.ok) throw new ExportError(check.errors);
  const text = serializeExport(document);
  const sizeProblem = checkExportFileSize(utf8ByteLength(text));
  if (sizeProblem) throw new ExportError([sizeProblem]);
  return text;
}

/**
 * Imports an export file. Throws ImportError (with every problem found) when
 * the file is malformed, hostile or too big; the database is then untouched.
 * A failure while writing (e.g. StorageQuotaError) rolls the whole import back.
 */
export async function importAll(db: H3lixDatabase, text: string): Promise<ImportSummary> {
  const parsed = parseExport(text);
  if (!parsed.ok) throw new ImportError(parsed.errors);
  const data = toStoredData(parsed.export.data);
  const tables = [db.conversations, db.messages, db.settings, db.memories, db.documents, db.chunks, db.evidence, db.audit];

  try {
    return await db.transaction('rw', tables, async () => {
      const replaced: ImportCounts = {
        conversations: await countExisting(db.conversations, data.conversations.map((c) => c.id)),
        messages: await countExisting(db.messages, data.messages.map((m) => m.id)),
        settings: await countExisting(db.settings, data.settings.map((s) => s.key)),
        memories: await countExisting(db.memories, data.memories.map((m) => m.id)),
        documents: await countExisting(db.documents, data.documents.map((d) => d.id)),
        chunks: await countExisting(db.chunks, data.chunks.map((c) => c.id)),
        evidence: await countExisting(db.evidence, data.evidence.map((e) => e.messageId)),
        audit: await countExisting(db.audit, data.audit.map((a) => a.id)),
      };
      const documentIds = data.documents.map((d) => d.id);
      if (documentIds.length > 0) await db.chunks.where('documentId').anyOf(documentIds).delete();
      await db.conversations.bulkPut(data.conversations);
      await db.messages.bulkPut(data.messages);
      await db.settings.bulkPut(data.settings);
      await db.memories.bulkPut(data.memories);
      await db.documents.bulkPut(data.documents);
      await db.chunks.bulkPut(data.chunks);
      await db.evidence.bulkPut(data.evidence);
      await db.audit.bulkPut(data.audit);
      return {
        conversations: data.conversations.length,
        messages: data.messages.length,
        settings: data.settings.length,
        memories: data.memories.length,
        documents: data.documents.length,
        chunks: data.chunks.length,
        evidence: data.evidence.length,
        audit: data.audit.length,
        replaced,
      };
    });
  } catch (error) {
    throw toWriteError(error);
  }
}

async function countExisting(table: Table<unknown, string>, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  // Primary keys only: no need to load (possibly long) records to count them.
  return (await table.where(':id').anyOf(keys).primaryKeys()).length;
}

/** Empties every table, atomically. The database itself stays (open, at its version). */
export async function deleteEverything(db: H3lixDatabase): Promise<void> {
  await db.transaction('rw', db.tables, async () => {
    await Promise.all(db.tables.map((table) => table.clear()));
  });
}

/**
 * Deletes the whole database from the browser (this connection closes; other
 * tabs are told through their versionchange handler and close theirs). Open
 * it again with openDatabase to start afresh.
 */
export async function deleteDatabase(db: H3lixDatabase): Promise<void> {
  await db.delete();
}

/** "h3lix-export-2026-11-22T10-30-00Z.json": sorts by date, safe on every file system. */
export function suggestedExportFileName(now: () => number): string {
  const stamp = new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  return `h3lix-export-${stamp}.json`;
}
