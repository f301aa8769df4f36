/**
 * The learning layer's history, as the Learning view shows it: every change
 * to an experience (by a rollout, a merge, the person, or use), every
 * proposal that was rejected (with why), and every rollout that found
 * nothing or failed. Entries are only ever added; the library can be
 * reconstructed and audited from them.
 */
import { z } from 'zod';
import { EXPERIENCE_ID_PATTERN, experienceSchema, type Experience } from './experience';
import type { LogEntry } from './library-merge';

export const LEARNING_LOG_KINDS = [
  'ADD', // a rollout (or a reviewed lesson) created it
  'UPDATE', // a rollout changed its text or domain
  'DELETE', // a rollout or the person removed it
  'MERGE', // near-duplicate proposals were folded into it
  'EDIT', // the person edited it
  'REJECTED', // a proposal failed to parse or validate; stays local with the reason
  'NOTHING', // a rollout ran and there was nothing to learn
  'FAILED', // a rollout job failed (engine error)
  'SHARING', // its sharing state changed
] as const;
export type LearningLogKind = (typeof LEARNING_LOG_KINDS)[number];

export const LEARNING_SOURCES = ['rollout', 'person', 'lesson'] as const;
export type LearningSource = (typeof LEARNING_SOURCES)[number];

const idSchema = z.string().regex(EXPERIENCE_ID_PATTERN);

export const learningLogEntrySchema = z.strictObject({
  id: z.string().min(1).max(128),
  at: z.int().min(0),
  kind: z.enum(LEARNING_LOG_KINDS),
  source: z.enum(LEARNING_SOURCES),
  experienceId: idSchema.nullable(),
  episodeId: idSchema.nullable(),
  before: experienceSchema.nullable(),
  after: experienceSchema.nullable(),
  /** One line for the person. */
  reason: z.string().max(2000),
  /** The raw detail (the model's output, cut) where it helps to see what was rejected. */
  detail: z.string().max(4000),
  /** The rollout group that produced it (artifact evidence when shared). */
  groupSize: z.int().min(1).max(64).nullable(),
  rewardSpread: z.number().min(0).max(1).nullable(),
});

export type LearningLogEntry = z.infer<typeof learningLogEntrySchema>;

export interface StepContext {
  at: number;
  source: LearningSource;
  episodeId: string | null;
  groupSize: number | null;
  rewardSpread: number | null;
  newId: () => string;
}

/** Log entries of one applied merge step. */
export function entriesOfStep(log: readonly LogEntry[], context: StepContext): LearningLogEntry[] {
  return log.map((entry) => ({
    id: context.newId(),
    at: context.at,
    kind: entry.op,
    source: context.source,
    experienceId: entry.id,
    episodeId: context.episodeId,
    before: entry.before,
    after: entry.after,
    reason: entry.reason.slice(0, 2000),
    detail: '',
    groupSize: context.groupSize,
    rewardSpread: context.rewardSpread,
  }));
}

/** The evidence to put on an experience's artifact: its latest step's group, else a person's lesson (their answer against their correction). */
export function evidenceFor(experienceId: string, log: readonly LearningLogEntry[]): { groupSize: number; rewardSpread: number } {
  let latest: LearningLogEntry | null = null;
  for (const e of log) {
    if (e.experienceId === experienceId && e.groupSize !== null && e.rewardSpread !== null && (!latest || e.at >= latest.at)) latest = e;
  }
  return latest ? { groupSize: latest.groupSize ?? 2, rewardSpread: latest.rewardSpread ?? 1 } : { groupSize: 2, rewardSpread: 1 };
}

export type { Experience };
