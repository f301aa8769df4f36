import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ARTIFACT_DOMAINS, type ArtifactDomain, type ArtifactKind, type ContentId } from '../../src/lib/artifacts/schema';
import { createExperience, type Experience } from '../../src/lib/learning/experience';
import { applyBatch, NEAR_DUPLICATE_THRESHOLD, tokenJaccard } from '../../src/lib/learning/library-merge';
import {
  consolidate,
  emptyPlaybooks,
  KEEP_CONFIDENCE,
  playbooksSchema,
  PROVEN_CONFIDENCE,
  suggestLibraryMerges,
  type AcceptedArtifact,
  type ConsolidationInput,
  type ConsolidationResult,
  type Playbooks,
} from '../../src/lib/learning/consolidation';

const NOW = 1_760_000_000_000;
const LATER = NOW + 3_600_000;

function exp(id: string, text: string, o: { domain?: ArtifactDomain; confidence?: number; successes?: number } = {}): Experience {
  const e = createExperience({ id, text, domain: o.domain ?? 'math', confidence: o.confidence ?? 0.9, episodeIds: [], now: NOW - 10_000 });
  const successes = o.successes ?? 2;
  return { ...e, usageCount: successes + 1, successCount: successes };
}

/** A syntactically valid content id, distinct per n. */
function cid(n: number): ContentId {
  const body = String(n).replace(/\d/g, (d) => 'abcdefghij'[Number(d)] as string).padEnd(51, 'z');
  return `h3x1-${body}a`;
}

function art(n: number, text: string, o: { domain?: ArtifactDomain; acceptance?: number; kind?: ArtifactKind } = {}): AcceptedArtifact {
  return { id: cid(n), kind: o.kind ?? 'strategy', domain: o.domain ?? 'math', text, acceptance: o.acceptance ?? 0.8 };
}

const run = (input: Partial<ConsolidationInput> & Pick<ConsolidationInput, 'library'>): ConsolidationResult =>
  consolidate({ accepted: [], previous: null, now: NOW, ...input });

const FRACTIONS = 'When adding fractions, find a common denominator first';
const FRACTIONS_2 = 'When adding fractions, find the common denominator';
const SUBSTITUTE = 'When solving equations, verify the answer by substitution';
const UNITS = 'When converting units, write the unit at every step';
const ESTIMATE = 'When multiplying large numbers, estimate the magnitude before computing';

const changes = (r: ConsolidationResult) => r.edits.filter((e) => e.kind !== 'kept');

describe('consolidate: a first run', () => {
  it('adds proven experiences and accepted artifacts, with provenance, and nothing unproven', () => {
    const library = [
      exp('e1', SUBSTITUTE, { confidence: 0.9 }),
      exp('e2', UNITS, { domain: 'units', confidence: 0.85 }),
      exp('e3', ESTIMATE, { confidence: 0.79 }), // below the proven bar
      exp('e4', 'When reading a word problem, list the known quantities', { confidence: 0.95, successes: 0 }), // never confirmed
    ];
    const accepted = [
      art(1, 'When a proof is long, state the lemma first', { acceptance: 0.88 }),
      art(2, 'When asked to refuse, explain why briefly', { domain: 'safety', kind: 'policy', acceptance: 1 }), // a directive
      art(3, 'When dividing by a variable, check it is not zero', { acceptance: 0.6 }), // below 2/3
    ];
    const r = run({ library, accepted });
    expect(r.playbooks.math.map((e) => e.id)).toEqual(['x-e1', `a-${cid(1)}`]);
    expect(r.playbooks.math[0]).toMatchObject({ text: SUBSTITUTE, kind: 'strategy', confidence: 0.9, experienceIds: ['e1'], artifactIds: [], textFrom: 'x:e1', addedAt: NOW, updatedAt: NOW });
    expect(r.playbooks.math[1]).toMatchObject({ confidence: 0.88, experienceIds: [], artifactIds: [cid(1)] });
    expect(r.playbooks.units.map((e) => e.experienceIds)).toEqual([['e2']]);
    expect(r.playbooks.safety).toEqual([]);
    expect(r.summary).toEqual({ added: 3, merged: 0, updated: 0, dropped: 0, kept: 0 });
    expect(r.edits.every((e) => e.kind === 'added' && e.before === null)).toBe(true);
    expect(playbooksSchema.safeParse(r.playbooks).success).toBe(true);
  });

  it('folds a local experience and a near-identical accepted artifact into one entry (token Jaccard at the library threshold)', () => {
    expect(tokenJaccard(FRACTIONS, FRACTIONS_2)).toBeGreaterThanOrEqual(NEAR_DUPLICATE_THRESHOLD);
    const r = run({ library: [exp('e1', FRACTIONS, { confidence: 0.85 })], accepted: [art(7, FRACTIONS_2, { acceptance: 0.95 })] });
    expect(r.playbooks.math).toHaveLength(1);
    // The strongest source starts the entry and gives its wording; the other is provenance.
    expect(r.playbooks.math[0]).toMatchObject({ id: `a-${cid(7)}`, text: FRACTIONS_2, confidence: 0.95, experienceIds: ['e1'], artifactIds: [cid(7)], textFrom: `a:${cid(7)}` });
  });

  it('rejects bad options', () => {
    expect(() => run({ library: [], now: -1 })).toThrow(RangeError);
    expect(() => run({ library: [], maxPerDomain: 0 })).toThrow(RangeError);
    expect(() => run({ library: [], threshold: 0 })).toThrow(RangeError);
    expect(() => run({ library: [], maxDisplacements: -1 })).toThrow(RangeError);
  });
});

