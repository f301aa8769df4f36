/**
 * What the anomaly detectors report, and running them all (DESIGN.md 2.6,
 * issue item 5). One detector per file:
 * - rate-burst.ts: a peer publishing or voting far faster than peers do;
 * - near-duplicates.ts: a peer flooding near-copies (embedding Hamming
 *   distance or shared words);
 * - embedding-outliers.ts: a peer whose artifacts sit far from everything
 *   else published in their domain;
 * - voting-blocs.ts: identities that vote identically and together against
 *   the outcome.
 *
 * A flag names the peer, the detector, a sentence for the person (shown in
 * the field view next to the "release" button, quarantine.ts) and the
 * evidence it rests on. Thresholds are robust (medians and MADs over peers,
 * robust.ts) with absolute floors, so the peers being judged cannot move the
 * bar by behaving oddly together, and a quiet network does not flag its one
 * busy member.
 *
 * Pure: the field, judgements and time are passed in.
 */
import type { ContentId } from '../artifacts/schema';
import type { Judgement } from './aggregation';
import type { CollectiveField } from './field';
import { detectEmbeddingOutliers } from './embedding-outliers';
import { detectNearDuplicateFloods } from './near-duplicates';
import { detectRateBursts } from './rate-burst';
import { detectVotingBlocs } from './voting-blocs';
import type { NodeId } from './vote';

export const DETECTORS = ['rate-burst', 'near-duplicate-flood', 'embedding-outlier', 'voting-bloc'] as const;
export type Detector = (typeof DETECTORS)[number];

export interface AnomalyFlag {
  node: NodeId;
  detector: Detector;
  /** One sentence for the person: what was seen, with the numbers. */
  reason: string;
  /** When the evidence was seen (the end of the window examined), ms since epoch. */
  at: number;
  /** Artifacts the flag rests on (a bounded sample). */
  artifacts: ContentId[];
  /** Other peers involved (a bloc's other members). */
  peers: NodeId[];
}

/** Most artifacts a flag lists as evidence: enough to inspect, bounded for storage and display. */
export const MAX_FLAG_EVIDENCE = 10;

export interface DetectionContext {
  now: number;
  /** Current judgements (aggregation.ts), needed by the voting-bloc detector. */
  judgements?: ReadonlyMap<ContentId, Judgement>;
  /** Peers not to examine (this node, peers already quarantined). */
  skip?: ReadonlySet<NodeId>;
  /** Vote weights (reputation.ts voteWeight); the voting-bloc detector counts identities instead when absent. */
  weightOf?: (node: NodeId) => number;
}

/** Every detector over the field; flags sorted by node, then detector. */
export function detectAnomalies(field: CollectiveField, context: DetectionContext): AnomalyFlag[] {
  const flags = [
    ...detectRateBursts(field, context),
    ...detectNearDuplicateFloods(field, context),
    ...detectEmbeddingOutliers(field, context),
    ...(context.judgements ? detectVotingBlocs(field, { ...context, judgements: context.judgements }) : []),
  ];
  return flags.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : DETECTORS.indexOf(a.detector) - DETECTORS.indexOf(b.detector)));
}
