import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createExperience, EXPERIENCE_DOMAINS, experienceSchema, type Experience } from '../../src/lib/learning/experience';
import {
  applyBatch,
  initialConfidence,
  NEAR_DUPLICATE_THRESHOLD,
  tokenJaccard,
  type MergeOptions,
  type OperationBatch,
} from '../../src/lib/learning/library-merge';
import type { ExperienceOperation } from '../../src/lib/learning/semantic-advantage';

const NOW = 1_760_000_000_000;

function exp(id: string, text: string, overrides: Partial<Experience> = {}): Experience {
  return { ...createExperience({ id, text, domain: 'math', confidence: 0.6, episodeIds: [`ep-${id}`], now: NOW - 1000 }), ...overrides };
}

function counter(prefix = 'n'): () => string {
  let i = 0;
  return () => `${prefix}${++i}`;
}

const opts = (extra: Partial<MergeOptions> = {}): MergeOptions => ({ now: NOW, newId: counter(), ...extra });
const batch = (ops: ExperienceOperation[], advantage = 0.5, episodeIds: string[] = []): OperationBatch => ({ ops, advantage, episodeIds });

const FRACTIONS = 'When adding fractions, find a common denominator first';
const library: Experience[] = [
  exp('e1', 'When solving equations, verify the answer by substitution'),
  exp('e2', FRACTIONS, { usageCount: 5, successCount: 3, confidence: 0.7 }),
  exp('e3', 'When asked for a date, state the time zone', { domain: 'facts' }),
];

describe('tokenJaccard', () => {
  it('scores shared content words, ignoring stopwords and case', () => {
    expect(tokenJaccard('When adding fractions, find a common denominator', 'when comparing FRACTIONS, find the common denominator')).toBeCloseTo(4 / 6);
    expect(tokenJaccard('When it rains, take an umbrella', 'When coding, write tests')).toBe(0);
    expect(tokenJaccard('the', 'the')).toBe(1);
  });
});

