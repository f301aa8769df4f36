// One simulated node: the same domain code the app runs (src/lib/ccf), fed by
// the in-process network. It holds its own copy of the field, its own
// reputation ledger and quarantine book, calibrates peers it meets, judges
// open artifacts at the end of every round, settles decided outcomes into
// its ledger and runs the anomaly detectors.
import { aggregateField } from '../src/lib/ccf/aggregation.ts';
import { detectAnomalies } from '../src/lib/ccf/anomaly.ts';
import { CollectiveField, roundOf } from '../src/lib/ccf/field.ts';
import { applyFlags, emptyQuarantine, quarantinedPeers } from '../src/lib/ccf/quarantine.ts';
import { emptyLedger, isCalibrated, meetPeer, recordCalibration, settlementOutcome, settleOutcomes, voteWeight } from '../src/lib/ccf/reputation.ts';

/** Rounds after creation during which the sim re-judges an artifact; later it counts as not accepted. */
export const OPEN_ROUNDS = 8;
/** Anomaly detection runs every this many rounds (it is the costliest step). */
export const DETECT_EVERY = 3;
/** Chance that a capable identity (honest or not: attackers run models too) passes one calibration task. */
export const CALIBRATION_PASS_P = 0.9;

export class NodeCore {
  constructor(id, random) {
    this.id = id;
    this.random = random;
    this.field = new CollectiveField();
    this.ledger = emptyLedger(id);
    this.quarantine = emptyQuarantine();
    /** artifact id -> round first seen accepted. */
    this.acceptedAt = new Map();
    /** peers met and not yet calibrated. */
    this.uncalibrated = new Set();
    this.flags = [];
  }

  meet(node, now) {
    if (this.ledger.peers.has(node)) return;
    this.ledger = meetPeer(this.ledger, node, now);
    this.uncalibrated.add(node);
  }

  /** Applies one delivered message; returns the artifact id when it is a new artifact to look at. */
  receive(message, now) {
    if (message.type === 'artifact') {
      this.meet(message.author, now);
      return this.field.apply(message) && message.author !== this.id ? message.id : null;
    }
    this.meet(message.vote.voter, now);
    this.field.apply(message);
    return null;
  }

  /** Calibration: every uncalibrated peer answers one more task per round (the first round: the required three). */
  calibrate(now) {
    for (const peer of [...this.uncalibrated].sort()) {
      const p = this.ledger.peers.get(peer);
      const tasks = p.calibrationPassed + p.calibrationFailed === 0 ? 3 : 1;
      for (let i = 0; i < tasks; i++) this.ledger = recordCalibration(this.ledger, peer, this.random() < CALIBRATION_PASS_P, now);
      if (isCalibrated(this.ledger.peers.get(peer))) this.uncalibrated.delete(peer);
    }
  }

  endOfRound(round, now) {
    const excluded = quarantinedPeers(this.quarantine);
    // Open: young enough to matter and not both accepted and settled (those cannot change what the sim measures).
    const open = [];
    for (const entry of this.field.artifacts()) {
      const created = roundOf(entry.artifact.createdAt);
      if (round - created > OPEN_ROUNDS) continue;
      if (this.acceptedAt.has(entry.id) && this.ledger.settled.has(entry.id)) continue;
      open.push(entry.id);
    }
    const weightOf = (n) => voteWeight(this.ledger, n, now);
    const judgements = aggregateField(this.field, { now, weightOf, excluded, localNode: this.id }, open);
    const decided = [];
    for (const [id, j] of judgements) {
      if (j.status === 'accepted' && !this.acceptedAt.has(id)) this.acceptedAt.set(id, round);
      const entry = this.field.artifact(id);
      const outcome = this.ledger.settled.has(id) ? null : settlementOutcome(j, entry.artifact.createdAt, now);
      if (outcome) decided.push({ artifactId: id, outcome, votes: this.field.votesOn(id).values(), authors: entry.authors });
    }
    this.ledger = settleOutcomes(this.ledger, decided, now);
    if (round % DETECT_EVERY === 0) {
      const flags = detectAnomalies(this.field, { now, judgements, weightOf, skip: new Set([this.id, ...excluded]) });
      this.flags.push(...flags);
      this.quarantine = applyFlags(this.quarantine, flags, now);
    }
    return judgements;
  }
}
