/**
 * From a local experience to a shareable artifact: validation for sharing,
 * the privacy projection (postulate U2), then the canonical artifact and its
 * content id (U1). Every stage can refuse; a refusal keeps the experience
 * local with its reason, and nothing about its text leaves this function in
 * the reason (only kinds and counts).
 *
 * What happens to the artifact next (the person's policy: ask, auto, never;
 * the execution layer; the outbox) is the caller's business.
 */
import { contentId, canonicalBytes } from '../artifacts/canonical';
import { artifactSchema, coarsenTime, type Artifact, type ArtifactKind, type CompressedEmbedding, type ContentId } from '../artifacts/schema';
import type { Experience } from './experience';
import { projectForSharing, type LdpReport, type ProjectionContext, type RedactionCount } from './privacy-projection';

/**
 * Where an experience stands with the network:
 * - local: never offered;
 * - blocked: validation or the privacy projection refused it (reason kept);
 * - awaiting-approval: the policy is "ask" and the person has not answered;
 * - declined: the person said no (to this version);
 * - queued: approved, waiting in the outbox for the network;
 * - shared: sent to the network.
 */
export const SHARING_STATES = ['local', 'blocked', 'awaiting-approval', 'declined', 'queued', 'shared'] as const;
export type SharingState = (typeof SHARING_STATES)[number];

/** The person's sharing policy for experiences. */
export const SHARING_POLICIES = ['ask', 'auto', 'never'] as const;
export type SharingPolicy = (typeof SHARING_POLICIES)[number];

export interface ArtifactEvidenceInput {
  groupSize: number;
  rewardSpread: number;
}

export interface BuildArtifactInput {
  experience: Experience;
  kind: ArtifactKind;
  evidence: ArtifactEvidenceInput;
  embedderId: string;
  embedding?: CompressedEmbedding;
}

export type SharingCheck = { ok: true } | { ok: false; reason: string; detail: string };

export type BuildArtifactResult =
  | {
      ok: true;
      artifact: Artifact;
      contentId: ContentId;
      bytes: number;
      redactions: readonly RedactionCount[];
      epsilonSpent: number;
      ldp?: LdpReport;
    }
  | { ok: false; stage: 'validation' | 'privacy' | 'schema'; reason: string; detail: string };

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/**
 * @param validate the sharing checks (validation.ts's validateForSharing, adapted by the caller)
 */
export function buildShareableArtifact(
  input: BuildArtifactInput,
  validate: (experience: Experience) => SharingCheck,
  projection: ProjectionContext,
): BuildArtifactResult {
  const check = validate(input.experience);
  if (!check.ok) return { ok: false, stage: 'validation', reason: check.reason, detail: check.detail };

  const projected = projectForSharing(
    { text: input.experience.text, createdAt: input.experience.createdAt, ...(input.embedding ? { embedding: input.embedding } : {}) },
    projection,
  );
  if (!projected.ok) return { ok: false, stage: 'privacy', reason: projected.reason, detail: projected.detail };

  const candidate = {
    schemaVersion: 1,
    kind: input.kind,
    text: projected.projected.text.normalize('NFC'),
    domain: input.experience.domain,
    confidence: clamp01(input.experience.confidence),
    evidence: {
      groupSize: Math.max(1, Math.min(64, Math.floor(input.evidence.groupSize))),
      rewardSpread: clamp01(input.evidence.rewardSpread),
    },
    createdAt: coarsenTime(projected.projected.createdAt),
    embedderId: input.embedderId,
    ...(projected.projected.embedding ? { embedding: projected.projected.embedding } : {}),
  };
  const parsed = artifactSchema.safeParse(candidate);
  if (!parsed.success) {
    return { ok: false, stage: 'schema', reason: 'schema', detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  }
  const artifact = parsed.data;
  return {
    ok: true,
    artifact,
    contentId: contentId(artifact),
    bytes: canonicalBytes(artifact).byteLength,
    redactions: projected.redactions,
    epsilonSpent: projected.epsilonSpent,
    ...(projected.ldp ? { ldp: projected.ldp } : {}),
  };
}
