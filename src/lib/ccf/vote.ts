/**
 * A vote: one node's judgement of one artifact (DESIGN.md 2.6, issue
 * "Collective Context Field" item 2). Votes arrive from strangers, so the
 * schema is closed and bounded like the artifact schema; signatures and
 * encryption are the network layer's, this is the signed payload.
 *
 * - `endorse`: the artifact helped on the voter's own checkable episodes (or
 *   the person said so);
 * - `reject`: it did not help, or made things worse;
 * - `veto`: the person refused it in the UI. Over the network a veto weighs
 *   exactly like a reject: letting one identity block anything would give
 *   every attacker a censorship button (bounded influence). Locally, the
 *   person's own veto removes the artifact from their projection whatever the
 *   network decides (see aggregation.ts `localVeto`).
 *
 * One vote per voter and artifact is current: the newest by `at`; equal times
 * are broken by `compareVotes`, a total order on the vote's canonical bytes,
 * so every node that holds the same votes keeps the same one, whatever order
 * they arrived in.
 *
 * Pure: zod and the artifact module's canonical JSON only.
 */
import { z } from 'zod';
import { canonicalJson } from '../artifacts/canonical';
import { CONTENT_ID_PATTERN, MAX_TIME_MS, type ContentId } from '../artifacts/schema';

/** Bumped on any change to the fields or their meaning; receivers reject versions they do not know. */
export const VOTE_SCHEMA_VERSION = 1;

export const VOTE_VALUES = ['endorse', 'reject', 'veto'] as const;
export type VoteValue = (typeof VOTE_VALUES)[number];

/**
 * A node id as governance/identity.ts derives it: hex of the first 16 bytes
 * of SHA-256(public key). Lower case only, so one key has one spelling.
 */
export const NODE_ID_PATTERN = /^[0-9a-f]{32}$/;
export type NodeId = string;

export const nodeIdSchema = z.string().regex(NODE_ID_PATTERN, 'node id must be 32 lower-case hex characters');

export const voteSchema = z.strictObject({
  schemaVersion: z.literal(VOTE_SCHEMA_VERSION),
  artifactId: z.string().regex(CONTENT_ID_PATTERN, 'artifactId must be a content id'),
  voter: nodeIdSchema,
  value: z.enum(VOTE_VALUES),
  /** How sure the voter is, 0..1. Used only through medians (aggregation.ts): a peer controls it. */
  confidence: z.number().min(0).max(1),
  /** ms since epoch, the voter's clock. Only orders one voter's own votes on one artifact. */
  at: z.int().min(0).max(MAX_TIME_MS),
});

export type Vote = z.infer<typeof voteSchema> & { artifactId: ContentId };

export type VoteParseResult = { ok: true; vote: Vote } | { ok: false; reason: string };

/** Validates an untrusted vote; never throws. */
export function parseVote(value: unknown): VoteParseResult {
  const result = voteSchema.safeParse(value);
  if (!result.success) {
    return { ok: false, reason: result.error.issues.map((i) => `${i.path.join('.') || '(vote)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, vote: result.data as Vote };
}

/** A veto counts as a reject everywhere but the person's own node. */
export function isNegative(value: VoteValue): boolean {
  return value !== 'endorse';
}

/** The key under which a vote replaces an older one: one current vote per voter and artifact. */
export function voteKey(vote: Pick<Vote, 'artifactId' | 'voter'>): string {
  return `${vote.artifactId}\u0000${vote.voter}`;
}

/**
 * A total order on votes of one key: later `at` wins; at equal times the
 * larger canonical JSON wins. Any fixed total order would do; the canonical
 * bytes make it the same in every implementation. Returns > 0 when `a` wins.
 */
export function compareVotes(a: Vote, b: Vote): number {
  if (a.at !== b.at) return a.at - b.at;
  const ca = canonicalJson(a);
  const cb = canonicalJson(b);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** The current one of two votes of the same key (idempotent, commutative, associative: a max). */
export function newerVote(a: Vote, b: Vote): Vote {
  return compareVotes(a, b) >= 0 ? a : b;
}
