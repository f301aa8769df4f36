/**
 * learnFromEpisode (src/lib/learning/pipeline.ts) driven by a scripted engine
 * double: every model reply is written out in the test, in order, and every
 * prompt the pipeline sends is recorded. So each step is checked on its own:
 * rollouts with the experiences in the prompt, scoring (verifier, correction,
 * the person's judgement), the group advantage, the contrast prompt, the
 * all-or-nothing parsing of the model's proposal, validation, and the merge
 * into the library.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatTurn, GenerateOptions } from '../../src/lib/engine/contract';
import { EXPERIENCES_OPEN } from '../../src/lib/learning/conditioning';
import { applySignal, createEpisode, type Episode } from '../../src/lib/learning/episode';
import { createExperience, experienceSchema, type Experience } from '../../src/lib/learning/experience';
import { initialConfidence } from '../../src/lib/learning/library-merge';
import {
  ADVANTAGE_OPTIONS,
  learnFromEpisode,
  MissingVerifierError,
  ROLLOUT_OPTIONS,
  type CandidateValidator,
  type LearnDeps,
  type LearnOutcome,
  type LearnProgress,
  type TextGenerator,
  type VerifyAnswer,
} from '../../src/lib/learning/pipeline';
import type { Verifier } from '../../src/lib/learning/verifiers';

const NOW = 1_760_000_000_000;

/*
 * The engine double.
 */

type Reply = string | ((turns: ChatTurn[], call: number) => string);

interface RecordedCall {
  turns: ChatTurn[];
  options: GenerateOptions;
  signal: AbortSignal | undefined;
}

/**
 * Test double for the engine: returns the scripted replies in order (a
 * function reply sees the prompt) and records each call. Running past the
 * end of the script is an error, so a test also proves how many generations
 * the pipeline asked for.
 */
class ScriptedGenerator implements TextGenerator {
  readonly calls: RecordedCall[] = [];
  readonly #replies: Reply[];
  constructor(replies: readonly Reply[]) {
    this.#replies = [...replies];
  }
  async generate(turns: ChatTurn[], options: GenerateOptions, signal?: AbortSignal): Promise<string> {
    this.calls.push({ turns: structuredClone(turns), options, signal });
    const reply = this.#replies.shift();
    if (reply === undefined) throw new Error(`ScriptedGenerator: no reply scripted for call ${this.calls.length}`);
    return typeof reply === 'function' ? reply(turns, this.calls.length) : reply;
  }
  get remaining(): number {
    return this.#replies.length;
  }
}

/*
 * Fixtures.
 */

const TASK = 'Multiplying two numbers: what is 7 times 8?';
const NUMBER_56: Verifier = { kind: 'number', expected: 56, tolerance: 0 };

/** A simple check for the tests: the last line of the answer must be the bare number 56. */
const lastLineIs56: VerifyAnswer = async (_verifier, answer) => {
  const last = answer.trim().split('\n').at(-1)?.trim() ?? '';
  const ok = last === '56';
  return { score: ok ? 1 : 0, detail: ok ? 'last line is 56' : `last line is ${JSON.stringify(last)}` };
};

function episode(overrides: { task?: string; answer?: string; id?: string } = {}): Episode {
  return createEpisode({
    id: overrides.id ?? 'ep-1',
    conversationId: 'conv-1',
    messageId: 'msg-1',
    task: overrides.task ?? TASK,
    answer: overrides.answer ?? 'I believe it is about fifty.',
    domain: 'math',
    now: NOW - 10_000,
  });
}

const withVerifier = (e: Episode, verifier: Verifier = NUMBER_56): Episode => applySignal(e, { type: 'verifier', verifier }, NOW - 5000);
const withCorrection = (e: Episode, text: string): Episode => applySignal(e, { type: 'correction', text }, NOW - 5000);
const thumbsDown = (e: Episode): Episode => applySignal(e, { type: 'feedback', value: 'down' }, NOW - 5000);

function exp(id: string, text: string, confidence = 0.6): Experience {
  return createExperience({ id, text, domain: 'math', confidence, episodeIds: ['ep-0'], now: NOW - 100_000 });
}

const SHOW_WORK = exp('exp-a', 'When multiplying two numbers, show the working before the result');
const IN_WORDS = exp('exp-b', 'When multiplying numbers, write the answer in words');
const UNRELATED = exp('exp-z', 'When writing a formal letter, open with the recipient title');

