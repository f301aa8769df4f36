/**
 * Robust acceptance (DESIGN.md 2.6, issue item 3): whether the network, as
 * this node sees it, accepts an artifact. Every node computes it from the
 * replicated votes (field.ts) and its own reputation ledger; there is no
 * coordinator and nothing to trust but the rule.
 *
 * An artifact is accepted when all of these hold:
 * 1. a reputation-weighted 2/3 majority of its voters endorses it
 *    (`ACCEPT_SHARE`): the weight of a vote is the voter's reputation
 *    (reputation.ts), which a peer does not control; the vote's confidence,
 *    which it does control, plays no part in the weight;
 * 2. the weighted median of the endorsers' confidences reaches
 *    `MIN_MEDIAN_CONFIDENCE` (a median: a colluder claiming confidence 1
 *    moves it by one rank at most);
 * 3. the Sybil weight, unique endorsing nodes over active nodes, reaches
 *    `MIN_SYBIL_WEIGHT`: support must be broad, not a few loud identities.
 *    Each node counts min(1, weight / ESTABLISHED_WEIGHT), so fresh
 *    identities count as a fraction of a node and cannot dilute it by
 *    flooding the network;
 * 4. at least `MIN_ENDORSERS` distinct identities with weight endorse it.
 *
 * It is rejected when a reputation-weighted 2/3 majority rejects it (same
 * quorum); otherwise it is pending. Votes by an artifact's own authors are
 * ignored; votes and artifacts of quarantined peers (quarantine.ts) are
 * excluded. A `veto` is a reject over the network; the local person's own
 * veto makes the artifact `vetoed` on this node only (vote.ts says why).
 *
 * Properties the tests check: the result depends only on the set of current
 * votes (not their order, not duplicates: field.ts), adding an endorsement
 * with confidence >= MIN_MEDIAN_CONFIDENCE never lowers the status
 * (rejected < pending < accepted) and adding a rejection never raises it, and
 * one identity moves the endorse share by at most its weight over the total.
 *
 * Pure: the ledger's weights are passed in as a function.
 */
import type { ContentId } from '../artifacts/schema';
import { ROUND_MS, type CollectiveField, type FieldArtifact } from './field';
import { MAX_REPUTATION } from './reputation';
import { weightedMedian } from './robust';
import type { NodeId, Vote } from './vote';

/**
 * Weighted endorse share needed to accept: the classic 2/3 of Byzantine
 * agreement, so while honest weight exceeds 2/3, colluders can neither
 * accept alone nor block what honest voters agree on.
 */
export const ACCEPT_SHARE = 2 / 3;
/** Weighted reject share that rejects: symmetric with acceptance. */
export const REJECT_SHARE = 2 / 3;
/**
 * Weighted median confidence the endorsers must reach. 0.6: better than a
 * coin toss by a margin; an honest voter's confidence follows how clearly its
 * own check came out, so lukewarm support does not accept.
 */
export const MIN_MEDIAN_CONFIDENCE = 0.6;
/**
 * Unique endorsing nodes over active nodes needed. 0.25: a quarter of the
 * active network must have checked and endorsed it; low enough that honest
 * nodes need not vote on everything (they check what fits their episodes),
 * high enough that a small clique cannot accept for everyone.
 */
export const MIN_SYBIL_WEIGHT = 0.25;
/** Distinct endorsers (with weight) needed: no single identity, nor a pair, accepts anything. */
export const MIN_ENDORSERS = 3;
/**
 * Weight from which a node counts as a whole node in the Sybil weight; below
 * it, a node counts as weight / ESTABLISHED_WEIGHT. Three times a newcomer's
 * weight (reputation.ts INITIAL_REPUTATION = 0.1): a fresh identity counts a
 * third, one caught lying next to nothing.
 */
export const ESTABLISHED_WEIGHT = 0.3;
/** A node is active when it voted or published within this window: a day covers a person's daily use. */
export const ACTIVE_WINDOW_MS = 24 * 3_600_000;

