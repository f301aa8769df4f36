/**
 * Schema v1 of a learning artifact: the small, shareable unit that a node
 * distils from its own rollouts and exchanges with peers (DESIGN.md 2.4,
 * postulate U1).
 *
 * Everything an artifact may carry is listed here, bounded and closed
 * (`strictObject`: an unknown key is an error, not ignored), because artifacts
 * arrive from strangers and every field ends up hashed, stored and shown.
 * Values are checked as they are, never coerced or defaulted: the canonical
 * bytes (canonical.ts) are computed from exactly what was validated, so what a
 * receiver checks is what the sender signed.
 *
 * Privacy shapes some fields: the creation time is coarse (whole hours, see
 * `coarsenTime`), the evidence is a summary (group size, reward spread), and
 * the embedding is the 52-byte sign code (embedding-codec.ts), not the float
 * vector.
 *
 * Pure: zod and constants only.
 */
import { z } from 'zod';
import { EMBEDDING_DIMENSION } from '../memory/types';

/** Bumped on any change to the fields or their meaning; receivers reject versions they do not know. */
export const ARTIFACT_SCHEMA_VERSION = 1;

/**
 * - `strategy`: how to approach a kind of task ("When …, …");
 * - `correction`: a mistake seen and what is right instead;
 * - `counterfactual`: what would have gone better had something been done differently;
 * - `instruction`: a standing rule for answering in some situation;
 * - `policy`: a constraint on behaviour (what not to do, when to refuse or ask).
 */