describe('consolidate: small edits on later runs', () => {
  const library = [exp('e1', SUBSTITUTE), exp('e2', FRACTIONS, { confidence: 0.85 }), exp('e3', ESTIMATE, { confidence: 0.82 })];
  const first = run({ library });

  it('keeps everything when nothing changed, without touching updatedAt', () => {
    const again = run({ library, previous: first.playbooks, now: LATER });
    expect(again.playbooks).toEqual(first.playbooks);
    expect(again.summary).toEqual({ added: 0, merged: 0, updated: 0, dropped: 0, kept: 3 });
  });

  it('drops an entry whose only source was deleted, saying why, and keeps the others', () => {
    const r = run({ library: library.filter((e) => e.id !== 'e2'), previous: first.playbooks, now: LATER });
    expect(r.playbooks.math.map((e) => e.id)).toEqual(['x-e1', 'x-e3']);
    const dropped = r.edits.filter((e) => e.kind === 'dropped');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ entryId: 'x-e2', after: null });
    expect(dropped[0]?.reason).toMatch(/e2 was deleted/);
    expect(r.summary.kept).toBe(2);
  });

  it('keeps an entry whose source dips below the proven bar but not below the keep bar (hysteresis), drops it below that', () => {
    const dipped = library.map((e) => (e.id === 'e3' ? { ...e, confidence: (PROVEN_CONFIDENCE + KEEP_CONFIDENCE) / 2 } : e));
    const r1 = run({ library: dipped, previous: first.playbooks, now: LATER });
    const entry = r1.playbooks.math.find((e) => e.id === 'x-e3');
    expect(entry).toMatchObject({ confidence: 0.75, updatedAt: LATER, addedAt: NOW });
    expect(r1.edits.find((e) => e.entryId === 'x-e3')?.kind).toBe('updated');

    const fell = library.map((e) => (e.id === 'e3' ? { ...e, confidence: 0.6 } : e));
    const r2 = run({ library: fell, previous: first.playbooks, now: LATER });
    expect(r2.playbooks.math.some((e) => e.id === 'x-e3')).toBe(false);
    expect(r2.edits.find((e) => e.entryId === 'x-e3')).toMatchObject({ kind: 'dropped' });
    expect(r2.edits.find((e) => e.entryId === 'x-e3')?.reason).toMatch(/confidence 0\.60 is below 0\.70/);
    // An unproven experience never starts an entry, even at the keep level.
    expect(run({ library: dipped }).playbooks.math.some((e) => e.id === 'x-e3')).toBe(false);
  });

  it('merges a newly proven near-duplicate into the existing entry instead of adding a second one', () => {
    const r = run({ library: [...library, exp('e9', FRACTIONS_2, { confidence: 0.99 })], previous: first.playbooks, now: LATER });
    expect(r.playbooks.math).toHaveLength(3);
    const edit = r.edits.find((e) => e.entryId === 'x-e2');
    expect(edit?.kind).toBe('merged');
    // Same id, same wording (its source is still there), the new source and its confidence.
    expect(edit?.after).toMatchObject({ id: 'x-e2', text: FRACTIONS, experienceIds: ['e2', 'e9'], confidence: 0.99, updatedAt: LATER, addedAt: NOW });
    expect(r.summary).toMatchObject({ added: 0, merged: 1, dropped: 0, kept: 2 });
  });

  it('follows a reworded source, and rewords from the strongest remaining source when the wording source goes', () => {
    const reworded = library.map((e) => (e.id === 'e1' ? exp('e1', 'When solving equations, check the answer by substituting it back') : e));
    const r1 = run({ library: reworded, previous: first.playbooks, now: LATER });
    expect(r1.edits.find((e) => e.entryId === 'x-e1')).toMatchObject({ kind: 'updated', after: { text: 'When solving equations, check the answer by substituting it back' } });

    const withTwin = run({ library: [...library, exp('e9', FRACTIONS_2, { confidence: 0.8 })] });
    const entry = withTwin.playbooks.math.find((e) => e.experienceIds.includes('e9'));
    expect(entry).toMatchObject({ id: 'x-e2', textFrom: 'x:e2' });
    const r2 = run({ library: [...library.filter((e) => e.id !== 'e2'), exp('e9', FRACTIONS_2, { confidence: 0.8 })], previous: withTwin.playbooks, now: LATER });
    expect(r2.edits.find((e) => e.entryId === 'x-e2')).toMatchObject({ kind: 'updated', after: { id: 'x-e2', text: FRACTIONS_2, textFrom: 'x:e9', experienceIds: ['e9'], confidence: 0.8 } });
  });

  it('folds two entries that have become near-duplicates, the weaker into the stronger', () => {
    const base = run({ library: [exp('e1', FRACTIONS, { confidence: 0.9 }), exp('e2', UNITS.replace('units', 'fractions'), { confidence: 0.85 })] });
    expect(base.playbooks.math).toHaveLength(2);
    const reworded = [exp('e1', FRACTIONS, { confidence: 0.9 }), exp('e2', FRACTIONS_2, { confidence: 0.85 })];
    const r = run({ library: reworded, previous: base.playbooks, now: LATER });
    expect(r.playbooks.math).toHaveLength(1);
    expect(r.playbooks.math[0]).toMatchObject({ id: 'x-e1', experienceIds: ['e1', 'e2'], text: FRACTIONS });
    expect(r.edits.find((e) => e.entryId === 'x-e2')).toMatchObject({ kind: 'dropped', reason: 'merged into x-e1 (near-duplicate)' });
    expect(r.edits.find((e) => e.entryId === 'x-e1')?.kind).toBe('merged');
  });

  it('moves an entry with its source when the experience changes domain', () => {
    const moved = library.map((e) => (e.id === 'e3' ? { ...e, domain: 'reasoning' as const } : e));
    const r = run({ library: moved, previous: first.playbooks, now: LATER });
    expect(r.edits.find((e) => e.domain === 'math' && e.entryId === 'x-e3')).toMatchObject({ kind: 'dropped' });
    expect(r.edits.find((e) => e.domain === 'math' && e.entryId === 'x-e3')?.reason).toMatch(/moved to reasoning/);
    expect(r.playbooks.reasoning).toHaveLength(1);
    expect(r.playbooks.reasoning[0]?.experienceIds).toEqual(['e3']);
  });

  it('drops an artifact entry when the field no longer accepts it', () => {
    const withArt = run({ library, accepted: [art(5, UNITS.replace('units', 'currencies'))] });
    const r = run({ library, accepted: [], previous: withArt.playbooks, now: LATER });
    expect(r.edits.find((e) => e.entryId === `a-${cid(5)}`)?.reason).toMatch(/no longer accepted/);
  });

  it('counts and drops previous entries that fail the schema', () => {
    const bad = { ...first.playbooks, math: [...first.playbooks.math, { id: 'x-bogus', text: 'no' }] } as unknown as Playbooks;
    const r = run({ library, previous: bad, now: LATER });
    expect(r.invalidPrevious).toBe(1);
    expect(r.playbooks).toEqual(first.playbooks);
  });
});

