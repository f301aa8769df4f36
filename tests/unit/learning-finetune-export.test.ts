import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createEpisode, type Episode } from '../../src/lib/learning/episode';
import { createExperience, type Experience } from '../../src/lib/learning/experience';
import {
  assistantTurn,
  DEFAULT_SYSTEM_PROMPT,
  exportFinetuneDataset,
  finetuneLineSchema,
  LESSONS_HEADING,
  parseFinetuneLine,
  type FinetuneExportInput,
} from '../../src/lib/learning/finetune-export';

const NOW = 1_760_000_000_000;
const HOUR = 3_600_000;

function ep(id: string, o: Partial<Episode> & { at?: number } = {}): Episode {
  const base = createEpisode({ id, conversationId: 'c1', messageId: `m-${id}`, task: `What is ${id.length} plus 2?`, answer: `It is ${id.length + 2}.`, domain: 'math', now: o.at ?? NOW });
  const { at: _at, ...rest } = o;
  return { ...base, ...rest };
}

const experiences: Experience[] = [
  createExperience({ id: 'x1', text: 'When adding numbers, check the sum by estimating', domain: 'math', confidence: 0.8, episodeIds: [], now: NOW }),
  createExperience({ id: 'x2', text: 'When unsure of a number, say so', domain: 'math', confidence: 0.3, episodeIds: [], now: NOW }),
  createExperience({ id: 'x3', text: 'When writing to Lena, use the api key sk-live-abcdefghijklmnop1234', domain: 'writing', confidence: 0.9, episodeIds: [], now: NOW }),
];

const input = (episodes: readonly unknown[], extra: Partial<FinetuneExportInput> = {}): FinetuneExportInput => ({
  episodes,
  experiences,
  privateVocabulary: ['Lena Novak', 'Lena', 'Novak', { term: 'Brightwater', kind: 'place' }],
  ...extra,
});

const parseAll = (jsonl: string) => (jsonl === '' ? [] : jsonl.split('\n').slice(0, -1).map(parseFinetuneLine));

describe('assistantTurn', () => {
  it('takes the correction first, then a passed check or a thumbs up, never an answer judged bad', () => {
    const e = { answer: 'A', correction: null, feedback: null } as const;
    expect(assistantTurn({ ...e, correction: 'C', feedback: 'down' }, false)).toEqual({ ok: true, text: 'C', source: 'correction' });
    expect(assistantTurn({ ...e, feedback: 'up' }, undefined)).toEqual({ ok: true, text: 'A', source: 'approved-answer' });
    expect(assistantTurn(e, true)).toEqual({ ok: true, text: 'A', source: 'verified-answer' });
    expect(assistantTurn({ ...e, feedback: 'up' }, true)).toMatchObject({ source: 'verified-answer' });
    expect(assistantTurn({ ...e, feedback: 'down' }, true)).toEqual({ ok: false, reason: 'judged-bad' });
    expect(assistantTurn({ ...e, feedback: 'up' }, false)).toEqual({ ok: false, reason: 'failed-check' });
    expect(assistantTurn(e, undefined)).toEqual({ ok: false, reason: 'no-approval' });
  });
});