describe('applyBatch rules', () => {
  it('adds a new experience with the initial confidence and the batch episodes', () => {
    const r = applyBatch(library, [batch([{ op: 'ADD', domain: 'units', text: 'When converting units, write the unit at every step' }], 0.5, ['ep9'])], opts());
    const added = r.library.at(-1);
    expect(added).toMatchObject({ id: 'n1', domain: 'units', confidence: initialConfidence(0.5), episodeIds: ['ep9'], createdAt: NOW, version: 1 });
    expect(r.log).toEqual([{ op: 'ADD', id: 'n1', before: null, after: added, reason: 'added (advantage 0.50)' }]);
    expect(initialConfidence(0.5)).toBeCloseTo(0.65);
  });

  it('turns a near-duplicate ADD into a merge: text kept, confidence max, episode links union, usage kept', () => {
    const r = applyBatch(library, [batch([{ op: 'ADD', domain: 'math', text: 'When adding fractions, find the common denominator' }], 1, ['ep9'])], opts());
    expect(r.library).toHaveLength(3);
    const e2 = r.library[1];
    expect(e2).toMatchObject({ id: 'e2', text: FRACTIONS, confidence: Math.max(0.7, initialConfidence(1)), episodeIds: ['ep-e2', 'ep9'], usageCount: 5, successCount: 3, version: 2, updatedAt: NOW });
    expect(r.log).toHaveLength(1);
    expect(r.log[0]).toMatchObject({ op: 'MERGE', id: 'e2', before: library[1] });
  });

  it('merges near-duplicate ADDs within one batch into one new experience', () => {
    const r = applyBatch(
      library,
      [
        batch(
          [
            { op: 'ADD', domain: 'writing', text: 'When writing an email, start with the request' },
            { op: 'ADD', domain: 'writing', text: 'When writing an email, start with your request' },
          ],
          0.5,
          ['ep9'],
        ),
        batch([{ op: 'ADD', domain: 'writing', text: 'When writing emails, start with the request' }], 0.4, ['ep10']),
      ],
      opts(),
    );
    expect(r.library).toHaveLength(4);
    expect(r.library[3]?.episodeIds).toEqual(['ep9', 'ep10']);
    expect(r.log).toHaveLength(1);
    expect(r.log[0]?.op).toBe('ADD');
  });

  it('lets DELETE beat UPDATE, whatever the advantages and order', () => {
    const update: ExperienceOperation = { op: 'UPDATE', id: 'e1', text: 'When solving equations, substitute back and compare both sides' };
    for (const batches of [
      [batch([update], 1), batch([{ op: 'DELETE', id: 'e1' }], 0.2)],
      [batch([{ op: 'DELETE', id: 'e1' }], 0.2), batch([update], 1)],
    ]) {
      const r = applyBatch(library, batches, opts());
      expect(r.library.map((e) => e.id)).toEqual(['e2', 'e3']);
      expect(r.log).toEqual([{ op: 'DELETE', id: 'e1', before: library[0], after: null, reason: 'deleted (advantage 0.20)' }]);
      expect(r.discarded).toEqual([expect.objectContaining({ op: update, reason: expect.stringMatching(/^DELETE beats UPDATE/) })]);
    }
  });

  it('discards an ADD that resembles an experience deleted in the same step', () => {
    const r = applyBatch(library, [batch([{ op: 'DELETE', id: 'e2' }, { op: 'ADD', domain: 'math', text: 'When adding fractions, find the common denominator first' }])], opts());
    expect(r.library.map((e) => e.id)).toEqual(['e1', 'e3']);
    expect(r.discarded[0]?.reason).toMatch(/DELETE beats ADD: resembles e2/);
  });

  it('resolves two UPDATEs of one id by advantage, then by the text that sorts first', () => {
    const a: ExperienceOperation = { op: 'UPDATE', id: 'e3', text: 'When asked for a date, give the time zone too' };
    const b: ExperienceOperation = { op: 'UPDATE', id: 'e3', text: 'When asked for a date, always name the time zone' };
    const byAdvantage = applyBatch(library, [batch([a], 0.3), batch([b], 0.9)], opts());
    expect(byAdvantage.library[2]?.text).toBe(b.text);
    const tie = applyBatch(library, [batch([a], 0.5), batch([b], 0.5)], opts());
    expect(tie.library[2]?.text).toBe(b.text < a.text ? b.text : a.text);
    expect(tie.discarded).toHaveLength(1);
    expect(tie.log[0]).toMatchObject({ op: 'UPDATE', id: 'e3', after: expect.objectContaining({ domain: 'facts', version: 2 }) });
  });

  it('discards an UPDATE that would duplicate another experience, and one that changes nothing', () => {
    const r = applyBatch(
      library,
      [
        batch([{ op: 'UPDATE', id: 'e1', text: 'When adding fractions, find a common denominator' }]),
        batch([{ op: 'UPDATE', id: 'e3', text: library[2]?.text ?? '' }]),
      ],
      opts(),
    );
    expect(r.library).toEqual(library);
    expect(r.discarded.map((d) => d.reason).sort()).toEqual(['e3 already reads so', 'the new text would duplicate e2']);
  });

  it('changes at most K experiences and returns the rest as deferred one-op batches', () => {
    const adds: ExperienceOperation[] = ['apples', 'bridges', 'candles', 'dragons', 'engines'].map((w) => ({ op: 'ADD', domain: 'other', text: `When ${w} appear, describe ${w} plainly` }));
    const first = applyBatch(library, [batch(adds, 0.5, ['ep1'])], opts({ maxChanges: 2 }));
    expect(first.library).toHaveLength(5);
    expect(first.log).toHaveLength(2);
    expect(first.deferred).toHaveLength(3);
    expect(first.deferred.every((b) => b.ops.length === 1 && b.advantage === 0.5 && b.episodeIds[0] === 'ep1')).toBe(true);
    const second = applyBatch(first.library, first.deferred, opts({ maxChanges: 2, newId: counter('m') }));
    expect(second.library).toHaveLength(7);
    expect(second.deferred).toHaveLength(1);
  });

  it('lets further edits of an experience already changed in the step through the K limit', () => {
    const r = applyBatch(
      library,
      [
        batch([{ op: 'UPDATE', id: 'e2', text: 'When adding fractions, use the least common denominator' }], 0.9),
        batch([{ op: 'ADD', domain: 'math', text: 'When adding fractions, use the least common denominator first' }], 0.1, ['ep5']),
      ],
      opts({ maxChanges: 1 }),
    );
    expect(r.deferred).toEqual([]);
    expect(r.log).toHaveLength(1);
    expect(r.log[0]).toMatchObject({ op: 'UPDATE', id: 'e2', after: expect.objectContaining({ episodeIds: ['ep-e2', 'ep5'] }) });
  });

  it('discards stale and malformed proposals with a reason', () => {
    const r = applyBatch(
      library,
      [
        batch([{ op: 'DELETE', id: 'gone' }]),
        batch([{ op: 'ADD', domain: 'math', text: 'no form here' }]),
        batch([{ op: 'ADD', domain: 'astrology' as 'math', text: 'When stars align, wait' }]),
        batch([{ op: 'DELETE', id: 'e1' }], Number.NaN),
        batch([{ op: 'DELETE', id: 'e1' }], 0.5, ['bad id!']),
      ],
      opts(),
    );
    expect(r.library).toEqual(library);
    expect(r.discarded.map((d) => d.reason)).toEqual([
      'ADD: domain astrology is not in the taxonomy',
      'ADD: text does not read "When <condition>, <strategy>"',
      'DELETE gone: unknown id (deleted since it was proposed?)',
      'batch advantage NaN is not in 0..1',
      'batch has a malformed episode id',
    ]);
  });

  it('uses the injected similarity', () => {
    const add = batch([{ op: 'ADD', domain: 'other', text: 'When it rains, take an umbrella' }], 0.5, ['ep9']);
    expect(applyBatch(library, [add], opts({ similarity: () => 0 })).library).toHaveLength(4);
    const merged = applyBatch(library, [add], opts({ similarity: (a, b) => (b === FRACTIONS ? 0.95 : 0.1), threshold: 0.9 }));
    expect(merged.log[0]).toMatchObject({ op: 'MERGE', id: 'e2' });
  });

  it('does not modify its input and refuses an id generator that repeats', () => {
    const frozen = Object.freeze(library.map((e) => Object.freeze({ ...e, episodeIds: Object.freeze([...e.episodeIds]) }))) as unknown as Experience[];
    applyBatch(frozen, [batch([{ op: 'UPDATE', id: 'e1', text: 'When solving equations, plug the answer back in' }, { op: 'DELETE', id: 'e3' }])], opts());
    expect(frozen).toEqual(library);
    expect(() => applyBatch(library, [batch([{ op: 'ADD', domain: 'other', text: 'When it rains, take an umbrella' }])], opts({ newId: () => 'e1' }))).toThrow(/already used/);
    expect(() => applyBatch(library, [], opts({ maxChanges: -1 }))).toThrow(RangeError);
  });
});

