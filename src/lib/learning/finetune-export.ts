/**
 * Fine-tuning dataset export (issue 7 item 4): the person's episodes, turned
 * into a JSONL file in the chat format that fine-tuning tools read, one
 * object per line:
 *
 *   {"messages":[{"role":"system","content":…},{"role":"user","content":…},
 *                {"role":"assistant","content":…}],"metadata":{…}}
 *
 * Which answer becomes the assistant turn (never an answer judged bad):
 * - the person's correction, where there is one (source `correction`);
 * - otherwise the answer shown, when its check passed (`verified-answer`) or
 *   the person gave it a thumbs up (`approved-answer`), and nothing judged it
 *   bad: a thumbs down or a failed check excludes it whatever else was said;
 * - nothing else: no judgement, or only regenerations (a weak "not this"),
 *   is not approval. Episodes store their check, not its outcome, so the
 *   outcomes come in `checks` (episode id → passed), from runVerifier.
 * The system turn is a fixed prompt plus, optionally, the experiences the
 * answer's prompt used (episode.usedExperienceIds still in the library with
 * confidence ≥ MIN_CONFIDENCE), as "When …, …" lessons.
 *
 * Privacy policy: the person downloads this file themselves, so it is
 * "redact by default, with a report" rather than the network's "drop unless
 * clean":
 * - every message goes through the PII detectors with the person's private
 *   vocabulary (pii-detectors.ts), on the text as exported (newlines kept)
 *   and as the privacy projection normalises it (normaliseText);
 * - a line with any secret (key, token, password, PIN, payment card, IBAN:
 *   the projection's DROP_KINDS) in its task, answer or correction is dropped
 *   whole; a redacted secret still says there was one and where. An
 *   experience with a secret is left out of the system turn instead (the line
 *   does not need it);
 * - every other span of personal data (names and terms of the private
 *   vocabulary, emails, phones, URLs, IP addresses, addresses, dates, account
 *   numbers) is replaced as a whole by a bracketed placeholder ("[email]",
 *   "[name]"), which a trainer can learn as a token;
 * - the redacted text is checked again (both views) and the line dropped if
 *   anything is still found;
 * - the report counts lines written, dropped by reason, redactions by kind;
 *   it never holds any of the text.
 * Metadata carries only ids, the domain, the source and the creation hour.
 *
 * Deterministic: lines sorted by the episode's creation time, then id; the
 * same input in any order gives the same bytes. Bounded: texts are bounded by
 * the episode schema, a line over MAX_LINE_CHARS is dropped, and at most
 * `maxLines` lines (the newest) are written. Duplicate lines (same user and
 * assistant turn) are written once.
 *
 * Pure: no clock, storage or randomness.
 */
import { z } from 'zod';
import { ARTIFACT_DOMAINS, coarsenTime } from '../artifacts/schema';
import { EXPERIENCE_ID_PATTERN, type Experience } from './experience';
import { episodeSchema, MAX_USED_EXPERIENCES, type Episode } from './episode';
import { compilePrivateVocabulary, detectPii, PII_KINDS, type PiiKind, type PiiSpan, type PrivateTermInput, type PrivateTermSpan, type PrivateVocabulary } from './pii-detectors';
import { DROP_KINDS, normaliseText } from './privacy-projection';
import { MIN_CONFIDENCE } from './validation';

/** Bumped when a line's fields or their meaning change. */
export const FINETUNE_FORMAT_VERSION = 1;
export const FINETUNE_FORMAT = 'h3lix-finetune';
export const DEFAULT_SYSTEM_PROMPT = 'You are H3LIX, a private assistant. Answer accurately, clearly and concisely.';
export const LESSONS_HEADING = 'Lessons learned from earlier feedback (apply those that fit the question):';
/** Longest serialised line (UTF-16 code units); the episode schema keeps real lines far below. */
export const MAX_LINE_CHARS = 64_000;
/** Longest content of one message in a line. */
export const MAX_MESSAGE_CHARS = 32_000;
export const MAX_SYSTEM_PROMPT_CHARS = 4_000;
/** Lines per export by default (the newest are kept). */
export const DEFAULT_MAX_LINES = 5_000;
export const MAX_LINES = 100_000;

