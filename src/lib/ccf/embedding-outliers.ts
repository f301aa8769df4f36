/**
 * Embedding outliers: a peer whose artifacts sit far from everything else
 * published in their domain (off-topic spam, text crafted for another
 * purpose under a popular domain label).
 *
 * Per domain and embedder, over the window, the centre is the per-bit
 * majority of the sign codes: the coordinate-wise median of the ±1 vectors,
 * which no minority can move. Each artifact's distance is its Hamming
 * distance to that centre, and its robust z-score (distance - median) /
 * (1.4826 * MAD) over the domain says how unusual it is. A peer is flagged
 * when at least OUTLIER_MIN_COUNT of its artifacts are outliers and they are
 * at least half of what it published in the window.
 */
import { embeddingFromJson, embeddingSignCode } from '../artifacts/embedding-codec';
import type { ContentId } from '../artifacts/schema';
import { EMBEDDING_DIMENSION } from '../memory/types';
import { hamming, wordsForDimension } from '../retrieval/sign-bits';
import type { AnomalyFlag, DetectionContext } from './anomaly';
import { MAX_FLAG_EVIDENCE } from './anomaly';
import type { CollectiveField, FieldArtifact } from './field';
import { MAD_TO_SIGMA, median, medianAbsoluteDeviation } from './robust';
import type { NodeId } from './vote';

/** Robust z from which an artifact is an outlier: 3.5, Iglewicz and Hoaglin's usual cut for modified z-scores. */
export const OUTLIER_Z = 3.5;
/**
 * Smallest distance above the domain's median that can be an outlier (bits
 * of 384). Guards against a MAD near 0 in a tight domain, where a tiny
 * difference would otherwise get a huge z.
 */
export const OUTLIER_MIN_MARGIN_BITS = 16;
/** Artifacts a domain needs in the window before it has a centre worth comparing to. */
export const OUTLIER_MIN_DOMAIN_SIZE = 8;
/** Outlying artifacts by one peer that get it flagged. */
export const OUTLIER_MIN_COUNT = 3;
/** Share of its artifacts in the window that must be outliers. */
export const OUTLIER_MIN_SHARE = 0.5;
/** Window: a day, enough artifacts per domain for a stable centre. */
export const OUTLIER_WINDOW_MS = 24 * 3_600_000;

/** The per-bit majority of codes (ties give 0, the sign-bits tie rule). */
export function majorityCode(codes: readonly Uint32Array[], dimension = EMBEDDING_DIMENSION): Uint32Array {
  const words = wordsForDimension(dimension);
  const ones = new Uint32Array(dimension);
  for (const code of codes) {
    for (let b = 0; b < dimension; b++) if (((code[b >>> 5] as number) >>> (b & 31)) & 1) ones[b]!++;
  }
  const out = new Uint32Array(words);
  for (let b = 0; b < dimension; b++) if ((ones[b] as number) * 2 > codes.length) out[b >>> 5] = ((out[b >>> 5] as number) | (1 << (b & 31))) >>> 0;
  return out;
}

export function detectEmbeddingOutliers(field: CollectiveField, context: DetectionContext): AnomalyFlag[] {
  const { now, skip } = context;
  const groups = new Map<string, { entry: FieldArtifact; code: Uint32Array }[]>();
  for (const entry of field.artifacts()) {
    const { createdAt, embedding, domain, embedderId } = entry.artifact;
    if (createdAt <= now - OUTLIER_WINDOW_MS || createdAt > now || !embedding) continue;
    const key = `${domain}\u0000${embedderId}`;
    const list = groups.get(key) ?? [];
    list.push({ entry, code: embeddingSignCode(embeddingFromJson(embedding)) });
    groups.set(key, list);
  }
  const outliers = new Set<ContentId>();
  const published = new Map<NodeId, number>();
  for (const list of groups.values()) {
    for (const { entry } of list) for (const a of entry.authors) published.set(a, (published.get(a) ?? 0) + 1);
    if (list.length < OUTLIER_MIN_DOMAIN_SIZE) continue;
    const centre = majorityCode(list.map((x) => x.code));
    const distances = list.map((x) => hamming(x.code, centre));
    const m = median(distances);
    const spread = MAD_TO_SIGMA * medianAbsoluteDeviation(distances);
    for (let i = 0; i < list.length; i++) {
      const d = distances[i] as number;
      if (d - m < OUTLIER_MIN_MARGIN_BITS) continue;
      if (spread > 0 && (d - m) / spread < OUTLIER_Z) continue;
      outliers.add((list[i] as { entry: FieldArtifact }).entry.id);
    }
  }
  const perAuthor = new Map<NodeId, ContentId[]>();
  for (const id of outliers) {
    for (const a of (field.artifact(id) as FieldArtifact).authors) perAuthor.set(a, [...(perAuthor.get(a) ?? []), id]);
  }
  const flags: AnomalyFlag[] = [];
  for (const [node, ids] of perAuthor) {
    const total = published.get(node) ?? ids.length;
    if (skip?.has(node) || ids.length < OUTLIER_MIN_COUNT || ids.length / total < OUTLIER_MIN_SHARE) continue;
    flags.push({
      node,
      detector: 'embedding-outlier',
      reason: `${ids.length} of its ${total} artifacts in the last day are far from everything else in their domain`,
      at: now,
      artifacts: ids.sort().slice(0, MAX_FLAG_EVIDENCE),
      peers: [],
    });
  }
  return flags;
}
