/**
 * What the Field view shows: plain data read from the Collective Context
 * Field service (src/services/field-service.ts) by FieldState. Every string
 * that came from a peer (artifact text, display names, reasons quoting
 * them) is untrusted and rendered as text only.
 */
import type { ContentId, ArtifactDomain, ArtifactKind } from '../lib/artifacts/schema';
import type { AcceptanceStatus } from '../lib/ccf/aggregation';
import type { Detector } from '../lib/ccf/anomaly';
import type { CurriculumEntry, PlaybookEntry, PolicyDirective, RoundSpread } from '../lib/ccf/improvement-signal';
import type { NodeId, VoteValue } from '../lib/ccf/vote';

export interface FieldArtifactView {
  id: ContentId;
  kind: ArtifactKind;
  domain: ArtifactDomain;
  text: string;
  createdAt: number;
  authorId: NodeId;
  /** The author's display name as its presence said (untrusted), null when unknown. */
  authorName: string | null;
  /** Written by this node. */
  own: boolean;
  status: AcceptanceStatus;
  /** Weighted endorse share 0..1. */
  endorseShare: number;
  rejectShare: number;
  /** Weighted median confidence of the endorsers; null when none. */
  medianConfidence: number | null;
  /** Unique endorsing nodes over active nodes 0..1. */
  sybilWeight: number;
  /** Endorsements that counted. */
  endorsers: number;
  rejecters: number;
  /** All current votes held, counted or not. */
  votes: number;
  /** This node's current vote, and whether the person or an automatic check cast it. */
  myVote: { value: VoteValue; confidence: number; at: number; origin: 'person' | 'check' } | null;
  /** Its author is quarantined on this node. */
  quarantinedAuthor: boolean;
}

export interface FieldPeerView {
  nodeId: NodeId;
  displayName: string | null;
  /** Decayed score 0..1 whether calibrated or not. */
  reputation: number;
  /** What its votes weigh now (0 until calibrated or vouched, ramping through probation). */
  weight: number;
  calibrated: boolean;
  calibrationPassed: number;
  calibrationFailed: number;
  vouched: boolean;
  /** 0..1 through the probation (1: over). */
  probation: number;
  agreements: number;
  disagreements: number;
  acceptedContributions: number;
  rejectedContributions: number;
  quarantine: { cause: Detector | 'person'; reason: string; since: number } | null;
  /** Released by the person after a quarantine (the detectors will not flag the same evidence again). */
  released: boolean;
}

export interface DomainAcceptance {
  domain: ArtifactDomain;
  accepted: number;
  pending: number;
  rejected: number;
}

export interface RoundAcceptance {
  /** Round number (ROUND_MS windows since the epoch), by the artifacts' creation time. */
  round: number;
  accepted: number;
  pending: number;
  rejected: number;
}

export interface FieldSnapshot {
  self: NodeId;
  /** Newest first. */
  artifacts: FieldArtifactView[];
  peers: FieldPeerView[];
  counts: { artifacts: number; accepted: number; pending: number; rejected: number; votes: number; activeNodes: number };
  acceptanceByDomain: DomainAcceptance[];
  /** Accepted, pending and rejected artifacts per round, rounds ascending. */
  acceptanceByRound: RoundAcceptance[];
  /** ND spread per round, rounds ascending. */
  rounds: RoundSpread[];
  playbooks: { domain: ArtifactDomain; entries: PlaybookEntry[] }[];
  curricula: CurriculumEntry[];
  directives: PolicyDirective[];
  /** When the field was last aggregated (ms since epoch), null before the first time. */
  aggregatedAt: number | null;
}

/** What the Field view can ask for. Every method reports its outcome in `message`. */
export interface FieldActions {
  readonly snapshot: FieldSnapshot | null;
  readonly message: string;
  readonly busy: boolean;
  vote(artifactId: ContentId, value: VoteValue): Promise<void>;
  vouch(node: NodeId): Promise<void>;
  withdrawVouch(node: NodeId): Promise<void>;
  quarantine(node: NodeId): Promise<void>;
  release(node: NodeId): Promise<void>;
  refresh(): Promise<void>;
}
