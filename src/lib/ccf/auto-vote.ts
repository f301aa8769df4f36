/**
 * The automatic vote (DESIGN.md 2.6, issue item 2; vote.ts `endorse`): does
 * an artifact from the network help on this node's own checkable episodes?
 * The app runs it later as a deferrable background job for artifacts no one
 * here has judged yet; the person's own vote always replaces it.
 *
 * 1. `checkableEpisodesFor` picks episodes that carry a check (a verifier:
 *    a number, a JSON shape or unit tests, learning/verifiers.ts) and fit the
 *    artifact: same domain first, then by the share of the artifact's words
 *    found in the question; at most `max` (AUTO_VOTE_MAX_EPISODES by default).
 * 2. `judgeArtifactOnEpisodes` asks the model each episode's question
 *    `samples` times without the artifact and as many times with it as a
 *    prior in the system prompt, exactly as the projection would show it
 *    (projection.ts `renderPriorsBlock`: a delimited `<network-priors>` block
 *    whose header says it is an untrusted hint, its text cleaned and its
 *    delimiters neutralised, so an instruction written in the artifact stays
 *    inside the block), runs the episode's check on every answer and
 *    compares the two pass rates.
 * 3. The verdict: `reject` when the artifact lowers the pass rate clearly,
 *    `endorse` when it raises it clearly, or when it changes nothing and the
 *    answers with it pass clearly (AUTO_VOTE_CLEAR_PASS_RATE: it does not
 *    hurt, and the model follows it without harm); no vote otherwise (no
 *    episode fits, too few answers, or a difference within the noise).
 *    Confidence follows the margin and the number of answers (`voteConfidence`).
 *
 * Both arms are sampled alternately (without, with, without, …), so a drift
 * in the engine or an abort affects both the same. An abort (the job yields
 * to the person's chat) rejects with the signal's reason (an AbortError by
 * default) and returns nothing partial: an answer cut by the abort is never
 * checked, and a check cancelled half-way has no outcome.
 *
 * Engine errors and check errors other than an abort propagate: the job
 * fails and is retried, rather than voting on half the evidence.
 *
 * Pure: the engine (`generate`) and the check (`runCheck`; in the app, unit
 * tests run in a sandboxed worker) are passed in.
 */
import type { Artifact } from '../artifacts/schema';
import type { ChatTurn, GenerateOptions } from '../engine/contract';
import type { Episode } from '../learning/episode';
import { contentTokens } from '../learning/experience';
import type { Verifier } from '../learning/verifiers';
import { ACCEPT_SHARE } from './aggregation';
import { MIN_TOKEN_RELEVANCE, renderPriorsBlock } from './projection';

/**
 * Episodes checked per artifact by default. Each costs 2 × `samples`
 * generations on the person's device (16 at the defaults, a few minutes of a
 * small model in the background); four episodes of one domain already show
 * whether a hint helps that kind of task, and the vote is one voice among
 * many nodes, each checking its own episodes.
 */
export const AUTO_VOTE_MAX_EPISODES = 4;
/** Most episodes whatever the caller asks: bounds the job (2 × 16 × samples generations). */
export const AUTO_VOTE_EPISODES_LIMIT = 16;
/**
 * Answers per arm and episode by default: two, so that one lucky or unlucky
 * sample does not decide an episode, while the whole job stays at
 * 2 × 2 × AUTO_VOTE_MAX_EPISODES = 16 generations.
 */
export const AUTO_VOTE_DEFAULT_SAMPLES = 2;
/** Most answers per arm and episode: beyond eight the job costs more than one voice is worth. */
export const AUTO_VOTE_MAX_SAMPLES = 8;
/**
 * Fewest answers per arm (over all episodes) for any vote. Four: with fewer,
 * a single answer moves the pass rate by a third or more, which is sampling
 * noise at a rollout temperature, not evidence.
 */
export const AUTO_VOTE_MIN_TRIALS = 4;
/**
 * Smallest difference of pass rates (with − without) that counts as an
 * effect: 0.2, one answer in five. Smaller differences are within what
 * resampling the same prompt produces.
 */