describe('exportFinetuneDataset', () => {
  it('writes one chat-format line per usable episode, with provenance, every line valid JSON and schema', () => {
    const episodes = [
      ep('a1', { at: NOW + 5 * HOUR + 123, feedback: 'up', usedExperienceIds: ['x1', 'x2', 'gone'] }),
      ep('a2', { at: NOW + HOUR, task: 'What is 7 times 8?', answer: 'It is 54.', correction: 'It is 56.', feedback: 'down' }),
      ep('a3', { at: NOW + 2 * HOUR, task: 'Sum 2 and 2', answer: '4', domain: 'math' }),
      ep('a4', { at: NOW + 3 * HOUR, task: 'Bad one', answer: 'THIS ANSWER WAS BAD', feedback: 'down' }),
      ep('a5', { at: NOW + 4 * HOUR, task: 'No signal', answer: 'Unjudged' }),
      ep('a6', { at: NOW + 6 * HOUR, task: 'Failed check', answer: 'FAILED ANSWER', feedback: 'up' }),
    ];
    const checks = new Map([['a3', true], ['a6', false]]);
    const r = exportFinetuneDataset(input(episodes, { checks }));
    const lines = parseAll(r.jsonl);
    expect(r.jsonl.endsWith('\n')).toBe(true);
    expect(lines).toEqual(r.lines);
    expect(lines.map((l) => [l.metadata.episodeId, l.metadata.source])).toEqual([
      ['a2', 'correction'],
      ['a3', 'verified-answer'],
      ['a1', 'approved-answer'],
    ]);
    const [corrected, , approved] = lines;
    expect(corrected?.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    expect(corrected?.messages[2].content).toBe('It is 56.');
    expect(corrected?.messages[0].content).toBe(DEFAULT_SYSTEM_PROMPT);
    // Only the experience still in the library with enough confidence goes in the system turn.
    expect(approved?.metadata).toMatchObject({ experienceIds: ['x1'], createdHour: new Date(Math.floor((NOW + 5 * HOUR) / HOUR) * HOUR).toISOString(), domain: 'math', format: 'h3lix-finetune', version: 1 });
    expect(approved?.messages[0].content).toBe(`${DEFAULT_SYSTEM_PROMPT}\n\n${LESSONS_HEADING}\n- When adding numbers, check the sum by estimating`);
    expect(r.jsonl).not.toContain('THIS ANSWER WAS BAD');
    expect(r.jsonl).not.toContain('FAILED ANSWER');
    expect(r.jsonl).not.toContain('Unjudged');
    expect(r.report).toMatchObject({
      considered: 6,
      written: 3,
      bySource: { correction: 1, 'approved-answer': 1, 'verified-answer': 1 },
      dropped: { 'judged-bad': 1, 'no-approval': 1, 'failed-check': 1, secret: 0 },
    });
  });

  it('drops a line with a secret anywhere in it, and never writes the secret', () => {
    const secrets = ['ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 'AKIAIOSFODNN7EXAMPLE', 'password: Tr0ub4dor&3', 'my card 4111 1111 1111 1111'];
    const episodes = [
      ep('s1', { task: `Why does ${secrets[0]} fail?`, feedback: 'up' }),
      ep('s2', { answer: `Use ${secrets[1]} to log in`, feedback: 'up' }),
      ep('s3', { correction: `Set ${secrets[2]} in the config` }),
      ep('s4', { task: `Pay with ${secrets[3]}`, correction: 'Never share card numbers.' }),
      ep('ok', { feedback: 'up', usedExperienceIds: ['x3'] }),
    ];
    const r = exportFinetuneDataset(input(episodes));
    for (const s of [...secrets, 'sk-live-abcdefghijklmnop1234', 'Tr0ub4dor', '4111']) expect(r.jsonl).not.toContain(s);
    expect(r.report.dropped.secret).toBe(4);
    expect(r.report.written).toBe(1);
    // The experience with a key is left out of the system turn; the line stays.
    expect(r.lines[0]?.metadata.experienceIds).toEqual([]);
    expect(r.report.experiencesOmitted).toBe(1);
  });

  it('redacts personal data with placeholders and reports redactions by kind', () => {
    const episodes = [
      ep('p1', {
        task: 'Write to Lena Novak at lena.novak@example.org about Brightwater, call +49 30 1234567',
        answer: 'Dear Lena,\n\nI will visit Brightwater on 2025-03-14.\n  Regards',
        feedback: 'up',
      }),
    ];
    const r = exportFinetuneDataset(input(episodes));
    const line = r.lines[0]!;
    expect(line.messages[1].content).toBe('Write to [name] at [email] about [place], call [phone]');
    // Line breaks and indentation survive (answers hold code and letters).
    expect(line.messages[2].content).toBe('Dear [name],\n\nI will visit [place] on [date].\n  Regards');
    for (const s of ['Lena', 'Novak', 'lena.novak', 'Brightwater', '1234567', '2025-03-14']) expect(r.jsonl).not.toContain(s);
    expect(r.report.redactions).toMatchObject({ 'private-term': 4, email: 1, phone: 1, date: 1 });
    expect(r.report.redactedLines).toBe(1);
    expect(line.metadata.redactions).toBe(7);
  });

  it('catches secrets hidden by full-width digits or zero-width characters', () => {
    const hidden = 'card ４１１１ １１１１ １１１１ １１１１';
    const zw = 'token ghp_ABCDEFGH\u200BIJKLMNOPQRSTUVWXYZ0123456789';
    const r = exportFinetuneDataset(input([ep('h1', { task: hidden, feedback: 'up' }), ep('h2', { task: zw, feedback: 'up' })]));
    expect(r.report.dropped.secret).toBe(2);
    expect(r.jsonl).toBe('');
  });

  it('counts invalid episodes, keeps the latest of a repeated id, writes duplicate lines once and keeps the newest lines over the limit', () => {
    const old = ep('d1', { feedback: 'up', updatedAt: NOW });
    const newer = { ...old, answer: 'It is 4, newer.', updatedAt: NOW + 10 };
    const twin = ep('d2', { at: NOW + HOUR, task: old.task, answer: old.answer, feedback: 'up' });
    const later = [1, 2, 3].map((i) => ep(`n${i}`, { at: NOW + (10 + i) * HOUR, task: `Question ${i}`, feedback: 'up' }));
    const r = exportFinetuneDataset(input([newer, { id: 'broken' }, old, twin, ...later], { maxLines: 3 }));
    expect(r.report.dropped).toMatchObject({ invalid: 1, 'duplicate-id': 1, duplicate: 0, 'over-limit': 2 });
    expect(r.lines.map((l) => l.metadata.episodeId)).toEqual(['n1', 'n2', 'n3']);
    const all = exportFinetuneDataset(input([old, twin]));
    expect(all.report.dropped.duplicate).toBe(1);
    expect(all.lines.map((l) => l.metadata.episodeId)).toEqual(['d1']);
  });

  it('rejects bad options and a schema-breaking line on import', () => {
    expect(() => exportFinetuneDataset(input([], { maxLines: -1 }))).toThrow(RangeError);
    expect(() => exportFinetuneDataset(input([], { systemPrompt: 'You serve Lena.' }))).toThrow(RangeError);
    expect(exportFinetuneDataset(input([])).jsonl).toBe('');
    const good = exportFinetuneDataset(input([ep('g1', { feedback: 'up' })])).lines[0]!;
    expect(finetuneLineSchema.safeParse(good).success).toBe(true);
    expect(() => parseFinetuneLine(JSON.stringify({ ...good, messages: [good.messages[1], good.messages[2]] }))).toThrow();
    expect(() => parseFinetuneLine(JSON.stringify({ ...good, extra: 1 }))).toThrow();
    expect(() => parseFinetuneLine('{not json')).toThrow();
  });
});

/*
 * Properties.
 */

const SECRETS = ['ghp_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210', 'AKIAZZZZZZZZZZZZZZZZ', 'sk-live-qwertyuiopasdfgh5678', 'pin: 482913', 'password = "s3cr3t-H0rse"'];
const WORDS = ['fractions', 'denominator', 'sum', 'estimate', 'units', 'Lena', 'write', 'check', 'the', 'answer', 'code\n  line', 'example@mail.org'];

const episodeArb = fc
  .record({
    task: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 }),
    answerWords: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 }),
    feedback: fc.constantFrom<'up' | 'down' | null>('up', 'down', null),
    correction: fc.option(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }), { nil: null }),
    check: fc.constantFrom<boolean | undefined>(true, false, undefined),
    secret: fc.option(fc.record({ which: fc.constantFrom(...SECRETS), where: fc.constantFrom('task', 'answer', 'correction') }), { nil: null }),
    hour: fc.integer({ min: 0, max: 48 }),
    used: fc.subarray(['x1', 'x2', 'x3']),
  });

