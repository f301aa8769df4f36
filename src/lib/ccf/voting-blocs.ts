/**
 * Voting blocs: identities that vote identically, artifact after artifact,
 * and together against the outcome (coordinated boosting of poisoned
 * artifacts, one operator behind several identities).
 *
 * Honest voters agree a lot too (they judge the same artifacts), so
 * agreement alone is not suspicious. What honest voters rarely do is err
 * together, repeatedly: their mistakes come from independent checks. So a
 * pair is suspicious when, over at least BLOC_MIN_COMMON settled artifacts
 * both voted on, they cast the same value on at least BLOC_MIN_AGREEMENT of
 * them AND at least BLOC_MIN_JOINT_DISSENT of those shared votes went against
 * the settled outcome (accepted or rejected by aggregation.ts). Suspicious
 * pairs are joined into blocs (connected components); every member is
 * flagged, with the bloc named in the reason.
 *
 * Two guards keep the detector from turning on the honest majority when
 * this node's view of an outcome is wrong (early rounds, a partition):
 * only outcomes older than the settlement delay count (reputation.ts), and a
 * "bloc" holding BLOC_MAX_WEIGHT_SHARE or more of the voters' weight is not
 * flagged: a third of the network voting together against an outcome means
 * the outcome is contested, and quarantining a third of the network on one
 * node's view would entrench that view.
 *
 * Cost: O(V² · A) for V voters with enough settled votes and A artifacts in
 * the window; pairs are skipped early when their vote counts cannot reach
 * BLOC_MIN_COMMON.
 */
import type { ContentId } from '../artifacts/schema';
import type { Judgement } from './aggregation';
import type { AnomalyFlag, DetectionContext } from './anomaly';
import { MAX_FLAG_EVIDENCE } from './anomaly';
import type { CollectiveField } from './field';
import { SETTLEMENT_DELAY_MS } from './reputation';
import { isNegative, type NodeId } from './vote';

/** Settled artifacts two voters must share before their agreement means anything. */
export const BLOC_MIN_COMMON = 10;
/**
 * Share of identical votes that makes a pair suspicious. 0.95: two honest
 * voters whose independent checks are each right 90 % of the time agree on
 * about 82 % of artifacts; scripts agree on all.
 */
export const BLOC_MIN_AGREEMENT = 0.95;
/** Shared votes against the outcome (both wrong, the same way) that make a pair suspicious. */
export const BLOC_MIN_JOINT_DISSENT = 5;
/**
 * Share of the common artifacts on which both dissented together. 0.25:
 * independent honest checks err together on a few percent of artifacts (the
 * hard ones); colluders boosting their own artifacts dissent on every one of
 * them.
 */
export const BLOC_MIN_DISSENT_SHARE = 0.25;
/** Largest share of the examined voters' weight a bloc may hold and still be flagged (see above). */
export const BLOC_MAX_WEIGHT_SHARE = 1 / 3;
/** Window of votes examined: a week, long enough for slow coordination to show. */
export const BLOC_WINDOW_MS = 7 * 24 * 3_600_000;