export const AUTO_VOTE_MIN_MARGIN = 0.2;
/**
 * Fewest answers by which the two arms must differ for an effect, whatever
 * the rate: two. One answer more or less is what one lucky sample does; this
 * matters when there are few answers (with 4 per arm, 0.25 is one answer).
 */
export const AUTO_VOTE_MIN_NET_PASSES = 2;
/**
 * Pass rate with the artifact from which "no effect" still endorses: 0.75.
 * An artifact that leaves the model's answers as good as they were and at
 * least three in four pass does no harm where it is meant to apply, and an
 * endorsement is what lets harmless, relevant advice reach acceptance. Below
 * it, "no effect" says nothing (the check fails both ways) and is no vote.
 */
export const AUTO_VOTE_CLEAR_PASS_RATE = 0.75;
/**
 * Pseudo-trials in the confidence formula: confidence = (1 + |margin|) / 2 ×
 * n / (n + AUTO_VOTE_CONFIDENCE_TRIALS), n the answers per arm. The first
 * factor maps the margin to 0.5..1 (no difference is a coin toss, a full
 * swing is certainty), the second discounts few answers: with 2, eight
 * answers keep 80 %. Consequences, with aggregation.ts MIN_MEDIAN_CONFIDENCE
 * = 0.6: an endorsement for "no effect" (margin below AUTO_VOTE_MIN_MARGIN)
 * stays below 0.6 however many answers, so harmless-but-useless advice is not
 * accepted on such votes alone; a margin of 0.5 over 8 answers reaches 0.6.
 */
export const AUTO_VOTE_CONFIDENCE_TRIALS = 2;
/**
 * Acceptance shown on the prior while it is judged: the lowest an accepted
 * artifact can have (aggregation.ts ACCEPT_SHARE), so the model sees the
 * artifact as the projection would show it once accepted, and the vote
 * measures that, without flattering it.
 */
export const JUDGED_PRIOR_ACCEPTANCE = ACCEPT_SHARE;
/**
 * Generation settings the app should pass to its engine for these answers:
 * the rollout temperature (learning/pipeline.ts ROLLOUT_OPTIONS), because the
 * pass rate should estimate how the model answers in use, not one greedy
 * reply, and both arms need varied samples to compare.
 */
export const AUTO_VOTE_GENERATE_OPTIONS: GenerateOptions = { maxNewTokens: 256, temperature: 0.9, topP: 0.95 };

/** An episode with a check. */
export type CheckableEpisode = Episode & { verifier: Verifier };

/** Produces one whole reply; `signal` is the job's (the engine should stop on it). */
export type AutoVoteGenerate = (messages: ChatTurn[], signal: AbortSignal | undefined) => Promise<string>;

/**
 * Runs an episode's check on one answer (learning/verifiers.ts runVerifier
 * with the app's code sandbox fits). Rejects only when cancelled.
 */
export type AutoVoteCheck = (verifier: Verifier, answer: string, signal: AbortSignal | undefined) => Promise<{ passed: boolean }>;

export interface AutoVoteInput {
  artifact: Artifact;
  /** Candidates, normally from `checkableEpisodesFor`; episodes without a check or a question are skipped. */
  episodes: readonly Episode[];
  generate: AutoVoteGenerate;
  runCheck: AutoVoteCheck;
  signal?: AbortSignal;
  /** Answers per arm and episode (AUTO_VOTE_DEFAULT_SAMPLES; 1..AUTO_VOTE_MAX_SAMPLES). */
  samples?: number;
  /** The app's own system prompt, in both arms (the artifact's block comes after it). */
  systemPrompt?: string;
}

/** One episode's answers: how many passed their check, without and with the artifact. */
export interface AutoVoteTrial {
  episodeId: string;
  domain: Episode['domain'];
  samples: number;
  passedWithout: number;
  passedWith: number;
}

export interface AutoVoteDecision {
  /** null: no vote (nothing fits, too little evidence, no clear effect). */
  vote: { value: 'endorse' | 'reject'; confidence: number } | null;
  /** One sentence for the person's field view, with the numbers. */
  reason: string;
  trials: AutoVoteTrial[];
}