function ids(prefix = 'new'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

function deps(generator: TextGenerator, extra: Partial<LearnDeps> = {}): LearnDeps {
  return { generator, now: () => NOW, newId: ids(), verify: lastLineIs56, ...extra };
}

/** G = 4 rollouts: two pass the check, two fail. */
const MIXED_ROLLOUTS = ['7 times 8 is\n56', 'The product is fifty-six.', '56', 'It is 54 I think'];

const ADD_BARE_NUMBER = JSON.stringify([
  { op: 'ADD', domain: 'math', text: 'When asked for a product, give the result as a bare number on the last line', reason: 'the better answers end with the number' },
]);

function expectLearned(outcome: LearnOutcome): Extract<LearnOutcome, { status: 'learned' }> {
  if (outcome.status !== 'learned') throw new Error(`expected learned, got ${outcome.status}: ${outcome.reason}`);
  return outcome;
}

function expectRejected(outcome: LearnOutcome): Extract<LearnOutcome, { status: 'rejected' }> {
  if (outcome.status !== 'rejected') throw new Error(`expected rejected, got ${outcome.status}`);
  return outcome;
}

const userTurn = (turns: ChatTurn[]): string => turns.find((t) => t.role === 'user')?.content ?? '';
const systemTurn = (turns: ChatTurn[]): string => turns.find((t) => t.role === 'system')?.content ?? '';

/*
 * The whole path.
 */

describe('learnFromEpisode: rollouts, scores, advantage, operations', () => {
  it('samples G rollouts, scores them with the verifier, contrasts better and worse, and ADDs an experience linked to the episode', async () => {
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, ADD_BARE_NUMBER]);
    const verified: string[] = [];
    const verify: VerifyAnswer = async (v, answer, signal) => {
      verified.push(answer);
      return lastLineIs56(v, answer, signal);
    };
    const progress: LearnProgress[] = [];
    const outcome = expectLearned(
      await learnFromEpisode(withVerifier(episode()), [], deps(engine, { verify, onProgress: (p) => progress.push(p) }), { groupSize: 4 }),
    );

    // Rollouts: G calls with the rollout options, then one contrast with the advantage options.
    expect(engine.calls).toHaveLength(5);
    expect(engine.calls.slice(0, 4).every((c) => c.options === ROLLOUT_OPTIONS && userTurn(c.turns) === TASK)).toBe(true);
    expect(engine.calls[4]?.options).toBe(ADVANTAGE_OPTIONS);

    // Scores: every rollout and the shown answer went through the verifier, in group order.
    expect(verified).toEqual([...MIXED_ROLLOUTS, 'I believe it is about fifty.']);
    expect(outcome.group.map((m) => [m.origin, m.score, m.source])).toEqual([
      ['rollout', 1, 'verifier'],
      ['rollout', 0, 'verifier'],
      ['rollout', 1, 'verifier'],
      ['rollout', 0, 'verifier'],
      ['shown', 0, 'verifier'],
    ]);

    // Advantage: better = the passing rollouts, worse = the others.
    expect(outcome.advantage.informative).toBe(true);
    expect(outcome.advantage.spread).toBe(1);
    expect(outcome.advantage.better).toEqual([0, 2]);
    expect(outcome.advantage.worse).toEqual([1, 3, 4]);

    // The contrast prompt carries the task and both sides.
    const contrast = userTurn(engine.calls[4]?.turns ?? []);
    expect(contrast).toContain('7 times 8');
    expect(contrast).toMatch(/verdict="better">\n7 times 8 is\n56/);
    expect(contrast).toMatch(/verdict="worse">\nThe product is fifty-six\./);

    // The operation: a new experience, linked to the episode, with the initial confidence for the spread.
    expect(outcome.ops).toEqual([JSON.parse(ADD_BARE_NUMBER)[0]]);
    const library = outcome.merge.library;
    expect(library).toHaveLength(1);
    expect(library[0]).toMatchObject({
      id: 'new-1',
      domain: 'math',
      text: 'When asked for a product, give the result as a bare number on the last line',
      episodeIds: ['ep-1'],
      confidence: initialConfidence(1),
      createdAt: NOW,
    });
    expect(experienceSchema.safeParse(library[0]).success).toBe(true);
    expect(outcome.merge.log.map((l) => [l.op, l.id])).toEqual([['ADD', 'new-1']]);
    expect(outcome.output).toBe(ADD_BARE_NUMBER);
    expect(outcome.rejected).toEqual([]);

    // Progress: rollouts, verification, advantage, merge, in that order.
    const stages = progress.map((p) => p.stage).filter((s, i, all) => s !== all[i - 1]);
    expect(stages).toEqual(['rollout', 'verify', 'advantage', 'merge']);
  });

  it('UPDATEs and DELETEs the experiences it was shown, and leaves the rest of the library as it was', async () => {
    const library = [SHOW_WORK, IN_WORDS, UNRELATED];
    const before = structuredClone(library);
    const reply = JSON.stringify([
      { op: 'UPDATE', id: 'exp-a', text: 'When multiplying two numbers, give only the product as a bare number' },
      { op: 'DELETE', id: 'exp-b', reason: 'answers in words fail the check' },
    ]);
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, reply]);
    const outcome = expectLearned(await learnFromEpisode(withVerifier(episode()), library, deps(engine), { groupSize: 4 }));

    // Both relevant experiences were shown to the model with their ids; the unrelated one was not.
    const contrast = userTurn(engine.calls[4]?.turns ?? []);
    expect(contrast).toContain('id="exp-a"');
    expect(contrast).toContain('id="exp-b"');
    expect(contrast).not.toContain('exp-z');

    const next = outcome.merge.library;
    expect(next.map((e) => e.id)).toEqual(['exp-a', 'exp-z']);
    expect(next[0]).toMatchObject({
      id: 'exp-a',
      text: 'When multiplying two numbers, give only the product as a bare number',
      confidence: SHOW_WORK.confidence,
      episodeIds: ['ep-0', 'ep-1'],
      version: SHOW_WORK.version + 1,
    });
    expect(next[1]).toEqual(UNRELATED);
    expect(outcome.merge.log.map((l) => [l.op, l.id]).sort()).toEqual([
      ['DELETE', 'exp-b'],
      ['UPDATE', 'exp-a'],
    ]);
    expect(library).toEqual(before);
  });

  it('with a NONE, reports nothing to learn and proposes no change', async () => {
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, '[{"op":"NONE","reason":"a one-off slip"}]']);
    const outcome = await learnFromEpisode(withVerifier(episode()), [SHOW_WORK], deps(engine), { groupSize: 4 });
    expect(outcome.status).toBe('nothing-to-learn');
    expect(outcome.status === 'nothing-to-learn' && outcome.reason).toMatch(/nothing general/);
  });

  it('an ADD that is already in the library changes nothing and says so', async () => {
    const library = [exp('exp-c', 'When asked for a product, give the result as a bare number on the last line', 0.95)];
    library[0] = { ...library[0]!, episodeIds: ['ep-1'] };
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, ADD_BARE_NUMBER]);
    const outcome = await learnFromEpisode(withVerifier(episode()), library, deps(engine), { groupSize: 4 });
    expect(outcome.status).toBe('nothing-to-learn');
    expect(outcome.status === 'nothing-to-learn' && outcome.reason).toMatch(/already in the library as exp-c/);
  });
});

