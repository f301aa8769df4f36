/**
 * Persistence of this node's reputation ledger (reputation.ts) and quarantine
 * book (quarantine.ts): both are in-memory values of Maps and Sets; the app
 * stores them in IndexedDB (`fieldState`) as plain JSON and reads them back
 * at start.
 *
 * Reading never throws and never trusts the record: storage can be damaged,
 * edited or left by an older build, and the ledger decides whose votes count.
 * The schemas are closed (`strictObject`: an unknown key is an error), every
 * number is range-checked, every list is bounded (the top-level lists before
 * anything is parsed, so a huge record is refused at once), node ids and content ids must have
 * their exact spelling, and repeated keys are refused. A bad record yields
 * `{ ok: false, error }` with the first problems; the caller starts a fresh
 * ledger (losing learned standing, never the app).
 *
 * Older records: a peer stored before `vouchedAt` existed reads as not
 * vouched (`vouchedAt: null`).
 *
 * Writing: the output is sorted (same ledger, same JSON) and checked against
 * the same schema before it is returned, so what is written can be read
 * back; a value beyond the bounds throws `LedgerCodecError` at save time
 * (the stored record stays as it was) instead of writing a record that would
 * be refused at the next start. Only reasons, which are shown and never
 * compared, are trimmed to their bound instead.
 *
 * Pure: zod only.
 */
import { z } from 'zod';
import { CONTENT_ID_PATTERN, MAX_TIME_MS, type ContentId } from '../artifacts/schema';
import { DETECTORS, MAX_FLAG_EVIDENCE, type AnomalyFlag } from './anomaly';
import type { QuarantineBook, QuarantineEntry } from './quarantine';
import { MAX_REPUTATION, type PeerReputation, type ReputationLedger } from './reputation';
import { nodeIdSchema, type NodeId } from './vote';

/** Bumped on any change to the stored fields or their meaning; an unknown version is refused, not guessed. */
export const LEDGER_CODEC_VERSION = 1;
export const LEDGER_FORMAT = 'h3lix.reputation-ledger';
export const QUARANTINE_FORMAT = 'h3lix.quarantine-book';

/**
 * Most peers a stored ledger may hold. The ledger keeps every identity this
 * node has met; 100,000 is far beyond a personal network (the network bench
 * runs 50 members) and a Sybil flood big enough to reach it is quarantined
 * long before, while the record stays a few tens of MB at most.
 */
export const MAX_LEDGER_PEERS = 100_000;
/**
 * Most settled artifact ids a stored ledger may hold. Settling is once per
 * artifact and the set is never pruned, so it grows with the field: ten times
 * the 100,000 accepted artifacts the projection is sized for (rejected ones
 * settle too), about 57 MB of ids.
 */
export const MAX_SETTLED_ARTIFACTS = 1_000_000;
/** Most entries in a stored quarantine book: one per peer at most, so the ledger's bound. */
export const MAX_QUARANTINE_ENTRIES = MAX_LEDGER_PEERS;
/**
 * Most other peers a stored flag names. A voting-bloc flag names the whole
 * bloc, and it is stored whole, never as a sample: quarantine.ts compares a
 * new flag's peers with the released flag's (`hasNewEvidence`), so a trimmed
 * list would make the released peers' next flag look new and quarantine
 * them again after a restart. Every name is a peer this node knows, so the
 * ledger's bound.
 */
export const MAX_FLAG_PEERS = MAX_LEDGER_PEERS;
/** Longest stored reason (a detector's sentence, or the person's own words when quarantining by hand). */
export const MAX_QUARANTINE_REASON_CHARS = 1000;
/** Problems listed in an error: enough to see what is wrong, short enough for a log line. */
export const MAX_REPORTED_ISSUES = 5;

/** A stored value that cannot be read (or a value too large to store). */
export class LedgerCodecError extends Error {
  override readonly name = 'LedgerCodecError';
  /** What is wrong, path by path (at most MAX_REPORTED_ISSUES). */
  readonly issues: readonly string[];
  constructor(what: string, issues: readonly string[]) {
    super(`${what}: ${issues.join('; ')}`);
    this.issues = issues;
  }
}

export type CodecResult<T> = { ok: true; value: T } | { ok: false; error: LedgerCodecError };

/*
 * Schemas.
 */

const timeSchema = z.number().min(0).max(MAX_TIME_MS);
const countSchema = z.int().min(0);
const contentIdSchema = z.string().regex(CONTENT_ID_PATTERN, 'must be a content id');