/** Share of the artifact's content words found in the question (projection.ts measures relevance the same way). */
function overlap(artifactWords: ReadonlySet<string>, task: string): number {
  if (artifactWords.size === 0) return 0;
  const words = contentTokens(task);
  let hit = 0;
  for (const w of artifactWords) if (words.has(w)) hit++;
  return hit / artifactWords.size;
}

function isCheckable(episode: Episode): episode is CheckableEpisode {
  return episode.verifier !== null && episode.task.trim() !== '';
}

const clampCount = (value: number | undefined, fallback: number, max: number, min: number): number => {
  const n = value === undefined || !Number.isFinite(value) ? fallback : Math.floor(value);
  return Math.min(max, Math.max(min, n));
};

/**
 * This node's episodes on which `artifact` can be checked, best first, at
 * most `max` (capped at AUTO_VOTE_EPISODES_LIMIT): episodes with a check and
 * a question that are in the artifact's domain or contain at least
 * MIN_TOKEN_RELEVANCE of its words (where the projection would show it
 * without an embedding). Same domain first, then by that share, then the
 * most recent, then by id (deterministic).
 */
export function checkableEpisodesFor(artifact: Artifact, episodes: readonly Episode[], max: number = AUTO_VOTE_MAX_EPISODES): CheckableEpisode[] {
  const limit = clampCount(max, AUTO_VOTE_MAX_EPISODES, AUTO_VOTE_EPISODES_LIMIT, 0);
  if (limit === 0) return [];
  const words = contentTokens(artifact.text);
  const fitting: { episode: CheckableEpisode; sameDomain: boolean; share: number }[] = [];
  for (const episode of episodes) {
    if (!isCheckable(episode)) continue;
    const sameDomain = episode.domain === artifact.domain;
    const share = overlap(words, episode.task);
    if (sameDomain || share >= MIN_TOKEN_RELEVANCE) fitting.push({ episode, sameDomain, share });
  }
  fitting.sort(
    (a, b) =>
      Number(b.sameDomain) - Number(a.sameDomain) ||
      b.share - a.share ||
      b.episode.updatedAt - a.episode.updatedAt ||
      (a.episode.id < b.episode.id ? -1 : a.episode.id > b.episode.id ? 1 : 0),
  );
  return fitting.slice(0, limit).map((f) => f.episode);
}

/** The system prompt with the artifact as the projection would render it (one delimited, untrusted prior). */
export function priorSystemPrompt(artifact: Artifact, systemPrompt = ''): string {
  const block = renderPriorsBlock([
    {
      // The id, authors and endorsers are not rendered; the artifact is not accepted yet.
      entry: { id: 'h3x1-unjudged', artifact, authors: [], acceptance: JUDGED_PRIOR_ACCEPTANCE, endorsers: [] },
      relevance: 1,
      weight: 1,
    },
  ]);
  return [systemPrompt.trim(), block.trim()].filter(Boolean).join('\n\n');
}

function turnsFor(system: string, task: string): ChatTurn[] {
  return [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: task }];
}

/**
 * Confidence of a vote from the margin (pass rate with − without) and the
 * answers per arm: (1 + |margin|) / 2 × n / (n + AUTO_VOTE_CONFIDENCE_TRIALS),
 * rounded to 0.01 (see the constant for why).
 */