describe('learnFromEpisode: groups that cannot teach anything', () => {
  it('stops before the advantage step when every answer scores the same', async () => {
    const engine = new ScriptedGenerator(['56', '7 times 8 is\n56', '56', 'so\n56']);
    const outcome = await learnFromEpisode(withVerifier(episode({ answer: '56' })), [SHOW_WORK], deps(engine), { groupSize: 4 });
    expect(outcome.status).toBe('nothing-to-learn');
    expect(outcome.advantage.informative).toBe(false);
    expect(outcome.status === 'nothing-to-learn' && outcome.output).toBeNull();
    expect(engine.calls).toHaveLength(4);
    expect(outcome.group.every((m) => m.score === 1)).toBe(true);
  });

  it('an all-failing group (gibberish) is not contrasted either', async () => {
    const engine = new ScriptedGenerator([' cake cake tomb', ' tomb tomb tomb', 'wide wide', '']);
    const outcome = await learnFromEpisode(withVerifier(episode()), [], deps(engine), { groupSize: 4 });
    expect(outcome.status).toBe('nothing-to-learn');
    expect(engine.calls).toHaveLength(4);
  });
});

/*
 * Untrusted model output.
 */

describe('learnFromEpisode: malformed proposals are rejected whole, with reasons, and the library is untouched', () => {
  const cases: [string, string, RegExp][] = [
    ['gibberish', ' cake cake cake tomb tomb wide wide', /no JSON array or object/],
    ['an empty reply', '', /no JSON array or object/],
    ['half-valid JSON (never closed)', '[{"op":"ADD","domain":"math","text":"When multiplying, give the bare number"}, {"op":"DELETE",', /never closed/],
    ['JSON with a syntax error', '[{"op":"ADD","domain":"math","text":"When multiplying, give the bare number",}]', /malformed JSON/],
    [
      'one good and one bad operation',
      JSON.stringify([
        { op: 'ADD', domain: 'math', text: 'When multiplying, give the bare number' },
        { op: 'ADD', domain: 'math', text: 'Always answer with a number' },
      ]),
      /operation 2 \(ADD\): text does not read "When <condition>, <strategy>"/,
    ],
    ['an unknown id', JSON.stringify([{ op: 'UPDATE', id: 'exp-nope', text: 'When multiplying, give the bare number' }]), /unknown id "exp-nope"/],
    ['the id of an experience the model was not shown', JSON.stringify([{ op: 'DELETE', id: 'exp-z' }]), /unknown id "exp-z"/],
    ['NONE mixed with other operations', JSON.stringify([{ op: 'NONE' }, { op: 'DELETE', id: 'exp-a' }]), /NONE must be the only operation/],
    ['an unknown operation', JSON.stringify([{ op: 'REWRITE_ALL', text: 'When anything, do everything' }]), /op must be one of/],
    ['a domain outside the taxonomy', JSON.stringify([{ op: 'ADD', domain: 'cooking', text: 'When multiplying, give the bare number' }]), /domain must be one of/],
    ['an extra key', JSON.stringify([{ op: 'DELETE', id: 'exp-a', confidence: 1 }]), /Unrecognized key/i],
    [
      'too many operations',
      JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ op: 'ADD', domain: 'math', text: `When case ${i} happens, do thing ${i}` }))),
      /5 operations, at most 4/,
    ],
    ['one id in two operations', JSON.stringify([{ op: 'DELETE', id: 'exp-a' }, { op: 'UPDATE', id: 'exp-a', text: 'When multiplying, give the bare number' }]), /already used by operation 1/],
  ];

  it.each(cases)('%s', async (_name, reply, reason) => {
    const library = [SHOW_WORK, IN_WORDS, UNRELATED];
    const before = structuredClone(library);
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, reply]);
    const outcome = expectRejected(await learnFromEpisode(withVerifier(episode()), library, deps(engine), { groupSize: 4 }));
    expect(outcome.reason).toMatch(/^The model's proposal could not be used: /);
    expect(outcome.reasons.length).toBeGreaterThan(0);
    expect(outcome.reasons.some((r) => reason.test(r))).toBe(true);
    expect(outcome.output).toBe(reply);
    expect(outcome.rejected).toEqual([]);
    expect('merge' in outcome).toBe(false);
    expect(library).toEqual(before);
  });

  it('keeps only the first 2,000 characters of a long reply for the log', async () => {
    const reply = `no json here ${'x'.repeat(5000)}`;
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, reply]);
    const outcome = expectRejected(await learnFromEpisode(withVerifier(episode()), [], deps(engine), { groupSize: 4 }));
    expect(outcome.output).toHaveLength(2000);
  });
});

