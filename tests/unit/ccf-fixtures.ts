// Shared builders for the ccf-*.test.ts files: valid artifacts with embeddings, votes, node ids.
import { contentId } from '../../src/lib/artifacts/canonical';
import { compressEmbedding } from '../../src/lib/artifacts/embedding-codec';
import type { Artifact, ArtifactDomain, ArtifactKind, ContentId } from '../../src/lib/artifacts/schema';
import { DEFAULT_EMBEDDER } from '../../src/lib/memory/types';
import type { NodeId, Vote, VoteValue } from '../../src/lib/ccf/vote';
import { seededRandom } from '../../src/lib/random/seeded';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2025, 5, 1);
export const DIM = 384;

export const rng = seededRandom;

export function gaussianVector(random: () => number, scale = 1): Float64Array {
  const v = new Float64Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * scale;
  return v;
}

export function mix(...parts: [ArrayLike<number>, number][]): Float64Array {
  const out = new Float64Array(DIM);
  for (const [v, w] of parts) for (let i = 0; i < DIM; i++) out[i] = (out[i] as number) + (v[i] as number) * w;
  return out;
}

/** A node id: 32 hex characters derived from a number. */
export function node(n: number): NodeId {
  return n.toString(16).padStart(32, '0');
}

export interface MadeArtifact {
  id: ContentId;
  artifact: Artifact;
}

export function makeArtifact(options: {
  text: string;
  domain?: ArtifactDomain;
  kind?: ArtifactKind;
  createdAt?: number;
  vector?: ArrayLike<number>;
}): MadeArtifact {
  const artifact: Artifact = {
    schemaVersion: 1,
    kind: options.kind ?? 'strategy',
    text: options.text,
    domain: options.domain ?? 'math',
    confidence: 0.8,
    evidence: { groupSize: 8, rewardSpread: 0.5 },
    createdAt: options.createdAt ?? T0,
    embedderId: DEFAULT_EMBEDDER,
    ...(options.vector ? { embedding: compressEmbedding(options.vector) } : {}),
  };
  return { id: contentId(artifact), artifact };
}

export function vote(artifactId: ContentId, voter: NodeId, value: VoteValue, confidence = 0.9, at = T0 + HOUR / 2): Vote {
  return { schemaVersion: 1, artifactId, voter, value, confidence, at };
}