/*
 * Properties over generated libraries and batches. A small vocabulary makes
 * near-duplicates and conflicts common.
 */

const WORDS = ['apples', 'bridges', 'candles', 'dragons', 'engines', 'forests', 'glaciers', 'harbours'];
const word = fc.constantFrom(...WORDS);
const text = fc
  .tuple(word, word, word, word)
  .map(([a, b, c, d]) => `When ${a} meet ${b}, compare ${c} with ${d}`);
const domain = fc.constantFrom(...EXPERIENCE_DOMAINS);

/** A library without near-duplicates (the precondition of the invariant). */
const libraryArb = fc.array(fc.tuple(text, fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(9)), { maxLength: 8 }).map((rows) => {
  const lib: Experience[] = [];
  rows.forEach(([t, confidence, uses], i) => {
    if (lib.some((e) => tokenJaccard(e.text, t) >= NEAR_DUPLICATE_THRESHOLD)) return;
    lib.push(exp(`e${i}`, t, { confidence, usageCount: uses }));
  });
  return lib;
});

function batchesArb(lib: readonly Experience[]): fc.Arbitrary<OperationBatch[]> {
  const ids = lib.length > 0 ? fc.constantFrom(...lib.map((e) => e.id)) : fc.constant('missing');
  const op: fc.Arbitrary<ExperienceOperation> = fc.oneof(
    fc.record({ op: fc.constant('ADD' as const), domain, text }),
    fc.record({ op: fc.constant('UPDATE' as const), id: ids, text }),
    fc.record({ op: fc.constant('DELETE' as const), id: ids }),
    fc.constant({ op: 'NONE' as const }),
  );
  return fc.array(
    fc.record({
      ops: fc.array(op, { maxLength: 4 }),
      advantage: fc.constantFrom(0.2, 0.5, 1),
      episodeIds: fc.array(fc.constantFrom('ep1', 'ep2', 'ep3'), { maxLength: 2 }),
    }),
    { maxLength: 4 },
  );
}

const scenario = libraryArb.chain((lib) => fc.tuple(fc.constant(lib), batchesArb(lib), fc.nat(5)));