describe('learnFromEpisode: validation', () => {
  const noNumbersInStrategy: CandidateValidator = (candidate) =>
    /\d/.test(candidate.text) ? { ok: false, reason: 'specific', detail: 'holds a number from the task' } : { ok: true };

  it('keeps rejected candidates out of the library with their reason and applies the valid ones', async () => {
    const seen: string[] = [];
    const validate: CandidateValidator = (candidate, context) => {
      seen.push(`${candidate.op}:${context.episode.id}:${context.library.length}:${context.advantage}:${context.answers.length}`);
      // The group's answers: the rollouts, then the shown answer.
      expect(context.answers).toEqual([...MIXED_ROLLOUTS, 'I believe it is about fifty.']);
      return noNumbersInStrategy(candidate, context);
    };
    const reply = JSON.stringify([
      { op: 'ADD', domain: 'math', text: 'When multiplying 7 and 8, answer 56' },
      { op: 'ADD', domain: 'math', text: 'When asked for a product, end with the bare number' },
      { op: 'DELETE', id: 'exp-b' },
    ]);
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, reply]);
    const outcome = expectLearned(await learnFromEpisode(withVerifier(episode()), [SHOW_WORK, IN_WORDS], deps(engine, { validate }), { groupSize: 4 }));
    // The validator sees ADD and UPDATE candidates only, with the episode, the library, the spread and the answers.
    expect(seen).toEqual(['ADD:ep-1:2:1:5', 'ADD:ep-1:2:1:5']);
    expect(outcome.rejected).toEqual([
      { op: { op: 'ADD', domain: 'math', text: 'When multiplying 7 and 8, answer 56' }, reason: 'specific', detail: 'holds a number from the task' },
    ]);
    const texts = outcome.merge.library.map((e) => e.text);
    expect(texts).toEqual(['When multiplying two numbers, show the working before the result', 'When asked for a product, end with the bare number']);
    expect(texts.some((t) => t.includes('answer 56'))).toBe(false);
  });

  it('when every candidate is rejected, the outcome is rejected with each reason and detail', async () => {
    const reply = JSON.stringify([
      { op: 'UPDATE', id: 'exp-a', text: 'When multiplying 7 and 8, answer 56' },
      { op: 'ADD', domain: 'math', text: 'When asked about 7 times 8, say 56' },
    ]);
    const library = [SHOW_WORK];
    const before = structuredClone(library);
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, reply]);
    const outcome = expectRejected(await learnFromEpisode(withVerifier(episode()), library, deps(engine, { validate: noNumbersInStrategy }), { groupSize: 4 }));
    expect(outcome.reason).toBe('Every proposal was rejected (specific, specific)');
    expect(outcome.reasons).toEqual(['specific: holds a number from the task', 'specific: holds a number from the task']);
    expect(outcome.rejected.map((r) => r.op.op)).toEqual(['UPDATE', 'ADD']);
    expect(library).toEqual(before);
  });
});

