/**
 * The person's ownership of their data: everything out as one file,
 * everything back in from one, and deleting it all.
 *
 * "Everything" is every table except the node identity (its private key is
 * non-extractable by design): conversations, messages, settings, memories,
 * documents and their chunks, evidence, the audit log, and the learning
 * layer (episodes, experiences, the learning log, jobs, sharing state).
 *
 * Import validates the whole file before touching the database (see
 * src/lib/data/export-format.ts), then writes in ONE transaction over all
 * tables: a file is imported completely or not at all. Records whose id is
 * already stored are replaced by the file's; everything else stays. A
 * document in the file replaces the stored one whole, chunks included (a
 * stored chunk the file's version lacks would otherwise linger in retrieval).
 * Jobs arrive settled ('running' is 'queued': see settleJob); an unfinished
 * job from the file whose work (class and subject) already has another
 * unfinished job here is written 'cancelled', so the queue keeps one live
 * job per piece of work and the one this tab may be running is left alone.
 *
 * After an import or a delete, the in-memory retrieval index is stale: the
 * caller reloads it (KnowledgeBase.reload in src/services/knowledge.ts), and
 * anything holding the experience library or the job queue in memory reads
 * them again.
 */

import type { Table } from 'dexie';
import { isLive, type Job } from '../lib/jobs/job';
import type { Episode } from '../lib/learning/episode';
import type { Experience } from '../lib/learning/experience';
import type { LearningLogEntry } from '../lib/learning/learning-log';
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
  type StoredSharingRecord,
} from '../lib/data/export-format';
import { toWriteError, type H3lixDatabase } from './db';
import type { SharingRecord } from './learning-repository';

// The file's sharing records and the repository's must be the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type SharingRecordMatchesFile = Same<StoredSharingRecord, SharingRecord> extends true ? true : never;
const sharingRecordMatchesFile: SharingRecordMatchesFile = true;
void sharingRecordMatchesFile;

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
  episodes: number;
  experiences: number;
  learningLog: number;
  jobs: number;
  sharing: number;
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
  const learning = learningTables(db);
  const tables = [db.conversations, db.messages, db.settings, db.memories, db.documents, db.chunks, db.evidence, db.audit, ...Object.values(learning)];
  const data = await db.transaction('r', tables, async () => ({
    conversations: await db.conversations.toArray(),
    messages: await db.messages.toArray(),
    settings: await db.settings.toArray(),
    memories: await db.memories.toArray(),
    documents: await db.documents.toArray(),
    chunks: await db.chunks.toArray(),
    evidence: await db.evidence.toArray(),
    audit: await db.audit.toArray(),
    episodes: await learning.episodes.toArray(),
    experiences: await learning.experiences.toArray(),
    learningLog: await learning.learningLog.toArray(),
    jobs: await learning.jobs.toArray(),
    sharing: await learning.sharing.toArray(),
  }));
  // Evidence of an answer that was since deleted explains nothing any more: it
  // is left out rather than making the whole export impossible (the file
  // format insists that evidence belongs to a message in the file).
  const messageIds = new Set(data.messages.map((m) => m.id));
  data.evidence = data.evidence.filter((record) => messageIds.has(record.messageId));
  // Likewise sharing state of an experience that was since deleted: there is
  // nothing left to share (the file insists it belongs to an experience in it).
  const experienceIds = new Set(data.experiences.map((e) => e.id));
  data.sharing = data.sharing.filter((record) => experienceIds.has(record.experienceId));
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
  const learning = learningTables(db);
  const tables = [db.conversations, db.messages, db.settings, db.memories, db.documents, db.chunks, db.evidence, db.audit, ...Object.values(learning)];

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
        episodes: await countExisting(learning.episodes, data.episodes.map((e) => e.id)),
        experiences: await countExisting(learning.experiences, data.experiences.map((e) => e.id)),
        learningLog: await countExisting(learning.learningLog, data.learningLog.map((e) => e.id)),
        jobs: await countExisting(learning.jobs, data.jobs.map((j) => j.id)),
        sharing: await countExisting(learning.sharing, data.sharing.map((s) => s.experienceId)),
      };
      const jobs = await withoutSecondLiveJobs(learning.jobs, data.jobs);
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
      await learning.episodes.bulkPut(data.episodes);
      await learning.experiences.bulkPut(data.experiences);
      await learning.learningLog.bulkPut(data.learningLog);
      await learning.jobs.bulkPut(jobs);
      await learning.sharing.bulkPut(data.sharing);
      return {
        conversations: data.conversations.length,
        messages: data.messages.length,
        settings: data.settings.length,
        memories: data.memories.length,
        documents: data.documents.length,
        chunks: data.chunks.length,
        evidence: data.evidence.length,
        audit: data.audit.length,
        episodes: data.episodes.length,
        experiences: data.experiences.length,
        learningLog: data.learningLog.length,
        jobs: data.jobs.length,
        sharing: data.sharing.length,
        replaced,
      };
    });
  } catch (error) {
    throw toWriteError(error);
  }
}

/** The learning layer's tables (schema version 4), typed. */
function learningTables(db: H3lixDatabase) {
  return {
    episodes: db.table<Episode, string>('episodes'),
    experiences: db.table<Experience, string>('experiences'),
    learningLog: db.table<LearningLogEntry, string>('learningLog'),
    jobs: db.table<Job, string>('jobs'),
    sharing: db.table<SharingRecord, string>('sharing'),
  };
}

const workOf = (job: Pick<Job, 'jobClass' | 'subject'>): string => JSON.stringify([job.jobClass, job.subject]);

/**
 * The file's jobs, each unfinished one that would become a second live job
 * for the same work (another id already queued or running here, and not
 * replaced by the file) written as cancelled instead. Runs inside the import
 * transaction.
 */
async function withoutSecondLiveJobs(table: Table<Job, string>, incoming: readonly Job[]): Promise<Job[]> {
  if (!incoming.some(isLive)) return [...incoming];
  const replacedIds = new Set(incoming.map((j) => j.id));
  const liveHere = new Set(
    (await table.where('state').anyOf(['queued', 'running']).toArray()).filter((j) => !replacedIds.has(j.id)).map(workOf),
  );
  return incoming.map((job) =>
    isLive(job) && liveHere.has(workOf(job))
      ? { ...job, state: 'cancelled', result: 'Not restored from the file: the same work was already queued here.' }
      : job,
  );
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
