/**
 * The collective improvement signal (paper section 6.4, DESIGN.md 2.6, issue
 * item 1): what the field, as judged by this node, tells every member to do
 * next.
 *
 * - Playbooks: per domain, the accepted strategies (and corrections,
 *   counterfactuals, instructions), best first by acceptance then recency.
 * - Curricula: domains where the network is weak, i.e. where published
 *   artifacts are mostly rejected or stay pending, or where there is activity
 *   but nothing accepted; these are where a node's synthetic learning jobs
 *   should practise.
 * - Policy directives: accepted artifacts of kind `policy`, the network's
 *   standing constraints (shown to the person; they enter prompts only
 *   through the projection, as untrusted priors).
 * - Spread per round: the ND spread (artifacts/non-degeneracy.ts) of each
 *   round's artifacts, per embedder, with collapse flagged.
 *
 * Pure: judgements and time passed in; texts are returned raw for the UI to
 * render as text (never as HTML).
 */
import { embeddingFromJson, embeddingSignCode } from '../artifacts/embedding-codec';
import { collapsed, ndSpread } from '../artifacts/non-degeneracy';
import { ARTIFACT_DOMAINS, type ArtifactDomain, type ContentId } from '../artifacts/schema';
import type { Judgement } from './aggregation';
import { roundOf, type CollectiveField, type FieldArtifact } from './field';

/** Entries per domain playbook: what the field view shows and a node may study. */
export const PLAYBOOK_SIZE = 10;
/**
 * Decided artifacts a domain needs before its acceptance rate says anything:
 * below it, a weak rate is noise.
 */
export const CURRICULUM_MIN_DECIDED = 5;
/** Acceptance rate (accepted / decided) below which a domain is weak. */
export const CURRICULUM_MAX_ACCEPTANCE = 0.5;
/**
 * Spread below which a round counts as collapsed. Unrelated real sentence
 * embeddings share many signs (non-degeneracy.ts), so honest rounds sit well
 * under 0.5; near-copies sit under 0.06 (NEAR_DUPLICATE_HAMMING / 384).
 * 0.1 flags a round that is mostly paraphrases. Calibrate on real data.
 */
export const ND_COLLAPSE_THRESHOLD = 0.1;

export interface PlaybookEntry {
  id: ContentId;
  kind: FieldArtifact['artifact']['kind'];
  text: string;
  acceptance: number;
  endorsers: number;
  createdAt: number;
}

export interface CurriculumEntry {
  domain: ArtifactDomain;
  accepted: number;
  rejected: number;
  pending: number;
  /** accepted / (accepted + rejected); null when nothing was decided. */
  acceptanceRate: number | null;
  reason: string;
}

export interface PolicyDirective {
  id: ContentId;
  domain: ArtifactDomain;
  text: string;
  acceptance: number;
}

export interface RoundSpread {
  round: number;
  embedderId: string;
  artifacts: number;
  /** Mean pairwise normalised Hamming distance; null for fewer than two artifacts. */
  spread: number | null;
  collapsed: boolean;
}

export interface ImprovementSignal {
  playbooks: Record<ArtifactDomain, PlaybookEntry[]>;
  curricula: CurriculumEntry[];
  directives: PolicyDirective[];
  spread: RoundSpread[];
}

/** ND spread of each round's artifacts (per embedder, artifacts without an embedding skipped), rounds ascending. */
export function roundSpreads(field: CollectiveField, rounds?: readonly number[]): RoundSpread[] {
  const wanted = rounds ? new Set(rounds) : null;
  const groups = new Map<string, { round: number; embedderId: string; codes: Uint32Array[] }>();
  for (const entry of field.artifacts()) {
    const { createdAt, embedding, embedderId } = entry.artifact;
    const round = roundOf(createdAt);
    if (!embedding || (wanted && !wanted.has(round))) continue;
    const key = `${round}\u0000${embedderId}`;
    const group = groups.get(key) ?? { round, embedderId, codes: [] };
    group.codes.push(embeddingSignCode(embeddingFromJson(embedding)));
    groups.set(key, group);
  }
  return [...groups.values()]
    .map(({ round, embedderId, codes }) => {
      const spread = ndSpread(codes);
      return { round, embedderId, artifacts: codes.length, spread, collapsed: collapsed(spread, ND_COLLAPSE_THRESHOLD) };
    })
    .sort((a, b) => a.round - b.round || (a.embedderId < b.embedderId ? -1 : a.embedderId > b.embedderId ? 1 : 0));
}

export function improvementSignal(field: CollectiveField, judgements: ReadonlyMap<ContentId, Judgement>, options: { rounds?: readonly number[] } = {}): ImprovementSignal {
  const playbooks = Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, [] as PlaybookEntry[]])) as Record<ArtifactDomain, PlaybookEntry[]>;
  const counts = new Map<ArtifactDomain, { accepted: number; rejected: number; pending: number }>();
  const directives: PolicyDirective[] = [];
  for (const id of field.sortedIds()) {
    const entry = field.artifact(id) as FieldArtifact;
    const judgement = judgements.get(id);
    if (!judgement) continue;
    const { domain, kind, text, createdAt } = entry.artifact;
    const count = counts.get(domain) ?? { accepted: 0, rejected: 0, pending: 0 };
    if (judgement.status === 'accepted') count.accepted++;
    else if (judgement.status === 'rejected') count.rejected++;
    else if (judgement.status === 'pending') count.pending++;
    counts.set(domain, count);
    if (judgement.status !== 'accepted') continue;
    if (kind === 'policy') directives.push({ id, domain, text, acceptance: judgement.endorseShare });
    else playbooks[domain].push({ id, kind, text, acceptance: judgement.endorseShare, endorsers: judgement.endorsers.length, createdAt });
  }
  for (const domain of ARTIFACT_DOMAINS) {
    playbooks[domain] = playbooks[domain]
      .sort((a, b) => b.acceptance - a.acceptance || b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      .slice(0, PLAYBOOK_SIZE);
  }
  directives.sort((a, b) => b.acceptance - a.acceptance || (a.id < b.id ? -1 : 1));

  const curricula: CurriculumEntry[] = [];
  for (const domain of ARTIFACT_DOMAINS) {
    const c = counts.get(domain);
    if (!c) continue;
    const decided = c.accepted + c.rejected;
    const rate = decided > 0 ? c.accepted / decided : null;
    let reason: string | null = null;
    if (decided >= CURRICULUM_MIN_DECIDED && (rate as number) < CURRICULUM_MAX_ACCEPTANCE) {
      reason = `only ${c.accepted} of ${decided} decided artifacts were accepted`;
    } else if (c.accepted === 0 && c.pending + c.rejected >= CURRICULUM_MIN_DECIDED) {
      reason = `${c.pending + c.rejected} artifacts published, none accepted yet`;
    }
    if (reason) curricula.push({ domain, ...c, acceptanceRate: rate, reason });
  }
  curricula.sort((a, b) => (a.acceptanceRate ?? 0) - (b.acceptanceRate ?? 0) || ARTIFACT_DOMAINS.indexOf(a.domain) - ARTIFACT_DOMAINS.indexOf(b.domain));
  return { playbooks, curricula, directives, spread: roundSpreads(field, options.rounds) };
}