function noNearDuplicates(lib: readonly Experience[]): boolean {
  return lib.every((a, i) => lib.every((b, j) => j <= i || tokenJaccard(a.text, b.text) < NEAR_DUPLICATE_THRESHOLD));
}

describe('applyBatch properties', () => {
  it('does not depend on the order of batches or of ops within them', () => {
    fc.assert(
      fc.property(
        scenario.chain(([lib, batches, k]) =>
          fc.tuple(
            fc.constant(lib),
            fc.constant(batches),
            fc.constant(k),
            fc.shuffledSubarray(batches, { minLength: batches.length, maxLength: batches.length }),
            fc.array(fc.nat(), { minLength: batches.length, maxLength: batches.length }),
          ),
        ),
        ([lib, batches, k, shuffled, seeds]) => {
          // Reverse or rotate each batch's ops too.
          const permuted = shuffled.map((b, i) => {
            const s = (seeds[i] ?? 0) % Math.max(1, b.ops.length);
            return { ...b, ops: [...b.ops.slice(s), ...b.ops.slice(0, s)].reverse() };
          });
          const a = applyBatch(lib, batches, opts({ maxChanges: k }));
          const b = applyBatch(lib, permuted, opts({ maxChanges: k }));
          expect(b).toEqual(a);
        },
      ),
    );
  });

  it('lets DELETE beat UPDATE: a deleted id is gone (or, deferred, unchanged), regardless of order', () => {
    fc.assert(
      fc.property(scenario, ([lib, batches, k]) => {
        const deleted = new Set(batches.flatMap((b) => b.ops.flatMap((o) => (o.op === 'DELETE' ? [o.id] : []))));
        const all = applyBatch(lib, [...batches].reverse(), opts({ maxChanges: 1000 }));
        for (const id of deleted) expect(all.library.some((e) => e.id === id)).toBe(false);
        const limited = applyBatch(lib, batches, opts({ maxChanges: k }));
        for (const id of deleted) {
          const after = limited.library.find((e) => e.id === id);
          if (after) expect(after.text).toBe(lib.find((e) => e.id === id)?.text);
        }
      }),
    );
  });

  it('is the identity for no batches, empty batches and NONE-only batches (idempotent)', () => {
    fc.assert(
      fc.property(libraryArb, fc.array(fc.array(fc.constant({ op: 'NONE' as const }), { maxLength: 3 }), { maxLength: 3 }), (lib, noneOps) => {
        const noneBatches = noneOps.map((ops) => batch(ops));
        for (const batches of [[], noneBatches]) {
          const once = applyBatch(lib, batches, opts());
          expect(once).toEqual({ library: lib, log: [], deferred: [], discarded: [] });
          expect(applyBatch(once.library, batches, opts())).toEqual(once);
        }
      }),
    );
  });

  it('changes at most K experiences, keeps the library free of near-duplicates and valid, and accounts for every op', () => {
    fc.assert(
      fc.property(scenario, ([lib, batches, k]) => {
        const r = applyBatch(lib, batches, opts({ maxChanges: k }));
        expect(Math.abs(r.library.length - lib.length)).toBeLessThanOrEqual(k);
        expect(r.log.length).toBeLessThanOrEqual(k);
        expect(noNearDuplicates(r.library)).toBe(true);
        for (const e of r.library) expect(experienceSchema.safeParse(e).success).toBe(true);
        expect(new Set(r.library.map((e) => e.id)).size).toBe(r.library.length);
        // Nothing is dropped silently: each proposed op is applied (a reason in the log), deferred or discarded.
        const proposed = batches.flatMap((b) => b.ops).filter((o) => o.op !== 'NONE').length;
        const applied = r.log.reduce((n, l) => n + l.reason.split('; ').length, 0);
        expect(applied + r.deferred.length + r.discarded.length).toBe(proposed);
      }),
    );
  });

  it('eventually applies everything it deferred, a step at a time', () => {
    fc.assert(
      fc.property(scenario, ([lib, batches, k]) => {
        const limit = Math.max(1, k);
        let step = applyBatch(lib, batches, opts({ maxChanges: limit }));
        for (let i = 0; i < 40 && step.deferred.length > 0; i++) {
          const size = step.library.length;
          step = applyBatch(step.library, step.deferred, opts({ maxChanges: limit, newId: counter(`s${i}x`) }));
          expect(Math.abs(step.library.length - size)).toBeLessThanOrEqual(limit);
        }
        expect(step.deferred).toEqual([]);
      }),
    );
  });
});
