import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_TEXT_LENGTH } from '../../src/lib/artifacts/schema';
import {
  contentTokens,
  createExperience,
  EXPERIENCE_DOMAINS,
  experienceSchema,
  formatExperience,
  linkEpisodes,
  MAX_CONDITION_LENGTH,
  MAX_EPISODE_LINKS,
  MAX_EXPERIENCE_TEXT_LENGTH,
  MAX_STRATEGY_LENGTH,
  parseExperienceText,
  type Experience,
} from '../../src/lib/learning/experience';

const NOW = 1_760_000_000_000;

function experience(overrides: Partial<Experience> = {}): Experience {
  return {
    ...createExperience({
      id: 'e1',
      text: 'When solving equations, verify the answer by substitution',
      domain: 'math',
      confidence: 0.6,
      episodeIds: ['ep1'],
      now: NOW,
    }),
    ...overrides,
  };
}

describe('parseExperienceText', () => {
  it('splits "When <condition>, <strategy>" at the first comma', () => {
    expect(parseExperienceText('When converting units, write the units in every step, then check them')).toEqual({
      ok: true,
      condition: 'converting units',
      strategy: 'write the units in every step, then check them',
      text: 'When converting units, write the units in every step, then check them',
    });
  });

  it('canonicalises whitespace, Unicode form and the case of "When"', () => {
    const r = parseExperienceText('  when   the  question asks for a café ,  answer\tbriefly ');
    // ", " needs whitespace after the comma; " ," before it is folded into the condition's trailing space.
    expect(r).toEqual({ ok: true, condition: 'the question asks for a café', strategy: 'answer briefly', text: 'When the question asks for a café, answer briefly' });
    const decomposed = parseExperienceText('When writing cafe\u0301 menus, use accents');
    expect(decomposed.ok && decomposed.condition).toBe('writing café menus');
  });

  it.each([
    ['no "When"', 'If solving equations, verify by substitution'],
    ['no comma', 'When solving equations verify by substitution'],
    ['comma without a space', 'When solving equations,verify by substitution'],
    ['a comma inside the number before the split', 'When 1,000 items are given, count them'],
    ['too short a condition', 'When x, verify by substitution'],
    ['too short a strategy', 'When solving equations, ok'],
    ['a multi-line text', 'When solving equations,\nverify by substitution'],
    ['a control character', 'When solving equations, verify\u0007 by substitution'],
    ['an invisible character', 'When solving equations, verify\u200B by substitution'],
    ['a lone surrogate', 'When solving equations, verify \uD800 by substitution'],
    ['an empty text', ''],
    ['only punctuation', 'When ..., !!!'],
    ['"When" glued to the condition', 'Whensolving equations, verify by substitution'],
  ])('rejects %s', (_what, text) => {
    const r = parseExperienceText(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/\S/);
  });

  it('rejects non-strings', () => {
    expect(parseExperienceText(42).ok).toBe(false);
    expect(parseExperienceText(null).ok).toBe(false);
  });

  it('bounds both parts', () => {
    expect(parseExperienceText(`When ${'a'.repeat(MAX_CONDITION_LENGTH)}, do it`).ok).toBe(true);
    expect(parseExperienceText(`When ${'a'.repeat(MAX_CONDITION_LENGTH + 1)}, do it`).ok).toBe(false);
    expect(parseExperienceText(`When it rains, ${'b'.repeat(MAX_STRATEGY_LENGTH)}`).ok).toBe(true);
    expect(parseExperienceText(`When it rains, ${'b'.repeat(MAX_STRATEGY_LENGTH + 1)}`).ok).toBe(false);
    expect(parseExperienceText(`When it rains, ${'b '.repeat(100_000)}`).ok).toBe(false);
  });

  it('fits an artifact: the longest experience is a valid artifact text length', () => {
    expect(MAX_EXPERIENCE_TEXT_LENGTH).toBeLessThanOrEqual(MAX_TEXT_LENGTH);
  });

  const word = fc.stringMatching(/^[a-z0-9]{1,8}$/);
  const phrase = (max: number) =>
    fc
      .array(word, { minLength: 1, maxLength: 12 })
      .map((ws) => ws.join(' '))
      .filter((s) => s.length >= 3 && s.length <= max);

  it('round-trips formatExperience (property)', () => {
    fc.assert(
      fc.property(phrase(MAX_CONDITION_LENGTH), phrase(MAX_STRATEGY_LENGTH), fc.boolean(), (condition, strategy, extraComma) => {
        const s = extraComma ? `${strategy}, then ${strategy}` : strategy;
        const text = formatExperience({ condition, strategy: s });
        expect(parseExperienceText(text)).toEqual({ ok: true, condition, strategy: s, text });
      }),
    );
  });

  it('is canonical: parsing the canonical text again gives it back (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (raw) => {
        const r = parseExperienceText(`When ${raw}`);
        if (r.ok) expect(parseExperienceText(r.text)).toEqual(r);
      }),
    );
  });
});