/*
 * Where the scores come from.
 */

describe('learnFromEpisode: scoring signals', () => {
  it('an episode with a check but no verifier to run it fails clearly before any generation', async () => {
    const engine = new ScriptedGenerator([]);
    await expect(learnFromEpisode(withVerifier(episode()), [], { generator: engine, now: () => NOW, newId: ids() })).rejects.toBeInstanceOf(
      MissingVerifierError,
    );
    expect(engine.calls).toHaveLength(0);
  });

  it('verifier scores in between 0 and 1 are kept as they are (partial credit)', async () => {
    const partial: VerifyAnswer = async (_v, answer) => ({ score: answer.length >= 10 ? 0.25 : 0.75, detail: `len ${answer.length}` });
    const engine = new ScriptedGenerator(['56', 'fifty-six!', '56', 'it is 56!!', '[{"op":"NONE"}]']);
    const outcome = await learnFromEpisode(withVerifier(episode({ answer: '' })), [], deps(engine, { verify: partial }), { groupSize: 4 });
    expect(outcome.group.map((m) => m.score)).toEqual([0.75, 0.25, 0.75, 0.25]);
    expect(outcome.group.map((m) => m.detail)).toEqual(['len 2', 'len 10', 'len 2', 'len 10']);
    // No shown answer: the group is the rollouts alone.
    expect(outcome.group.every((m) => m.origin === 'rollout')).toBe(true);
    expect(outcome.advantage.spread).toBe(0.5);
  });

  it('a correction joins the group as a known-good answer and scores highest', async () => {
    const correction = 'Seven times eight is fifty-six: multiply 7 by 8 to get 56.';
    const ep = withCorrection(episode({ answer: 'Seven plus eight is fifteen.' }), correction);
    const rollouts = ['Seven times eight equals fifty-six.', 'The sum is fifteen.', 'I cannot say.', 'Multiply 7 by 8 to get 54.'];
    const engine = new ScriptedGenerator([...rollouts, ADD_BARE_NUMBER]);
    const outcome = expectLearned(await learnFromEpisode(ep, [], deps(engine, { verify: undefined }), { groupSize: 4 }));
    expect(outcome.group.map((m) => m.origin)).toEqual(['rollout', 'rollout', 'rollout', 'rollout', 'shown', 'correction']);
    expect(outcome.group.every((m) => m.source === 'reference')).toBe(true);
    const correctionIndex = 5;
    expect(outcome.group[correctionIndex]?.score).toBe(1);
    expect(outcome.advantage.better[0]).toBe(correctionIndex);
    const others = outcome.group.filter((_, i) => i !== correctionIndex).map((m) => m.score);
    expect(Math.max(...others)).toBeLessThan(1);
    // The correction is shown to the model as the best answer.
    const contrast = userTurn(engine.calls[4]?.turns ?? []);
    expect(contrast).toMatch(/<answer n="1" score="1\.00" verdict="better">\nSeven times eight is fifty-six: multiply 7 by 8 to get 56\./);
    expect(outcome.merge.library[0]?.episodeIds).toEqual(['ep-1']);
  });

  it('a verifier outranks a correction: the correction is verified like any other answer', async () => {
    const ep = withVerifier(withCorrection(episode(), 'The product is\n56'));
    const engine = new ScriptedGenerator([' cake tomb', ' tomb', 'wide', 'cake', '[{"op":"NONE"}]']);
    const outcome = await learnFromEpisode(ep, [], deps(engine), { groupSize: 4 });
    expect(outcome.group.map((m) => [m.origin, m.score, m.source])).toEqual([
      ['rollout', 0, 'verifier'],
      ['rollout', 0, 'verifier'],
      ['rollout', 0, 'verifier'],
      ['rollout', 0, 'verifier'],
      ['shown', 0, 'verifier'],
      ['correction', 1, 'verifier'],
    ]);
    expect(outcome.advantage.informative).toBe(true);
    expect(engine.calls).toHaveLength(5);
  });

  it('a thumbs-down with a judge: the judge grades every answer, and the person\'s verdict on the shown answer overrides it', async () => {
    const ep = thumbsDown(episode({ answer: 'seven times eight is fifty six' }));
    const rollouts = ['seven times eight is fifty six', 'seven times eight is fifty six', 'seven times eight is fifty six', 'banana'];
    const judge = ['SCORE: 9', 'SCORE: 9', 'SCORE: 8', 'SCORE: 1', 'SCORE: 10'];
    const engine = new ScriptedGenerator([...rollouts, ...judge, '[{"op":"NONE"}]']);
    const outcome = await learnFromEpisode(ep, [], deps(engine, { verify: undefined }), { groupSize: 4, judge: true });
    // Judge prompts: one per answer, the shown answer included, after the rollouts.
    expect(engine.calls.slice(4, 9).every((c) => c.options.maxNewTokens === 8 && systemTurn(c.turns).includes('SCORE: n'))).toBe(true);
    const shown = outcome.group[4];
    expect(shown).toMatchObject({ origin: 'shown', score: 0, detail: 'judged by the person' });
    expect(outcome.group.slice(0, 4).every((m) => m.source === 'judge')).toBe(true);
    expect(outcome.group[3]?.score).toBeLessThan(outcome.group[0]?.score ?? 0);
  });

  it('a thumbs-down without a judge scores by agreement and the person\'s verdict', async () => {
    const ep = thumbsDown(episode({ answer: 'seven times eight is fifty six' }));
    const engine = new ScriptedGenerator(['seven times eight is fifty six', 'seven times eight is fifty six', 'seven eight fifty six', 'banana', '[{"op":"NONE"}]']);
    const outcome = await learnFromEpisode(ep, [], deps(engine, { verify: undefined }), { groupSize: 4 });
    expect(outcome.group.slice(0, 4).every((m) => m.source === 'agreement')).toBe(true);
    expect(outcome.group[4]).toMatchObject({ origin: 'shown', score: 0 });
    expect(engine.calls).toHaveLength(5);
  });
});

