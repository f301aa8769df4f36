/**
 * One step of editing the experience library: the operations proposed by a
 * round's rollout groups (one batch per group, from parseOperations) are
 * merged by fixed rules and applied, at most K experiences at a time.
 *
 * Why fixed rules rather than asking the model to merge: the merge must be
 * predictable, testable and impossible to talk into a wholesale rewrite
 * (which collapses the library's context, DESIGN.md 2.3). Why K: each step
 * is small enough to review in the history view and to undo; what does not
 * fit is deferred and returned, never dropped silently.
 *
 * The rules, in the order they are applied:
 * 1. Batches whose advantage is not in 0..1 or whose episode ids are
 *    malformed are discarded whole; ops that no longer fit the library
 *    (unknown id, text not "When …, …", domain outside the taxonomy) are
 *    discarded one by one (the library may have changed since parsing).
 *    NONE does nothing.
 * 2. All proposals are put in one canonical order: batch advantage (high
 *    first), then DELETE, UPDATE, ADD, then id, text, domain, reason,
 *    episode ids. Everything below walks that order, so the result does not
 *    depend on the order of batches or of ops within a batch.
 * 3. DELETE first (removing wrong advice is the most urgent edit and can
 *    never create a duplicate). DELETE beats UPDATE: every UPDATE of an id
 *    with a DELETE proposed in this step is discarded, even when that DELETE
 *    is deferred; an UPDATE or ADD whose text is a near-duplicate of an
 *    experience deleted in this step is discarded too.
 * 4. Several UPDATEs of one id: the one from the batch with the higher
 *    advantage wins; on equal advantage the text that sorts first (UTF-16
 *    code units) wins. The others are discarded. An UPDATE keeps the
 *    experience's confidence and counts (it sharpens wording; a change of
 *    meaning is a DELETE and an ADD) and links the batch's episodes. An
 *    UPDATE whose new text would be a near-duplicate of another experience is
 *    discarded (use DELETE to retire the redundant one).
 * 5. An ADD that is a near-duplicate (similarity ≥ threshold) of an
 *    experience, existing or added earlier in this step, merges into the most
 *    similar one: its text and domain stay, confidence is the max of both,
 *    episode links are the union, usage counts add up (a new proposal has
 *    none). Otherwise it becomes a new experience with confidence
 *    `initialConfidence(advantage)`.
 * 6. At most `maxChanges` (K) distinct experiences change per step; further
 *    edits of an experience already changed in this step are allowed (they
 *    do not widen the step). The rest are returned in `deferred`, as
 *    one-op batches to pass to the next step.
 *
 * Invariant: if no two experiences of the library are near-duplicates
 * before a step, none are after it (UPDATE and ADD check against the
 * working library; DELETE and merges change no text).
 *
 * Pure: the clock, id generator and similarity are passed in.
 */
import {
  contentTokens,
  createExperience,
  EXPERIENCE_DOMAINS,
  EXPERIENCE_ID_PATTERN,
  linkEpisodes,
  parseExperienceText,
  type Experience,
} from './experience';
import type { ExperienceOperation } from './semantic-advantage';

/** Proposals of one rollout group. */
export interface OperationBatch {
  ops: readonly ExperienceOperation[];
  /** How clearly the group told answers apart: its score spread (groupAdvantage), 0..1. */
  advantage: number;
  /** The episodes the group came from; linked to every experience the batch adds or edits. */
  episodeIds: readonly string[];
}

/** Similarity of two experience texts, 0..1 (1: the same advice). */
export type Similarity = (a: string, b: string) => number;

export interface MergeOptions {
  now: number;
  newId: () => string;
  /** Default: token Jaccard (`tokenJaccard`). An embedding cosine needs its own threshold. */
  similarity?: Similarity;
  /** Near-duplicate from this similarity up. Default NEAR_DUPLICATE_THRESHOLD (for token Jaccard). */
  threshold?: number;
  /** K: most distinct experiences changed in one step. Default DEFAULT_MAX_CHANGES. */
  maxChanges?: number;
}

export type LogOp = 'ADD' | 'UPDATE' | 'DELETE' | 'MERGE';

/** One changed experience, as the history view shows it: its state before and after the whole step. */
export interface LogEntry {
  /** ADD: created; DELETE: removed; UPDATE: text or domain changed; MERGE: near-duplicate ADDs folded in. */
  op: LogOp;
  id: string;
  before: Experience | null;
  after: Experience | null;
  reason: string;
}