describe('consolidate: capacity and no wholesale rewrite', () => {
  const weak = [exp('w1', 'When a sum has many terms, group them by sign', { confidence: 0.81 }),
    exp('w2', 'When rounding, keep one extra digit until the end', { confidence: 0.82 }),
    exp('w3', 'When a result looks odd, recompute it another way', { confidence: 0.83 })];
  const strong = [art(1, 'When a proof is long, state the lemma first', { acceptance: 0.95 }),
    art(2, 'When dividing by a variable, check it is not zero', { acceptance: 0.96 }),
    art(3, 'When graphing a function, mark its intercepts', { acceptance: 0.97 })];

  it('keeps the strongest maxPerDomain entries', () => {
    const r = run({ library: weak, accepted: strong, maxPerDomain: 4 });
    expect(r.playbooks.math.map((e) => e.confidence)).toEqual([0.97, 0.96, 0.95, 0.83]);
  });

  it('displaces at most maxDisplacements valid entries per run, deferring the rest, and converges', () => {
    const base = run({ library: weak, maxPerDomain: 3 });
    expect(base.playbooks.math).toHaveLength(3);
    const r1 = run({ library: weak, accepted: strong, previous: base.playbooks, maxPerDomain: 3, maxDisplacements: 1, now: LATER });
    expect(r1.summary).toMatchObject({ added: 1, dropped: 1, kept: 2 });
    expect(r1.deferred.math).toBe(2);
    expect(r1.edits.find((e) => e.kind === 'dropped')).toMatchObject({ entryId: 'x-w1' });
    expect(r1.edits.find((e) => e.kind === 'added')?.after?.artifactIds).toEqual([cid(3)]);
    const r2 = run({ library: weak, accepted: strong, previous: r1.playbooks, maxPerDomain: 3, maxDisplacements: 1, now: LATER });
    const r3 = run({ library: weak, accepted: strong, previous: r2.playbooks, maxPerDomain: 3, maxDisplacements: 1, now: LATER });
    expect(r3.deferred.math).toBe(0);
    expect(r3.playbooks.math.map((e) => e.confidence)).toEqual([0.97, 0.96, 0.95]);
    const r4 = run({ library: weak, accepted: strong, previous: r3.playbooks, maxPerDomain: 3, maxDisplacements: 1, now: LATER });
    expect(changes(r4)).toEqual([]);
  });

  it('hands the sources of a displaced entry to a remaining near-identical entry, so that the next run has nothing left to do', () => {
    const T2 = 'When adding fractions, find a common denominator before adding';
    const T3 = 'When adding fractions, find a common denominator before adding terms';
    // A chain: T2 is near FRACTIONS and nearer T3; FRACTIONS and T3 are not near each other.
    expect(tokenJaccard(FRACTIONS, T3)).toBeLessThan(NEAR_DUPLICATE_THRESHOLD);
    expect(tokenJaccard(T2, T3)).toBeGreaterThan(tokenJaccard(T2, FRACTIONS));
    expect(tokenJaccard(T2, FRACTIONS)).toBeGreaterThanOrEqual(NEAR_DUPLICATE_THRESHOLD);
    const base = run({ library: [exp('t', FRACTIONS, { confidence: 0.9 }), exp('s', T3, { confidence: 0.81 })], maxPerDomain: 2 });
    const library = [exp('t', FRACTIONS, { confidence: 0.9 }), exp('s', T3, { confidence: 0.81 }), exp('c', T2, { confidence: 0.8 })];
    const accepted = [art(1, SUBSTITUTE, { acceptance: 0.95 })];
    const r1 = run({ library, accepted, previous: base.playbooks, maxPerDomain: 2, now: LATER });
    expect(r1.edits.find((e) => e.entryId === 'x-s')).toMatchObject({ kind: 'dropped' });
    expect(r1.playbooks.math.find((e) => e.id === 'x-t')?.experienceIds).toEqual(['c', 't']);
    const r2 = run({ library, accepted, previous: r1.playbooks, maxPerDomain: 2, now: LATER });
    expect(changes(r2)).toEqual([]);
  });

  it('shrinks to a smaller cap by dropping the weakest, whatever maxDisplacements says', () => {
    const base = run({ library: weak, accepted: strong, maxPerDomain: 6 });
    const r = run({ library: weak, accepted: strong, previous: base.playbooks, maxPerDomain: 2, maxDisplacements: 0, now: LATER });
    expect(r.playbooks.math.map((e) => e.confidence)).toEqual([0.97, 0.96]);
    expect(r.edits.filter((e) => e.kind === 'dropped').every((e) => /over the cap/.test(e.reason))).toBe(true);
  });
});

