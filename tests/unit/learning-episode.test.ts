import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applySignal, createEpisode, episodeSchema, MAX_TASK_CHARS, shownAnswerScore, worthLearning, type EpisodeSignal } from '../../src/lib/learning/episode';
import { guessDomain } from '../../src/lib/learning/domain-guess';

const base = () =>
  createEpisode({ id: 'ep1', conversationId: 'c1', messageId: 'm2', task: 'What is 17 * 23?', answer: 'It is 381.', domain: 'math', usedExperienceIds: ['x1', 'x1', 'x2'], now: 1000 });

describe('episodes', () => {
  it('start open, without signals, and keep each used experience once', () => {
    const e = base();
    expect(e.state).toBe('open');
    expect(e.usedExperienceIds).toEqual(['x1', 'x2']);
    expect(shownAnswerScore(e)).toBeNull();
    expect(worthLearning(e)).toBe(false);
  });

  it('cut very long questions instead of refusing the feedback', () => {
    const e = createEpisode({ id: 'ep', conversationId: 'c', messageId: 'm', task: 'x'.repeat(MAX_TASK_CHARS + 10), answer: '', domain: 'other', now: 1 });
    expect(e.task).toHaveLength(MAX_TASK_CHARS);
  });

  it('a thumbs-up is recorded but does not start a rollout; a thumbs-down does', () => {
    const up = applySignal(base(), { type: 'feedback', value: 'up' }, 2000);
    expect(shownAnswerScore(up)).toBe(1);
    expect(worthLearning(up)).toBe(false);
    const down = applySignal(up, { type: 'feedback', value: 'down' }, 3000);
    expect(shownAnswerScore(down)).toBe(0);
    expect(worthLearning(down)).toBe(true);
    expect(down.updatedAt).toBe(3000);
  });

  it('a correction marks the answer bad, and an empty one is no correction', () => {
    const c = applySignal(base(), { type: 'correction', text: '  391  ' }, 2000);
    expect(c.correction).toBe('391');
    expect(c.feedback).toBe('down');
    expect(worthLearning(c)).toBe(true);
    expect(applySignal(base(), { type: 'correction', text: '   ' }, 2000).correction).toBeNull();
  });

  it('a regeneration is a weak negative signal', () => {
    const r = applySignal(base(), { type: 'regenerated' }, 2000);
    expect(r.regenerations).toBe(1);
    expect(shownAnswerScore(r)).toBe(0.25);
    expect(worthLearning(r)).toBe(true);
  });

  it('a verifier alone makes an episode worth learning from', () => {
    const v = applySignal(base(), { type: 'verifier', verifier: { kind: 'number', expected: 391, tolerance: 0 } }, 2000);
    expect(worthLearning(v)).toBe(true);
  });

  it('a new signal reopens a finished episode but never un-queues one', () => {
    const learned = { ...base(), state: 'learned' as const };
    expect(applySignal(learned, { type: 'regenerated' }, 5).state).toBe('open');
    const queued = { ...base(), state: 'queued' as const };
    expect(applySignal(queued, { type: 'regenerated' }, 5).state).toBe('queued');
  });

  it('any sequence of signals keeps a valid episode whose clock never goes back (property)', () => {
    const signal: fc.Arbitrary<EpisodeSignal> = fc.oneof(
      fc.constantFrom<EpisodeSignal>({ type: 'feedback', value: 'up' }, { type: 'feedback', value: 'down' }, { type: 'feedback', value: null }, { type: 'regenerated' }),
      fc.string({ maxLength: 200 }).map((text): EpisodeSignal => ({ type: 'correction', text })),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(signal, fc.integer({ min: 0, max: 10_000 })), { maxLength: 30 }), (steps) => {
        let e = base();
        for (const [s, t] of steps) {
          const next = applySignal(e, s, t);
          expect(next.updatedAt).toBeGreaterThanOrEqual(e.updatedAt);
          e = next;
        }
        expect(episodeSchema.safeParse(e).success).toBe(true);
        // A correction outranks a later thumbs-up: the shown answer was not the right one.
        if (e.correction !== null) expect(shownAnswerScore(e)).toBe(0);
      }),
    );
  });
});

describe('domain guess', () => {
  it.each([
    ['Convert 5 miles to km', 'units'],
    ['Why does my javascript function throw an exception?', 'coding'],
    ['Calculate 15 percent of 80', 'math'],
    ['Translate "good morning" in French', 'language'],
    ['Write an email to my landlord about the heating', 'writing'],
    ['Plan a schedule for my week with a deadline on Friday', 'planning'],
    ['What is the capital of Peru?', 'facts'],
    ['hmm', 'other'],
  ])('%s → %s', (text, domain) => {
    expect(guessDomain(text)).toBe(domain);
  });
});
