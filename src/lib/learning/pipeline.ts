/**
 * Learning from one episode, Training-Free GRPO style (DESIGN 2.3):
 *
 * 1. rollout: sample G answers to the episode's question with the current
 *    experiences in the prompt;
 * 2. score the group (rollout-scoring.ts), adding what the episode already
 *    knows: the answer the person saw, and their correction as a known-good
 *    answer;
 * 3. where scores differ (groupAdvantage), ask the model to contrast better
 *    and worse answers and propose library operations;
 * 4. parse them all-or-nothing, validate each candidate text, and apply the
 *    valid ones as one small step (applyBatch: delete beats update,
 *    near-duplicates merge, at most K changes).
 *
 * The engine, clock, ids, verifier and validator are passed in, so the same
 * code runs in the browser (the engine worker), in Node (bench/learning) and
 * in unit tests (a scripted engine double). Nothing here is half-applied:
 * the caller gets either a new library with its log, or the reason nothing
 * changed.
 */
import type { ChatTurn, GenerateOptions } from '../engine/contract';
import { selectExperiences } from './conditioning';
import { shownAnswerScore, type Episode } from './episode';
import type { Experience } from './experience';
import { applyBatch, type MergeResult } from './library-merge';
import { judgePrompt, parseJudgeScore, scoreGroup, type ScoredAnswer } from './rollout-scoring';
import {
  buildAdvantagePrompt,
  DEFAULT_MAX_OPERATIONS,
  groupAdvantage,
  parseOperations,
  type ExperienceOperation,
  type GroupAdvantage,
} from './semantic-advantage';
import type { Verifier } from './verifiers';

/** What the pipeline needs from an engine: a whole reply for some turns. */
export interface TextGenerator {
  generate(turns: ChatTurn[], options: GenerateOptions, signal?: AbortSignal): Promise<string>;
}

export type CandidateOperation = Extract<ExperienceOperation, { op: 'ADD' | 'UPDATE' }>;

export type CandidateCheck = { ok: true } | { ok: false; reason: string; detail: string };

/** Checks one proposed text before it may enter the library (validation.ts, adapted by the caller). */
export interface CandidateContext {
  episode: Episode;
  library: readonly Experience[];
  /** The group's answers (rollouts, the shown answer, the correction). */
  answers: readonly string[];
  /** The group's score spread: the candidate's initial confidence follows from it. */
  advantage: number;
}

export type CandidateValidator = (candidate: CandidateOperation, context: CandidateContext) => CandidateCheck;

export type VerifyAnswer = (verifier: Verifier, answer: string, signal?: AbortSignal) => Promise<{ score: number; detail: string }>;

export type LearnStage = 'rollout' | 'judge' | 'verify' | 'advantage' | 'merge';

export interface LearnProgress {
  stage: LearnStage;
  done: number;
  total: number;
}

export interface LearnDeps {
  generator: TextGenerator;
  now: () => number;
  newId: () => string;
  /** Required when the episode has a verifier; without it such an episode fails with a clear reason. */
  verify?: VerifyAnswer;
  validate?: CandidateValidator;
  onProgress?: (progress: LearnProgress) => void;
  signal?: AbortSignal;
}

export interface LearnOptions {
  /** G: answers sampled per group. */
  groupSize?: number;
  /** Tokens of experiences in each rollout's prompt. */
  conditioningBudgetTokens?: number;
  /** Ask the model to grade each answer too (only used without a verifier or correction). */
  judge?: boolean;
  systemPrompt?: string;
  rollout?: GenerateOptions;
  advantage?: GenerateOptions;
}

export const DEFAULT_GROUP_SIZE = 4;
/** Varied answers are the point of a group: a warm temperature. */
export const ROLLOUT_OPTIONS: GenerateOptions = { maxNewTokens: 256, temperature: 0.9, topP: 0.95 };
/** The contrast must follow a format: a cool one. */
export const ADVANTAGE_OPTIONS: GenerateOptions = { maxNewTokens: 400, temperature: 0.2, topP: 0.9 };
export const JUDGE_OPTIONS: GenerateOptions = { maxNewTokens: 8, temperature: 0, topP: 1 };
export const DEFAULT_CONDITIONING_BUDGET = 300;
/** Kept of the model's raw proposal, for the log. */
export const MAX_LOGGED_OUTPUT = 2000;

