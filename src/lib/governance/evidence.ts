/**
 * The evidence layer: what an answer used, where each piece came from, and
 * the person's marks on it.
 *
 * Prompt assembly (prompt-assembly.ts) returns exactly the items that went
 * into the prompt; this module turns them into a record kept beside the
 * answer, so "why did it say that?" has an answer that does not depend on
 * the model. Provenance is typed per kind: a memory says when and from which
 * conversation it was learnt, a document chunk which file and where, a
 * network artifact who made it, how widely it was accepted and who endorsed
 * it. Marks ('verified' / 'disputed') are the person's judgement, on the
 * answer as a whole or on one item; they are applied by a pure reducer so
 * storage and UI stay thin.
 */

export type EvidenceKind = 'memory' | 'document' | 'artifact' | 'experience';

export const EVIDENCE_KINDS: readonly EvidenceKind[] = ['memory', 'document', 'artifact', 'experience'];

export interface MemoryProvenance {
  kind: 'memory';
  /** When the memory was stored, ms since the epoch. */
  createdAt: number;
  /** The conversation it was learnt in; null when the person entered it directly. */
  conversationId: string | null;
}

export interface DocumentProvenance {
  kind: 'document';
  documentId: string;
  /** File name as the person knows it. */
  documentName: string;
  /** Which chunk of the document, from 0. */
  chunk: number;
}

export interface ArtifactProvenance {
  kind: 'artifact';
  artifactId: string;
  /** The peer that produced it. */
  author: string;
  /** The network's acceptance of the artifact, 0..1. */
  acceptance: number;
  /** Peers that endorsed it. */
  endorsers: readonly string[];
}

/** A lesson from this instance's own experience library (learning layer). */
export interface ExperienceProvenance {
  kind: 'experience';
  domain: string;
  /** Its confidence when the answer used it, 0..1. */
  confidence: number;
  /** Its version then: a later edit does not rewrite what the answer saw. */
  version: number;
}

export type Provenance = MemoryProvenance | DocumentProvenance | ArtifactProvenance | ExperienceProvenance;

export type ProvenanceOf<K extends EvidenceKind> = Extract<Provenance, { kind: K }>;

/** One item an answer used, as it went into the prompt. */
export type EvidenceRef = {
  [K in EvidenceKind]: {
    kind: K;
    id: string;
    title: string;
    /** The start of the text the model saw (bounded, for display). */
    snippet: string;
    /** Retrieval score. */
    score: number;
    /** The item was cut to fit the per-item cap: the model saw only its start. */
    truncated: boolean;
    provenance: ProvenanceOf<K>;
  };
}[EvidenceKind];

/** The person's judgement of a claim. null: not marked (or the mark was removed). */
export type ClaimMark = 'verified' | 'disputed' | null;

export interface ItemMark {
  kind: EvidenceKind;
  id: string;
  mark: Exclude<ClaimMark, null>;
  at: number;
}

export interface EvidenceRecord {
  /** The assistant message this evidence belongs to. */
  messageId: string;
  items: readonly EvidenceRef[];
  createdAt: number;
  /** The person's mark on the answer as a whole. */
  mark: ClaimMark;
  markedAt: number | null;
  /** Marks on single items, sorted by kind then id. */
  itemMarks: readonly ItemMark[];
}

export function createEvidenceRecord(messageId: string, items: readonly EvidenceRef[], createdAt: number): EvidenceRecord {
  return { messageId, items: [...items], createdAt, mark: null, markedAt: null, itemMarks: [] };
}

export type ClaimTarget = { type: 'answer' } | { type: 'item'; kind: EvidenceKind; id: string };

export interface MarkEvent {
  type: 'mark';
  target: ClaimTarget;
  mark: ClaimMark;
  at: number;
}

function isMark(value: unknown): value is ClaimMark {
  return value === 'verified' || value === 'disputed' || value === null;
}

const byKindThenId = (a: ItemMark, b: ItemMark): number =>
  a.kind === b.kind ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : EVIDENCE_KINDS.indexOf(a.kind) - EVIDENCE_KINDS.indexOf(b.kind);

/**
 * Applies a mark. Returns the same record (by reference) when nothing
 * changes: marking an item the answer did not use, an invalid mark, or the
 * mark it already has.
 */
export function applyMark(record: EvidenceRecord, event: MarkEvent): EvidenceRecord {
  if (!isMark(event.mark)) return record;
  if (event.target.type === 'answer') {
    if (record.mark === event.mark) return record;
    return { ...record, mark: event.mark, markedAt: event.mark === null ? null : event.at };
  }
  const { kind, id } = event.target;
  if (!record.items.some((item) => item.kind === kind && item.id === id)) return record;
  const existing = record.itemMarks.find((m) => m.kind === kind && m.id === id);
  if ((existing?.mark ?? null) === event.mark) return record;
  const others = record.itemMarks.filter((m) => !(m.kind === kind && m.id === id));
  const itemMarks = event.mark === null ? others : [...others, { kind, id, mark: event.mark, at: event.at }].sort(byKindThenId);
  return { ...record, itemMarks };
}

/** The person's mark on one item, or null. */
export function itemMark(record: EvidenceRecord, kind: EvidenceKind, id: string): ClaimMark {
  return record.itemMarks.find((m) => m.kind === kind && m.id === id)?.mark ?? null;
}