export function detectVotingBlocs(field: CollectiveField, context: DetectionContext & { judgements: ReadonlyMap<ContentId, Judgement> }): AnomalyFlag[] {
  const { now, skip, judgements, weightOf } = context;
  // Settled artifacts, indexed densely; per voter a ballot row: +1 endorse, -1 reject, 0 no vote.
  const ids: ContentId[] = [];
  const outcomes: number[] = [];
  for (const [id, j] of judgements) {
    if (j.status !== 'accepted' && j.status !== 'rejected') continue;
    const entry = field.artifact(id);
    if (entry === undefined || now - entry.artifact.createdAt < SETTLEMENT_DELAY_MS) continue;
    ids.push(id);
    outcomes.push(j.status === 'accepted' ? 1 : -1);
  }
  const n = ids.length;
  const rows = new Map<NodeId, Int8Array>();
  const counts = new Map<NodeId, number>();
  for (let i = 0; i < n; i++) {
    const id = ids[i] as ContentId;
    const authors = (field.artifact(id) as { authors: readonly NodeId[] }).authors;
    for (const vote of field.votesOn(id).values()) {
      if (vote.at <= now - BLOC_WINDOW_MS || vote.at > now || skip?.has(vote.voter) || authors.includes(vote.voter)) continue;
      let row = rows.get(vote.voter);
      if (row === undefined) {
        row = new Int8Array(n);
        rows.set(vote.voter, row);
      }
      row[i] = isNegative(vote.value) ? -1 : 1;
      counts.set(vote.voter, (counts.get(vote.voter) ?? 0) + 1);
    }
  }
  const voters = [...rows.keys()].filter((v) => (counts.get(v) as number) >= BLOC_MIN_COMMON).sort();
  const parent = new Map<NodeId, NodeId>(voters.map((v) => [v, v]));
  const find = (v: NodeId): NodeId => {
    let root = v;
    while (parent.get(root) !== root) root = parent.get(root) as NodeId;
    parent.set(v, root);
    return root;
  };
  const evidence = new Map<NodeId, Set<ContentId>>();
  const suspicious = new Set<NodeId>();
  for (let i = 0; i < voters.length; i++) {
    const a = voters[i] as NodeId;
    const ra = rows.get(a) as Int8Array;
    for (let k = i + 1; k < voters.length; k++) {
      const b = voters[k] as NodeId;
      const rb = rows.get(b) as Int8Array;
      let common = 0;
      let same = 0;
      let dissent = 0;
      for (let x = 0; x < n; x++) {
        const va = ra[x] as number;
        const vb = rb[x] as number;
        if (va === 0 || vb === 0) continue;
        common++;
        if (va !== vb) continue;
        same++;
        if (va !== outcomes[x]) dissent++;
      }
      if (common < BLOC_MIN_COMMON || same / common < BLOC_MIN_AGREEMENT) continue;
      if (dissent < BLOC_MIN_JOINT_DISSENT || dissent / common < BLOC_MIN_DISSENT_SHARE) continue;
      suspicious.add(a);
      suspicious.add(b);
      parent.set(find(a), find(b));
      for (const [node, row] of [[a, ra], [b, rb]] as const) {
        const set = evidence.get(node) ?? new Set();
        for (let x = 0; x < n; x++) if (row[x] !== 0 && row[x] === (node === a ? rb : ra)[x] && row[x] !== outcomes[x]) set.add(ids[x] as ContentId);
        evidence.set(node, set);
      }
    }
  }
  const blocs = new Map<NodeId, NodeId[]>();
  for (const v of [...suspicious].sort()) {
    const root = find(v);
    blocs.set(root, [...(blocs.get(root) ?? []), v]);
  }
  const weight = (node: NodeId): number => {
    const w = weightOf ? weightOf(node) : 1;
    return Number.isFinite(w) && w > 0 ? w : 0;
  };
  let totalWeight = 0;
  for (const v of rows.keys()) totalWeight += weight(v);
  const flags: AnomalyFlag[] = [];
  for (const members of blocs.values()) {
    let blocWeight = 0;
    for (const m of members) blocWeight += weight(m);
    if (totalWeight > 0 && blocWeight >= BLOC_MAX_WEIGHT_SHARE * totalWeight) continue;
    for (const node of members) {
      const others = members.filter((m) => m !== node);
      const ids = [...(evidence.get(node) ?? [])].sort();
      flags.push({
        node,
        detector: 'voting-bloc',
        reason: `votes the same way as ${others.length} other ${others.length === 1 ? 'identity' : 'identities'}, together against the outcome on ${ids.length} artifacts`,
        at: now,
        artifacts: ids.slice(0, MAX_FLAG_EVIDENCE),
        peers: others,
      });
    }
  }
  return flags;
}
