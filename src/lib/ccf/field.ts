/**
 * The replicated state of the Collective Context Field (DESIGN.md 2.6, paper
 * section 5.2, eq. 1): the set of artifacts the network has published, who
 * published them, and at most one current vote per voter and artifact.
 *
 * Why this shape: every node holds a copy and copies meet in any order, late
 * and twice (gossip, reconnects, reconciliation after offline). The state is
 * therefore a join-semilattice: artifacts are a grow-only set keyed by content
 * id (authors a grow-only set per artifact), votes a map whose value per key
 * (artifact, voter) is the maximum under `compareVotes` (newest `at`, then a
 * fixed tie-break). Applying the same messages in any order, any number of
 * times, gives the same state; `merge` of two copies is their union. Every
 * judgement (aggregation.ts) is a function of this state, so nodes that hold
 * the same messages compute the same acceptance.
 *
 * Rounds are windows of `ROUND_MS` on the artifacts' own creation time (whole
 * hours, schema.ts), so they are part of the replicated data, not of any
 * node's clock; `roundTuple` is the paper's F_t: the participating nodes'
 * artifacts of round t.
 *
 * Checking signatures, sizes and rates of inbound messages is the network
 * layer's job; what reaches this module is already parsed and attributed.
 * Votes on artifacts not (yet) held are kept: they may arrive first.
 *
 * Pure: no clock, storage or network.
 */
import { contentId } from '../artifacts/canonical';
import { TIME_GRANULARITY_MS, type Artifact, type ContentId } from '../artifacts/schema';
import { newerVote, type NodeId, type Vote } from './vote';

/**
 * Length of a round. One hour: artifact creation times are whole hours, so
 * no finer window can be told apart, and a person's assistant distils at
 * most a handful of artifacts an hour, so a round stays small.
 */
export const ROUND_MS = TIME_GRANULARITY_MS;

/** The round a time (ms since epoch) falls in. */
export function roundOf(timeMs: number): number {
  return Math.floor(timeMs / ROUND_MS);
}

export interface FieldArtifact {
  id: ContentId;
  artifact: Artifact;
  /** Nodes that published it, sorted. Usually one; two nodes that distil the same canonical artifact share one id. */
  authors: readonly NodeId[];
}

/** What travels between nodes (after the network layer has checked signatures). */
export type FieldMessage =
  | { type: 'artifact'; author: NodeId; artifact: Artifact; id: ContentId }
  | { type: 'vote'; vote: Vote };

export class CollectiveField {
  private readonly artifactsById = new Map<ContentId, FieldArtifact>();
  private readonly votesByArtifact = new Map<ContentId, Map<NodeId, Vote>>();
  private voteCount = 0;
  /** Latest time each node voted (vote time) or published (creation time): a max, so order-independent too. */
  private readonly lastActive = new Map<NodeId, number>();

  /** Number of artifacts held. */
  get size(): number {
    return this.artifactsById.size;
  }

  /** Number of current votes held (one per voter and artifact). */
  get votes(): number {
    return this.voteCount;
  }

  /**
   * Adds an artifact published by `author`. `id` must be the artifact's
   * content id (parseArtifact returns it); computed when omitted. Returns
   * whether the state changed.
   */
  addArtifact(author: NodeId, artifact: Artifact, id: ContentId = contentId(artifact)): boolean {
    const existing = this.artifactsById.get(id);
    this.touch(author, artifact.createdAt);
    if (existing === undefined) {
      this.artifactsById.set(id, { id, artifact, authors: [author] });
      return true;
    }
    if (existing.authors.includes(author)) return false;
    this.artifactsById.set(id, { ...existing, authors: [...existing.authors, author].sort() });
    return true;
  }

  /** Keeps `vote` if it is newer than the voter's current vote on that artifact. Returns whether the state changed. */
  addVote(vote: Vote): boolean {
    let byVoter = this.votesByArtifact.get(vote.artifactId);
    if (byVoter === undefined) {
      byVoter = new Map();
      this.votesByArtifact.set(vote.artifactId, byVoter);
    }
    const current = byVoter.get(vote.voter);
    this.touch(vote.voter, vote.at);
    if (current === undefined) {
      byVoter.set(vote.voter, vote);
      this.voteCount++;
      return true;
    }
    const winner = newerVote(current, vote);
    if (winner === current) return false;
    byVoter.set(vote.voter, winner);
    return true;
  }