/** An op that was not applied and will not be, with why. */
export interface DiscardedOperation {
  op: ExperienceOperation;
  advantage: number;
  episodeIds: readonly string[];
  reason: string;
}

export interface MergeResult {
  library: Experience[];
  log: LogEntry[];
  /** Over the K limit: not applied yet; pass them to the next step. */
  deferred: OperationBatch[];
  discarded: DiscardedOperation[];
}

/**
 * For token Jaccard (`tokenJaccard`): "When adding fractions, find a common
 * denominator" and "… find the common denominator first" (0.83) merge, while
 * "When adding fractions, …" and "When comparing fractions, …" (0.67) stay
 * apart. Jaccard on one-sentence texts is coarse; merging two different
 * lessons loses one of them, keeping a near-copy only costs a line, so the
 * threshold leans towards keeping.
 */
export const NEAR_DUPLICATE_THRESHOLD = 0.7;
/** K: a handful of edits per step, enough for one round of groups, small enough to review. */
export const DEFAULT_MAX_CHANGES = 4;
/** A new experience's confidence before any use: 0.5 (no evidence) plus up to 0.3 for a clear contrast; only use can raise it further. */
export const INITIAL_CONFIDENCE_BASE = 0.5;
export const INITIAL_CONFIDENCE_FROM_ADVANTAGE = 0.3;

export function initialConfidence(advantage: number): number {
  return INITIAL_CONFIDENCE_BASE + INITIAL_CONFIDENCE_FROM_ADVANTAGE * Math.min(1, Math.max(0, advantage));
}

/** Jaccard of the content words (`contentTokens`): 1 for texts that differ only in stopwords, case or punctuation. */
export function tokenJaccard(a: string, b: string): number {
  const ta = contentTokens(a);
  const tb = contentTokens(b);
  if (ta.size === 0 && tb.size === 0) return a === b ? 1 : 0;
  let shared = 0;
  for (const t of ta) if (tb.has(t)) shared++;
  return shared / (ta.size + tb.size - shared);
}

/*
 * Canonical order.
 */

interface Proposal {
  op: Exclude<ExperienceOperation, { op: 'NONE' }>;
  advantage: number;
  episodeIds: readonly string[];
}

const KIND_RANK = { DELETE: 0, UPDATE: 1, ADD: 2 } as const;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const field = (p: Proposal, k: 'id' | 'text' | 'domain' | 'reason'): string => {
  const v = (p.op as Partial<Record<typeof k, string>>)[k];
  return v ?? '';
};

/** A total order on proposals: equal only when the proposals are identical, so ties never depend on input order. */
function compareProposals(a: Proposal, b: Proposal): number {
  return (
    b.advantage - a.advantage ||
    KIND_RANK[a.op.op] - KIND_RANK[b.op.op] ||
    cmp(field(a, 'id'), field(b, 'id')) ||
    cmp(field(a, 'text'), field(b, 'text')) ||
    cmp(field(a, 'domain'), field(b, 'domain')) ||
    cmp(field(a, 'reason'), field(b, 'reason')) ||
    cmp(JSON.stringify(a.episodeIds), JSON.stringify(b.episodeIds))
  );
}

/*
 * The step.
 */

function checkOptions(options: MergeOptions): { similarity: Similarity; threshold: number; maxChanges: number } {
  const threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
  const maxChanges = options.maxChanges ?? DEFAULT_MAX_CHANGES;
  if (!Number.isFinite(options.now) || options.now < 0) throw new RangeError(`applyBatch: now (${options.now}) is not a time`);
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`applyBatch: threshold ${threshold} is not in (0, 1]`);
  if (!Number.isInteger(maxChanges) || maxChanges < 0) throw new RangeError(`applyBatch: maxChanges ${maxChanges} is not a whole number ≥ 0`);
  return { similarity: options.similarity ?? tokenJaccard, threshold, maxChanges };
}

const opLabel = (op: ExperienceOperation): string => ('id' in op ? `${op.op} ${op.id}` : op.op);

/**
 * Applies one step. Returns the new library (existing experiences in their
 * order, new ones appended), one log entry per changed experience, the
 * deferred ops and the discarded ones. The input is not modified.
 */