export interface RejectedCandidate {
  op: CandidateOperation;
  reason: string;
  detail: string;
}

/** A group member: a sampled answer, or what the episode brought. */
export type GroupMemberOrigin = 'rollout' | 'shown' | 'correction';

export interface GroupMember extends ScoredAnswer {
  origin: GroupMemberOrigin;
}

interface Common {
  group: GroupMember[];
  advantage: GroupAdvantage;
}

export type LearnOutcome =
  | (Common & {
      status: 'learned';
      ops: ExperienceOperation[];
      merge: MergeResult;
      rejected: RejectedCandidate[];
      output: string;
    })
  | (Common & {
      status: 'nothing-to-learn';
      reason: string;
      rejected: RejectedCandidate[];
      output: string | null;
    })
  | (Common & {
      status: 'rejected';
      reason: string;
      reasons: string[];
      rejected: RejectedCandidate[];
      output: string;
    });

/** An episode with a verifier but no way to run it. */
export class MissingVerifierError extends Error {
  override name = 'MissingVerifierError';
}

function rolloutTurns(episode: Episode, library: readonly Experience[], budget: number, systemPrompt: string): ChatTurn[] {
  const selection = selectExperiences(library, [episode.task], budget);
  const system = [systemPrompt.trim(), selection.block.trim()].filter(Boolean).join('\n\n');
  return [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: episode.task }];
}

