/**
 * The privacy projection P (DESIGN.md 2.3, postulate U2): the only door
 * through which a learning candidate leaves this node. It takes a candidate
 * the synthetic learning layer distilled from private conversations and
 * memory and returns either a shareable version of it or a refusal.
 *
 * A strategy is general knowledge ("When a question mixes units, convert
 * everything to SI before computing"), so the policy is to drop rather than
 * repair:
 * - a candidate holding any secret at all (key, token, password, PIN, payment
 *   card, IBAN) is dropped, never shared with the secret cut out: a strategy
 *   that needed a secret to say it is not general, and a half-redacted one
 *   invites guessing;
 * - a candidate that would be mostly placeholders (over 40 % of its
 *   characters, more than 4 of them, or fewer than 3 words of its own left)
 *   is dropped: it is about someone, not about how to do something;
 * - otherwise each span of personal data (names and terms from the private
 *   vocabulary, emails, phones, URLs, addresses, dates, IDs) is replaced, as a
 *   whole, by a generic phrase ("a person", "an email address", "a URL",
 *   "a number"): the wording is generalised, no piece of the original is left;
 * - the result is checked again with every detector, and dropped if anything
 *   is still found (including a vocabulary term inside a placeholder).
 *
 * Time: createdAt is coarsened to the start of its UTC hour (the artifact
 * schema's granularity, the default) or, on request, of its UTC day, and never
 * later than `now`.
 *
 * Embedding (optional local differential privacy): with `ldp: { epsilon }`,
 * each of the 384 sign bits goes through randomised response: it is flipped
 * with probability p = 1 / (1 + e^ε), kept with probability e^ε / (1 + e^ε),
 * so each bit on its own is ε-differentially private. The bits of one
 * embedding are released together, so the guarantee for the whole code is
 * 384·ε (basic composition): that total is what `epsilonSpent` reports, next to
 * the per-bit ε the person chose. The scale (mean |component|) is replaced by a
 * public constant under LDP so that no unprotected number rides along. Without
 * `ldp` the bits are shared exactly (epsilonSpent = Infinity). Randomness comes
 * from the caller's `random`, so tests can seed it; project a candidate once
 * and keep the result, since fresh noise on every share could be averaged away.
 *
 * Pure: no clock, no randomness of its own, no storage.
 */
import { EMBEDDING_SIGN_BYTES, MAX_TEXT_LENGTH, TIME_GRANULARITY_MS, coarsenTime, type CompressedEmbedding } from '../artifacts/schema';
import { embeddingFromJson, embeddingToJson } from '../artifacts/embedding-codec';
import { EMBEDDING_DIMENSION } from '../memory/types';
import {
  compilePrivateVocabulary,
  detectPii,
  type PiiKind,
  type PiiSpan,
  type PrivateTermInput,
  type PrivateTermKind,
  type PrivateTermSpan,
  type PrivateVocabulary,
} from './pii-detectors';

/** What the learning layer proposes to share. */
export interface SharingCandidate {
  readonly text: string;
  /** ms since epoch. */
  readonly createdAt: number;
  readonly embedding?: CompressedEmbedding;
}

export interface ProjectionContext {
  /** Names from the profile, contacts and memory, and every term the person marked private; or one compiled with compilePrivateVocabulary. */
  readonly privateVocabulary: readonly PrivateTermInput[] | PrivateVocabulary;
  /** ms since epoch: createdAt is never later than this. */
  readonly now: number;
  /** Uniform in [0, 1); only drawn from for randomised response. */
  readonly random: () => number;
  /** Local differential privacy on the embedding's sign bits; absent = bits shared as they are. */
  readonly ldp?: { readonly epsilon: number };
  /** Granularity of the shared createdAt; 'hour' (the default) is the artifact schema's. */
  readonly timeGranularity?: 'hour' | 'day';
}

export interface ProjectedCandidate {
  readonly text: string;
  /** Start of the UTC hour (or day) of the candidate's createdAt, at most `now`. */
  readonly createdAt: number;
  /** The embedding in the artifact's JSON form, its bits randomised when LDP is on. */
  readonly embedding?: CompressedEmbedding;
}

/** How many spans of one kind were replaced (merged spans count once, under their leading kind). */
export interface RedactionCount {
  readonly kind: PiiKind;
  readonly count: number;
}

/** What randomised response did to the embedding, for the person to see. */
export interface LdpReport {
  readonly epsilonPerBit: number;
  /** p = 1 / (1 + e^ε). */
  readonly flipProbability: number;
  readonly bits: number;
}