describe('exportFinetuneDataset: properties', () => {
  it('never writes a planted secret or an answer judged bad; every line parses; output does not depend on input order', () => {
    fc.assert(
      fc.property(fc.array(episodeArb, { maxLength: 12 }), fc.integer(), (specs, seed) => {
        const checks = new Map<string, boolean>();
        const bad: string[] = [];
        const planted: string[] = [];
        const episodes = specs.map((s, i) => {
          const id = `e${i}`;
          // A marker unique to this episode's answer, so that its appearance can be traced.
          let answer = `${s.answerWords.join(' ')} ANSWER${i}MARK`;
          let task = s.task.join(' ');
          let correction = s.correction ? s.correction.join(' ') : null;
          if (s.secret) {
            planted.push(s.secret.which);
            if (s.secret.where === 'task') task += ` ${s.secret.which}`;
            else if (s.secret.where === 'answer') answer += ` ${s.secret.which}`;
            else correction = `${correction ?? 'fix'} ${s.secret.which}`;
          }
          const feedback = correction !== null ? 'down' : s.feedback;
          if (s.check !== undefined) checks.set(id, s.check);
          if (correction !== null || feedback === 'down' || s.check === false || (feedback !== 'up' && s.check !== true)) bad.push(`ANSWER${i}MARK`);
          return ep(id, { at: NOW + s.hour * HOUR, task, answer, correction, feedback, usedExperienceIds: s.used });
        });
        const r = exportFinetuneDataset(input(episodes, { checks }));
        for (const secret of planted) expect(r.jsonl).not.toContain(secret);
        for (const line of parseAll(r.jsonl)) {
          // A marker in an assistant turn belongs to an answer judged good (a correction carries none).
          const m = /ANSWER(\d+)MARK/.exec(line.messages[2].content);
          if (m) expect(bad).not.toContain(m[0]);
          expect(line.messages[1].content).not.toMatch(/ANSWER\d+MARK/);
        }
        const total = r.report.written + Object.values(r.report.dropped).reduce((a, b) => a + b, 0);
        expect(total).toBe(episodes.length);
        // Determinism: any order, same bytes.
        const shuffled = [...episodes];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as Episode, shuffled[i] as Episode];
        }
        const again = exportFinetuneDataset(input(shuffled, { checks }));
        expect(again.jsonl).toBe(r.jsonl);
        expect(again.report).toEqual(r.report);
      }),
      { numRuns: 150 },
    );
  });
});