describe('suggestLibraryMerges', () => {
  it('proposes deleting the weaker of two near-duplicates in one domain, which applyBatch can apply', () => {
    const library = [exp('e1', FRACTIONS, { confidence: 0.7 }), exp('e2', FRACTIONS_2, { confidence: 0.9 }), exp('e3', FRACTIONS_2, { domain: 'reasoning' }), exp('e4', SUBSTITUTE)];
    const r = run({ library });
    expect(r.libraryProposals).toEqual([{ drop: 'e1', keep: 'e2', similarity: tokenJaccard(FRACTIONS, FRACTIONS_2) }]);
    expect(r.libraryBatch?.ops).toEqual([{ op: 'DELETE', id: 'e1', reason: expect.stringContaining('near-duplicate of e2') }]);
    const applied = applyBatch(library, [r.libraryBatch!], { now: LATER, newId: () => 'n1' });
    expect(applied.library.map((e) => e.id)).toEqual(['e2', 'e3', 'e4']);
    expect(suggestLibraryMerges(applied.library)).toEqual([]);
    expect(run({ library, maxLibraryProposals: 0 }).libraryBatch).toBeNull();
  });
});

/*
 * Properties.
 */

// A small pool with near-duplicate clusters, so that merges, folds and displacements all happen.
// The fractions texts form a chain (each near-identical to the next, not to all), which is what makes merging order-sensitive.
const TEXTS = [
  FRACTIONS,
  FRACTIONS_2,
  'When adding fractions, find a common denominator before adding',
  'When adding fractions, find a common denominator before adding terms',
  'When adding fractions, use a common denominator before adding terms',
  'When adding two fractions, use a common denominator before adding terms',
  SUBSTITUTE,
  'When solving equations, verify the answer by substitution afterwards',
  UNITS,
  'When converting units, write the unit at each step',
  ESTIMATE,
  'When a proof is long, state the lemma first',
  'When dividing by a variable, check it is not zero',
  'When graphing a function, mark its intercepts',
  'When rounding, keep one extra digit until the end',
];
const DOMAINS: ArtifactDomain[] = ['math', 'units', 'reasoning'];
const confidence = fc.integer({ min: 50, max: 100 }).map((n) => n / 100);