export function voteConfidence(margin: number, answersPerArm: number): number {
  if (!Number.isFinite(margin) || !(answersPerArm > 0)) return 0;
  const m = Math.min(1, Math.abs(margin));
  const c = ((1 + m) / 2) * (answersPerArm / (answersPerArm + AUTO_VOTE_CONFIDENCE_TRIALS));
  return Math.round(Math.min(1, Math.max(0, c)) * 100) / 100;
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;

/**
 * The verdict on counts: `n` answers per arm, `without` and `with` of them
 * passed. Exported for the field view and the tests.
 */
export function decideAutoVote(n: number, without: number, withPrior: number): Pick<AutoVoteDecision, 'vote' | 'reason'> {
  if (n <= 0) return { vote: null, reason: 'No checkable episode of this node fits the artifact.' };
  const rateWithout = without / n;
  const rateWith = withPrior / n;
  // From the counts, not the two rates: 14/20 − 10/20 is 0.19999999999999996 in floating point.
  const net = withPrior - without;
  const margin = net / n;
  const numbers = `with it ${withPrior} of ${n} answers passed their checks (${pct(rateWith)}), without it ${without} of ${n} (${pct(rateWithout)})`;
  if (n < AUTO_VOTE_MIN_TRIALS) {
    return { vote: null, reason: `Too few answers to judge (${n} per arm, at least ${AUTO_VOTE_MIN_TRIALS} needed): ${numbers}.` };
  }
  const clear = Math.abs(margin) >= AUTO_VOTE_MIN_MARGIN && Math.abs(net) >= AUTO_VOTE_MIN_NET_PASSES;
  if (clear && margin < 0) {
    return { vote: { value: 'reject', confidence: voteConfidence(margin, n) }, reason: `It makes answers worse: ${numbers}.` };
  }
  if (clear && margin > 0) {
    return { vote: { value: 'endorse', confidence: voteConfidence(margin, n) }, reason: `It helps: ${numbers}.` };
  }
  if (net >= 0 && rateWith >= AUTO_VOTE_CLEAR_PASS_RATE) {
    return { vote: { value: 'endorse', confidence: voteConfidence(margin, n) }, reason: `It does no harm and answers with it pass clearly: ${numbers}.` };
  }
  return { vote: null, reason: `Inconclusive, no clear difference: ${numbers}.` };
}

/**
 * Judges `artifact` on `episodes` (see the module comment). Rejects with the
 * signal's reason when aborted, and with the engine's or the check's error
 * when one fails; otherwise resolves with a vote, or null and the reason.
 */
export async function judgeArtifactOnEpisodes(input: AutoVoteInput): Promise<AutoVoteDecision> {
  const { artifact, generate, runCheck, signal } = input;
  signal?.throwIfAborted();
  const samples = clampCount(input.samples, AUTO_VOTE_DEFAULT_SAMPLES, AUTO_VOTE_MAX_SAMPLES, 1);
  const episodes = input.episodes.filter(isCheckable).slice(0, AUTO_VOTE_EPISODES_LIMIT);
  if (episodes.length === 0) return { vote: null, reason: 'No checkable episode of this node fits the artifact.', trials: [] };

  const base = (input.systemPrompt ?? '').trim();
  const withPriorSystem = priorSystemPrompt(artifact, base);

  /** One answer, checked; the abort is checked after each await, so a cut answer or a cancelled check never counts. */
  const passes = async (episode: CheckableEpisode, system: string): Promise<boolean> => {
    signal?.throwIfAborted();
    const answer = await generate(turnsFor(system, episode.task), signal);
    // An engine may honour a stop by returning what it had: half an answer is not an answer.
    signal?.throwIfAborted();
    const result = await runCheck(episode.verifier, answer, signal);
    signal?.throwIfAborted();
    return result.passed === true;
  };

  const trials: AutoVoteTrial[] = [];
  for (const episode of episodes) {
    let passedWithout = 0;
    let passedWith = 0;
    for (let i = 0; i < samples; i++) {
      if (await passes(episode, base)) passedWithout++;
      if (await passes(episode, withPriorSystem)) passedWith++;
    }
    trials.push({ episodeId: episode.id, domain: episode.domain, samples, passedWithout, passedWith });
  }
  signal?.throwIfAborted();

  const n = trials.reduce((s, t) => s + t.samples, 0);
  const without = trials.reduce((s, t) => s + t.passedWithout, 0);
  const withPrior = trials.reduce((s, t) => s + t.passedWith, 0);
  const decision = decideAutoVote(n, without, withPrior);
  const where = `${trials.length} ${trials.length === 1 ? 'episode' : 'episodes'}`;
  return { vote: decision.vote, reason: `${decision.reason.slice(0, -1)} (on ${where}).`, trials };
}