export const peerReputationJsonSchema = z.strictObject({
  node: nodeIdSchema,
  score: z.number().min(0).max(MAX_REPUTATION),
  firstSeen: timeSchema,
  at: timeSchema,
  calibrationPassed: countSchema,
  calibrationFailed: countSchema,
  agreements: countSchema,
  disagreements: countSchema,
  acceptedContributions: countSchema,
  rejectedContributions: countSchema,
  // Missing in records written before vouching existed: not vouched.
  vouchedAt: timeSchema.nullable().default(null),
});

export const ledgerJsonSchema = z.strictObject({
  format: z.literal(LEDGER_FORMAT),
  version: z.literal(LEDGER_CODEC_VERSION),
  owner: nodeIdSchema.nullable(),
  peers: z.array(peerReputationJsonSchema).max(MAX_LEDGER_PEERS),
  settled: z.array(contentIdSchema).max(MAX_SETTLED_ARTIFACTS),
});

const reasonSchema = z.string().max(MAX_QUARANTINE_REASON_CHARS);

export const anomalyFlagJsonSchema = z.strictObject({
  node: nodeIdSchema,
  detector: z.enum(DETECTORS),
  reason: reasonSchema,
  at: timeSchema,
  artifacts: z.array(contentIdSchema).max(MAX_FLAG_EVIDENCE),
  peers: z.array(nodeIdSchema).max(MAX_FLAG_PEERS),
});

export const quarantineEntryJsonSchema = z
  .strictObject({
    node: nodeIdSchema,
    cause: z.enum([...DETECTORS, 'person']),
    reason: reasonSchema,
    flag: anomalyFlagJsonSchema.nullable(),
    since: timeSchema,
    releasedAt: timeSchema.nullable(),
  })
  .superRefine((e, ctx) => {
    // quarantine.ts writes a detector's entry with its flag and a person's without one.
    if (e.flag === null && e.cause !== 'person') ctx.addIssue({ code: 'custom', path: ['flag'], message: `a '${e.cause}' quarantine must keep its flag` });
    if (e.flag !== null && e.cause === 'person') ctx.addIssue({ code: 'custom', path: ['flag'], message: 'a quarantine by the person has no flag' });
    if (e.flag !== null && e.flag.detector !== e.cause) ctx.addIssue({ code: 'custom', path: ['flag', 'detector'], message: 'differs from the cause' });
    if (e.flag !== null && e.flag.node !== e.node) ctx.addIssue({ code: 'custom', path: ['flag', 'node'], message: 'differs from the entry' });
  });

export const quarantineJsonSchema = z.strictObject({
  format: z.literal(QUARANTINE_FORMAT),
  version: z.literal(LEDGER_CODEC_VERSION),
  entries: z.array(quarantineEntryJsonSchema).max(MAX_QUARANTINE_ENTRIES),
});

export type PeerReputationJson = z.input<typeof peerReputationJsonSchema>;
export type LedgerJson = z.input<typeof ledgerJsonSchema>;
export type QuarantineEntryJson = z.input<typeof quarantineEntryJsonSchema>;
export type QuarantineJson = z.input<typeof quarantineJsonSchema>;

/*
 * Helpers.
 */

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.slice(0, MAX_REPORTED_ISSUES).map((i) => `${i.path.map(String).join('.') || '(record)'}: ${i.message}`);
}

/** Lists longer than their bound are refused before zod walks them (a hostile record may hold millions of elements). */
function oversized(value: unknown, bounds: Record<string, number>): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const problems: string[] = [];
  for (const [key, max] of Object.entries(bounds)) {
    const list: unknown = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(list) && list.length > max) problems.push(`${key}: ${list.length} entries, at most ${max} allowed`);
  }
  return problems;
}

function parseWith<S extends z.ZodType>(what: string, schema: S, value: unknown, bounds: Record<string, number>): CodecResult<z.output<S>> {
  try {
    const tooMany = oversized(value, bounds);
    if (tooMany.length > 0) return { ok: false, error: new LedgerCodecError(what, tooMany) };
    const parsed = schema.safeParse(value);
    if (!parsed.success) return { ok: false, error: new LedgerCodecError(what, describeIssues(parsed.error.issues)) };
    return { ok: true, value: parsed.data };
  } catch (e) {
    // Not expected for data from IndexedDB (structured clones hold no getters or proxies), but reading never throws.
    return { ok: false, error: new LedgerCodecError(what, [`unreadable: ${e instanceof Error ? e.message : String(e)}`]) };
  }
}