export const FINETUNE_SOURCES = ['correction', 'approved-answer', 'verified-answer'] as const;
export type FinetuneSource = (typeof FINETUNE_SOURCES)[number];

export const FINETUNE_DROP_REASONS = [
  'invalid', // the stored episode does not pass its schema
  'duplicate-id', // another episode with the same id was exported instead
  'no-approval', // no correction, no thumbs up, no passed check
  'judged-bad', // thumbs down without a correction
  'failed-check', // its check failed
  'empty', // task or assistant turn is empty
  'secret', // a secret in the task, answer or correction
  'residual', // personal data still found after redaction
  'too-long', // the line would exceed MAX_LINE_CHARS or a message MAX_MESSAGE_CHARS
  'duplicate', // same user and assistant turn as an earlier line
  'over-limit', // beyond maxLines (the oldest go)
] as const;
export type FinetuneDropReason = (typeof FINETUNE_DROP_REASONS)[number];

const PLACEHOLDERS: Record<Exclude<PiiKind, 'private-term'>, string> = {
  email: '[email]',
  phone: '[phone]',
  url: '[url]',
  'ip-address': '[ip-address]',
  'payment-card': '[card-number]',
  iban: '[bank-account]',
  'account-number': '[number]',
  'street-address': '[address]',
  postcode: '[address]',
  date: '[date]',
  secret: '[secret]',
  password: '[password]',
};
const TERM_PLACEHOLDERS = { person: '[name]', place: '[place]', term: '[private]' } as const;
/** Overlapping spans take the first kind present: the most specific wording (as the projection does). */
const KIND_PRECEDENCE: readonly PiiKind[] = [
  'password', 'secret', 'payment-card', 'iban', 'email', 'url', 'ip-address', 'street-address', 'postcode', 'date', 'phone', 'account-number', 'private-term',
];

/*
 * The line schema, for the import side of a trainer.
 */

const contentSchema = z.string().min(1).max(MAX_MESSAGE_CHARS);
const idSchema = z.string().regex(EXPERIENCE_ID_PATTERN);
const HOUR_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/;

export const finetuneLineSchema = z.strictObject({
  messages: z.tuple([
    z.strictObject({ role: z.literal('system'), content: contentSchema }),
    z.strictObject({ role: z.literal('user'), content: contentSchema }),
    z.strictObject({ role: z.literal('assistant'), content: contentSchema }),
  ]),
  metadata: z.strictObject({
    format: z.literal(FINETUNE_FORMAT),
    version: z.literal(FINETUNE_FORMAT_VERSION),
    episodeId: idSchema,
    source: z.enum(FINETUNE_SOURCES),
    /** The episode's creation time, to the UTC hour (ISO 8601). */
    createdHour: z.string().regex(HOUR_ISO),
    domain: z.enum(ARTIFACT_DOMAINS),
    /** Experiences in the system turn, in the order shown. */
    experienceIds: z.array(idSchema).max(MAX_USED_EXPERIENCES),
    /** Spans of personal data replaced by placeholders in this line. */
    redactions: z.int().min(0),
  }),
});

export type FinetuneLine = z.infer<typeof finetuneLineSchema>;

/** One line of an export file, checked; throws on anything else (for a trainer's importer). */
export function parseFinetuneLine(line: string): FinetuneLine {
  if (line.length > MAX_LINE_CHARS) throw new RangeError(`line is longer than ${MAX_LINE_CHARS} characters`);
  return finetuneLineSchema.parse(JSON.parse(line));
}

/*
 * Export.
 */

