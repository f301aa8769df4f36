/**
 * An experience: one entry of the local experience library, the thing the
 * synthetic-learning layer learns instead of weights (DESIGN.md 2.3). It reads
 * "When <condition>, <strategy>", so that the condition says when it applies
 * (what conditioning matches a question against) and the strategy says what to
 * do; a free-form "insight" could not be matched, merged or shown that way.
 *
 * The text comes from a model that read untrusted answers, so it is parsed
 * strictly: one line, bounded parts, no control characters, the exact form.
 * Whitespace and the case of the leading "When" are canonicalised (one text,
 * one spelling, so duplicates compare equal); anything else that does not fit
 * is rejected, never repaired.
 *
 * The domain is the artifacts' fixed taxonomy, so that an experience can later
 * become an artifact without being reclassified. Confidence is the mean of a
 * Beta belief that using the experience helps (see conditioning.ts); success
 * and failure counts keep the evidence behind it. Links to the episodes an
 * experience came from are bounded (newest kept) so that a popular experience
 * does not grow without limit.
 *
 * Pure: zod and constants only.
 */
import { z } from 'zod';
import { ARTIFACT_DOMAINS, type ArtifactDomain } from '../artifacts/schema';

export type ExperienceDomain = ArtifactDomain;
export const EXPERIENCE_DOMAINS = ARTIFACT_DOMAINS;

/** Ids of experiences and episodes: safe inside a prompt attribute, a URL or a storage key as they are. */
export const EXPERIENCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MIN_CONDITION_LENGTH = 3;
export const MAX_CONDITION_LENGTH = 200;
export const MIN_STRATEGY_LENGTH = 3;
export const MAX_STRATEGY_LENGTH = 400;
/** 'When ' + condition + ', ' + strategy: 607, inside an artifact's text limit (1,000), so an experience can always become one. */
export const MAX_EXPERIENCE_TEXT_LENGTH = 'When '.length + MAX_CONDITION_LENGTH + ', '.length + MAX_STRATEGY_LENGTH;
/** Episode links kept per experience; beyond this the oldest are forgotten. */
export const MAX_EPISODE_LINKS = 32;
/** Counts stop here instead of overflowing into imprecise floats. */
export const MAX_COUNT = 1_000_000_000;

const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
const INVISIBLE = /[\p{Cf}]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LINE_BREAK = /[\n\r\u2028\u2029\u0085]/;
/** "When", any case, then whitespace; the condition runs to the first comma followed by whitespace. */
const FORM = /^when\s+([^,]+?),\s+(.+)$/i;

export interface ExperienceParts {
  condition: string;
  strategy: string;
  /** The canonical text, `When ${condition}, ${strategy}`. */
  text: string;
}

export type ParsedExperienceText = ({ ok: true } & ExperienceParts) | { ok: false; reason: string };

/** The canonical text of a condition and a strategy. */
export function formatExperience(parts: { condition: string; strategy: string }): string {
  return `When ${parts.condition}, ${parts.strategy}`;
}

/**
 * Parses "When <condition>, <strategy>". The condition ends at the first comma
 * (the advantage prompt tells the model a condition has none), so the strategy
 * may contain commas but the condition may not.
 */
export function parseExperienceText(raw: unknown): ParsedExperienceText {
  if (typeof raw !== 'string') return { ok: false, reason: 'text is not a string' };
  if (LONE_SURROGATE.test(raw)) return { ok: false, reason: 'text has a lone surrogate (not valid Unicode)' };
  if (LINE_BREAK.test(raw)) return { ok: false, reason: 'text must be one line' };
  if (CONTROL.test(raw)) return { ok: false, reason: 'text has control characters' };
  if (INVISIBLE.test(raw)) return { ok: false, reason: 'text has invisible format characters' };
  // Bound before the regex work, so a huge input costs nothing.
  if (raw.length > MAX_EXPERIENCE_TEXT_LENGTH * 2) return { ok: false, reason: `text is longer than ${MAX_EXPERIENCE_TEXT_LENGTH} characters` };
  const clean = raw.normalize('NFC').replace(/\s+/g, ' ').trim();
  const m = FORM.exec(clean);
  if (!m) return { ok: false, reason: 'text does not read "When <condition>, <strategy>"' };
  const condition = (m[1] ?? '').trim();
  const strategy = (m[2] ?? '').trim();
  if (condition.length < MIN_CONDITION_LENGTH) return { ok: false, reason: `condition is shorter than ${MIN_CONDITION_LENGTH} characters` };
  if (condition.length > MAX_CONDITION_LENGTH) return { ok: false, reason: `condition is longer than ${MAX_CONDITION_LENGTH} characters` };
  if (strategy.length < MIN_STRATEGY_LENGTH) return { ok: false, reason: `strategy is shorter than ${MIN_STRATEGY_LENGTH} characters` };
  if (strategy.length > MAX_STRATEGY_LENGTH) return { ok: false, reason: `strategy is longer than ${MAX_STRATEGY_LENGTH} characters` };
  // A condition that is itself only "when" words has nothing to match on.
  if (!/[\p{L}\p{N}]/u.test(condition) || !/[\p{L}\p{N}]/u.test(strategy)) {
    return { ok: false, reason: 'condition and strategy must each contain a letter or digit' };
  }
  return { ok: true, condition, strategy, text: formatExperience({ condition, strategy }) };
}

