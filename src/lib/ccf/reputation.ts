/**
 * Reputation: how much a peer's votes weigh in this node's view of the field
 * (DESIGN.md 2.6, issue item 4).
 *
 * - A new identity starts with little (`INITIAL_REPUTATION`) and its votes
 *   count for nothing until it has passed calibration: a few checkable tasks
 *   this node set it (proof of capability), so an identity costs real work,
 *   which is what makes Sybil floods expensive.
 * - It grows with agreement with settled outcomes (the artifact was accepted
 *   and the peer endorsed it, or rejected and the peer rejected it), with
 *   accepted contributions and with passed calibration tasks, each time by a
 *   fraction of the distance to the maximum, so it is bounded by
 *   `MAX_REPUTATION` and saturates.
 * - It falls faster than it grows (a disagreement costs `DISAGREEMENT_LOSS`
 *   of the score, an agreement earns `AGREEMENT_GAIN` of the rest), so
 *   lying on a fraction of one's votes is a losing trade, and with rejected
 *   contributions.
 * - It decays with time towards the newcomer's level (`REPUTATION_HALF_LIFE_MS`):
 *   standing has to be kept up, and a discredited peer ends, after a while,
 *   where a fresh identity would start, no better (so nothing is gained by
 *   waiting) and no worse (so nothing is gained by starting over).
 *
 * - The person can vouch for a member they know (`vouchFor`): a vouched
 *   peer counts as calibrated and skips probation on this node only. Both
 *   gates exist against identities nobody knows; a person who knows who is
 *   behind an identity has better evidence than three tasks and a day of
 *   waiting. The vouch is local, reversible (`withdrawVouch`), and changes
 *   nothing else: agreement, decay and quarantine apply as to anyone, so a
 *   vouched peer that lies still loses its weight.
 *
 * Reputation is local: each node keeps its own ledger from what it observed
 * and settled. It is not replicated, so no peer can write into it; nodes that
 * see the same field settle the same outcomes and end up close.
 *
 * The ledger is an immutable value (a new one per update) so that the UI can
 * keep history and tests can compare states. Time is passed in.
 */
import type { ContentId } from '../artifacts/schema';
import { isNegative, type NodeId, type Vote } from './vote';

/** Upper bound of a score; also the weight of one fully trusted identity in aggregation. */
export const MAX_REPUTATION = 1;
/**
 * Where a calibrated newcomer starts: a tenth of a trusted peer. Ten fresh
 * identities weigh as much as one peer that has earned its standing.
 */
export const INITIAL_REPUTATION = 0.1;
/**
 * Share of the remaining distance to the maximum earned per agreement. 0.05:
 * about 20 agreeing outcomes take a newcomer half-way (0.1 to 0.55), so
 * earning weight for a later "slow poisoning" takes weeks of honest work.
 */
export const AGREEMENT_GAIN = 0.05;
/**
 * Share of the score lost per disagreement. Three times the gain: a voter
 * right 90 % of the time settles near 0.75 (0.9 * 0.05 * (1 - s) = 0.1 * 0.15 * s),
 * one that lies on every vote falls towards 0, one that lies on a quarter of
 * its votes settles near 0.25.
 */
export const DISAGREEMENT_LOSS = 0.15;
/** Gain per accepted contribution (an artifact this peer published was accepted): like an agreement. */
export const CONTRIBUTION_GAIN = 0.05;
/** Share of the score lost per rejected contribution: publishing junk costs more than voting wrong once. */
export const REJECTED_CONTRIBUTION_LOSS = 0.2;
/** Gain per passed calibration task. */
export const CALIBRATION_GAIN = 0.05;
/** Calibration tasks a newcomer must pass before its votes count: a few, so joining stays cheap for people. */
export const CALIBRATION_TASKS_REQUIRED = 3;
/**
 * Share of calibration tasks that must be passed. 0.75: one slip in four is
 * tolerated (small models make mistakes), guessing is not.
 */