export interface FinetuneExportInput {
  /** Stored episodes; any that fail episodeSchema are counted as `invalid`. */
  episodes: readonly unknown[];
  experiences: readonly Experience[];
  /** Outcome of each episode's check (verifier), by episode id: true passed, false failed. */
  checks?: ReadonlyMap<string, boolean>;
  /** The person's private vocabulary (profile, contacts, memory names), as for the privacy projection. */
  privateVocabulary: readonly PrivateTermInput[] | PrivateVocabulary;
  /** Default DEFAULT_SYSTEM_PROMPT. */
  systemPrompt?: string;
  /** Put the experiences the answer used in the system turn. Default true. */
  includeExperiences?: boolean;
  /** Default DEFAULT_MAX_LINES. */
  maxLines?: number;
}

export interface FinetuneReport {
  /** Episodes given. */
  considered: number;
  written: number;
  dropped: Record<FinetuneDropReason, number>;
  /** Spans replaced by placeholders in the written lines, by kind. */
  redactions: Record<PiiKind, number>;
  /** Written lines with at least one redaction. */
  redactedLines: number;
  /** Experiences left out of system turns because they held a secret or personal data that could not be redacted. */
  experiencesOmitted: number;
  bySource: Record<FinetuneSource, number>;
}

export interface FinetuneExport {
  /** The file: one JSON object per line, each line ending in "\n" ('' when empty). */
  jsonl: string;
  lines: FinetuneLine[];
  report: FinetuneReport;
}

type Redacted = { ok: true; text: string; counts: Map<PiiKind, number>; spans: number } | { ok: false; reason: 'secret' | 'residual' };