function firstRepeat<T>(values: Iterable<T>): T | undefined {
  const seen = new Set<T>();
  for (const v of values) {
    if (seen.has(v)) return v;
    seen.add(v);
  }
  return undefined;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** At most `max` UTF-16 units, never ending inside a surrogate pair. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/*
 * The reputation ledger.
 */

/** The ledger as plain JSON (sorted). Throws LedgerCodecError when it exceeds the bounds or holds an impossible value. */
export function ledgerToJson(ledger: ReputationLedger): LedgerJson {
  const peers: PeerReputationJson[] = [...ledger.peers]
    .sort(([a], [b]) => byString(a, b))
    .map(([node, p]) => ({
      node,
      score: p.score,
      firstSeen: p.firstSeen,
      at: p.at,
      calibrationPassed: p.calibrationPassed,
      calibrationFailed: p.calibrationFailed,
      agreements: p.agreements,
      disagreements: p.disagreements,
      acceptedContributions: p.acceptedContributions,
      rejectedContributions: p.rejectedContributions,
      vouchedAt: p.vouchedAt,
    }));
  const json: LedgerJson = {
    format: LEDGER_FORMAT,
    version: LEDGER_CODEC_VERSION,
    owner: ledger.owner,
    peers,
    settled: [...ledger.settled].sort(byString),
  };
  const check = parseWith('reputation ledger cannot be stored', ledgerJsonSchema, json, {});
  if (!check.ok) throw check.error;
  return json;
}

/** A stored ledger, validated; never throws. */
export function ledgerFromJson(value: unknown): CodecResult<ReputationLedger> {
  const what = 'reputation ledger';
  const parsed = parseWith(what, ledgerJsonSchema, value, { peers: MAX_LEDGER_PEERS, settled: MAX_SETTLED_ARTIFACTS });
  if (!parsed.ok) return parsed;
  const repeatedPeer = firstRepeat(parsed.value.peers.map((p) => p.node));
  if (repeatedPeer !== undefined) return { ok: false, error: new LedgerCodecError(what, [`peers: ${repeatedPeer} appears twice`]) };
  const repeatedId = firstRepeat(parsed.value.settled);
  if (repeatedId !== undefined) return { ok: false, error: new LedgerCodecError(what, [`settled: ${repeatedId} appears twice`]) };
  const peers = new Map<NodeId, PeerReputation>();
  for (const { node, ...peer } of parsed.value.peers) peers.set(node, peer);
  const settled = new Set<ContentId>(parsed.value.settled as ContentId[]);
  return { ok: true, value: { owner: parsed.value.owner, peers, settled } };
}

/*
 * The quarantine book.
 */

function flagToJson(flag: AnomalyFlag): z.input<typeof anomalyFlagJsonSchema> {
  return {
    node: flag.node,
    detector: flag.detector,
    reason: clip(flag.reason, MAX_QUARANTINE_REASON_CHARS),
    at: flag.at,
    artifacts: [...flag.artifacts],
    // Whole (see MAX_FLAG_PEERS); the detectors already bound the artifacts.
    peers: [...flag.peers],
  };
}

/**
 * The book as plain JSON (sorted by node). Reasons are trimmed to
 * MAX_QUARANTINE_REASON_CHARS (display only); anything else beyond the
 * bounds throws LedgerCodecError.
 */
export function quarantineToJson(book: QuarantineBook): QuarantineJson {
  const entries: QuarantineEntryJson[] = [...book.values()]
    .sort((a, b) => byString(a.node, b.node))
    .map((e) => ({
      node: e.node,
      cause: e.cause,
      reason: clip(e.reason, MAX_QUARANTINE_REASON_CHARS),
      flag: e.flag === null ? null : flagToJson(e.flag),
      since: e.since,
      releasedAt: e.releasedAt,
    }));
  const json: QuarantineJson = { format: QUARANTINE_FORMAT, version: LEDGER_CODEC_VERSION, entries };
  const check = parseWith('quarantine book cannot be stored', quarantineJsonSchema, json, {});
  if (!check.ok) throw check.error;
  const repeated = firstRepeat(entries.map((e) => e.node));
  if (repeated !== undefined) throw new LedgerCodecError('quarantine book cannot be stored', [`${repeated} has two entries`]);
  return json;
}

/** A stored quarantine book, validated; never throws. */
export function quarantineFromJson(value: unknown): CodecResult<QuarantineBook> {
  const what = 'quarantine book';
  const parsed = parseWith(what, quarantineJsonSchema, value, { entries: MAX_QUARANTINE_ENTRIES });
  if (!parsed.ok) return parsed;
  const repeated = firstRepeat(parsed.value.entries.map((e) => e.node));
  if (repeated !== undefined) return { ok: false, error: new LedgerCodecError(what, [`entries: ${repeated} appears twice`]) };
  const book = new Map<NodeId, QuarantineEntry>();
  for (const e of parsed.value.entries) {
    const flag: AnomalyFlag | null = e.flag === null ? null : { ...e.flag, artifacts: e.flag.artifacts as ContentId[] };
    book.set(e.node, { node: e.node, cause: e.cause, reason: e.reason, flag, since: e.since, releasedAt: e.releasedAt });
  }
  return { ok: true, value: book };
}