export const CALIBRATION_PASS_RATE = 0.75;
/**
 * Half-life of earned standing (above `INITIAL_REPUTATION`). Two weeks: a
 * peer active a few times a week keeps its weight, one gone for a month keeps
 * a quarter of what it earned.
 */
export const REPUTATION_HALF_LIFE_MS = 14 * 24 * 3_600_000;

/**
 * Probation: a peer's vote weight ramps up linearly over this long after
 * this node first met it. A day: an identity made to vote in a burst
 * (a Sybil flood) weighs a few percent of its score while the burst lasts,
 * and keeping identities around for days costs the attacker presence and
 * calibration on every node. Measured by this node's clock, so a peer
 * cannot claim to be old.
 */
export const PROBATION_MS = 24 * 3_600_000;
/**
 * How long after an artifact's creation its outcome is settled into
 * reputation: votes come from deferrable jobs and over gossip, and judging
 * voters on the first few votes would reward the fastest, not the most
 * accurate. Four hours covers a normal round trip of checks.
 */
export const SETTLEMENT_DELAY_MS = 4 * 3_600_000;
/**
 * Weighted share from which a side counts as the outcome for reputation
 * when acceptance is still pending after the settlement delay. 0.6, below
 * the 2/3 of acceptance: an artifact that a clear majority rejects but that
 * colluders keep out of a 2/3 rejection still costs the colluders their
 * standing; a split vote (40-60) teaches nothing.
 */
export const SETTLEMENT_MAJORITY = 0.6;

export interface PeerReputation {
  /** 0..MAX_REPUTATION, as of `at`. */
  score: number;
  /** When this node first met the peer (its own clock): starts the probation. */
  firstSeen: number;
  /** When `score` was last brought up to date (ms since epoch). */
  at: number;
  calibrationPassed: number;
  calibrationFailed: number;
  agreements: number;
  disagreements: number;
  acceptedContributions: number;
  rejectedContributions: number;
  /** When this node's person vouched for the peer (null: not vouched). */
  vouchedAt: number | null;
}

export interface ReputationLedger {
  /**
   * The node that keeps this ledger. Its own votes weigh MAX_REPUTATION: it
   * has no reason to doubt its own checks, and when every peer is still a
   * stranger (a new network, a node that just joined) its own checks are
   * what anchors the outcomes reputation learns from, so a crowd of fresh
   * identities cannot define "agreement" for it. Later it is one voter
   * among many trusted ones.
   */
  readonly owner: NodeId | null;
  readonly peers: ReadonlyMap<NodeId, PeerReputation>;
  /** Artifacts whose outcome has been settled into the ledger: settling is once per artifact. */
  readonly settled: ReadonlySet<ContentId>;
}

export function emptyLedger(owner: NodeId | null = null): ReputationLedger {
  return { owner, peers: new Map(), settled: new Set() };
}

function fresh(at: number): PeerReputation {
  return {
    score: INITIAL_REPUTATION,
    at,
    firstSeen: at,
    calibrationPassed: 0,
    calibrationFailed: 0,
    agreements: 0,
    disagreements: 0,
    acceptedContributions: 0,
    rejectedContributions: 0,
    vouchedAt: null,
  };
}

/** `score` as of `now`: earned standing above the newcomer level halves every half-life; a clock going back changes nothing. */
export function decayedScore(peer: PeerReputation, now: number): number {
  const dt = Math.max(0, now - peer.at);
  if (dt === 0 || peer.score === INITIAL_REPUTATION) return peer.score;
  const factor = 2 ** (-dt / REPUTATION_HALF_LIFE_MS);
  return INITIAL_REPUTATION + (peer.score - INITIAL_REPUTATION) * factor;
}

/** Whether a peer has passed calibration. */
export function isCalibrated(peer: PeerReputation | undefined): boolean {
  if (peer === undefined) return false;
  if (peer.vouchedAt !== null) return true;
  const total = peer.calibrationPassed + peer.calibrationFailed;
  return peer.calibrationPassed >= CALIBRATION_TASKS_REQUIRED && peer.calibrationPassed / total >= CALIBRATION_PASS_RATE;
}