export const ARTIFACT_KINDS = ['strategy', 'correction', 'counterfactual', 'instruction', 'policy'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/**
 * The fixed domain taxonomy. Coarse on purpose: a domain routes and groups
 * artifacts, it must not describe the person who produced them. New domains
 * need a new schema version.
 */
export const ARTIFACT_DOMAINS = [
  'math', // arithmetic, algebra, proofs, estimation
  'units', // units, conversions, dimensional analysis
  'coding', // programming, debugging, tooling
  'writing', // drafting, editing, tone, structure of prose
  'planning', // schedules, step-by-step plans, breaking down tasks
  'facts', // recalling and checking factual knowledge
  'reasoning', // logic, puzzles, multi-step inference
  'language', // translation, grammar, vocabulary
  'safety', // harmful requests, privacy, when to decline
  'other', // anything the above do not cover
] as const;
export type ArtifactDomain = (typeof ARTIFACT_DOMAINS)[number];

/** Longest `text`, in UTF-16 code units (what JavaScript's `length` counts): at most 3,000 UTF-8 bytes. */
export const MAX_TEXT_LENGTH = 1000;
/** Largest group an evidence summary may describe (a round's rollouts for one prompt). */
export const MAX_GROUP_SIZE = 64;
/** Creation times are whole hours (ms since epoch). */
export const TIME_GRANULARITY_MS = 3_600_000;
/** Latest representable time (the ECMAScript Date limit), so every createdAt is a valid Date. */
export const MAX_TIME_MS = 8_640_000_000_000_000;
/** Longest embedder id ('Xenova/all-MiniLM-L6-v2' is 23). */
export const MAX_EMBEDDER_ID_LENGTH = 128;
/** Bytes of the sign bits of an embedding: one bit per dimension (48 for 384). */
export const EMBEDDING_SIGN_BYTES = EMBEDDING_DIMENSION / 8;
/** Characters of those bytes in unpadded base64url (64 for 48 bytes: 48 is a multiple of 3, so no spare bits). */
export const EMBEDDING_BITS_CHARS = Math.ceil((EMBEDDING_SIGN_BYTES * 8) / 6);

/**
 * A content id: 'h3x1-' then the SHA-256 of the canonical bytes in lowercase
 * unpadded RFC 4648 base32 (52 characters; see canonical.ts). 256 bits fill
 * 51 characters and 1 bit of the 52nd, whose 4 spare bits are zero, so it can
 * only be 'a' or 'q': one digest has exactly one spelling.
 */
export const CONTENT_ID_PATTERN = /^h3x1-[a-z2-7]{51}[aq]$/;
export type ContentId = `h3x1-${string}`;

/** Tab and line feed are allowed in text; other C0/C1 controls and DEL carry nothing readable and could hide content. */
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
/** A surrogate without its partner: not valid Unicode, cannot be encoded as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Repository-style ids: letters, digits and . _ / : @ + - */
const EMBEDDER_ID = /^[A-Za-z0-9._/:@+-]+$/;
const BASE64URL_BITS = new RegExp(`^[A-Za-z0-9_-]{${EMBEDDING_BITS_CHARS}}$`);

export const artifactTextSchema = z
  .string()
  .min(1, 'text is empty')
  .max(MAX_TEXT_LENGTH, `text is longer than ${MAX_TEXT_LENGTH} characters`)
  .refine((s) => !LONE_SURROGATE.test(s), 'text has a lone surrogate (not valid Unicode)')
  .refine((s) => !CONTROL_CHARACTERS.test(s), 'text has control characters (only tab and newline are allowed)')
  // One text, one id: a composed and a decomposed "é" would otherwise hash differently.
  .refine((s) => s === s.normalize('NFC'), 'text is not in Unicode NFC form (normalize it before building the artifact)');

export const evidenceSchema = z.strictObject({
  /** Rollouts in the group the artifact was distilled from. */
  groupSize: z.int().min(1).max(MAX_GROUP_SIZE),
  /** Spread of the group's rewards (rewards are in 0..1), how much the group told apart good from bad. */
  rewardSpread: z.number().min(0).max(1),
});

/** The embedding as it travels in JSON: the sign bits in base64url and the float32 scale. */
export const compressedEmbeddingSchema = z.strictObject({
  bits: z.string().regex(BASE64URL_BITS, `bits must be ${EMBEDDING_BITS_CHARS} base64url characters (${EMBEDDING_SIGN_BYTES} bytes, no padding)`),
  // Exactly a float32: the binary form stores the scale in 4 bytes, and the two forms must agree bit for bit.
  scale: z
    .number()
    .positive()
    .refine((x) => Math.fround(x) === x, 'scale must be a float32 value (use Math.fround)'),
});

export const artifactSchema = z.strictObject({
  schemaVersion: z.literal(ARTIFACT_SCHEMA_VERSION),
  kind: z.enum(ARTIFACT_KINDS),
  text: artifactTextSchema,
  domain: z.enum(ARTIFACT_DOMAINS),
  /** The producer's confidence that the artifact helps, 0..1. */
  confidence: z.number().min(0).max(1),
  evidence: evidenceSchema,
  /** ms since epoch, a whole hour (see coarsenTime). */
  createdAt: z
    .int()
    .min(0)
    .max(MAX_TIME_MS)
    .refine((t) => t % TIME_GRANULARITY_MS === 0, 'createdAt must be a whole hour (use coarsenTime)'),
  /** The embedder whose space `embedding` lives in; receivers with another one re-embed the text. */
  embedderId: z
    .string()
    .min(1)
    .max(MAX_EMBEDDER_ID_LENGTH)
    .regex(EMBEDDER_ID, 'embedderId may only hold letters, digits and . _ / : @ + -'),
  embedding: compressedEmbeddingSchema.optional(),
  /** The artifact this one updates or retracts. */
  parent: z.string().regex(CONTENT_ID_PATTERN, 'parent must be a content id (h3x1- and 52 base32 characters)').optional(),
});

export type ArtifactEvidence = z.infer<typeof evidenceSchema>;
export type CompressedEmbedding = z.infer<typeof compressedEmbeddingSchema>;
export type Artifact = z.infer<typeof artifactSchema>;

/**
 * The start of the hour `ms` falls in: creation times travel at this
 * granularity so that an artifact does not say to the minute when its
 * producer was active.
 */
export function coarsenTime(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new RangeError(`coarsenTime: ${ms} is not a time between 0 and ${MAX_TIME_MS} ms since epoch`);
  }
  return Math.floor(ms / TIME_GRANULARITY_MS) * TIME_GRANULARITY_MS;
}