const libraryArb = fc
  .array(fc.record({ text: fc.constantFrom(...TEXTS), domain: fc.constantFrom(...DOMAINS), confidence, successes: fc.integer({ min: 0, max: 2 }) }), { maxLength: 12 })
  .map((list) => list.map((x, i) => exp(`e${i}`, x.text, x)));
const acceptedArb = fc
  .array(fc.record({ text: fc.constantFrom(...TEXTS), domain: fc.constantFrom(...DOMAINS), acceptance: confidence, kind: fc.constantFrom<ArtifactKind>('strategy', 'correction', 'policy') }), { maxLength: 8 })
  .map((list) => list.map((x, i) => art(i, x.text, x)));
const optionsArb = fc.record({ maxPerDomain: fc.integer({ min: 1, max: 5 }), maxDisplacements: fc.integer({ min: 0, max: 3 }) });

function checkRun(r: ConsolidationResult, previous: Playbooks, o: { maxPerDomain: number; maxDisplacements: number }): void {
  expect(playbooksSchema.safeParse(r.playbooks).success).toBe(true);
  for (const domain of ARTIFACT_DOMAINS) {
    const list = r.playbooks[domain];
    const edits = r.edits.filter((e) => e.domain === domain);
    expect(list.length).toBeLessThanOrEqual(o.maxPerDomain);
    // Bounded: one edit per previous entry, one per added entry.
    expect(edits.length).toBeLessThanOrEqual(previous[domain].length + o.maxPerDomain);
    expect(edits.filter((e) => e.kind !== 'added').length).toBe(previous[domain].length);
    // No wholesale rewrite: at most maxDisplacements still-valid entries replaced by newcomers.
    expect(edits.filter((e) => e.kind === 'dropped' && e.reason.startsWith('displaced')).length).toBeLessThanOrEqual(o.maxDisplacements);
    // No two entries of a domain are near-duplicates; ordered by confidence.
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) expect(tokenJaccard(list[i]!.text, list[j]!.text)).toBeLessThan(NEAR_DUPLICATE_THRESHOLD);
      if (i > 0) expect(list[i - 1]!.confidence).toBeGreaterThanOrEqual(list[i]!.confidence);
    }
  }
  // Ids unique across playbooks, sources in at most one entry.
  const all = ARTIFACT_DOMAINS.flatMap((d) => r.playbooks[d]);
  expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  const sources = all.flatMap((e) => [...e.experienceIds, ...e.artifactIds]);
  expect(new Set(sources).size).toBe(sources.length);
}

