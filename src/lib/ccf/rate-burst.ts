/**
 * Rate bursts: a peer publishing artifacts or casting votes far faster than
 * peers do (spam, a vote-stuffing script). The network layer already caps
 * per-peer message rates; this detector looks at what got through, over the
 * replicated data, so every node reaches the same verdict on the same field.
 *
 * A count is a burst when it exceeds both an absolute floor (what a busy but
 * honest node can do) and a robust bound over active peers (median + k *
 * 1.4826 * MAD). The floor keeps a quiet network from flagging its one busy
 * member; the robust bound lets a network that is busy as a whole be busy.
 */
import type { AnomalyFlag, DetectionContext } from './anomaly';
import { MAX_FLAG_EVIDENCE } from './anomaly';
import type { ContentId } from '../artifacts/schema';
import { roundOf, type CollectiveField } from './field';
import { robustUpperBound } from './robust';
import type { NodeId } from './vote';

/**
 * Artifacts one node may publish in one round (an hour) before it can be a
 * burst. An assistant distils an artifact from a conversation with a clear
 * lesson; six in one hour is already a very busy person.
 */
export const ARTIFACTS_PER_ROUND_FLOOR = 6;
/**
 * Votes one node may cast in an hour before it can be a burst. Votes come
 * from deferrable jobs that check artifacts against the node's own episodes,
 * and a node back from a day offline votes on the backlog at once: a few
 * hundred is honest catching up.
 */
export const VOTES_PER_HOUR_FLOOR = 400;
/** Robust z above which a count is far from what peers do: 5, so normal variation never reaches it. */
export const RATE_ROBUST_K = 5;
/** Window for votes: the last hour. */
export const VOTE_RATE_WINDOW_MS = 3_600_000;
/**
 * Votes counted are those on artifacts created in the last day: votes on
 * older artifacts rarely change an outcome (most are settled), and the scan
 * stays proportional to the recent field, not its whole history.
 */
export const VOTE_TARGET_WINDOW_MS = 24 * 3_600_000;

export function detectRateBursts(field: CollectiveField, context: DetectionContext): AnomalyFlag[] {
  const { now, skip } = context;
  const flags: AnomalyFlag[] = [];
  // The current round may be incomplete, so the previous one is looked at too.
  const rounds = [roundOf(now) - 1, roundOf(now)];
  for (const round of rounds) {
    const perAuthor = new Map<NodeId, ContentId[]>();
    for (const entry of field.artifacts()) {
      if (roundOf(entry.artifact.createdAt) !== round) continue;
      for (const author of entry.authors) {
        const list = perAuthor.get(author) ?? [];
        list.push(entry.id);
        perAuthor.set(author, list);
      }
    }
    const bound = robustUpperBound([...perAuthor.values()].map((l) => l.length), RATE_ROBUST_K, ARTIFACTS_PER_ROUND_FLOOR);
    for (const [node, ids] of perAuthor) {
      if (skip?.has(node) || ids.length <= bound) continue;
      if (flags.some((f) => f.node === node)) continue;
      flags.push({
        node,
        detector: 'rate-burst',
        reason: `published ${ids.length} artifacts in one hour (peers: at most ${Math.floor(bound)})`,
        at: now,
        artifacts: ids.sort().slice(0, MAX_FLAG_EVIDENCE),
        peers: [],
      });
    }
  }
  // Votes on artifacts of the last VOTE_TARGET_WINDOW_MS: where stuffing changes outcomes, and a bounded scan.
  const perVoter = new Map<NodeId, number>();
  for (const entry of field.artifacts()) {
    if (entry.artifact.createdAt <= now - VOTE_TARGET_WINDOW_MS) continue;
    for (const vote of field.votesOn(entry.id).values()) {
      if (vote.at > now - VOTE_RATE_WINDOW_MS && vote.at <= now) perVoter.set(vote.voter, (perVoter.get(vote.voter) ?? 0) + 1);
    }
  }
  const voteBound = robustUpperBound([...perVoter.values()], RATE_ROBUST_K, VOTES_PER_HOUR_FLOOR);
  for (const [node, count] of perVoter) {
    if (skip?.has(node) || count <= voteBound || flags.some((f) => f.node === node)) continue;
    flags.push({ node, detector: 'rate-burst', reason: `cast ${count} votes in one hour (peers: at most ${Math.floor(voteBound)})`, at: now, artifacts: [], peers: [] });
  }
  return flags;
}
