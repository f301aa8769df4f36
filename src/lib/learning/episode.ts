/**
 * Episodes: one question, the answer the person saw, and what the person (or
 * a check) said about it afterwards. The learning layer learns only from
 * these signals; an episode without any is never sent to a rollout.
 *
 * Signals, strongest first:
 * - a verifier (a number, a JSON shape, unit tests) checks any answer, so it
 *   scores every rollout on its own;
 * - a correction is the person's own better answer: it scores rollouts by
 *   closeness and enters the group as a known-good answer;
 * - thumbs up/down judge the answer that was shown;
 * - a regeneration says the shown answer was not good enough, weakly.
 */
import { z } from 'zod';
import { ARTIFACT_DOMAINS } from '../artifacts/schema';
import { EXPERIENCE_ID_PATTERN, type ExperienceDomain } from './experience';
import { verifierSchema, type Verifier } from './verifiers';

export const MAX_TASK_CHARS = 4000;
export const MAX_ANSWER_CHARS = 8000;
export const MAX_CORRECTION_CHARS = 8000;
/** Experiences the answer was conditioned on that we remember per episode. */
export const MAX_USED_EXPERIENCES = 16;

export type Feedback = 'up' | 'down';

/**
 * - open: signals may still arrive; not (yet) worth a rollout or not queued;
 * - queued: a rollout job exists;
 * - learned: a rollout ran and the library changed (or a lesson was saved);
 * - nothing-to-learn: a rollout ran and the group did not differ, or the model proposed NONE;
 * - rejected: the model's proposal did not parse or failed validation (reason kept);
 * - failed: the job failed for good (engine error), with the error kept.
 */
export const EPISODE_STATES = ['open', 'queued', 'learned', 'nothing-to-learn', 'rejected', 'failed'] as const;
export type EpisodeState = (typeof EPISODE_STATES)[number];

const idSchema = z.string().regex(EXPERIENCE_ID_PATTERN);
const timeSchema = z.int().min(0).max(8_640_000_000_000_000);

export const episodeSchema = z.strictObject({
  id: idSchema,
  conversationId: z.string().min(1).max(128),
  /** The assistant message that was judged. */
  messageId: z.string().min(1).max(128),
  task: z.string().max(MAX_TASK_CHARS),
  answer: z.string().max(MAX_ANSWER_CHARS),
  domain: z.enum(ARTIFACT_DOMAINS),
  feedback: z.enum(['up', 'down']).nullable(),
  correction: z.string().max(MAX_CORRECTION_CHARS).nullable(),
  /** How often the person asked for another answer to this question. */
  regenerations: z.int().min(0).max(1000),
  verifier: verifierSchema.nullable(),
  /** Experiences that were in the answer's prompt (their outcome follows the feedback). */
  usedExperienceIds: z.array(idSchema).max(MAX_USED_EXPERIENCES),
  state: z.enum(EPISODE_STATES),
  /** Why the last rollout ended as it did (shown in the Learning view). */
  stateReason: z.string().max(2000),
  createdAt: timeSchema,
  updatedAt: timeSchema,
});

export type Episode = z.infer<typeof episodeSchema>;

export interface NewEpisodeInput {
  id: string;
  conversationId: string;
  messageId: string;
  task: string;
  answer: string;
  domain: ExperienceDomain;
  usedExperienceIds?: readonly string[];
  now: number;
}

/** Long texts are cut, never rejected: the person's feedback must always land. */
const cap = (text: string, max: number): string => (text.length > max ? text.slice(0, max) : text);

export function createEpisode(input: NewEpisodeInput): Episode {
  return episodeSchema.parse({
    id: input.id,
    conversationId: input.conversationId,
    messageId: input.messageId,
    task: cap(input.task, MAX_TASK_CHARS),
    answer: cap(input.answer, MAX_ANSWER_CHARS),
    domain: input.domain,
    feedback: null,
    correction: null,
    regenerations: 0,
    verifier: null,
    usedExperienceIds: [...new Set(input.usedExperienceIds ?? [])].slice(0, MAX_USED_EXPERIENCES),
    state: 'open',
    stateReason: '',
    createdAt: input.now,
    updatedAt: input.now,
  });
}

export type EpisodeSignal =
  | { type: 'feedback'; value: Feedback | null }
  | { type: 'correction'; text: string }
  | { type: 'regenerated' }
  | { type: 'verifier'; verifier: Verifier | null };

/** The episode with one more signal. A new signal reopens a finished episode: there is something new to learn from. */
export function applySignal(episode: Episode, signal: EpisodeSignal, now: number): Episode {
  const next: Episode = { ...episode, updatedAt: Math.max(now, episode.updatedAt) };
  switch (signal.type) {
    case 'feedback':
      next.feedback = signal.value;
      break;
    case 'correction': {
      const text = cap(signal.text.trim(), MAX_CORRECTION_CHARS);
      next.correction = text === '' ? null : text;
      // Correcting an answer says it was not right, whatever the thumbs said.
      if (next.correction !== null) next.feedback = 'down';
      break;
    }
    case 'regenerated':
      next.regenerations = Math.min(episode.regenerations + 1, 1000);
      break;
    case 'verifier':
      next.verifier = signal.verifier;
      break;
  }
  if (episode.state !== 'queued') next.state = 'open';
  return episodeSchema.parse(next);
}

/**
 * How the person judged the answer they saw, 0..1, or null without a
 * judgement. A regeneration alone is a weak "not this": 0.25, not 0.
 */
export function shownAnswerScore(episode: Pick<Episode, 'feedback' | 'correction' | 'regenerations'>): number | null {
  if (episode.correction !== null || episode.feedback === 'down') return 0;
  if (episode.feedback === 'up') return 1;
  if (episode.regenerations > 0) return 0.25;
  return null;
}

/**
 * Whether a rollout can learn anything from the episode: it needs a way to
 * score answers (a verifier, a correction) or a negative judgement to
 * contrast with. A thumbs-up alone is recorded (it raises the confidence of
 * the experiences used) but does not start a rollout: the answer was fine.
 */
export function worthLearning(episode: Pick<Episode, 'feedback' | 'correction' | 'regenerations' | 'verifier'>): boolean {
  return episode.verifier !== null || episode.correction !== null || episode.feedback === 'down' || episode.regenerations > 0;
}
