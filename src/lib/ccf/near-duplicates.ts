/**
 * Near-duplicate floods: a peer publishing many near-copies of artifacts
 * (its own or others'), to look like broad support for one idea, to drown
 * the field in one message, or to collapse its spread (postulate ND).
 *
 * Two artifacts are near-duplicates when their embedding sign codes (same
 * embedder) differ in at most NEAR_DUPLICATE_HAMMING bits, or, where codes
 * cannot be compared (no embedding, different embedders), when their content
 * words overlap by NEAR_DUPLICATE_JACCARD or more. A peer is flagged when at
 * least NEAR_DUPLICATE_MIN_COUNT of its artifacts in the window have a near
 * duplicate, and they are at least half of what it published there: one
 * honest artifact that happens to resemble another is not a flood.
 */
import { embeddingFromJson, embeddingSignCode } from '../artifacts/embedding-codec';
import type { ContentId } from '../artifacts/schema';
import { contentTokens } from '../learning/experience';
import { hamming } from '../retrieval/sign-bits';
import type { AnomalyFlag, DetectionContext } from './anomaly';
import { MAX_FLAG_EVIDENCE } from './anomaly';
import type { CollectiveField, FieldArtifact } from './field';
import type { NodeId } from './vote';

/**
 * Bits (of 384) two near-copies may differ in: 24, i.e. code cosine >= 0.875.
 * Paraphrases of one sentence sit there; two different strategies for the
 * same kind of task sit far above (the ND spread of honest rounds).
 */
export const NEAR_DUPLICATE_HAMMING = 24;
/** Shared content words (Jaccard) from which two texts are near-copies, when codes cannot be compared. */
export const NEAR_DUPLICATE_JACCARD = 0.8;
/** Near-copies by one peer in the window that make a flood. */
export const NEAR_DUPLICATE_MIN_COUNT = 4;
/** Share of the peer's artifacts in the window that must be near-copies. */
export const NEAR_DUPLICATE_MIN_SHARE = 0.5;
/** Window examined: six hours, the span of a flood; older copies were already rate-limited and judged. */
export const NEAR_DUPLICATE_WINDOW_MS = 6 * 3_600_000;

interface Item {
  entry: FieldArtifact;
  code: Uint32Array | null;
  tokens: Set<string> | null;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let shared = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const t of small) if (large.has(t)) shared++;
  return shared / (a.size + b.size - shared);
}

export function detectNearDuplicateFloods(field: CollectiveField, context: DetectionContext): AnomalyFlag[] {
  const { now, skip } = context;
  const items: Item[] = [];
  for (const entry of field.artifacts()) {
    const t = entry.artifact.createdAt;
    if (t <= now - NEAR_DUPLICATE_WINDOW_MS || t > now) continue;
    const e = entry.artifact.embedding;
    items.push({ entry, code: e ? embeddingSignCode(embeddingFromJson(e)) : null, tokens: null });
  }
  const hasCopy = new Set<ContentId>();
  for (let i = 0; i < items.length; i++) {
    const a = items[i] as Item;
    for (let j = i + 1; j < items.length; j++) {
      const b = items[j] as Item;
      let near: boolean;
      if (a.code && b.code && a.entry.artifact.embedderId === b.entry.artifact.embedderId) {
        near = hamming(a.code, b.code) <= NEAR_DUPLICATE_HAMMING;
      } else {
        a.tokens ??= contentTokens(a.entry.artifact.text);
        b.tokens ??= contentTokens(b.entry.artifact.text);
        near = jaccard(a.tokens, b.tokens) >= NEAR_DUPLICATE_JACCARD;
      }
      if (near) {
        hasCopy.add(a.entry.id);
        hasCopy.add(b.entry.id);
      }
    }
  }
  const perAuthor = new Map<NodeId, { total: number; copies: ContentId[] }>();
  for (const { entry } of items) {
    for (const author of entry.authors) {
      const stat = perAuthor.get(author) ?? { total: 0, copies: [] };
      stat.total++;
      if (hasCopy.has(entry.id)) stat.copies.push(entry.id);
      perAuthor.set(author, stat);
    }
  }
  const flags: AnomalyFlag[] = [];
  for (const [node, { total, copies }] of perAuthor) {
    if (skip?.has(node)) continue;
    if (copies.length < NEAR_DUPLICATE_MIN_COUNT || copies.length / total < NEAR_DUPLICATE_MIN_SHARE) continue;
    flags.push({
      node,
      detector: 'near-duplicate-flood',
      reason: `${copies.length} of its ${total} artifacts in the last ${NEAR_DUPLICATE_WINDOW_MS / 3_600_000} hours are near-copies of others`,
      at: now,
      artifacts: copies.sort().slice(0, MAX_FLAG_EVIDENCE),
      peers: [],
    });
  }
  return flags;
}