export function applyBatch(library: readonly Experience[], batches: readonly OperationBatch[], options: MergeOptions): MergeResult {
  const { similarity, threshold, maxChanges } = checkOptions(options);
  const { now, newId } = options;
  const discarded: DiscardedOperation[] = [];
  const deferred: OperationBatch[] = [];
  const discard = (p: Proposal | { op: ExperienceOperation; advantage: number; episodeIds: readonly string[] }, reason: string): void => {
    discarded.push({ op: p.op, advantage: p.advantage, episodeIds: p.episodeIds, reason });
  };

  // Working copy, in library order; Map keeps an updated key in place and appends new ones.
  const work = new Map<string, Experience>(library.map((e) => [e.id, e]));
  const known = new Set(work.keys());

  // 1. Validate and flatten.
  const proposals: Proposal[] = [];
  for (const batch of batches) {
    const badAdvantage = !(Number.isFinite(batch.advantage) && batch.advantage >= 0 && batch.advantage <= 1);
    const badEpisodes = batch.episodeIds.some((id) => !EXPERIENCE_ID_PATTERN.test(id));
    for (const op of batch.ops) {
      const p = { op, advantage: batch.advantage, episodeIds: batch.episodeIds };
      if (badAdvantage) discard(p, `batch advantage ${batch.advantage} is not in 0..1`);
      else if (badEpisodes) discard(p, 'batch has a malformed episode id');
      else if (op.op === 'NONE') continue;
      else {
        const problem = checkOperation(op, known);
        if (problem) discard(p, problem);
        else proposals.push({ op: canonicalOperation(op), advantage: batch.advantage, episodeIds: batch.episodeIds });
      }
    }
  }

  // 2. One canonical order for everything below.
  proposals.sort(compareProposals);

  const before = new Map<string, Experience | null>();
  const reasons = new Map<string, string[]>();
  const updated = new Set<string>();
  const canChange = (id: string): boolean => before.has(id) || before.size < maxChanges;
  const note = (id: string, previous: Experience | null, reason: string): void => {
    if (!before.has(id)) before.set(id, previous);
    const list = reasons.get(id) ?? [];
    list.push(reason);
    reasons.set(id, list);
  };
  const defer = (p: Proposal): void => {
    deferred.push({ ops: [p.op], advantage: p.advantage, episodeIds: p.episodeIds });
  };
  const why = (p: Proposal, fallback: string): string => (p.op.reason ? `${fallback}: ${p.op.reason}` : fallback);

  // 3. DELETE.
  const deleteProposed = new Set<string>();
  const deletedTexts: { id: string; text: string }[] = [];
  for (const p of proposals) {
    if (p.op.op !== 'DELETE') continue;
    const id = p.op.id;
    deleteProposed.add(id);
    const target = work.get(id);
    if (!target) {
      // Already deleted by a higher-ranked proposal of this step: the same verdict, nothing more to do.
      reasons.get(id)?.push(why(p, 'also proposed by another batch'));
      continue;
    }
    if (!canChange(id)) {
      defer(p);
      continue;
    }
    note(id, target, why(p, `deleted (advantage ${p.advantage.toFixed(2)})`));
    work.delete(id);
    deletedTexts.push({ id, text: target.text });
  }
  const resemblesDeleted = (text: string): string | null => {
    for (const d of deletedTexts) if (similarity(text, d.text) >= threshold) return d.id;
    return null;
  };

  // 4. UPDATE.
  const updateWinner = new Map<string, Proposal>();
  for (const p of proposals) {
    if (p.op.op !== 'UPDATE') continue;
    const { id } = p.op;
    if (deleteProposed.has(id)) {
      discard(p, `DELETE beats UPDATE: ${id} is deleted in this step${work.has(id) ? ' (deferred)' : ''}`);
      continue;
    }
    const winner = updateWinner.get(id);
    if (winner) {
      discard(p, `another UPDATE of ${id} won (advantage ${winner.advantage.toFixed(2)}; equal advantage: the text that sorts first)`);
      continue;
    }
    updateWinner.set(id, p);
    const target = work.get(id);
    if (!target || p.op.op !== 'UPDATE') continue; // cannot happen: known and not deleted
    const parsed = parseExperienceText(p.op.text);
    if (!parsed.ok) continue; // cannot happen: checked in step 1
    const domain = p.op.domain ?? target.domain;
    if (parsed.text === target.text && domain === target.domain) {
      discard(p, `${id} already reads so`);
      continue;
    }
    const gone = resemblesDeleted(parsed.text);
    if (gone) {
      discard(p, `DELETE beats UPDATE: the new text resembles ${gone}, deleted in this step`);
      continue;
    }
    const twin = [...work.values()].find((e) => e.id !== id && similarity(parsed.text, e.text) >= threshold);
    if (twin) {
      discard(p, `the new text would duplicate ${twin.id}`);
      continue;
    }
    if (!canChange(id)) {
      defer(p);
      continue;
    }
    note(id, target, why(p, `updated (advantage ${p.advantage.toFixed(2)})`));
    updated.add(id);
    work.set(id, {
      ...target,
      condition: parsed.condition,
      strategy: parsed.strategy,
      text: parsed.text,
      domain,
      episodeIds: linkEpisodes(target.episodeIds, p.episodeIds),
      updatedAt: Math.max(now, target.updatedAt),
      version: target.version + 1,
    });
  }

  // 5. ADD.
  for (const p of proposals) {
    if (p.op.op !== 'ADD') continue;
    const parsed = parseExperienceText(p.op.text);
    if (!parsed.ok) continue; // cannot happen: checked in step 1
    const gone = resemblesDeleted(parsed.text);
    if (gone) {
      discard(p, `DELETE beats ADD: resembles ${gone}, deleted in this step`);
      continue;
    }
    let best: Experience | null = null;
    let bestScore = -Infinity;
    for (const e of work.values()) {
      const s = similarity(parsed.text, e.text);
      if (s > bestScore) {
        best = e;
        bestScore = s;
      }
    }
    const confidence = initialConfidence(p.advantage);
    if (best && bestScore >= threshold) {
      const merged: Experience = {
        ...best,
        confidence: Math.max(best.confidence, confidence),
        episodeIds: linkEpisodes(best.episodeIds, p.episodeIds),
      };
      if (merged.confidence === best.confidence && sameList(merged.episodeIds, best.episodeIds)) {
        discard(p, `already in the library as ${best.id}`);
        continue;
      }
      if (!canChange(best.id)) {
        defer(p);
        continue;
      }
      note(best.id, best, why(p, `near-duplicate ADD merged in (similarity ${bestScore.toFixed(2)})`));
      work.set(best.id, { ...merged, updatedAt: Math.max(now, best.updatedAt), version: best.version + 1 });
      continue;
    }
    if (before.size >= maxChanges) {
      defer(p);
      continue;
    }
    const id = newId();
    if (!EXPERIENCE_ID_PATTERN.test(id) || known.has(id) || work.has(id) || before.has(id)) {
      throw new Error(`applyBatch: newId returned ${JSON.stringify(id)}, which is malformed or already used`);
    }
    const created = createExperience({ id, text: parsed.text, domain: p.op.domain, confidence, episodeIds: p.episodeIds, now });
    note(id, null, why(p, `added (advantage ${p.advantage.toFixed(2)})`));
    work.set(id, created);
  }

  const log: LogEntry[] = [...before].map(([id, previous]) => {
    const after = work.get(id) ?? null;
    const op: LogOp = previous === null ? 'ADD' : after === null ? 'DELETE' : updated.has(id) ? 'UPDATE' : 'MERGE';
    return { op, id, before: previous, after, reason: (reasons.get(id) ?? []).join('; ') };
  });
  // Step 1 discards in input order; sort so that this list, too, does not depend on it.
  const key = (d: DiscardedOperation): string => JSON.stringify([d.reason, -d.advantage, d.op, d.episodeIds]);
  const keyed = discarded.map((d) => ({ d, k: key(d) })).sort((a, b) => cmp(a.k, b.k));
  return { library: [...work.values()], log, deferred, discarded: keyed.map((x) => x.d) };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Why an op cannot be applied to a library with these ids, or null. */
function checkOperation(op: Exclude<ExperienceOperation, { op: 'NONE' }>, known: ReadonlySet<string>): string | null {
  if ('id' in op && !known.has(op.id)) return `${opLabel(op)}: unknown id (deleted since it was proposed?)`;
  if ('text' in op) {
    const t = parseExperienceText(op.text);
    if (!t.ok) return `${opLabel(op)}: ${t.reason}`;
  }
  const domain = 'domain' in op ? op.domain : undefined;
  if (domain !== undefined && !(EXPERIENCE_DOMAINS as readonly string[]).includes(domain)) return `${opLabel(op)}: domain ${domain} is not in the taxonomy`;
  if (op.reason !== undefined && typeof op.reason !== 'string') return `${opLabel(op)}: reason is not a string`;
  return null;
}

/** The op with its text in canonical form, so equal advice compares equal in the canonical order. */
function canonicalOperation(op: Exclude<ExperienceOperation, { op: 'NONE' }>): Exclude<ExperienceOperation, { op: 'NONE' }> {
  if (op.op === 'DELETE') return op;
  const t = parseExperienceText(op.text);
  return t.ok ? { ...op, text: t.text } : op;
}