  private touch(node: NodeId, at: number): void {
    const previous = this.lastActive.get(node);
    if (previous === undefined || at > previous) this.lastActive.set(node, at);
  }

  /** Nodes with their latest activity (vote or publication time), for the active-node count. */
  activity(): ReadonlyMap<NodeId, number> {
    return this.lastActive;
  }

  apply(message: FieldMessage): boolean {
    return message.type === 'artifact' ? this.addArtifact(message.author, message.artifact, message.id) : this.addVote(message.vote);
  }

  /** Union with another copy (what reconciliation does). Returns whether this state changed. */
  merge(other: CollectiveField): boolean {
    let changed = false;
    for (const entry of other.artifactsById.values()) {
      for (const author of entry.authors) changed = this.addArtifact(author, entry.artifact, entry.id) || changed;
    }
    for (const byVoter of other.votesByArtifact.values()) {
      for (const vote of byVoter.values()) changed = this.addVote(vote) || changed;
    }
    return changed;
  }

  /** Every message that reproduces this state (for reconciliation with a late joiner). */
  *messages(): IterableIterator<FieldMessage> {
    for (const entry of this.artifactsById.values()) {
      for (const author of entry.authors) yield { type: 'artifact', author, artifact: entry.artifact, id: entry.id };
    }
    for (const byVoter of this.votesByArtifact.values()) for (const vote of byVoter.values()) yield { type: 'vote', vote };
  }

  artifact(id: ContentId): FieldArtifact | undefined {
    return this.artifactsById.get(id);
  }

  has(id: ContentId): boolean {
    return this.artifactsById.has(id);
  }

  /** All artifacts, in insertion order (use `sortedIds` where order must not depend on arrival). */
  artifacts(): IterableIterator<FieldArtifact> {
    return this.artifactsById.values();
  }

  /** Content ids in code-unit order: the same on every node holding the same artifacts. */
  sortedIds(): ContentId[] {
    return [...this.artifactsById.keys()].sort();
  }

  /** Current votes on `id`, keyed by voter (empty when none). */
  votesOn(id: ContentId): ReadonlyMap<NodeId, Vote> {
    return this.votesByArtifact.get(id) ?? EMPTY_VOTES;
  }

  /** Every current vote. */
  *allVotes(): IterableIterator<Vote> {
    for (const byVoter of this.votesByArtifact.values()) yield* byVoter.values();
  }

  /**
   * The paper's F_t: for round `round`, each participating node's artifacts
   * of that round (content ids sorted), nodes sorted. Deterministic.
   */
  roundTuple(round: number): [NodeId, ContentId[]][] {
    const byNode = new Map<NodeId, ContentId[]>();
    for (const entry of this.artifactsById.values()) {
      if (roundOf(entry.artifact.createdAt) !== round) continue;
      for (const author of entry.authors) {
        const list = byNode.get(author) ?? [];
        list.push(entry.id);
        byNode.set(author, list);
      }
    }
    return [...byNode.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([node, ids]) => [node, ids.sort()]);
  }

  /** Rounds that hold at least one artifact, ascending. */
  rounds(): number[] {
    const set = new Set<number>();
    for (const entry of this.artifactsById.values()) set.add(roundOf(entry.artifact.createdAt));
    return [...set].sort((a, b) => a - b);
  }

  /**
   * A digest of the state for tests and reconciliation checks: equal for
   * equal states, whatever the order the messages arrived in.
   */
  fingerprint(): string {
    const parts: string[] = [];
    for (const id of this.sortedIds()) parts.push(`a:${id}:${(this.artifactsById.get(id) as FieldArtifact).authors.join(',')}`);
    const voteKeys: string[] = [];
    for (const [id, byVoter] of this.votesByArtifact) {
      for (const [voter, v] of byVoter) voteKeys.push(`v:${id}:${voter}:${v.value}:${v.confidence}:${v.at}`);
    }
    return [...parts, ...voteKeys.sort()].join('\n');
  }
}

const EMPTY_VOTES: ReadonlyMap<NodeId, Vote> = new Map();