describe('consolidate: properties', () => {
  it('is idempotent: a run that defers nothing is a fixed point, and repeated runs reach one; every run is bounded', () => {
    fc.assert(
      fc.property(libraryArb, acceptedArb, libraryArb, acceptedArb, optionsArb, (lib1, acc1, lib2, acc2, o) => {
        // Start from the playbooks of some other state, so that later runs edit rather than build.
        let previous = emptyPlaybooks();
        for (let i = 0; i < 6; i++) {
          const r = consolidate({ library: lib1, accepted: acc1, previous, now: NOW, ...o });
          previous = r.playbooks;
        }
        let steps = 0;
        for (;;) {
          const r = consolidate({ library: lib2, accepted: acc2, previous, now: LATER, ...o });
          checkRun(r, previous, o);
          const deferred = Object.values(r.deferred).reduce((a, b) => a + b, 0);
          const next = consolidate({ library: lib2, accepted: acc2, previous: r.playbooks, now: LATER, ...o });
          if (deferred === 0 || o.maxDisplacements === 0) {
            expect(changes(next)).toEqual([]);
            expect(next.playbooks).toEqual(r.playbooks);
            break;
          }
          previous = r.playbooks;
          steps++;
          expect(steps).toBeLessThanOrEqual(20);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is deterministic: the order of the library, the artifacts and the previous entries does not matter', () => {
    fc.assert(
      fc.property(libraryArb, acceptedArb, optionsArb, fc.integer(), (library, accepted, o, seed) => {
        const previous = consolidate({ library: library.slice(0, 6), accepted, previous: null, now: NOW, ...o }).playbooks;
        const a = consolidate({ library, accepted, previous, now: LATER, ...o });
        const shuffle = <T,>(xs: readonly T[]): T[] => {
          const out = [...xs];
          let s = seed >>> 0;
          for (let i = out.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            const j = s % (i + 1);
            [out[i], out[j]] = [out[j] as T, out[i] as T];
          }
          return out;
        };
        const shuffledPrevious = Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, shuffle(previous[d])])) as Playbooks;
        const b = consolidate({ library: shuffle(library), accepted: shuffle(accepted), previous: shuffledPrevious, now: LATER, ...o });
        expect(b.playbooks).toEqual(a.playbooks);
        expect(b.edits).toEqual(a.edits);
      }),
      { numRuns: 100 },
    );
  });

  it('never lists a source that is not proven or kept, and every proven source is somewhere or outranked', () => {
    fc.assert(
      fc.property(libraryArb, acceptedArb, optionsArb, (library, accepted, o) => {
        const r = consolidate({ library, accepted, previous: null, now: NOW, ...o });
        for (const domain of ARTIFACT_DOMAINS) {
          for (const e of r.playbooks[domain]) {
            for (const id of e.experienceIds) {
              const x = library.find((l) => l.id === id)!;
              expect(x.domain).toBe(domain);
              expect(x.confidence).toBeGreaterThanOrEqual(PROVEN_CONFIDENCE);
              expect(x.successCount).toBeGreaterThan(0);
            }
            for (const id of e.artifactIds) expect(accepted.find((a) => a.id === id)?.kind).not.toBe('policy');
          }
          // A first run fills free places: a domain below its cap holds every proven source.
          if (r.playbooks[domain].length < o.maxPerDomain) {
            const listed = new Set(r.playbooks[domain].flatMap((e) => e.experienceIds));
            for (const x of library) if (x.domain === domain && x.confidence >= PROVEN_CONFIDENCE && x.successCount > 0) expect(listed.has(x.id)).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
