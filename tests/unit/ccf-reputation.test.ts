import { describe, expect, it } from 'vitest';
import {
  AGREEMENT_GAIN,
  CALIBRATION_TASKS_REQUIRED,
  decayedScore,
  emptyLedger,
  INITIAL_REPUTATION,
  isCalibrated,
  MAX_REPUTATION,
  meetPeer,
  PROBATION_MS,
  recordCalibration,
  REPUTATION_HALF_LIFE_MS,
  SETTLEMENT_DELAY_MS,
  settlementOutcome,
  settleOutcome,
  settleOutcomes,
  voteWeight,
  vouchFor,
  withdrawVouch,
  type ReputationLedger,
} from '../../src/lib/ccf/reputation';
import { HOUR, makeArtifact, node, T0, vote } from './ccf-fixtures';

const ME = node(1);
const PEER = node(2);
const OTHER = node(3);
const AUTHOR = node(4);
const arts = Array.from({ length: 60 }, (_, i) => makeArtifact({ text: `When the request is vague, ask for the missing detail (${i}).` }).id);

function calibrated(ledger: ReputationLedger, peer: string, at = T0): ReputationLedger {
  let l = meetPeer(ledger, peer, at);
  for (let i = 0; i < CALIBRATION_TASKS_REQUIRED; i++) l = recordCalibration(l, peer, true, at);
  return l;
}

describe('reputation', () => {
  it('gives a newcomer no vote weight until it passes calibration, then little', () => {
    let l = meetPeer(emptyLedger(ME), PEER, T0);
    const later = T0 + PROBATION_MS;
    expect(voteWeight(l, PEER, later)).toBe(0);
    l = recordCalibration(l, PEER, true, T0);
    l = recordCalibration(l, PEER, false, T0);
    l = recordCalibration(l, PEER, true, T0);
    expect(isCalibrated(l.peers.get(PEER))).toBe(false); // 2 of 3 passed: below the pass rate and count
    l = recordCalibration(l, PEER, true, T0);
    expect(isCalibrated(l.peers.get(PEER))).toBe(true);
    const w = voteWeight(l, PEER, later);
    expect(w).toBeGreaterThan(0);
    expect(w).toBeLessThan(0.25); // calibration moved it a little above INITIAL_REPUTATION
    // Unknown identities weigh nothing; the ledger's owner weighs fully.
    expect(voteWeight(l, OTHER, later)).toBe(0);
    expect(voteWeight(l, ME, later)).toBe(MAX_REPUTATION);
  });

  it('ramps a new identity in over the probation period', () => {
    const l = calibrated(emptyLedger(ME), PEER);
    const p = l.peers.get(PEER)!;
    expect(voteWeight(l, PEER, T0)).toBe(0);
    expect(voteWeight(l, PEER, T0 + PROBATION_MS / 2)).toBeCloseTo(decayedScore(p, T0 + PROBATION_MS / 2) / 2, 12);
    expect(voteWeight(l, PEER, T0 + 2 * PROBATION_MS)).toBeCloseTo(decayedScore(p, T0 + 2 * PROBATION_MS), 12);
  });

  it('grows with agreement, is bounded, and falls faster with disagreement', () => {
    let l = calibrated(emptyLedger(ME), PEER);
    const start = l.peers.get(PEER)!.score;
    for (const id of arts) l = settleOutcome(l, id, 'accepted', [vote(id, PEER, 'endorse')], [AUTHOR], T0);
    const high = l.peers.get(PEER)!.score;
    expect(high).toBeGreaterThan(start);
    expect(high).toBeLessThanOrEqual(MAX_REPUTATION);
    expect(l.peers.get(PEER)!.agreements).toBe(arts.length);
    // One disagreement undoes more than one agreement earns.
    const before = l.peers.get(PEER)!.score;
    const fresh = makeArtifact({ text: 'When a date is ambiguous, state the assumption before answering.' }).id;
    const after = settleOutcome(l, fresh, 'rejected', [vote(fresh, PEER, 'endorse')], [AUTHOR], T0).peers.get(PEER)!.score;
    expect(before - after).toBeGreaterThan(AGREEMENT_GAIN * (MAX_REPUTATION - before));
  });

  it('settles each artifact once, ignores self-votes by authors, and charges rejected contributions', () => {
    let l = calibrated(calibrated(emptyLedger(ME), PEER), AUTHOR);
    const id = arts[0]!;
    const votes = [vote(id, PEER, 'reject'), vote(id, AUTHOR, 'endorse')];
    l = settleOutcome(l, id, 'rejected', votes, [AUTHOR], T0);
    const once = l;
    l = settleOutcome(l, id, 'rejected', votes, [AUTHOR], T0);
    expect(l).toBe(once);
    expect(l.peers.get(PEER)!.agreements).toBe(1);
    expect(l.peers.get(AUTHOR)!.disagreements).toBe(0); // its own vote says nothing
    expect(l.peers.get(AUTHOR)!.rejectedContributions).toBe(1);
    expect(l.peers.get(AUTHOR)!.score).toBeLessThan(INITIAL_REPUTATION + 0.2);
  });

  it('decays earned standing towards the newcomer level with a half-life', () => {
    let l = calibrated(emptyLedger(ME), PEER);
    for (const id of arts) l = settleOutcome(l, id, 'accepted', [vote(id, PEER, 'endorse')], [AUTHOR], T0);
    const p = l.peers.get(PEER)!;
    const earned = p.score - INITIAL_REPUTATION;
    expect(decayedScore(p, p.at + REPUTATION_HALF_LIFE_MS)).toBeCloseTo(INITIAL_REPUTATION + earned / 2, 9);
    expect(decayedScore(p, p.at + 20 * REPUTATION_HALF_LIFE_MS)).toBeCloseTo(INITIAL_REPUTATION, 4);
    expect(decayedScore(p, p.at - HOUR)).toBe(p.score); // a clock going back changes nothing
  });

  it('settles only after the delay, on the decision or on a clear majority', () => {
    const j = (status: string, endorseShare: number) => ({ status, endorseShare, rejectShare: 1 - endorseShare, totalWeight: 1 });
    expect(settlementOutcome(j('accepted', 0.9), T0, T0 + SETTLEMENT_DELAY_MS - 1)).toBeNull();
    expect(settlementOutcome(j('accepted', 0.9), T0, T0 + SETTLEMENT_DELAY_MS)).toBe('accepted');
    expect(settlementOutcome(j('pending', 0.3), T0, T0 + SETTLEMENT_DELAY_MS)).toBe('rejected');
    expect(settlementOutcome(j('pending', 0.5), T0, T0 + SETTLEMENT_DELAY_MS)).toBeNull();
    expect(settlementOutcome({ status: 'pending', endorseShare: 0, rejectShare: 0, totalWeight: 0 }, T0, T0 + SETTLEMENT_DELAY_MS)).toBeNull();
  });
});