export type DropReason =
  /** Nothing left to share after normalising whitespace. */
  | 'empty'
  /** Longer than an artifact's text may be. */
  | 'too-long'
  /** A secret, password, PIN, payment card or IBAN is present. */
  | 'secret'
  /** Personal data would be most of the text. */
  | 'mostly-private'
  /** Something was still detected after redaction. */
  | 'residual';

export type ProjectionResult =
  | {
      readonly ok: true;
      readonly projected: ProjectedCandidate;
      readonly redactions: readonly RedactionCount[];
      /** Privacy loss of the embedding release: 384·ε under LDP, Infinity for exact bits, 0 without an embedding. */
      readonly epsilonSpent: number;
      readonly ldp?: LdpReport;
    }
  | {
      readonly ok: false;
      readonly reason: DropReason;
      /** For logs and the UI: kinds and counts, never the text that was found. */
      readonly detail: string;
      readonly redactions: readonly RedactionCount[];
    };

/** Kinds whose mere presence drops the candidate. */
export const DROP_KINDS: ReadonlySet<PiiKind> = new Set<PiiKind>(['secret', 'password', 'payment-card', 'iban']);
/** Largest share of the shared text's non-space characters that placeholders may make up. */
export const MAX_REDACTED_SHARE = 0.4;
/** Most separate redactions in one candidate. */
export const MAX_REDACTIONS = 4;
/** Fewest words (2+ letters) of its own a redacted candidate must keep. */
export const MIN_OWN_WORDS = 3;
/**
 * The scale shared under LDP: the expected mean |component| of a unit vector
 * with Gaussian-like components in 384 dimensions, sqrt(2/π)/sqrt(384) ≈ 0.0407.
 * Receivers compare sign bits by Hamming distance, where the scale plays no part.
 */
export const LDP_PUBLIC_SCALE = Math.fround(Math.sqrt(2 / Math.PI) / Math.sqrt(EMBEDDING_DIMENSION));

const DAY_MS = 24 * TIME_GRANULARITY_MS;

/** When spans overlap, the union takes the first of these kinds present: the most specific wording. */
const KIND_PRECEDENCE: readonly PiiKind[] = [
  'password', 'secret', 'payment-card', 'iban', 'email', 'url', 'ip-address', 'street-address', 'postcode', 'date', 'phone', 'account-number', 'private-term',
];

const PLACEHOLDERS: Record<PiiKind, string> = {
  email: 'an email address',
  phone: 'a phone number',
  url: 'a URL',
  'ip-address': 'an IP address',
  'payment-card': 'a card number',
  iban: 'a bank account',
  'account-number': 'a number',
  'street-address': 'an address',
  postcode: 'an address',
  date: 'a date',
  secret: 'a secret',
  password: 'a password',
  'private-term': 'a person',
};
const TERM_PLACEHOLDERS: Record<PrivateTermKind, string> = { person: 'a person', place: 'a place', term: 'something' };

const compiled = new WeakMap<readonly PrivateTermInput[], PrivateVocabulary>();
/** Compiling a vocabulary builds large regular expressions: once per array, not once per candidate. */
function vocabularyOf(input: ProjectionContext['privateVocabulary']): PrivateVocabulary {
  if (!Array.isArray(input)) return input as PrivateVocabulary;
  const list = input as readonly PrivateTermInput[];
  let vocabulary = compiled.get(list);
  if (!vocabulary) {
    vocabulary = compilePrivateVocabulary(list);
    compiled.set(list, vocabulary);
  }
  return vocabulary;
}

/**
 * Projects one candidate for sharing (see the module comment for the policy).
 * Throws RangeError on a bad context (negative or NaN ε, a clock that is not a
 * time, `random` outside [0, 1)): those are bugs, not candidates to drop.
 */
