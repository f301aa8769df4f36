/**
 * Pure helpers of the Field view (FieldDialog.svelte): the snapshot turned
 * into chart data (uPlot's aligned arrays), the tables that stand in for the
 * charts, filters, and the words and labels the view shows. Strings that came
 * from peers (artifact text, names, embedder ids) are returned as they are,
 * for the view to render as text only.
 */
import type { ArtifactDomain } from '../lib/artifacts/schema';
import type { AcceptanceStatus } from '../lib/ccf/aggregation';
import type { Detector } from '../lib/ccf/anomaly';
import { ROUND_MS } from '../lib/ccf/field';
import { ND_COLLAPSE_THRESHOLD, type RoundSpread } from '../lib/ccf/improvement-signal';
import type { NodeId, VoteValue } from '../lib/ccf/vote';
import type { DomainAcceptance, FieldArtifactView, FieldPeerView, RoundAcceptance } from '../state/field-view';
import type { ChartConfig, ChartData, ChartTable } from './Chart.svelte';

export const STATUS_WORDS: Readonly<Record<AcceptanceStatus, string>> = {
  accepted: 'Accepted',
  pending: 'Pending',
  rejected: 'Rejected',
  vetoed: 'Vetoed here',
  excluded: 'Excluded (author quarantined)',
};

/** The order of the "Show" filter. */
export const STATUS_ORDER: readonly AcceptanceStatus[] = ['accepted', 'pending', 'rejected', 'vetoed', 'excluded'];

export const DETECTOR_WORDS: Readonly<Record<Detector | 'person', string>> = {
  'rate-burst': 'published too much at once',
  'near-duplicate-flood': 'flooded near-copies',
  'embedding-outlier': 'published outlying artifacts',
  'voting-bloc': 'voted in a bloc',
  person: 'quarantined by you',
};

const VOTE_PAST: Readonly<Record<VoteValue, string>> = { endorse: 'endorsed', reject: 'rejected', veto: 'vetoed' };

/** Characters of an artifact's text in its accessible name. */
export const ARTIFACT_LABEL_CHARS = 60;

/** `s` cut to at most `n` UTF-16 units without splitting a surrogate pair. */
export function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/** The accessible name of an artifact: `Artifact: ` and the first 60 characters of its text. */
export function artifactLabel(text: string): string {
  return `Artifact: ${truncate(text, ARTIFACT_LABEL_CHARS)}`;
}

/** The first 8 hex characters of a node id in groups of four, e.g. `0a1b 2c3d`. */
export function shortFingerprint(nodeId: NodeId): string {
  return nodeId.slice(0, 8).match(/.{1,4}/g)?.join(' ') ?? nodeId;
}

function cleanName(name: string | null): string | null {
  const trimmed = name?.replace(/\s+/g, ' ').trim();
  return trimmed ? trimmed : null;
}

/** Who wrote an artifact: "you", the author's name, or a short fingerprint. */
export function authorLabel(a: Pick<FieldArtifactView, 'own' | 'authorName' | 'authorId'>): string {
  if (a.own) return 'you';
  return cleanName(a.authorName) ?? shortFingerprint(a.authorId);
}

/**
 * What each member is called in the view and in its buttons' names: its
 * display name, or its short fingerprint when it has none. Names are chosen
 * by the peers themselves, so a name two members share is followed by the
 * fingerprint for both (nobody can pass as another by copying a name).
 */
export function peerLabels(peers: readonly Pick<FieldPeerView, 'nodeId' | 'displayName'>[]): Map<NodeId, string> {
  const uses = new Map<string, number>();
  for (const p of peers) {
    const name = cleanName(p.displayName);
    if (name) uses.set(name, (uses.get(name) ?? 0) + 1);
  }
  const labels = new Map<NodeId, string>();
  for (const p of peers) {
    const name = cleanName(p.displayName);
    const fp = shortFingerprint(p.nodeId);
    labels.set(p.nodeId, !name ? fp : (uses.get(name) ?? 0) > 1 ? `${name} (${fp})` : name);
  }
  return labels;
}

/** This node's vote in words. */
export function myVoteWords(vote: FieldArtifactView['myVote'], own = false): string {
  if (own) return 'Your artifact';
  if (!vote) return 'You have not voted';
  if (vote.origin === 'check') return `Checked automatically: ${VOTE_PAST[vote.value]}`;
  return `You ${VOTE_PAST[vote.value]}`;
}

/** A fraction 0..1 as a whole percentage, e.g. `67 %`. */
export function percent(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  return `${Math.round(x * 100)} %`;
}

export type StatusFilter = 'all' | AcceptanceStatus;
export type DomainFilter = 'all' | ArtifactDomain;

export function filterArtifacts<T extends Pick<FieldArtifactView, 'status' | 'domain'>>(artifacts: readonly T[], status: StatusFilter, domain: DomainFilter): T[] {
  return artifacts.filter((a) => (status === 'all' || a.status === status) && (domain === 'all' || a.domain === domain));
}

export interface ChartModel {
  data: ChartData;
  config: ChartConfig;
  table: ChartTable;
}

/** Counts of judged artifacts in one bucket (a domain, a round). */
interface StatusCounts {
  accepted: number;
  pending: number;
  rejected: number;
}

/**
 * Accepted, pending and rejected counts as stacked bars. uPlot draws series
 * in order, each from zero, so the stack is drawn back to front as running
 * totals: all three, then accepted and pending, then accepted. The legend
 * and the table give the counts themselves.
 */