describe('experienceSchema and createExperience', () => {
  it('creates a valid experience with version 1 and no uses', () => {
    const e = experience();
    expect(experienceSchema.parse(e)).toEqual(e);
    expect(e).toMatchObject({ condition: 'solving equations', usageCount: 0, successCount: 0, failureCount: 0, version: 1, createdAt: NOW, updatedAt: NOW });
  });

  it('takes its domain from the artifacts taxonomy', () => {
    expect(EXPERIENCE_DOMAINS).toContain('math');
    expect(experienceSchema.safeParse({ ...experience(), domain: 'astrology' }).success).toBe(false);
  });

  it.each<[string, Partial<Experience>]>([
    ['text that disagrees with its parts', { condition: 'something else' }],
    ['a non-canonical text', { text: 'when solving equations, verify the answer by substitution' }],
    ['more outcomes than uses', { usageCount: 1, successCount: 1, failureCount: 1 }],
    ['repeated episode links', { episodeIds: ['a', 'a'] }],
    ['too many episode links', { episodeIds: Array.from({ length: MAX_EPISODE_LINKS + 1 }, (_, i) => `ep${i}`) }],
    ['an id with spaces', { id: 'e 1' }],
    ['confidence above 1', { confidence: 1.01 }],
    ['updatedAt before createdAt', { updatedAt: NOW - 1 }],
    ['version 0', { version: 0 }],
  ])('rejects %s', (_what, overrides) => {
    expect(experienceSchema.safeParse(experience(overrides)).success).toBe(false);
  });

  it('rejects an unknown key', () => {
    expect(experienceSchema.safeParse({ ...experience(), embedding: [1, 2] }).success).toBe(false);
  });

  it('throws on a text not in the form (callers parse first)', () => {
    expect(() => createExperience({ id: 'e1', text: 'Verify by substitution', domain: 'math', confidence: 0.5, episodeIds: [], now: NOW })).toThrow(RangeError);
  });
});

describe('linkEpisodes', () => {
  it('unions without repeats, oldest first; a link added again becomes the newest', () => {
    expect(linkEpisodes(['a', 'b'], ['c'])).toEqual(['a', 'b', 'c']);
    expect(linkEpisodes(['a', 'b'], ['a', 'c'])).toEqual(['b', 'a', 'c']);
  });

  it('keeps the newest links within the bound (property)', () => {
    const ids = fc.array(fc.stringMatching(/^[a-z]{1,3}$/), { maxLength: 60 });
    fc.assert(
      fc.property(ids, ids, (existing, added) => {
        const out = linkEpisodes(existing, added);
        expect(out.length).toBeLessThanOrEqual(MAX_EPISODE_LINKS);
        expect(new Set(out).size).toBe(out.length);
        const last = added.at(-1);
        if (last !== undefined) expect(out.at(-1)).toBe(last);
      }),
    );
  });
});

describe('contentTokens', () => {
  it('drops stopwords, case and punctuation', () => {
    expect([...contentTokens('When the Answer is a NUMBER, check it!')]).toEqual(['answer', 'number', 'check']);
    expect([...contentTokens('answers class bus')]).toEqual(['answer', 'class', 'bus']);
  });
});