const idSchema = z.string().regex(EXPERIENCE_ID_PATTERN, 'ids are 1-64 letters, digits, _ or -');
const timeSchema = z.int().min(0).max(8_640_000_000_000_000);
const countSchema = z.int().min(0).max(MAX_COUNT);

export const experienceSchema = z
  .strictObject({
    id: idSchema,
    condition: z.string(),
    strategy: z.string(),
    text: z.string(),
    domain: z.enum(ARTIFACT_DOMAINS),
    confidence: z.number().min(0).max(1),
    usageCount: countSchema,
    successCount: countSchema,
    failureCount: countSchema,
    /** Oldest first; at most MAX_EPISODE_LINKS, no repeats. */
    episodeIds: z.array(idSchema).max(MAX_EPISODE_LINKS),
    createdAt: timeSchema,
    updatedAt: timeSchema,
    /** 1 when created; +1 on every stored change (edits, merges, use), for optimistic concurrency and the history view. */
    version: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  })
  .superRefine((e, ctx) => {
    const parsed = parseExperienceText(e.text);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', path: ['text'], message: parsed.reason });
    else if (parsed.text !== e.text || parsed.condition !== e.condition || parsed.strategy !== e.strategy) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'text, condition and strategy disagree (text must be the canonical "When <condition>, <strategy>")' });
    }
    if (e.successCount + e.failureCount > e.usageCount) {
      ctx.addIssue({ code: 'custom', path: ['usageCount'], message: 'successes and failures exceed uses' });
    }
    if (new Set(e.episodeIds).size !== e.episodeIds.length) {
      ctx.addIssue({ code: 'custom', path: ['episodeIds'], message: 'episode ids repeat' });
    }
    if (e.updatedAt < e.createdAt) ctx.addIssue({ code: 'custom', path: ['updatedAt'], message: 'updatedAt is before createdAt' });
  });

export type Experience = z.infer<typeof experienceSchema>;

/**
 * `existing` then `added`, each id once at its latest position (an episode
 * linked again is fresh evidence), keeping only the newest MAX_EPISODE_LINKS:
 * an experience's most recent evidence is what the history view and a later
 * review most need.
 */
export function linkEpisodes(existing: readonly string[], added: readonly string[]): string[] {
  const order = new Set<string>();
  for (const id of [...existing, ...added]) {
    order.delete(id);
    order.add(id);
  }
  const out = [...order];
  return out.slice(Math.max(0, out.length - MAX_EPISODE_LINKS));
}

export interface NewExperienceInput {
  id: string;
  /** Must already be canonical (from parseExperienceText); re-checked. */
  text: string;
  domain: ExperienceDomain;
  confidence: number;
  episodeIds: readonly string[];
  now: number;
}

/** A fresh experience, validated; throws on invalid input (a programming error: callers parse first). */
export function createExperience(input: NewExperienceInput): Experience {
  const parsed = parseExperienceText(input.text);
  if (!parsed.ok) throw new RangeError(`createExperience: ${parsed.reason}`);
  return experienceSchema.parse({
    id: input.id,
    condition: parsed.condition,
    strategy: parsed.strategy,
    text: parsed.text,
    domain: input.domain,
    confidence: input.confidence,
    usageCount: 0,
    successCount: 0,
    failureCount: 0,
    episodeIds: linkEpisodes([], input.episodeIds),
    createdAt: input.now,
    updatedAt: input.now,
    version: 1,
  });
}

// Words that every experience or question shares ("when" starts every text) say
// nothing about which advice applies; counting them would make unrelated
// experiences look alike.
const STOPWORDS = new Set(
  'a an and are as at be by do does for from has have if in into is it its of on or so than that the then there these this those to was were when where which while with you your'.split(' '),
);

/**
 * The content words of a text, as near-duplicate detection and relevance see
 * them: NFKC, lower case, runs of letters and digits, stopwords dropped, and a
 * plural "s" folded ("answers" and "answer" are the same word to a reader;
 * without this, one plural keeps two copies of the same advice apart).
 */
export function contentTokens(text: string): Set<string> {
  const words = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  for (const w of words) {
    if (STOPWORDS.has(w)) continue;
    out.add(w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w);
  }
  return out;
}