function stackedStatusChart(rows: readonly StatusCounts[], x: number[], axis: ChartConfig['x'], labels: readonly string[]): ChartModel {
  return {
    data: [x, rows.map((r) => r.accepted + r.pending + r.rejected), rows.map((r) => r.accepted + r.pending), rows.map((r) => r.accepted)],
    config: {
      x: axis,
      y: { label: 'Artifacts', min: 0 },
      series: [
        { label: 'Rejected', color: 'var(--danger)', kind: 'bars' },
        { label: 'Pending', color: 'var(--muted)', kind: 'bars' },
        { label: 'Accepted', color: 'var(--accent)', kind: 'bars' },
      ],
      legend: [
        { label: 'Accepted', color: 'var(--accent)' },
        { label: 'Pending', color: 'var(--muted)' },
        { label: 'Rejected', color: 'var(--danger)' },
      ],
    },
    table: {
      columns: [axis.label, 'Accepted', 'Pending', 'Rejected'],
      rows: rows.map((r, i) => [labels[i] ?? '', String(r.accepted), String(r.pending), String(r.rejected)]),
    },
  };
}

/** Accepted, pending and rejected artifacts per domain. */
export function acceptanceChart(rows: readonly DomainAcceptance[]): ChartModel {
  const domains = rows.map((r) => r.domain);
  return stackedStatusChart(rows, rows.map((_, i) => i), { label: 'Domain', kind: 'category', categories: domains }, domains);
}

/** Characters of an embedder id in a legend entry. */
const EMBEDDER_LABEL_CHARS = 40;

/**
 * ND spread per round as a line over time (one line per embedder when
 * artifacts used more than one), the collapse threshold as a dashed line,
 * and collapsed rounds as markers. Rounds are whole hours (ROUND_MS), shown
 * at their start.
 */
export function spreadChart(rounds: readonly RoundSpread[], threshold = ND_COLLAPSE_THRESHOLD): ChartModel {
  const roundNumbers = [...new Set(rounds.map((r) => r.round))].sort((a, b) => a - b);
  const index = new Map(roundNumbers.map((r, i) => [r, i]));
  const embedders = [...new Set(rounds.map((r) => r.embedderId))].sort();
  const lines = embedders.map(() => roundNumbers.map((): number | null => null));
  const marks = roundNumbers.map((): number | null => null);
  for (const r of rounds) {
    const i = index.get(r.round) as number;
    const line = lines[embedders.indexOf(r.embedderId)] as (number | null)[];
    line[i] = r.spread;
    if (r.collapsed && r.spread !== null) {
      const mark = marks[i];
      marks[i] = mark === null || mark === undefined ? r.spread : Math.min(mark, r.spread);
    }
  }
  const x = roundNumbers.map((r) => r * ROUND_MS);
  return {
    data: [x, ...lines, roundNumbers.map(() => threshold), marks],
    config: {
      x: { label: 'Round', kind: 'time' },
      y: { label: 'Spread', min: 0, decimals: 2 },
      series: [
        ...embedders.map((e, i) => ({
          label: embedders.length > 1 ? `Spread (${truncate(e, EMBEDDER_LABEL_CHARS)})` : 'Spread',
          color: i === 0 ? 'var(--accent)' : i === 1 ? 'var(--text)' : 'var(--muted)',
          kind: 'line' as const,
        })),
        { label: 'Collapse threshold', color: 'var(--muted)', kind: 'line', dash: [6, 4] },
        { label: 'Collapsed round', color: 'var(--danger)', kind: 'points' },
      ],
    },
    table: {
      columns: ['Round', 'Embedder', 'Artifacts', 'Spread', 'Collapsed'],
      rows: rounds.map((r) => [
        new Date(r.round * ROUND_MS).toLocaleString(),
        r.embedderId,
        String(r.artifacts),
        r.spread === null ? '—' : r.spread.toFixed(2),
        r.collapsed ? 'yes' : 'no',
      ]),
    },
  };
}

/** Accepted, pending and rejected artifacts per round (by creation time), over time. */
export function roundsChart(rows: readonly RoundAcceptance[]): ChartModel {
  const starts = rows.map((r) => r.round * ROUND_MS);
  return stackedStatusChart(rows, starts, { label: 'Round', kind: 'time' }, starts.map((t) => new Date(t).toLocaleString()));
}

/** Each member's reputation and current vote weight as bars (labels as in the Members list). */
export function reputationChart(peers: readonly FieldPeerView[]): ChartModel {
  const labels = peerLabels(peers);
  return {
    data: [peers.map((_, i) => i), peers.map((p) => p.reputation), peers.map((p) => p.weight)],
    config: {
      x: { label: 'Member', kind: 'category', categories: peers.map((p) => labels.get(p.nodeId) ?? shortFingerprint(p.nodeId)) },
      y: { label: 'Score', min: 0, max: 1, percent: true },
      series: [
        { label: 'Reputation', color: 'var(--muted)', kind: 'bars' },
        { label: 'Vote weight', color: 'var(--accent)', kind: 'bars' },
      ],
    },
    table: {
      columns: ['Member', 'Reputation', 'Vote weight', 'Quarantined'],
      rows: peers.map((p) => [labels.get(p.nodeId) ?? shortFingerprint(p.nodeId), percent(p.reputation), percent(p.weight), p.quarantine ? 'yes' : 'no']),
    },
  };
}