interface Pending {
  episode: Episode;
  line: FinetuneLine;
  counts: Map<PiiKind, number>;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function exportFinetuneDataset(input: FinetuneExportInput): FinetuneExport {
  const maxLines = input.maxLines ?? DEFAULT_MAX_LINES;
  if (!Number.isInteger(maxLines) || maxLines < 0 || maxLines > MAX_LINES) throw new RangeError(`exportFinetuneDataset: maxLines ${maxLines} is not in 0..${MAX_LINES}`);
  const systemPrompt = (input.systemPrompt ?? DEFAULT_SYSTEM_PROMPT).trim();
  if (systemPrompt === '' || systemPrompt.length > MAX_SYSTEM_PROMPT_CHARS) throw new RangeError(`exportFinetuneDataset: the system prompt must have 1..${MAX_SYSTEM_PROMPT_CHARS} characters`);
  const vocabulary = Array.isArray(input.privateVocabulary)
    ? compilePrivateVocabulary(input.privateVocabulary as readonly PrivateTermInput[])
    : (input.privateVocabulary as PrivateVocabulary);
  const includeExperiences = input.includeExperiences ?? true;

  const dropped = Object.fromEntries(FINETUNE_DROP_REASONS.map((r) => [r, 0])) as Record<FinetuneDropReason, number>;
  const report: FinetuneReport = {
    considered: input.episodes.length,
    written: 0,
    dropped,
    redactions: Object.fromEntries(PII_KINDS.map((k) => [k, 0])) as Record<PiiKind, number>,
    redactedLines: 0,
    experiencesOmitted: 0,
    bySource: { correction: 0, 'approved-answer': 0, 'verified-answer': 0 },
  };

  // The system prompt is the app's text, but it is checked like everything else.
  const system = redact(systemPrompt, vocabulary);
  if (!system.ok || system.spans > 0) throw new RangeError('exportFinetuneDataset: the system prompt holds personal data or a secret');

  // One episode per id: the latest version (updatedAt, then the serialisation), whatever the input order.
  const byId = new Map<string, { episode: Episode; key: string }>();
  for (const raw of input.episodes) {
    const parsed = episodeSchema.safeParse(raw);
    if (!parsed.success) {
      dropped.invalid++;
      continue;
    }
    const episode = parsed.data;
    const key = JSON.stringify(episode);
    const held = byId.get(episode.id);
    if (held) {
      dropped['duplicate-id']++;
      if (episode.updatedAt < held.episode.updatedAt || (episode.updatedAt === held.episode.updatedAt && key <= held.key)) continue;
    }
    byId.set(episode.id, { episode, key });
  }

  const experiences = new Map<string, Experience>();
  for (const e of input.experiences) if (!experiences.has(e.id)) experiences.set(e.id, e);
  const lessonCache = new Map<string, Redacted>();
  const lessonOf = (e: Experience): Redacted => {
    let r = lessonCache.get(e.id);
    if (!r) {
      r = redact(e.text, vocabulary);
      lessonCache.set(e.id, r);
    }
    return r;
  };

  const pending: Pending[] = [];
  const episodes = [...byId.values()].map((x) => x.episode).sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  for (const episode of episodes) {
    const choice = assistantTurn(episode, input.checks?.get(episode.id));
    if (!choice.ok) {
      dropped[choice.reason]++;
      continue;
    }
    if (episode.task.trim() === '' || choice.text.trim() === '') {
      dropped.empty++;
      continue;
    }
    const user = redact(episode.task, vocabulary);
    const assistant = redact(choice.text, vocabulary);
    if (!user.ok || !assistant.ok) {
      dropped[!user.ok ? user.reason : (assistant as { reason: 'secret' | 'residual' }).reason]++;
      continue;
    }
    const counts = new Map<PiiKind, number>();
    const add = (r: Map<PiiKind, number>): void => {
      for (const [k, n] of r) counts.set(k, (counts.get(k) ?? 0) + n);
    };
    add(user.counts);
    add(assistant.counts);

    const lessons: string[] = [];
    const experienceIds: string[] = [];
    if (includeExperiences) {
      for (const id of episode.usedExperienceIds) {
        const e = experiences.get(id);
        if (!e || !(e.confidence >= MIN_CONFIDENCE) || experienceIds.includes(id)) continue;
        const lesson = lessonOf(e);
        if (!lesson.ok) {
          report.experiencesOmitted++;
          continue;
        }
        lessons.push(`- ${lesson.text}`);
        experienceIds.push(id);
        add(lesson.counts);
      }
    }
    const systemText = lessons.length > 0 ? `${system.text}\n\n${LESSONS_HEADING}\n${lessons.join('\n')}` : system.text;
    if ([systemText, user.text, assistant.text].some((t) => t.length > MAX_MESSAGE_CHARS)) {
      dropped['too-long']++;
      continue;
    }
    const line: FinetuneLine = {
      messages: [
        { role: 'system', content: systemText },
        { role: 'user', content: user.text },
        { role: 'assistant', content: assistant.text },
      ],
      metadata: {
        format: FINETUNE_FORMAT,
        version: FINETUNE_FORMAT_VERSION,
        episodeId: episode.id,
        source: choice.source,
        createdHour: new Date(coarsenTime(episode.createdAt)).toISOString(),
        domain: episode.domain,
        experienceIds,
        redactions: [...counts.values()].reduce((a, b) => a + b, 0),
      },
    };
    if (JSON.stringify(line).length > MAX_LINE_CHARS) {
      dropped['too-long']++;
      continue;
    }
    pending.push({ episode, line, counts });
  }

  // Same question and answer twice: once (the earliest).
  const seen = new Set<string>();
  const unique = pending.filter((p) => {
    const key = JSON.stringify([p.line.messages[1].content, p.line.messages[2].content]);
    if (seen.has(key)) {
      dropped.duplicate++;
      return false;
    }
    seen.add(key);
    return true;
  });
  // Over the limit: the newest stay (they reflect the person's current preferences).
  const kept = unique.slice(Math.max(0, unique.length - maxLines));
  dropped['over-limit'] += unique.length - kept.length;

  for (const p of kept) {
    report.written++;
    report.bySource[p.line.metadata.source]++;
    if (p.line.metadata.redactions > 0) report.redactedLines++;
    for (const [k, n] of p.counts) report.redactions[k] += n;
  }
  const lines = kept.map((p) => p.line);
  const jsonl = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  return { jsonl, lines, report };
}

/** The assistant turn an episode may contribute, or why none. */
export function assistantTurn(
  episode: Pick<Episode, 'answer' | 'correction' | 'feedback'>,
  checkPassed: boolean | undefined,
): { ok: true; text: string; source: FinetuneSource } | { ok: false; reason: 'no-approval' | 'judged-bad' | 'failed-check' } {
  if (episode.correction !== null && episode.correction.trim() !== '') return { ok: true, text: episode.correction, source: 'correction' };
  if (episode.feedback === 'down') return { ok: false, reason: 'judged-bad' };
  if (checkPassed === false) return { ok: false, reason: 'failed-check' };
  if (checkPassed === true) return { ok: true, text: episode.answer, source: 'verified-answer' };
  if (episode.feedback === 'up') return { ok: true, text: episode.answer, source: 'approved-answer' };
  return { ok: false, reason: 'no-approval' };
}

/*
 * Redaction.
 */

const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]/g;
/** Controls other than tab and line feed. */
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
const FULLWIDTH_ASCII = /[\uFF01-\uFF5E]/g;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;
const DECIMAL_DIGIT = /^\p{Nd}$/u;