/** The probation factor at `now`, 0..1: how far through its first PROBATION_MS the peer is. */
export function probationFactor(peer: PeerReputation, now: number): number {
  if (peer.vouchedAt !== null) return 1;
  return Math.min(1, Math.max(0, now - peer.firstSeen) / PROBATION_MS);
}

/**
 * The weight of `node`'s votes at `now`: 0 for unknown or uncalibrated peers,
 * otherwise the decayed score times the probation factor.
 */
export function voteWeight(ledger: ReputationLedger, node: NodeId, now: number): number {
  if (node === ledger.owner) return MAX_REPUTATION;
  const peer = ledger.peers.get(node);
  if (peer === undefined || !isCalibrated(peer)) return 0;
  return decayedScore(peer, now) * probationFactor(peer, now);
}

/**
 * The outcome an artifact teaches reputation, or null when it teaches
 * nothing yet: nothing before SETTLEMENT_DELAY_MS after its creation; after
 * it, the acceptance decision when there is one, otherwise the side with at
 * least SETTLEMENT_MAJORITY of the weight.
 */
export function settlementOutcome(
  judgement: { status: string; endorseShare: number; rejectShare: number; totalWeight: number },
  createdAt: number,
  now: number,
): SettledOutcome | null {
  if (now - createdAt < SETTLEMENT_DELAY_MS) return null;
  if (judgement.status === 'accepted') return 'accepted';
  if (judgement.status === 'rejected') return 'rejected';
  if (judgement.status !== 'pending' || !(judgement.totalWeight > 0)) return null;
  if (judgement.endorseShare >= SETTLEMENT_MAJORITY) return 'accepted';
  if (judgement.rejectShare >= SETTLEMENT_MAJORITY) return 'rejected';
  return null;
}

/** The decayed score whether or not calibrated (for display and the projection's author weight). */
export function reputationOf(ledger: ReputationLedger, node: NodeId, now: number): number {
  const peer = ledger.peers.get(node);
  return peer === undefined ? 0 : isCalibrated(peer) ? decayedScore(peer, now) : 0;
}

const clamp = (x: number): number => Math.min(MAX_REPUTATION, Math.max(0, x));
const gain = (score: number, rate: number): number => clamp(score + rate * (MAX_REPUTATION - score));
const loss = (score: number, rate: number): number => clamp(score - rate * score);

/** A copy of the ledger where `update` has been applied to `node` (created fresh when unknown), decayed to `now` first. */
function withPeer(ledger: ReputationLedger, node: NodeId, now: number, update: (p: PeerReputation) => PeerReputation): ReputationLedger {
  const peers = new Map(ledger.peers);
  const current = peers.get(node) ?? fresh(now);
  const brought = { ...current, score: decayedScore(current, now), at: Math.max(now, current.at) };
  peers.set(node, update(brought));
  return { owner: ledger.owner, peers, settled: ledger.settled };
}

/** Registers a peer seen for the first time (a no-op when known). */
export function meetPeer(ledger: ReputationLedger, node: NodeId, now: number): ReputationLedger {
  if (ledger.peers.has(node)) return ledger;
  const peers = new Map(ledger.peers);
  peers.set(node, fresh(now));
  return { owner: ledger.owner, peers, settled: ledger.settled };
}

/** The person vouches for `node` (a member they know): calibrated, no probation, on this node only. */
export function vouchFor(ledger: ReputationLedger, node: NodeId, now: number): ReputationLedger {
  if (node === ledger.owner) return ledger;
  return withPeer(ledger, node, now, (p) => (p.vouchedAt === null ? { ...p, vouchedAt: now } : p));
}