/**
 * Weights are summed as integers in units of 2^-32: floating-point addition
 * is not associative, and the same votes arriving in another order must give
 * bit-identical shares on every node. 2^32 units per unit of weight leave
 * room for 2^21 full-weight voters below 2^53.
 */
export const WEIGHT_UNITS = 2 ** 32;
const units = (w: number): number => Math.round(Math.min(MAX_REPUTATION, w) * WEIGHT_UNITS);

export type AcceptanceStatus = 'accepted' | 'pending' | 'rejected' | 'vetoed' | 'excluded';

/** Order of statuses for monotonicity: rejected < pending < accepted. */
export const STATUS_RANK: Readonly<Record<AcceptanceStatus, number>> = { excluded: -2, vetoed: -1, rejected: 0, pending: 1, accepted: 2 };

export interface AggregationContext {
  /** The weight of a node's votes (reputation.ts voteWeight): >= 0, bounded by MAX_REPUTATION. */
  weightOf: (node: NodeId) => number;
  /** Quarantined peers: their votes and artifacts do not count. */
  excluded?: ReadonlySet<NodeId>;
  /** This node, whose person's veto applies locally. */
  localNode?: NodeId;
  /** Active nodes and how much each counts (see `activeNodes`); empty means only the voters count. */
  active?: ReadonlyMap<NodeId, number>;
  /** Sum of `active`'s counts in WEIGHT_UNITS (an integer), when the caller computed it once for many artifacts. */
  activeTotal?: number;
}

export interface Judgement {
  id: ContentId;
  status: AcceptanceStatus;
  /** Weighted endorse share, 0..1 (0 when no weighted votes): the artifact's acceptance as shown and recorded as evidence. */
  endorseShare: number;
  rejectShare: number;
  /** Weighted median confidence of the endorsers; NaN when none. */
  medianConfidence: number;
  /** Unique endorsing nodes over active nodes, 0..1. */
  sybilWeight: number;
  /** Identities whose endorsement counted, sorted. */
  endorsers: NodeId[];
  /** Identities whose rejection counted. */
  rejecters: number;
  /** Total weight of the votes that counted. */
  totalWeight: number;
}

/** How much a node counts in the Sybil weight: 0..1. */
export function nodeCount(weight: number): number {
  return weight > 0 ? Math.min(1, weight / ESTABLISHED_WEIGHT) : 0;
}

const countUnits = (weight: number): number => Math.round(nodeCount(weight) * WEIGHT_UNITS);

/**
 * Active nodes at `now`: nodes with weight whose latest vote (by the vote's
 * time) or publication (by the artifact's creation time) falls within
 * ACTIVE_WINDOW_MS, quarantined ones left out, each with its count
 * (`nodeCount`). A node's latest activity only grows, so an old vote arriving
 * late never makes a node look inactive.
 */
export function activeNodes(field: CollectiveField, now: number, weightOf: (node: NodeId) => number, excluded?: ReadonlySet<NodeId>): Map<NodeId, number> {
  // Creation times are whole hours (rounded down), so a publication counts from the start of its hour.
  const since = now - ACTIVE_WINDOW_MS - ROUND_MS;
  const out = new Map<NodeId, number>();
  for (const [node, at] of field.activity()) {
    // Activity after `now` (a peer's clock ahead of ours) still shows the node is there.
    if (at <= since || excluded?.has(node)) continue;
    const count = nodeCount(weightOf(node));
    if (count > 0) out.set(node, count);
  }
  return out;
}

