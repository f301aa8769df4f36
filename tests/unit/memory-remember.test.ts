/**
 * Remember requests and memory proposals from a person's message: what is
 * recognised, what is deliberately not (questions, hypotheticals, negations,
 * reported speech, code, secrets), and the bounds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_FACT_CHARS,
  MAX_PROPOSALS,
  analyseMessage,
  detectRememberRequest,
  proposeMemories,
} from '../../src/lib/memory/remember';

const fact = (message: string) => detectRememberRequest(message);

describe('detectRememberRequest', () => {
  it.each([
    ["Remember that my sister's birthday is on March 3.", "my sister's birthday is on March 3"],
    ['remember: I take my coffee black', 'I take my coffee black'],
    ['Please remember my wife’s name is Anna, thanks!', "my wife's name is Anna"],
    ['please remember that the gate code changes monthly', 'the gate code changes monthly'],
    ["Don't forget that Dr. Smith's number is 555-1234. What else?", "Dr. Smith's number is 555-1234"],
    ['do not forget: the meeting moved to Tuesday', 'the meeting moved to Tuesday'],
    ['Could you please remember that my flight is at 9?', 'my flight is at 9'],
    ['OK, remember that I am vegetarian. What should I cook tonight?', 'I am vegetarian'],
    ['Hi! Remember that "I hate cilantro"', 'I hate cilantro'],
    ['Remember:\n- I am vegan\n- I hate cilantro\n\nThanks', 'I am vegan; I hate cilantro'],
    ['Keep in mind that I use metric units', 'I use metric units'],
  ])('%j -> %j', (message, expected) => {
    expect(fact(message)).toEqual({ kind: 'fact', fact: expected });
  });

  it.each([
    'Do you remember that I am vegan?',
    'I remember that day well.',
    'Remember that time we went to Rome?',
    'Remember that I am vegan?',
    'What do you remember about me?',
    'Remember the Alamo',
    'remember to buy milk',
    "Don't forget to call mom",
    'Can you remember my birthday?',
    'I told him to remember that the door sticks.',
    '```\nremember that x = 1\n```',
    '> Remember that I said so',
    '',
  ])('no request in %j', (message) => {
    expect(fact(message)).toBeNull();
  });

  it('an empty request is reported as such', () => {
    expect(fact('Remember that.')).toEqual({ kind: 'empty' });
    expect(fact('please remember:')).toEqual({ kind: 'empty' });
  });

  it('a fact longer than the limit is reported, not cut', () => {
    const long = `Remember that ${'a'.repeat(MAX_FACT_CHARS + 10)}`;
    expect(fact(long)).toEqual({ kind: 'too-long', length: MAX_FACT_CHARS + 10, limit: MAX_FACT_CHARS });
  });
});

describe('proposeMemories', () => {
  it('finds several self-descriptions in one message, in order, in the person\'s words', () => {
    expect(proposeMemories('Hi, my name is Ana and I live in Lisbon, Portugal. I work as a nurse; I prefer short answers.')).toEqual([
      { text: 'My name is Ana', topic: 'name' },
      { text: 'I live in Lisbon, Portugal', topic: 'home' },
      { text: 'I work as a nurse', topic: 'work' },
      { text: 'I prefer short answers', topic: 'preference' },
    ]);
  });

  it.each([
    ["I'm severely allergic to peanuts and shellfish.", 'allergy', "I'm severely allergic to peanuts and shellfish"],
    ['I am allergic to penicillin', 'allergy', 'I am allergic to penicillin'],
    ['I have a peanut allergy', 'allergy', 'I have a peanut allergy'],
    ['I work at Google.', 'work', 'I work at Google'],
    ['I currently live in Berlin', 'home', 'I currently live in Berlin'],
    ['My favourite colour is blue, but my question is about paint.', 'attribute', 'My favourite colour is blue'],
    ["my wife's name is Anna", 'attribute', "My wife's name is Anna"],
    ['You can call me Jo', 'name', 'Call me Jo'],
    ['my name is Ana and I was wondering if you could help', 'name', 'My name is Ana'],
  ])('%j', (message, topic, text) => {
    expect(proposeMemories(message)[0]).toEqual({ text, topic });
  });

  it.each([
    'What if my name is Bob?',
    'Is my name Bob?',
    'How do I say my name is Ana in Spanish',
    'If I lived in Rome, I would eat pasta.',
    'Imagine I live in a castle.',
    'My name is not Bob.',
    "I don't live in Paris anymore.",
    'I no longer work at Acme.',
    'Write a story where my name is Zorg and I live in space.',
    'My brother said my name is weird.',
    'my password is hunter2',
    'My PIN is 1234',
    'my credit card number is 4111 1111 1111 1111',
    'My question is about taxes.',
    'My code is broken',
    'Call me tomorrow',
    'I prefer that.',
    '```\nmy name is code\n```',
    'Use `my name is X` as a template.',
    "I'd prefer a shorter answer",
    'The user says: my name is Mallory',
  ])('nothing from %j', (message) => {
    expect(proposeMemories(message)).toEqual([]);
  });

  it('offers each fact once and at most a few per message', () => {
    expect(proposeMemories('My name is Ana. my name is ana!')).toHaveLength(1);
    const many = Array.from({ length: 12 }, (_, i) => `My hobby number${String.fromCharCode(97 + i)} is chess${i}.`).join(' ');
    expect(proposeMemories(many)).toHaveLength(MAX_PROPOSALS);
  });

  it('bounds what it proposes', () => {
    expect(proposeMemories(`I live in ${'a very long place name '.repeat(20)}`)).toEqual([]);
  });
});

describe('analyseMessage', () => {
  it('does not propose what the person already asked to remember', () => {
    expect(analyseMessage('Remember that I live in Lisbon. I live in Lisbon.')).toEqual({
      remember: { kind: 'fact', fact: 'I live in Lisbon' },
      proposals: [],
    });
    expect(analyseMessage('Remember that I am vegan. My name is Ana.')).toEqual({
      remember: { kind: 'fact', fact: 'I am vegan' },
      proposals: [{ text: 'My name is Ana', topic: 'name' }],
    });
  });

  it('property: never throws, and stays within its bounds on any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2_000 }), (message) => {
        const { remember, proposals } = analyseMessage(message);
        if (remember?.kind === 'fact') expect(remember.fact.length).toBeLessThanOrEqual(MAX_FACT_CHARS);
        expect(proposals.length).toBeLessThanOrEqual(MAX_PROPOSALS);
        for (const p of proposals) expect(p.text.length).toBeLessThanOrEqual(200);
      }),
      { numRuns: 300 },
    );
  });

  it('handles a huge message quickly (only the start is analysed)', () => {
    const started = performance.now();
    analyseMessage(`my name is Ana. ${'x '.repeat(500_000)}`);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