/** The person takes a vouch back: the peer is judged like any other again. */
export function withdrawVouch(ledger: ReputationLedger, node: NodeId, now: number): ReputationLedger {
  const peer = ledger.peers.get(node);
  if (peer === undefined || peer.vouchedAt === null) return ledger;
  return withPeer(ledger, node, now, (p) => ({ ...p, vouchedAt: null }));
}

/** Records one calibration task answered by `node`, checked by this node. */
export function recordCalibration(ledger: ReputationLedger, node: NodeId, passed: boolean, now: number): ReputationLedger {
  return withPeer(ledger, node, now, (p) =>
    passed
      ? { ...p, score: gain(p.score, CALIBRATION_GAIN), calibrationPassed: p.calibrationPassed + 1 }
      : { ...p, score: loss(p.score, DISAGREEMENT_LOSS), calibrationFailed: p.calibrationFailed + 1 },
  );
}

export type SettledOutcome = 'accepted' | 'rejected';

export interface OutcomeToSettle {
  artifactId: ContentId;
  outcome: SettledOutcome;
  /** The artifact's current votes as this node holds them. */
  votes: Iterable<Vote>;
  authors: readonly NodeId[];
}

/**
 * Settles artifacts' outcomes into the ledger, each once: every voter whose
 * current vote agrees with the outcome gains, every one that disagrees loses;
 * the authors gain (accepted) or lose (rejected). Votes by an author on its
 * own artifact are ignored (they say nothing about judgement). An artifact
 * already settled is skipped, so a re-delivered outcome never counts twice.
 * One copy of the ledger per batch, not per artifact.
 */
export function settleOutcomes(ledger: ReputationLedger, outcomes: Iterable<OutcomeToSettle>, now: number): ReputationLedger {
  let peers: Map<NodeId, PeerReputation> | null = null;
  let settled: Set<ContentId> | null = null;
  for (const { artifactId, outcome, votes, authors } of outcomes) {
    if ((settled ?? ledger.settled).has(artifactId)) continue;
    peers ??= new Map(ledger.peers);
    settled ??= new Set(ledger.settled);
    const book = peers;
    const touch = (node: NodeId, update: (p: PeerReputation) => PeerReputation) => {
      const current = book.get(node) ?? fresh(now);
      book.set(node, update({ ...current, score: decayedScore(current, now), at: Math.max(now, current.at) }));
    };
    for (const vote of votes) {
      if (vote.artifactId !== artifactId || authors.includes(vote.voter) || vote.voter === ledger.owner) continue;
      touch(vote.voter, (p) =>
        agreesWith(vote.value, outcome)
          ? { ...p, score: gain(p.score, AGREEMENT_GAIN), agreements: p.agreements + 1 }
          : { ...p, score: loss(p.score, DISAGREEMENT_LOSS), disagreements: p.disagreements + 1 },
      );
    }
    for (const author of authors) {
      if (author === ledger.owner) continue;
      touch(author, (p) =>
        outcome === 'accepted'
          ? { ...p, score: gain(p.score, CONTRIBUTION_GAIN), acceptedContributions: p.acceptedContributions + 1 }
          : { ...p, score: loss(p.score, REJECTED_CONTRIBUTION_LOSS), rejectedContributions: p.rejectedContributions + 1 },
      );
    }
    settled.add(artifactId);
  }
  return peers === null || settled === null ? ledger : { owner: ledger.owner, peers, settled };
}

/** `settleOutcomes` for one artifact. */
export function settleOutcome(
  ledger: ReputationLedger,
  artifactId: ContentId,
  outcome: SettledOutcome,
  votes: Iterable<Vote>,
  authors: readonly NodeId[],
  now: number,
): ReputationLedger {
  return settleOutcomes(ledger, [{ artifactId, outcome, votes, authors }], now);
}

/** Whether a vote value agrees with an outcome (veto counts as reject). */
export function agreesWith(value: Vote['value'], outcome: SettledOutcome): boolean {
  return isNegative(value) ? outcome === 'rejected' : outcome === 'accepted';
}
