import { describe, expect, it } from 'vitest';
import {
  STATUS_WORDS,
  acceptanceChart,
  artifactLabel,
  authorLabel,
  filterArtifacts,
  myVoteWords,
  peerLabels,
  percent,
  shortFingerprint,
  spreadChart,
  truncate,
  roundsChart,
  reputationChart,
} from '../../src/ui/field-chart-data';
import type { FieldPeerView } from '../../src/state/field-view';
import { defaultChartTable, formatChartY } from '../../src/ui/Chart.svelte';
import { ROUND_MS } from '../../src/lib/ccf/field';
import type { RoundSpread } from '../../src/lib/ccf/improvement-signal';

const A = '0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210';
const C = 'aaaabbbbccccddddeeeeffff00001111';

describe('labels and words', () => {
  it('names an artifact by the first 60 characters of its text', () => {
    const text = 'x'.repeat(59) + 'yz and more';
    expect(artifactLabel(text)).toBe(`Artifact: ${'x'.repeat(59)}y`);
    expect(artifactLabel('Short text')).toBe('Artifact: Short text');
  });

  it('does not split a surrogate pair', () => {
    const s = 'a'.repeat(59) + '😀b';
    expect(truncate(s, 60)).toBe('a'.repeat(59));
    expect(truncate('abc', 60)).toBe('abc');
  });

  it('calls the author "you", by name, or by a short fingerprint', () => {
    expect(authorLabel({ own: true, authorName: 'Me', authorId: A })).toBe('you');
    expect(authorLabel({ own: false, authorName: '  Alice\n ', authorId: A })).toBe('Alice');
    expect(authorLabel({ own: false, authorName: null, authorId: A })).toBe('0123 4567');
    expect(authorLabel({ own: false, authorName: '   ', authorId: A })).toBe('0123 4567');
    expect(shortFingerprint(B)).toBe('fedc ba98');
  });

  it('adds the fingerprint to names two members share', () => {
    const labels = peerLabels([
      { nodeId: A, displayName: 'Alice' },
      { nodeId: B, displayName: 'Alice' },
      { nodeId: C, displayName: 'Bob' },
      { nodeId: '11112222333344445555666677778888', displayName: null },
    ]);
    expect(labels.get(A)).toBe('Alice (0123 4567)');
    expect(labels.get(B)).toBe('Alice (fedc ba98)');
    expect(labels.get(C)).toBe('Bob');
    expect(labels.get('11112222333344445555666677778888')).toBe('1111 2222');
  });

  it('says this node\'s vote and who cast it', () => {
    expect(myVoteWords(null)).toBe('You have not voted');
    expect(myVoteWords({ value: 'endorse', confidence: 0.9, at: 0, origin: 'person' })).toBe('You endorsed');
    expect(myVoteWords({ value: 'veto', confidence: 1, at: 0, origin: 'person' })).toBe('You vetoed');
    expect(myVoteWords({ value: 'endorse', confidence: 0.9, at: 0, origin: 'check' })).toBe('Checked automatically: endorsed');
    expect(myVoteWords({ value: 'reject', confidence: 0.9, at: 0, origin: 'check' })).toBe('Checked automatically: rejected');
    expect(myVoteWords(null, true)).toBe('Your artifact');
  });

  it('words every status and percentage', () => {
    expect(STATUS_WORDS).toEqual({
      accepted: 'Accepted',
      pending: 'Pending',
      rejected: 'Rejected',
      vetoed: 'Vetoed here',
      excluded: 'Excluded (author quarantined)',
    });
    expect(percent(2 / 3)).toBe('67 %');
    expect(percent(null)).toBe('—');
    expect(percent(Number.NaN)).toBe('—');
  });
});

describe('filterArtifacts', () => {
  const artifacts = [
    { id: 1, status: 'accepted', domain: 'math' },
    { id: 2, status: 'pending', domain: 'math' },
    { id: 3, status: 'accepted', domain: 'coding' },
    { id: 4, status: 'excluded', domain: 'coding' },
  ] as const;

  it('filters by status and domain, keeping the order', () => {
    expect(filterArtifacts(artifacts, 'all', 'all').map((a) => a.id)).toEqual([1, 2, 3, 4]);
    expect(filterArtifacts(artifacts, 'accepted', 'all').map((a) => a.id)).toEqual([1, 3]);
    expect(filterArtifacts(artifacts, 'all', 'coding').map((a) => a.id)).toEqual([3, 4]);
    expect(filterArtifacts(artifacts, 'accepted', 'coding').map((a) => a.id)).toEqual([3]);
    expect(filterArtifacts(artifacts, 'vetoed', 'all')).toEqual([]);
  });
});