export function projectForSharing(candidate: SharingCandidate, context: ProjectionContext): ProjectionResult {
  const epsilon = context.ldp?.epsilon;
  if (epsilon !== undefined && !(epsilon >= 0)) throw new RangeError(`projectForSharing: epsilon must be >= 0 (or Infinity), got ${epsilon}`);
  if (!Number.isFinite(context.now)) throw new RangeError(`projectForSharing: now is ${context.now}, not a time`);

  const text = normaliseText(candidate.text);
  if (text === '') return drop('empty', 'no text', []);
  // Bounded work, and an artifact cannot carry more anyway.
  if (text.length > MAX_TEXT_LENGTH) return drop('too-long', `${text.length} characters, at most ${MAX_TEXT_LENGTH}`, []);

  const vocabulary = vocabularyOf(context.privateVocabulary);
  const spans = detectPii(text, vocabulary);
  const groups = mergeSpans(spans);
  const redactions = countKinds(groups.map((g) => g.kind));

  const secrets = [...new Set(spans.filter((s) => DROP_KINDS.has(s.kind)).map((s) => s.kind))];
  if (secrets.length > 0) return drop('secret', `holds ${secrets.join(', ')}`, redactions);

  if (groups.length > 0) {
    // Measured on the result: a long URL replaced by "a URL" is one small
    // piece of the strategy, three names in a row are most of it.
    const placeholders = groups.reduce((n, g) => n + nonSpace(placeholderFor(g)), 0);
    const original = groups.reduce((n, g) => n + nonSpace(text.slice(g.start, g.end)), 0);
    const share = placeholders / (nonSpace(text) - original + placeholders);
    if (share > MAX_REDACTED_SHARE) return drop('mostly-private', `${Math.round(share * 100)} % of the text would be placeholders`, redactions);
    if (groups.length > MAX_REDACTIONS) return drop('mostly-private', `${groups.length} pieces of personal data`, redactions);
    const own = ownWords(text, groups);
    if (own < MIN_OWN_WORDS) return drop('mostly-private', `only ${own} words left besides personal data`, redactions);
  }

  const projectedText = replaceSpans(text, groups);
  // Placeholders can be longer than what they replace ("Al" -> "a person").
  if (projectedText.length > MAX_TEXT_LENGTH) return drop('too-long', `${projectedText.length} characters after redaction, at most ${MAX_TEXT_LENGTH}`, redactions);
  // The placeholders and the text around them must be clean too: a detector
  // that finds anything here means the replacement left or made something.
  const residual = detectPii(projectedText, vocabulary);
  if (residual.length > 0) return drop('residual', `${[...new Set(residual.map((s) => s.kind))].join(', ')} still found after redaction`, redactions);

  const createdAt = coarsen(Math.min(candidate.createdAt, context.now), context.timeGranularity ?? 'hour');
  if (!candidate.embedding) {
    return { ok: true, projected: { text: projectedText, createdAt }, redactions, epsilonSpent: 0 };
  }
  if (epsilon === undefined) {
    return { ok: true, projected: { text: projectedText, createdAt, embedding: candidate.embedding }, redactions, epsilonSpent: Infinity };
  }
  const flipProbability = flipProbabilityFor(epsilon);
  const embedding = randomisedResponse(candidate.embedding, flipProbability, context.random);
  return {
    ok: true,
    projected: { text: projectedText, createdAt, embedding },
    redactions,
    epsilonSpent: epsilon * EMBEDDING_DIMENSION,
    ldp: { epsilonPerBit: epsilon, flipProbability, bits: EMBEDDING_DIMENSION },
  };
}

/** Randomised response's flip probability for ε: 1 / (1 + e^ε); 1/2 at ε = 0, 0 at ε = ∞. */
export function flipProbabilityFor(epsilon: number): number {
  if (!(epsilon >= 0)) throw new RangeError(`epsilon must be >= 0, got ${epsilon}`);
  return epsilon === Infinity ? 0 : 1 / (1 + Math.exp(epsilon));
}

/**
 * Each sign bit flipped independently with probability `p`, one draw of
 * `random` per bit (none when p = 0); the scale replaced by LDP_PUBLIC_SCALE.
 */
export function randomisedResponse(embedding: CompressedEmbedding, p: number, random: () => number): CompressedEmbedding {
  const encoded = embeddingFromJson(embedding);
  if (p > 0) {
    for (let bit = 0; bit < EMBEDDING_DIMENSION; bit++) {
      const u = random();
      if (!(u >= 0 && u < 1)) throw new RangeError(`random() returned ${u}, expected a number in [0, 1)`);
      if (u < p) encoded[bit >>> 3] = (encoded[bit >>> 3] as number) ^ (1 << (bit & 7));
    }
  }
  new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength).setFloat32(EMBEDDING_SIGN_BYTES, LDP_PUBLIC_SCALE, true);
  return embeddingToJson(encoded);
}

function drop(reason: DropReason, detail: string, redactions: readonly RedactionCount[]): ProjectionResult {
  return { ok: false, reason, detail, redactions };
}

function coarsen(ms: number, granularity: 'hour' | 'day'): number {
  const hour = coarsenTime(ms);
  return granularity === 'day' ? Math.floor(hour / DAY_MS) * DAY_MS : hour;
}

