/**
 * The person's ownership of their data: everything out as one file,
 * everything back in from one, and deleting it all.
 *
 * Import validates the whole file before touching the database (see
 * src/lib/data/export-format.ts), then writes in ONE transaction over all
 * tables: a file is imported completely or not at all. Records whose id is
 * already stored are replaced by the file's; everything else stays.
 */

import { version as PACKAGE_VERSION } from '../../package.json';
import {
  buildExport,
  checkExportFileSize,
  parseExport,
  serializeExport,
  utf8ByteLength,
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
  const data = await db.transaction('r', db.conversations, db.messages, db.settings, async () => ({
    conversations: await db.conversations.toArray(),
    messages: await db.messages.toArray(),
    settings: await db.settings.toArray(),
  }));
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
  const { conversations, messages, settings } = parsed.export.data;

  try {
    return await db.transaction('rw', db.conversations, db.messages, db.settings, async () => {
      const replaced: ImportCounts = {
        conversations: await countExisting(db.conversations, conversations.map((c) => c.id)),
        messages: await countExisting(db.messages, messages.map((m) => m.id)),
        settings: await countExisting(db.settings, settings.map((s) => s.key)),
      };
      await db.conversations.bulkPut(conversations);
      await db.messages.bulkPut(messages);
      await db.settings.bulkPut(settings);
      return { conversations: conversations.length, messages: messages.length, settings: settings.length, replaced };
    });
  } catch (error) {
    throw toWriteError(error);
  }
}

async function countExisting(
  table: H3lixDatabase['conversations'] | H3lixDatabase['messages'] | H3lixDatabase['settings'],
  keys: string[],
): Promise<number> {
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