/*
 * Conditioning.
 */

describe('learnFromEpisode: the experience block in rollout prompts', () => {
  it('puts the relevant experiences after the system prompt in every rollout, and leaves unrelated ones out', async () => {
    const engine = new ScriptedGenerator(['56', '56', '56']);
    await learnFromEpisode(withVerifier(episode({ answer: '56' })), [UNRELATED, SHOW_WORK], deps(engine), {
      groupSize: 3,
      systemPrompt: 'You are a careful assistant.',
    });
    expect(engine.calls).toHaveLength(3);
    for (const call of engine.calls) {
      expect(call.turns.map((t) => t.role)).toEqual(['system', 'user']);
      const system = systemTurn(call.turns);
      expect(system.startsWith('You are a careful assistant.\n\n')).toBe(true);
      expect(system).toContain(EXPERIENCES_OPEN);
      expect(system).toContain(SHOW_WORK.text);
      expect(system).not.toContain(UNRELATED.text);
      expect(userTurn(call.turns)).toBe(TASK);
    }
  });

  it('sends no system turn when there is no system prompt and nothing relevant to add', async () => {
    const engine = new ScriptedGenerator(['56', '56']);
    await learnFromEpisode(withVerifier(episode({ answer: '56' })), [UNRELATED], deps(engine), { groupSize: 2 });
    expect(engine.calls.map((c) => c.turns.map((t) => t.role))).toEqual([['user'], ['user']]);
  });

  it('respects the conditioning budget: nothing fits in 10 tokens', async () => {
    const engine = new ScriptedGenerator(['56', '56']);
    await learnFromEpisode(withVerifier(episode({ answer: '56' })), [SHOW_WORK], deps(engine), { groupSize: 2, conditioningBudgetTokens: 10 });
    expect(engine.calls.every((c) => !systemTurn(c.turns).includes(EXPERIENCES_OPEN))).toBe(true);
  });

  it('uses the given rollout and advantage options and clamps G to 1..16', async () => {
    const rollout = { maxNewTokens: 7, temperature: 0.5, topP: 0.8 };
    const advantage = { maxNewTokens: 9, temperature: 0, topP: 1 };
    const many = new ScriptedGenerator(Array.from({ length: 16 }, () => '56'));
    await learnFromEpisode(withVerifier(episode({ answer: '56' })), [], deps(many), { groupSize: 99, rollout });
    expect(many.calls).toHaveLength(16);
    expect(many.calls.every((c) => c.options === rollout)).toBe(true);

    const one = new ScriptedGenerator(['nope', '[{"op":"NONE"}]']);
    await learnFromEpisode(withVerifier(episode({ answer: '56' })), [], deps(one), { groupSize: 0, advantage });
    expect(one.calls).toHaveLength(2);
    expect(one.calls[1]?.options).toBe(advantage);
  });
});

