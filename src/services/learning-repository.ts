/**
 * The learning layer over the local database: episodes, the experience
 * library, its history, sharing state. Free functions in the style of
 * chat-repository.ts; every change to the library and its history happens in
 * one transaction, so a closed tab never leaves an experience without the
 * log entry that explains it (or the other way round).
 */
import { episodeSchema, type Episode } from '../lib/learning/episode';
import { experienceSchema, type Experience } from '../lib/learning/experience';
import { learningLogEntrySchema, type LearningLogEntry } from '../lib/learning/learning-log';
import type { SharingState } from '../lib/learning/sharing';
import { toWriteError, type H3lixDatabase } from './db';

/** Sharing state of one experience, stored beside it. */
export interface SharingRecord {
  experienceId: string;
  /** The experience version this state is about: an edit makes an earlier approval stale. */
  experienceVersion: number;
  state: SharingState;
  /** Why (for blocked: the validation or privacy reason, never the text found). */
  reason: string;
  contentId: string | null;
  /** The canonical JSON of the artifact (queued or shared). */
  artifact: string | null;
  bytes: number | null;
  updatedAt: number;
}

/** The library no longer holds the experience (deleted in another tab, or a stale id). */
export class ExperienceNotFoundError extends Error {
  override readonly name = 'ExperienceNotFoundError';
  constructor(readonly id: string) {
    super('That experience no longer exists (it may have been deleted in another tab).');
  }
}

/** Someone changed the experience since it was read (another tab, a rollout): the edit is refused, not merged blindly. */
export class ExperienceConflictError extends Error {
  override readonly name = 'ExperienceConflictError';
  constructor(readonly id: string) {
    super('That experience changed while you were editing it. Look at the new version and edit again.');
  }
}

async function write<T>(operation: () => PromiseLike<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toWriteError(error);
  }
}

// Episodes

export function getEpisode(db: H3lixDatabase, id: string): Promise<Episode | undefined> {
  return db.table<Episode, string>('episodes').get(id);
}

export async function getEpisodeOfMessage(db: H3lixDatabase, messageId: string): Promise<Episode | undefined> {
  return db.table<Episode, string>('episodes').where('messageId').equals(messageId).first();
}

export async function putEpisode(db: H3lixDatabase, episode: Episode): Promise<void> {
  const checked = episodeSchema.parse(episode);
  await write(() => db.table<Episode, string>('episodes').put(checked));
}

export async function listEpisodes(db: H3lixDatabase, limit = 200): Promise<Episode[]> {
  return db.table<Episode, string>('episodes').orderBy('updatedAt').reverse().limit(limit).toArray();
}

// Experiences

export async function listExperiences(db: H3lixDatabase): Promise<Experience[]> {
  const all = await db.table<Experience, string>('experiences').toArray();
  // Oldest first: the order the library grew in (and the order merges keep).
  return all.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface LibraryStep {
  /** Experiences created or changed (after state). */
  put: readonly Experience[];
  /** Ids removed. */
  remove: readonly string[];
  log: readonly LearningLogEntry[];
  /** Episode state to store with the step (the rollout's outcome). */
  episode?: Episode;
}

/**
 * One step on the library, all or nothing. `expectVersions` (id → version
 * read before the step) makes a step computed from a stale library fail
 * with ExperienceConflictError instead of overwriting a newer edit.
 */
export async function applyLibraryStep(db: H3lixDatabase, step: LibraryStep, expectVersions: ReadonlyMap<string, number> = new Map()): Promise<void> {
  const puts = step.put.map((e) => experienceSchema.parse(e));
  const log = step.log.map((e) => learningLogEntrySchema.parse(e));
  const episode = step.episode ? episodeSchema.parse(step.episode) : undefined;
  await write(() =>
    db.transaction('rw', [db.table('experiences'), db.table('learningLog'), db.table('episodes'), db.table('sharing')], async () => {
      const table = db.table<Experience, string>('experiences');
      for (const [id, version] of expectVersions) {
        const current = await table.get(id);
        if (!current) throw new ExperienceNotFoundError(id);
        if (current.version !== version) throw new ExperienceConflictError(id);
      }
      if (puts.length) await table.bulkPut(puts);
      if (step.remove.length) {
        await table.bulkDelete([...step.remove]);
        await db.table('sharing').bulkDelete([...step.remove]);
      }
      if (log.length) await db.table('learningLog').bulkAdd(log);
      if (episode) await db.table('episodes').put(episode);
    }),
  );
}

// History

export async function listLog(db: H3lixDatabase, options: { experienceId?: string; limit?: number } = {}): Promise<LearningLogEntry[]> {
  const table = db.table<LearningLogEntry, string>('learningLog');
  const limit = options.limit ?? 200;
  if (options.experienceId) {
    const rows = await table.where('experienceId').equals(options.experienceId).toArray();
    return rows.sort((a, b) => b.at - a.at).slice(0, limit);
  }
  return table.orderBy('at').reverse().limit(limit).toArray();
}

export async function addLogEntries(db: H3lixDatabase, entries: readonly LearningLogEntry[], episode?: Episode): Promise<void> {
  await applyLibraryStep(db, { put: [], remove: [], log: entries, ...(episode ? { episode } : {}) });
}

// Sharing

export function getSharing(db: H3lixDatabase, experienceId: string): Promise<SharingRecord | undefined> {
  return db.table<SharingRecord, string>('sharing').get(experienceId);
}

export function listSharing(db: H3lixDatabase): Promise<SharingRecord[]> {
  return db.table<SharingRecord, string>('sharing').toArray();
}

export async function putSharing(db: H3lixDatabase, record: SharingRecord, log?: LearningLogEntry): Promise<void> {
  await write(() =>
    db.transaction('rw', [db.table('sharing'), db.table('learningLog'), db.table('experiences')], async () => {
      // An experience deleted meanwhile has nothing left to share.
      if (!(await db.table('experiences').get(record.experienceId))) throw new ExperienceNotFoundError(record.experienceId);
      await db.table('sharing').put(record);
      if (log) await db.table('learningLog').add(learningLogEntrySchema.parse(log));
    }),
  );
}
