/**
 * Quarantine: peers a detector flagged (anomaly.ts), whose votes and
 * artifacts this node leaves out of aggregation and projection until the
 * person says otherwise (DESIGN.md 2.6, issue item 5).
 *
 * Detectors make mistakes, so a quarantine is never silent and never final:
 * each entry keeps the detector's reason and evidence for the field view,
 * and the person can release the peer. A release is respected: the same old
 * evidence does not quarantine the peer again; only a flag raised after the
 * release (new behaviour) does. Releasing is the person's decision alone;
 * nothing a peer sends can release anyone.
 *
 * The book is local (like reputation) and an immutable value.
 */
import type { AnomalyFlag, Detector } from './anomaly';
import type { NodeId } from './vote';

export interface QuarantineEntry {
  node: NodeId;
  /** The detector that flagged it, or 'person' when the person quarantined it by hand. */
  cause: Detector | 'person';
  /** The sentence shown to the person. */
  reason: string;
  /** The detector's flag with its evidence; null for a quarantine by hand. */
  flag: AnomalyFlag | null;
  since: number;
  /** When the person released it; null while quarantined. */
  releasedAt: number | null;
}

export type QuarantineBook = ReadonlyMap<NodeId, QuarantineEntry>;

export function emptyQuarantine(): QuarantineBook {
  return new Map();
}

/**
 * Applies detector flags: a flagged peer is quarantined with the flag's
 * reason, unless the person released it at or after the time of the flag's
 * evidence. Returns the same book when nothing changed.
 */
export function applyFlags(book: QuarantineBook, flags: readonly AnomalyFlag[], now: number): QuarantineBook {
  let next: Map<NodeId, QuarantineEntry> | null = null;
  for (const flag of flags) {
    const current = (next ?? book).get(flag.node);
    if (current && current.releasedAt === null) continue; // already quarantined: keep the first reason
    // The person already saw this: a released peer is flagged again only on evidence the release did not cover.
    if (current && current.releasedAt !== null && (flag.at <= current.releasedAt || !hasNewEvidence(flag, current.flag))) continue;
    next ??= new Map(book);
    next.set(flag.node, { node: flag.node, cause: flag.detector, reason: flag.reason, flag, since: now, releasedAt: null });
  }
  return next ?? book;
}

/**
 * Whether a flag rests on evidence (artifacts or peers) that the flag the
 * person released did not show. Detectors re-run on the same field and
 * raise the same flag with a later time; only new artifacts, or new bloc
 * members, are new behaviour. A peer quarantined by hand and released has
 * no detector evidence, so any flag is new.
 */
function hasNewEvidence(flag: AnomalyFlag, released: AnomalyFlag | null): boolean {
  if (released === null || released.detector !== flag.detector) return true;
  const seen = new Set<string>([...released.artifacts, ...released.peers]);
  return [...flag.artifacts, ...flag.peers].some((x) => !seen.has(x));
}

/** The person releases a peer (reversal); unknown or already released peers leave the book as it is. */
export function releasePeer(book: QuarantineBook, node: NodeId, now: number): QuarantineBook {
  const current = book.get(node);
  if (!current || current.releasedAt !== null) return book;
  const next = new Map(book);
  next.set(node, { ...current, releasedAt: Math.max(now, current.since) });
  return next;
}

/** The person quarantines a peer by hand (no detector needed). */
export function quarantineByPerson(book: QuarantineBook, node: NodeId, reason: string, now: number): QuarantineBook {
  const next = new Map(book);
  next.set(node, { node, cause: 'person', reason, flag: null, since: now, releasedAt: null });
  return next;
}

/** Peers currently quarantined: what aggregation and projection exclude. */
export function quarantinedPeers(book: QuarantineBook): Set<NodeId> {
  const out = new Set<NodeId>();
  for (const entry of book.values()) if (entry.releasedAt === null) out.add(entry.node);
  return out;
}

export function isQuarantined(book: QuarantineBook, node: NodeId): boolean {
  const entry = book.get(node);
  return entry !== undefined && entry.releasedAt === null;
}