/**
 * The text as exported: what normaliseText does (NFC, full-width and other
 * scripts' digits as ASCII, invisible characters removed, controls as
 * spaces) except that line breaks, tabs and indentation stay, since answers
 * hold code and lists. CR LF and CR become LF.
 */
export function normaliseForExport(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .normalize('NFC')
    .replace(FULLWIDTH_ASCII, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\u3000/g, ' ')
    .replace(NON_ASCII_DIGIT, (d) => String(digitValue(d.codePointAt(0) as number)))
    .replace(INVISIBLE, '')
    .replace(CONTROL, ' ')
    .normalize('NFC')
    .trim();
}

function digitValue(cp: number): number {
  let start = cp;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

interface Group {
  start: number;
  end: number;
  kind: PiiKind;
  lead: PiiSpan;
}

function mergeSpans(spans: readonly PiiSpan[]): Group[] {
  const rank = (k: PiiKind): number => KIND_PRECEDENCE.indexOf(k);
  const groups: Group[] = [];
  for (const span of [...spans].sort((a, b) => a.start - b.start || b.end - a.end)) {
    const last = groups[groups.length - 1];
    if (last && span.start < last.end) {
      last.end = Math.max(last.end, span.end);
      if (rank(span.kind) < rank(last.kind)) {
        last.kind = span.kind;
        last.lead = span;
      }
    } else groups.push({ start: span.start, end: span.end, kind: span.kind, lead: span });
  }
  return groups;
}

function placeholderOf(group: Group): string {
  if (group.kind !== 'private-term') return PLACEHOLDERS[group.kind];
  const term = group.lead as PrivateTermSpan;
  return TERM_PLACEHOLDERS[term.termKind] + (term.possessive ? "'s" : '');
}

const hasSecret = (spans: readonly PiiSpan[]): boolean => spans.some((s) => DROP_KINDS.has(s.kind));

/** One message's text, redacted per the module's policy, or why it cannot be exported. */
export function redactForExport(raw: string, vocabulary: PrivateVocabulary): Redacted {
  return redact(raw, vocabulary);
}

function redact(raw: string, vocabulary: PrivateVocabulary): Redacted {
  const text = normaliseForExport(raw);
  const spans = detectPii(text, vocabulary);
  // Secrets, in either view: the text as exported and as the projection sees it (one line, spaces collapsed).
  if (hasSecret(spans) || hasSecret(detectPii(normaliseText(text), vocabulary))) return { ok: false, reason: 'secret' };
  const groups = mergeSpans(spans);
  let out = '';
  let at = 0;
  const counts = new Map<PiiKind, number>();
  for (const g of groups) {
    out += text.slice(at, g.start) + placeholderOf(g);
    at = g.end;
    counts.set(g.kind, (counts.get(g.kind) ?? 0) + 1);
  }
  out += text.slice(at);
  if (detectPii(out, vocabulary).length > 0 || detectPii(normaliseText(out), vocabulary).length > 0) return { ok: false, reason: 'residual' };
  return { ok: true, text: out, counts, spans: groups.length };
}