/** The judgement of one artifact from its current votes. */
export function judgeArtifact(entry: FieldArtifact, votes: Iterable<Vote>, context: AggregationContext): Judgement {
  const { weightOf, excluded, localNode, active } = context;
  const authors = entry.authors;
  let endorseWeight = 0;
  let rejectWeight = 0;
  let rejecters = 0;
  const endorsers: NodeId[] = [];
  const confidences: number[] = [];
  const weights: number[] = [];
  let endorserCount = 0;
  let outsideActive = 0;
  let localVeto = false;
  for (const vote of votes) {
    if (vote.voter === localNode && vote.value === 'veto') localVeto = true;
    // Weight first: most votes that do not count (uncalibrated, quarantined) stop here.
    const raw = weightOf(vote.voter);
    if (!(raw > 0) || authors.includes(vote.voter) || excluded?.has(vote.voter)) continue;
    // Bounded influence: whatever the ledger says, one identity weighs at most MAX_REPUTATION.
    const w = units(raw);
    if (w === 0) continue;
    if (vote.value === 'endorse') {
      endorseWeight += w;
      endorsers.push(vote.voter);
      confidences.push(vote.confidence);
      weights.push(w);
      const count = countUnits(raw);
      endorserCount += count;
      if (!active?.has(vote.voter)) outsideActive += count;
    } else {
      rejectWeight += w;
      rejecters++;
      if (!active?.has(vote.voter)) outsideActive += countUnits(raw);
    }
  }
  const totalWeight = endorseWeight + rejectWeight;
  const endorseShare = totalWeight > 0 ? endorseWeight / totalWeight : 0;
  const rejectShare = totalWeight > 0 ? rejectWeight / totalWeight : 0;
  const medianConfidence = weightedMedian(confidences, weights);
  let activeTotal = outsideActive + (context.activeTotal ?? 0);
  if (active && context.activeTotal === undefined) for (const c of active.values()) activeTotal += Math.round(c * WEIGHT_UNITS);
  const sybilWeight = activeTotal > 0 ? Math.min(1, endorserCount / activeTotal) : 0;
  endorsers.sort();

  let status: AcceptanceStatus;
  if (authors.length > 0 && authors.every((a) => excluded?.has(a))) status = 'excluded';
  else if (localVeto) status = 'vetoed';
  else if (
    endorseShare >= ACCEPT_SHARE &&
    medianConfidence >= MIN_MEDIAN_CONFIDENCE &&
    sybilWeight >= MIN_SYBIL_WEIGHT &&
    endorsers.length >= MIN_ENDORSERS
  )
    status = 'accepted';
  else if (rejectShare >= REJECT_SHARE && rejecters >= MIN_ENDORSERS) status = 'rejected';
  else status = 'pending';
  return { id: entry.id, status, endorseShare, rejectShare, medianConfidence, sybilWeight, endorsers, rejecters, totalWeight: totalWeight / WEIGHT_UNITS };
}

/**
 * Judges artifacts of the field (all, or `ids`), with weights looked up once
 * per voter. `now` sets the active window of the Sybil weight.
 */
export function aggregateField(
  field: CollectiveField,
  context: Omit<AggregationContext, 'active'> & { now: number },
  ids?: Iterable<ContentId>,
): Map<ContentId, Judgement> {
  const cache = new Map<NodeId, number>();
  const weightOf = (node: NodeId): number => {
    let w = cache.get(node);
    if (w === undefined) {
      const raw = context.excluded?.has(node) ? 0 : context.weightOf(node);
      w = Number.isFinite(raw) && raw > 0 ? raw : 0;
      cache.set(node, w);
    }
    return w;
  };
  const active = activeNodes(field, context.now, weightOf, context.excluded);
  let activeTotal = 0;
  for (const c of active.values()) activeTotal += Math.round(c * WEIGHT_UNITS);
  const full: AggregationContext = { weightOf, active, activeTotal, ...(context.excluded ? { excluded: context.excluded } : {}), ...(context.localNode ? { localNode: context.localNode } : {}) };
  const out = new Map<ContentId, Judgement>();
  const targets = ids ?? field.sortedIds();
  for (const id of targets) {
    const entry = field.artifact(id);
    if (entry === undefined) continue;
    out.set(id, judgeArtifact(entry, field.votesOn(id).values(), full));
  }
  return out;
}