const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]/g;
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;
const FULLWIDTH_ASCII = /[\uFF01-\uFF5E]/g;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;
const DECIMAL_DIGIT = /^\p{Nd}$/u;

/**
 * The text as detectors should see it and as it will be shared: NFC;
 * full-width forms and other scripts' digits as ASCII ("４１１１", "٤١١١"),
 * so a card number cannot hide in another spelling; invisible characters
 * (zero-width spaces, soft hyphens, bidi controls) removed, since inside a
 * token they would split it for the detectors but not for a reader; control
 * characters and runs of whitespace as one space. Idempotent.
 */
export function normaliseText(text: string): string {
  return text
    .normalize('NFC')
    .replace(FULLWIDTH_ASCII, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\u3000/g, ' ')
    .replace(NON_ASCII_DIGIT, (d) => String(digitValue(d.codePointAt(0) as number)))
    .replace(INVISIBLE, '')
    .replace(CONTROL, ' ')
    .replace(/\s+/gu, ' ')
    .trim()
    .normalize('NFC');
}

/** Unicode puts every script's decimal digits in runs of ten from 0 to 9, so the value is the offset in the run. */
function digitValue(cp: number): number {
  let start = cp;
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

interface SpanGroup {
  start: number;
  end: number;
  kind: PiiKind;
  /** The span whose kind the group took, for the wording of private terms. */
  lead: PiiSpan;
}

/** Overlapping spans become one group with the union's extent and the most specific kind. */
function mergeSpans(spans: readonly PiiSpan[]): SpanGroup[] {
  const groups: SpanGroup[] = [];
  const rank = (k: PiiKind) => KIND_PRECEDENCE.indexOf(k);
  for (const span of spans) {
    const last = groups[groups.length - 1];
    if (last && span.start < last.end) {
      last.end = Math.max(last.end, span.end);
      if (rank(span.kind) < rank(last.kind)) {
        last.kind = span.kind;
        last.lead = span;
      }
    } else {
      groups.push({ start: span.start, end: span.end, kind: span.kind, lead: span });
    }
  }
  return groups;
}

function countKinds(kinds: readonly PiiKind[]): RedactionCount[] {
  const counts = new Map<PiiKind, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return KIND_PRECEDENCE.filter((k) => counts.has(k)).map((kind) => ({ kind, count: counts.get(kind) as number }));
}

const nonSpace = (s: string): number => s.replace(/\s/gu, '').length;

/** Words of 2+ letters outside the groups: what the candidate says on its own. */
function ownWords(text: string, groups: readonly SpanGroup[]): number {
  let rest = '';
  let at = 0;
  for (const g of groups) {
    rest += `${text.slice(at, g.start)} `;
    at = g.end;
  }
  rest += text.slice(at);
  return rest.match(/\p{L}{2,}/gu)?.length ?? 0;
}

function placeholderFor(group: SpanGroup): string {
  if (group.kind !== 'private-term') return PLACEHOLDERS[group.kind];
  const term = group.lead as PrivateTermSpan;
  const base = TERM_PLACEHOLDERS[term.termKind];
  return term.possessive ? `${base}'s` : base;
}

const DETERMINER_BEFORE = /(?:^|[^\p{L}])(?:a|an|the|my|your|his|her|our|their|this|that|its)\s+$/iu;

/**
 * Replaces each group by its placeholder: "Email Ana at ana@x.org" ->
 * "Email a person at an email address". Wording touches: after a determiner
 * the placeholder's own article goes ("my ana@x.org" -> "my email address");
 * at the start of a sentence it is capitalised; the same placeholder twice in
 * a row with only spaces between ("Ana Lopez", both private) is said once.
 */
function replaceSpans(text: string, groups: readonly SpanGroup[]): string {
  let out = '';
  let at = 0;
  let previous: { placeholder: string; outEnd: number } | null = null;
  for (const group of groups) {
    const between = text.slice(at, group.start);
    let placeholder = placeholderFor(group);
    if (previous && previous.placeholder === placeholder && /^\s*$/.test(between) && out.length === previous.outEnd) {
      at = group.end;
      continue;
    }
    out += between;
    if (DETERMINER_BEFORE.test(out)) placeholder = placeholder.replace(/^(?:a|an) /, '');
    else if (/(?:^|[.!?]\s+)$/.test(out)) placeholder = placeholder[0]!.toUpperCase() + placeholder.slice(1);
    out += placeholder;
    previous = { placeholder: placeholderFor(group), outEnd: out.length };
    at = group.end;
  }
  out += text.slice(at);
  return normaliseText(out);
}