describe('vouching', () => {
  it('a vouched peer counts at once, without calibration or probation; withdrawing restores both gates', () => {
    const owner = node(0);
    const friend = node(1);
    let ledger = meetPeer(emptyLedger(owner), friend, T0);
    expect(voteWeight(ledger, friend, T0 + HOUR)).toBe(0);
    ledger = vouchFor(ledger, friend, T0 + HOUR);
    expect(voteWeight(ledger, friend, T0 + HOUR)).toBeCloseTo(INITIAL_REPUTATION);
    ledger = withdrawVouch(ledger, friend, T0 + 2 * HOUR);
    expect(voteWeight(ledger, friend, T0 + 2 * HOUR)).toBe(0);
  });

  it('a vouched peer that disagrees with settled outcomes still loses standing', () => {
    const owner = node(0);
    const friend = node(1);
    let ledger = vouchFor(emptyLedger(owner), friend, T0);
    const before = voteWeight(ledger, friend, T0);
    const a = makeArtifact({ text: 'When adding fractions, find a common denominator first.' });
    ledger = settleOutcomes(ledger, [{ artifactId: a.id, outcome: 'rejected', votes: [vote(a.id, friend, 'endorse')], authors: [node(2)] }], T0 + HOUR);
    expect(voteWeight(ledger, friend, T0 + HOUR)).toBeLessThan(before);
  });

  it('vouching for oneself changes nothing', () => {
    const ledger = emptyLedger(node(0));
    expect(vouchFor(ledger, node(0), T0)).toBe(ledger);
  });
});