/*
 * Abort.
 */

describe('learnFromEpisode: abort', () => {
  const abortError = (e: unknown): boolean => e instanceof Error && e.name === 'AbortError';

  it('an already aborted signal stops before the first generation', async () => {
    const controller = new AbortController();
    controller.abort();
    const engine = new ScriptedGenerator(MIXED_ROLLOUTS);
    await expect(learnFromEpisode(withVerifier(episode()), [], deps(engine, { signal: controller.signal }), { groupSize: 4 })).rejects.toSatisfy(abortError);
    expect(engine.calls).toHaveLength(0);
  });

  it('an abort during a rollout stops before the next generation, and the signal reaches the engine', async () => {
    const controller = new AbortController();
    const engine = new ScriptedGenerator([
      '56',
      () => {
        controller.abort();
        return 'half an ans';
      },
      '56',
      '56',
    ]);
    await expect(learnFromEpisode(withVerifier(episode()), [], deps(engine, { signal: controller.signal }), { groupSize: 4 })).rejects.toSatisfy(abortError);
    expect(engine.calls).toHaveLength(2);
    expect(engine.calls.every((c) => c.signal === controller.signal)).toBe(true);
  });

  it('an abort during verification stops before the next check and the contrast', async () => {
    const controller = new AbortController();
    let checks = 0;
    const verify: VerifyAnswer = async (v, answer, signal) => {
      if (++checks === 2) controller.abort();
      return lastLineIs56(v, answer, signal);
    };
    const engine = new ScriptedGenerator([...MIXED_ROLLOUTS, ADD_BARE_NUMBER]);
    await expect(learnFromEpisode(withVerifier(episode()), [], deps(engine, { verify, signal: controller.signal }), { groupSize: 4 })).rejects.toSatisfy(
      abortError,
    );
    expect(checks).toBe(2);
    expect(engine.calls).toHaveLength(4);
  });

  it('an abort during a judge call stops before the next one', async () => {
    const controller = new AbortController();
    const ep = thumbsDown(episode());
    const engine = new ScriptedGenerator([
      'a',
      'b',
      () => {
        controller.abort();
        return 'SCORE: 3';
      },
      'SCORE: 4',
    ]);
    await expect(learnFromEpisode(ep, [], deps(engine, { verify: undefined, signal: controller.signal }), { groupSize: 2, judge: true })).rejects.toSatisfy(
      abortError,
    );
    expect(engine.calls).toHaveLength(3);
  });

  // An engine that honours a stop by returning the text it had so far
  // (TransformersBackend does) must not have its half reply parsed.
  it('an abort during the contrast ends in an abort, not in a verdict on the half reply', async () => {
    const controller = new AbortController();
    const engine = new ScriptedGenerator([
      ...MIXED_ROLLOUTS,
      () => {
        controller.abort();
        return '[{"op":"ADD","domain":"math","text":"When asked for a pro';
      },
    ]);
    await expect(learnFromEpisode(withVerifier(episode()), [], deps(engine, { signal: controller.signal }), { groupSize: 4 })).rejects.toSatisfy(abortError);
  });
});

/*
 * Whatever the model says.
 */