export async function learnFromEpisode(
  episode: Episode,
  library: readonly Experience[],
  deps: LearnDeps,
  options: LearnOptions = {},
): Promise<LearnOutcome> {
  const { generator, signal } = deps;
  const progress = (stage: LearnStage, done: number, total: number): void => deps.onProgress?.({ stage, done, total });
  const g = Math.max(1, Math.min(16, Math.floor(options.groupSize ?? DEFAULT_GROUP_SIZE)));
  if (episode.verifier && !deps.verify) throw new MissingVerifierError('This episode has a check, but no verifier was given to run it.');

  // 1. Rollouts.
  const turns = rolloutTurns(episode, library, options.conditioningBudgetTokens ?? DEFAULT_CONDITIONING_BUDGET, options.systemPrompt ?? '');
  const sampled: string[] = [];
  for (let i = 0; i < g; i++) {
    signal?.throwIfAborted();
    progress('rollout', i, g);
    sampled.push(await generator.generate(turns, options.rollout ?? ROLLOUT_OPTIONS, signal));
    // An engine may stop by returning what it had: a cut answer is not a sample.
    signal?.throwIfAborted();
  }
  progress('rollout', g, g);

  // 2. The group: the samples, the answer the person saw, and their correction.
  const members: { answer: string; origin: GroupMemberOrigin }[] = sampled.map((answer) => ({ answer, origin: 'rollout' }));
  if (episode.answer.trim()) members.push({ answer: episode.answer, origin: 'shown' });
  if (episode.correction) members.push({ answer: episode.correction, origin: 'correction' });
  const answers = members.map((m) => m.answer);

  let scored: ScoredAnswer[];
  if (episode.verifier && deps.verify) {
    const scores: number[] = [];
    const details: string[] = [];
    for (const [i, answer] of answers.entries()) {
      signal?.throwIfAborted();
      progress('verify', i, answers.length);
      const result = await deps.verify(episode.verifier, answer, signal);
      scores.push(result.score);
      details.push(result.detail);
    }
    scored = scoreGroup({ answers, verifierScores: scores, verifierDetails: details });
  } else if (episode.correction) {
    scored = scoreGroup({ answers, reference: episode.correction });
  } else {
    let judgeScores: (number | null)[] | undefined;
    if (options.judge) {
      judgeScores = [];
      for (const [i, answer] of answers.entries()) {
        signal?.throwIfAborted();
        progress('judge', i, answers.length);
        judgeScores.push(parseJudgeScore(await generator.generate(judgePrompt(episode.task, answer), JUDGE_OPTIONS, signal)));
        signal?.throwIfAborted();
      }
    }
    scored = scoreGroup({ answers, ...(judgeScores ? { judgeScores } : {}) });
    // The person already judged the answer they saw: that outranks any estimate.
    const shown = members.findIndex((m) => m.origin === 'shown');
    const personal = shownAnswerScore(episode);
    const entry = scored[shown];
    if (entry && personal !== null) scored[shown] = { ...entry, score: personal, detail: 'judged by the person' };
  }
  const group: GroupMember[] = scored.map((s, i) => ({ ...s, origin: members[i]?.origin ?? 'rollout' }));
  const advantage = groupAdvantage(group.map((m) => m.score));
  if (!advantage.informative) {
    return { status: 'nothing-to-learn', reason: advantage.reason, group, advantage, rejected: [], output: null };
  }

  // 3. The contrast.
  signal?.throwIfAborted();
  progress('advantage', 0, 1);
  const relevant = selectExperiences(library, [episode.task], Number.MAX_SAFE_INTEGER, { maxItems: 20 }).experiences;
  const prompt = buildAdvantagePrompt({ task: episode.task, rollouts: group, group: advantage, experiences: relevant });
  const raw = await generator.generate(prompt.turns, options.advantage ?? ADVANTAGE_OPTIONS, signal);
  // A proposal cut off by a stop must not be parsed (it could even parse).
  signal?.throwIfAborted();
  const output = raw.slice(0, MAX_LOGGED_OUTPUT);
  progress('advantage', 1, 1);

  // 4. Parse (all or nothing), validate, merge.
  const shownIds = new Set(prompt.shownExperienceIds);
  const parsed = parseOperations(raw, library.filter((e) => shownIds.has(e.id)), DEFAULT_MAX_OPERATIONS);
  if (!parsed.ok) {
    return {
      status: 'rejected',
      reason: `The model's proposal could not be used: ${parsed.reasons[0] ?? 'unknown reason'}`,
      reasons: parsed.reasons,
      group,
      advantage,
      rejected: [],
      output,
    };
  }
  const rejected: RejectedCandidate[] = [];
  const kept: ExperienceOperation[] = [];
  for (const op of parsed.ops) {
    if ((op.op === 'ADD' || op.op === 'UPDATE') && deps.validate) {
      const check = deps.validate(op, { episode, library, answers: group.map((m) => m.answer), advantage: advantage.spread });
      if (!check.ok) {
        rejected.push({ op, reason: check.reason, detail: check.detail });
        continue;
      }
    }
    kept.push(op);
  }
  const effective = kept.filter((op) => op.op !== 'NONE');
  if (effective.length === 0) {
    const reason =
      rejected.length > 0
        ? `Every proposal was rejected (${rejected.map((r) => r.reason).join(', ')})`
        : 'The model found nothing general to learn (NONE)';
    return rejected.length > 0
      ? { status: 'rejected', reason, reasons: rejected.map((r) => `${r.reason}: ${r.detail}`), group, advantage, rejected, output }
      : { status: 'nothing-to-learn', reason, group, advantage, rejected, output };
  }
  progress('merge', 0, 1);
  const merge = applyBatch(library, [{ ops: effective, advantage: advantage.spread, episodeIds: [episode.id] }], {
    now: deps.now(),
    newId: deps.newId,
  });
  progress('merge', 1, 1);
  if (merge.log.length === 0) {
    return {
      status: 'nothing-to-learn',
      reason: `No change: ${merge.discarded.map((d) => d.reason).join('; ') || 'every operation was already in the library'}`,
      group,
      advantage,
      rejected,
      output,
    };
  }
  return { status: 'learned', ops: effective, merge, rejected, group, advantage, output };
}