describe('acceptanceChart', () => {
  it('stacks accepted, pending and rejected per domain as running totals, back to front', () => {
    const chart = acceptanceChart([
      { domain: 'math', accepted: 3, pending: 2, rejected: 1 },
      { domain: 'coding', accepted: 0, pending: 4, rejected: 0 },
    ]);
    expect(chart.data).toEqual([
      [0, 1],
      [6, 4],
      [5, 4],
      [3, 0],
    ]);
    expect(chart.config.x).toEqual({ label: 'Domain', kind: 'category', categories: ['math', 'coding'] });
    expect(chart.config.series.map((s) => s.label)).toEqual(['Rejected', 'Pending', 'Accepted']);
    expect(chart.config.series.every((s) => s.kind === 'bars')).toBe(true);
    expect(chart.config.legend?.map((l) => l.label)).toEqual(['Accepted', 'Pending', 'Rejected']);
    expect(chart.table).toEqual({
      columns: ['Domain', 'Accepted', 'Pending', 'Rejected'],
      rows: [
        ['math', '3', '2', '1'],
        ['coding', '0', '4', '0'],
      ],
    });
    // Every series array is as long as the x values (uPlot's aligned data).
    for (const column of chart.data) expect(column).toHaveLength(2);
  });

  it('gives empty aligned data when nothing was judged', () => {
    const chart = acceptanceChart([]);
    expect(chart.data).toEqual([[], [], [], []]);
    expect(chart.table.rows).toEqual([]);
  });

  it('keeps a configuration that does not change with the counts (the chart is not recreated)', () => {
    const a = acceptanceChart([{ domain: 'math', accepted: 1, pending: 0, rejected: 0 }]);
    const b = acceptanceChart([{ domain: 'math', accepted: 5, pending: 2, rejected: 7 }]);
    expect(JSON.stringify(a.config)).toBe(JSON.stringify(b.config));
  });
});

describe('spreadChart', () => {
  const round = (r: number, spread: number | null, collapsed = false, embedderId = 'e1', artifacts = 3): RoundSpread => ({ round: r, embedderId, artifacts, spread, collapsed });

  it('puts rounds on a time axis at their start, marks collapsed ones and draws the threshold', () => {
    const chart = spreadChart([round(100, 0.3), round(101, 0.05, true), round(103, null, false, 'e1', 1)], 0.1);
    expect(chart.data).toEqual([
      [100 * ROUND_MS, 101 * ROUND_MS, 103 * ROUND_MS],
      [0.3, 0.05, null],
      [0.1, 0.1, 0.1],
      [null, 0.05, null],
    ]);
    expect(chart.config.x.kind).toBe('time');
    expect(chart.config.series.map((s) => [s.label, s.kind ?? 'line'])).toEqual([
      ['Spread', 'line'],
      ['Collapse threshold', 'line'],
      ['Collapsed round', 'points'],
    ]);
    expect(chart.table.columns).toEqual(['Round', 'Embedder', 'Artifacts', 'Spread', 'Collapsed']);
    expect(chart.table.rows.map((r) => r.slice(1))).toEqual([
      ['e1', '3', '0.30', 'no'],
      ['e1', '3', '0.05', 'yes'],
      ['e1', '1', '—', 'no'],
    ]);
    expect(chart.table.rows[0]?.[0]).toBe(new Date(100 * ROUND_MS).toLocaleString());
  });

  it('draws one line per embedder when rounds used more than one', () => {
    const chart = spreadChart([round(5, 0.2, false, 'b'), round(5, 0.04, true, 'a'), round(6, 0.25, false, 'a')], 0.1);
    expect(chart.data).toEqual([
      [5 * ROUND_MS, 6 * ROUND_MS],
      [0.04, 0.25],
      [0.2, null],
      [0.1, 0.1],
      [0.04, null],
    ]);
    expect(chart.config.series.slice(0, 2).map((s) => s.label)).toEqual(['Spread (a)', 'Spread (b)']);
  });

  it('gives empty aligned data without rounds', () => {
    expect(spreadChart([]).data).toEqual([[], [], []]);
  });
});

describe('chart table alternative', () => {
  it('builds a table from the data when a chart is given none', () => {
    const table = defaultChartTable(
      { x: { label: 'Domain', kind: 'category', categories: ['math', 'facts'] }, y: { percent: true }, series: [{ label: 'Share', color: 'red' }] },
      [[0, 1], [0.5, null]],
    );
    expect(table).toEqual({ columns: ['Domain', 'Share'], rows: [['math', '50 %'], ['facts', '—']] });
    expect(formatChartY(undefined, 3)).toBe('3');
    expect(formatChartY(undefined, 0.123)).toBe('0.12');
    expect(formatChartY({ decimals: 1 }, 2)).toBe('2.0');
  });
});

describe('rounds and reputation charts', () => {
  it('stacks accepted, pending and rejected per round at the round start, with the counts in the table', () => {
    const model = roundsChart([
      { round: 10, accepted: 2, pending: 1, rejected: 3 },
      { round: 12, accepted: 0, pending: 4, rejected: 0 },
    ]);
    expect(model.data[0]).toEqual([10 * 3_600_000, 12 * 3_600_000]);
    expect(model.data.slice(1)).toEqual([[6, 4], [3, 4], [2, 0]]);
    expect(model.table.rows.map((r) => r.slice(1))).toEqual([['2', '1', '3'], ['0', '4', '0']]);
  });

  it('shows each member\'s reputation and vote weight, labelled as in the Members list', () => {
    const peer = (nodeId: string, displayName: string | null, reputation: number, weight: number): FieldPeerView => ({
      nodeId, displayName, reputation, weight, calibrated: weight > 0, calibrationPassed: 0, calibrationFailed: 0, vouched: false, probation: 1,
      agreements: 0, disagreements: 0, acceptedContributions: 0, rejectedContributions: 0, quarantine: null, released: false,
    });
    const model = reputationChart([peer('a'.repeat(32), 'Ana', 0.4, 0.4), peer('b'.repeat(32), null, 0.1, 0)]);
    expect(model.data.slice(1)).toEqual([[0.4, 0.1], [0.4, 0]]);
    expect(model.config.x.categories?.[0]).toBe('Ana');
    expect(model.table.rows[1]?.[0]).toBe(shortFingerprint('b'.repeat(32)));
  });
});