/** Answers and judge replies: mostly ones that score differently, so that many groups reach the contrast. */
const answerArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('56', '7 times 8 is\n56', 'fifty-six', ' cake cake tomb', 'SCORE: 7', 'SCORE: 2', 'SCORE: 11', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 120 }) },
);

const VALID_TEXTS = [
  'When multiplying two numbers, give only the product',
  'When multiplying two numbers, check the result by dividing',
  'When asked for a product, give the result as a bare number on the last line',
  'When a question asks for a number, put it alone on the last line',
];

/** Any operation, valid or not: every field from a small set that includes bad values. */
const anyOperation = fc
  .record({
    op: fc.constantFrom('ADD', 'UPDATE', 'DELETE', 'NONE', 'MERGE'),
    id: fc.constantFrom('exp-a', 'exp-b', 'exp-z', 'new-1', ''),
    domain: fc.constantFrom('math', 'units', 'cooking'),
    text: fc.oneof(
      fc.constantFrom(...VALID_TEXTS, 'When anything, x', 'no form at all'),
      fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 80 })).map(([c, st]) => `When ${c}, ${st}`),
    ),
  })
  .map((o) => (o.op === 'ADD' ? { op: o.op, domain: o.domain, text: o.text } : o.op === 'DELETE' ? { op: o.op, id: o.id } : o.op === 'NONE' ? { op: 'NONE' } : { op: o.op, id: o.id, text: o.text }));

/** Operations that are valid whenever their id was shown to the model. */
const plausibleOperation = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('ADD'), domain: fc.constantFrom('math', 'units'), text: fc.constantFrom(...VALID_TEXTS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('UPDATE'), id: fc.constantFrom('exp-a', 'exp-b'), text: fc.constantFrom(...VALID_TEXTS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('DELETE'), id: fc.constantFrom('exp-a', 'exp-b') }) },
);

/** Proposals: operation lists (plausible or anything), sometimes any string or JSON. */
const proposalArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(plausibleOperation, { minLength: 1, maxLength: 3 }).map((ops) => JSON.stringify(ops)) },
  { weight: 2, arbitrary: fc.array(anyOperation, { maxLength: 5 }).map((ops) => JSON.stringify(ops)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
);

type Signal = 'verifier' | 'correction' | 'down' | 'down+judge';

describe('learnFromEpisode: property', () => {
  it('never throws and never returns a library that fails experienceSchema, whatever the engine says', async () => {
    const seen = { learned: 0, 'nothing-to-learn': 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(answerArbitrary, { maxLength: 12 }),
        fc.array(proposalArbitrary, { maxLength: 3 }),
        fc.constantFrom<Signal>('verifier', 'correction', 'down', 'down+judge'),
        fc.integer({ min: 1, max: 5 }),
        fc.subarray([SHOW_WORK, IN_WORDS, UNRELATED]),
        fc.string({ maxLength: 60 }),
        async (answers, proposals, signal, groupSize, library, shown) => {
          // Two cycling scripts, so the pipeline never runs out of replies: one for the
          // contrast (recognised by its system turn), one for everything else.
          let a = 0;
          let p = 0;
          const engine: TextGenerator = {
            generate: async (turns) =>
              systemTurn(turns).startsWith('You maintain an experience library')
                ? (proposals[p++ % Math.max(1, proposals.length)] ?? '')
                : (answers[a++ % Math.max(1, answers.length)] ?? ''),
          };
          let ep = episode({ answer: shown });
          if (signal === 'verifier') ep = withVerifier(ep);
          else if (signal === 'correction') ep = withCorrection(ep, 'Seven times eight is 56.');
          else ep = thumbsDown(ep);
          const before = structuredClone(library);
          const outcome = await learnFromEpisode(ep, library, deps(engine, signal === 'verifier' ? {} : { verify: undefined }), {
            groupSize,
            judge: signal === 'down+judge',
          });
          seen[outcome.status]++;
          expect(library).toEqual(before);
          if (outcome.status === 'learned') {
            for (const e of outcome.merge.library) expect(experienceSchema.safeParse(e).success).toBe(true);
            expect(new Set(outcome.merge.library.map((e) => e.id)).size).toBe(outcome.merge.library.length);
            expect(outcome.merge.log.length).toBeGreaterThan(0);
          } else {
            expect(outcome.reason.length).toBeGreaterThan(0);
          }
          if (outcome.status === 'rejected') expect(outcome.reasons.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 400 },
    );
    // The property must reach every outcome, or it proves little.
    expect(seen.learned).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
    expect(seen['nothing-to-learn']).toBeGreaterThan(0);
  });
});
