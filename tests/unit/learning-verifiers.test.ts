import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkShape,
  extractCodeBlock,
  extractFinalNumber,
  extractJson,
  extractNumbers,
  inferVerifier,
  MAX_VERIFIED_ANSWER_CHARS,
  parseVerifier,
  runVerifier,
  shapeOf,
  shapeSchema,
  verifierSchema,
  type CodeRunner,
  type CodeRunResult,
  type Shape,
  type Verifier,
} from '../../src/lib/learning/verifiers';

describe('extractFinalNumber', () => {
  it.each([
    ['The answer is 42.', 42],
    ['It costs 1,234.5 dollars in total', 1234.5],
    ['so x = -3', -3],
    ['so x = \u22123', -3],
    ['about 42% of them', 42],
    ['≈ 7', 7],
    ['roughly ~7 apples, give or take', 7],
    ['1.234,5 Euro', 1234.5],
    ['3,5 kg', 3.5],
    ['1.5e3 metres', 1500],
    ['.5 of it', 0.5],
    ['First 3 then 4, finally 12 apples left', 12],
    ['Answer: 12 (since 3 × 4 = 12 and 5 is unrelated)', 12],
    ['The final answer is 17, because 10 + 7 = 17; check with 3', 17],
    ['\\boxed{391} and then 5 more words with 6', 391],
    ['work...\n#### 72\nextra 9', 72],
    ['half is 3/4 of it', 0.75],
    ['<think>maybe 99</think>It is 5', 5],
    ['COVID-19 spread', 19],
    ['- 3 apples', 3],
  ])('%j → %s', (answer, expected) => {
    expect(extractFinalNumber(answer)).toBeCloseTo(expected, 10);
  });

  it('returns null where there is no number, or for non-text and oversized input', () => {
    expect(extractFinalNumber('no numbers here')).toBeNull();
    expect(extractFinalNumber('H2O and v1.2')).toBeNull();
    expect(extractFinalNumber(42 as unknown as string)).toBeNull();
    expect(extractFinalNumber('1'.repeat(MAX_VERIFIED_ANSWER_CHARS + 1))).toBeNull();
  });

  it('keeps a date chain as separate numbers, not a fraction', () => {
    expect(extractNumbers('on 12/25/2024').map((n) => n.value)).toEqual([12, 25, 2024]);
  });

  it('property: formatted numbers round-trip (grouping, sign, trailing words and punctuation)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom('', 'The answer is ', 'so x = ', 'Total: ', '≈ '),
        fc.constantFrom('', '.', ' apples.', '%', ' (rounded)', ' km in all'),
        fc.boolean(),
        (whole, decimals, before, after, grouped) => {
          const value = whole / 10 ** decimals;
          const text = grouped
            ? value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
            : value.toFixed(decimals);
          expect(extractFinalNumber(`${before}${text}${after}`)).toBeCloseTo(value, 9);
        },
      ),
    );
  });
});

describe('extractJson', () => {
  it('reads bare JSON, fenced JSON and JSON inside prose', () => {
    expect(extractJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson('Here:\n```json\n[1, 2]\n```\nDone')).toEqual({ ok: true, value: [1, 2] });
    expect(extractJson('Sure! The result is {"name":"x","n":[1]} as asked.')).toEqual({ ok: true, value: { name: 'x', n: [1] } });
    expect(extractJson('42')).toEqual({ ok: true, value: 42 });
  });

  it('skips a broken candidate and finds the next one', () => {
    expect(extractJson('not this {oops} but {"b":2}')).toEqual({ ok: true, value: { b: 2 } });
  });

  it('fails with a reason, never throws', () => {
    expect(extractJson('nothing here')).toMatchObject({ ok: false, reason: 'no JSON value in the answer' });
    expect(extractJson('```json\n{broken\n```')).toMatchObject({ ok: false });
    expect(extractJson('')).toMatchObject({ ok: false });
    expect(extractJson('['.repeat(MAX_VERIFIED_ANSWER_CHARS + 1))).toMatchObject({ ok: false });
  });
});

describe('extractCodeBlock', () => {
  it('takes the first JavaScript or unlabelled block', () => {
    const answer = 'Install:\n```bash\nnpm i\n```\nCode:\n```js\nfunction f() { return 1; }\n```\n```javascript\nother\n```';
    expect(extractCodeBlock(answer)).toEqual({ code: 'function f() { return 1; }', language: 'js' });
    expect(extractCodeBlock('~~~\nx()\n~~~')).toEqual({ code: 'x()', language: '' });
  });

  it('ignores unclosed fences and other languages', () => {
    expect(extractCodeBlock('```js\nfunction f() {')).toBeNull();
    expect(extractCodeBlock('```python\nprint(1)\n```')).toBeNull();
    expect(extractCodeBlock('no code')).toBeNull();
  });

  it('needs a closing fence at least as long as the opening one', () => {
    expect(extractCodeBlock('````js\na\n```\nb\n````')).toEqual({ code: 'a\n```\nb', language: 'js' });
  });
});

describe('shapes', () => {
  it('shapeOf derives required keys and element types', () => {
    expect(shapeOf({ name: 'Ada', age: 36, tags: ['x'], ok: true, none: null })).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string' },
        age: { type: 'number' },
        tags: { type: 'array', items: { type: 'string' } },
        ok: { type: 'boolean' },
        none: { type: 'null' },
      },
      required: ['name', 'age', 'tags', 'ok', 'none'],
    });
  });

  it('shapeOf unites array elements: common keys required, null makes nullable, mixed types become any', () => {
    const s = shapeOf([{ a: 1, b: 'x' }, { a: 2.5 }, null]);
    expect(s).toEqual({
      type: 'array',
      items: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'string' } }, required: ['a'], nullable: true },
    });
    expect(shapeOf([1, 'x'])).toEqual({ type: 'array', items: { type: 'any' } });
    expect(shapeOf([])).toEqual({ type: 'array', items: { type: 'any' } });
  });

  it('shapeOf never describes __proto__ and bounds depth', () => {
    const evil = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown;
    expect(shapeOf(evil)).toEqual({ type: 'object', properties: { a: { type: 'number' } }, required: ['a'] });
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(shapeSchema.safeParse(shapeOf(deep)).success).toBe(true);
    expect(parseVerifier({ kind: 'json-shape', shape: shapeOf(deep) }).ok).toBe(true);
  });

  it('checkShape reports where a value departs', () => {
    const shape = shapeOf({ name: 'x', items: [{ price: 1 }] });
    expect(checkShape(shape, { name: 'y', items: [{ price: 2 }, { price: 3 }], extra: true })).toEqual([]);
    expect(checkShape(shape, { items: [{ price: '2' }] })).toEqual(['$: missing key "name"', '$.items[0].price: expected number, got string']);
    expect(checkShape({ type: 'integer' }, 2.5)).toEqual(['$: expected integer, got a fraction']);
    expect(checkShape({ type: 'object', properties: {}, required: [], additionalProperties: false }, { a: 1 })).toEqual(['$: unexpected key "a"']);
    expect(checkShape({ type: 'array', items: { type: 'any' }, minItems: 2 }, [1])).toEqual(['$: expected at least 2 elements, got 1']);
  });

  it('property: a value always fits the shape derived from it', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const roundTripped = JSON.parse(JSON.stringify(value)) as unknown;
        expect(checkShape(shapeOf(roundTripped), roundTripped)).toEqual([]);
      }),
    );
  });
});

describe('parseVerifier', () => {
  it('accepts the three kinds and rejects malformed ones with a reason', () => {
    expect(parseVerifier({ kind: 'number', expected: 3, tolerance: 0 }).ok).toBe(true);
    expect(parseVerifier({ kind: 'code', language: 'javascript', tests: 'test("a", () => {})' }).ok).toBe(true);
    expect(parseVerifier({ kind: 'number', expected: Number.NaN, tolerance: 0 })).toMatchObject({ ok: false });
    expect(parseVerifier({ kind: 'number', expected: 1, tolerance: -1 })).toMatchObject({ ok: false });
    expect(parseVerifier({ kind: 'code', language: 'python', tests: 'x' })).toMatchObject({ ok: false });
    expect(parseVerifier({ kind: 'json-shape', shape: { type: 'object', properties: {}, required: ['a', 'a'] } })).toMatchObject({ ok: false });
    expect(parseVerifier(JSON.parse('{"kind":"json-shape","shape":{"type":"object","properties":{"__proto__":{"type":"any"}},"required":[]}}'))).toMatchObject({ ok: false });
    expect(parseVerifier('nonsense')).toMatchObject({ ok: false });
  });

  it('refuses absurdly deep input without overflowing the stack', () => {
    let deep: unknown = { type: 'any' };
    for (let i = 0; i < 20_000; i++) deep = { type: 'array', items: deep };
    const r = parseVerifier({ kind: 'json-shape', shape: deep });
    expect(r).toMatchObject({ ok: false });
  });
});

describe('inferVerifier', () => {
  it.each<[string, Verifier | null]>([
    ['42', { kind: 'number', expected: 42, tolerance: 0 }],
    ['  -3.5 ', { kind: 'number', expected: -3.5, tolerance: 0.05 }],
    ['1,234.50', { kind: 'number', expected: 1234.5, tolerance: 0.005 }],
    ['≈ 7', { kind: 'number', expected: 7, tolerance: 0.5 }],
    ['~ 2000', { kind: 'number', expected: 2000, tolerance: 20 }],
    ['12%', { kind: 'number', expected: 12, tolerance: 0 }],
    ['42.', { kind: 'number', expected: 42, tolerance: 0 }],
    ['3/4', { kind: 'number', expected: 0.75, tolerance: 0.00375 }],
    ['The answer is 42', null],
    ['12 apples and 3 pears', null],
    ['"just a string"', null],
    ['', null],
  ])('%j', (correction, expected) => {
    expect(inferVerifier(correction)).toEqual(expected);
  });

  it('turns a JSON object or array (bare or fenced) into a shape verifier', () => {
    expect(inferVerifier('{"city": "Paris", "population": 2100000}')).toEqual({
      kind: 'json-shape',
      shape: { type: 'object', properties: { city: { type: 'string' }, population: { type: 'number' } }, required: ['city', 'population'] },
    });
    expect(inferVerifier('```json\n[1, 2, 3]\n```')).toEqual({ kind: 'json-shape', shape: { type: 'array', items: { type: 'number' } } });
    expect(inferVerifier('{"broken": ')).toBeNull();
  });

  it('property: never throws, and what it returns is a valid verifier', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.double().map(String)), (s) => {
        const v = inferVerifier(s);
        if (v !== null) expect(verifierSchema.safeParse(v).success).toBe(true);
      }),
    );
  });
});

describe('runVerifier', () => {
  it('number: passes within tolerance, fails outside, explains', async () => {
    const v: Verifier = { kind: 'number', expected: 391, tolerance: 0 };
    await expect(runVerifier(v, '17 × 23 = 391')).resolves.toMatchObject({ passed: true, score: 1 });
    const wrong = await runVerifier(v, 'It is 400.');
    expect(wrong).toMatchObject({ passed: false, score: 0 });
    expect(wrong.detail).toContain('400');
    await expect(runVerifier(v, 'I do not know')).resolves.toMatchObject({ passed: false, detail: 'no number in the answer (expected 391)' });
    await expect(runVerifier({ kind: 'number', expected: 0.3, tolerance: 0 }, '0.1 + 0.2 gives 0.30000000000000004')).resolves.toMatchObject({ passed: true });
    await expect(runVerifier({ kind: 'number', expected: 3.14, tolerance: 0.005 }, 'pi ≈ 3.1416')).resolves.toMatchObject({ passed: true });
    await expect(runVerifier({ kind: 'number', expected: 3.14, tolerance: 0.005 }, 'pi ≈ 3.2')).resolves.toMatchObject({ passed: false });
  });

  it('json-shape: passes on the right structure, fails with the problems', async () => {
    const v: Verifier = { kind: 'json-shape', shape: shapeOf({ name: 'x', tags: ['a'] }) };
    await expect(runVerifier(v, 'Here you go: {"name": "Bob", "tags": []}')).resolves.toMatchObject({ passed: true, score: 1 });
    const r = await runVerifier(v, '```json\n{"name": 3}\n```');
    expect(r).toMatchObject({ passed: false, score: 0 });
    expect(r.detail).toContain('missing key "tags"');
    await expect(runVerifier(v, 'no json')).resolves.toMatchObject({ passed: false, detail: 'no JSON value in the answer' });
  });

  const code: Verifier = { kind: 'code', language: 'javascript', tests: 'test("adds", () => assertEqual(add(1, 2), 3));' };
  const runnerReturning = (r: CodeRunResult | Promise<CodeRunResult>, seen: { code?: string; timeoutMs?: number } = {}): CodeRunner => ({
    run: async (c, _tests, options) => {
      seen.code = c;
      seen.timeoutMs = options.timeoutMs;
      return r;
    },
  });

  it('code: runs the first JavaScript block and scores passed/total', async () => {
    const seen: { code?: string; timeoutMs?: number } = {};
    const r = await runVerifier(code, 'Sure:\n```js\nfunction add(a, b) { return a + b; }\n```', runnerReturning({ passed: 3, failed: 1, total: 4, timedOut: false, failures: ['x: boom'] }, seen));
    expect(seen).toEqual({ code: 'function add(a, b) { return a + b; }', timeoutMs: 2000 });
    expect(r).toEqual({ passed: false, score: 0.75, detail: '3 of 4 tests passed: x: boom' });
    await expect(runVerifier(code, '```js\nf()\n```', runnerReturning({ passed: 2, failed: 0, total: 2, timedOut: false }))).resolves.toEqual({
      passed: true,
      score: 1,
      detail: 'all 2 tests passed',
    });
  });

  it('code: fails cleanly without a block, without a runner, on timeouts, errors and nonsense counts', async () => {
    const ok = runnerReturning({ passed: 1, failed: 0, total: 1, timedOut: false });
    await expect(runVerifier(code, 'no code', ok)).resolves.toMatchObject({ passed: false, detail: 'no fenced code block in the answer' });
    await expect(runVerifier(code, '```python\nx\n```', ok)).resolves.toMatchObject({ passed: false, detail: expect.stringContaining('python') });
    await expect(runVerifier(code, '```js\nx\n```')).resolves.toMatchObject({ passed: false, detail: 'no code runner is available to run the tests' });
    await expect(runVerifier(code, '```js\nx\n```', runnerReturning({ passed: 0, failed: 0, total: 0, timedOut: true }))).resolves.toMatchObject({
      passed: false,
      score: 0,
      detail: expect.stringContaining('time limit'),
    });
    await expect(runVerifier(code, '```js\nx\n```', runnerReturning({ passed: 0, failed: 0, total: 0, timedOut: false, error: 'the code does not parse' }))).resolves.toMatchObject({
      passed: false,
      detail: 'the code does not parse',
    });
    await expect(runVerifier(code, '```js\nx\n```', runnerReturning({ passed: 5, failed: 0, total: 2, timedOut: false }))).resolves.toMatchObject({
      passed: false,
      detail: 'the code runner returned inconsistent counts',
    });
    await expect(runVerifier(code, '```js\nx\n```', runnerReturning({ passed: 0, failed: 0, total: 0, timedOut: false }))).resolves.toMatchObject({ passed: false, detail: 'no tests ran' });
    const throwing: CodeRunner = { run: () => Promise.reject(new Error('worker gone')) };
    await expect(runVerifier(code, '```js\nx\n```', throwing)).resolves.toMatchObject({ passed: false, detail: 'the code could not be run: Error: worker gone' });
  });

  it('rejects when the caller aborts, before or during the run', async () => {
    const before = new AbortController();
    before.abort(new Error('stop'));
    await expect(runVerifier(code, '```js\nx\n```', undefined, before.signal)).rejects.toThrow('stop');
    const during = new AbortController();
    const slow: CodeRunner = {
      run: (_c, _t, { signal }) =>
        new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('runner aborted')))),
    };
    const pending = runVerifier(code, '```js\nx\n```', slow, during.signal);
    during.abort(new Error('cancelled by caller'));
    await expect(pending).rejects.toThrow('cancelled by caller');
  });

  it('an invalid verifier is a failed result, not a throw', async () => {
    await expect(runVerifier({ kind: 'number', expected: Number.POSITIVE_INFINITY, tolerance: 0 } as Verifier, '1')).resolves.toMatchObject({
      passed: false,
      detail: expect.stringContaining('invalid verifier'),
    });
    await expect(runVerifier({ kind: 'nope' } as unknown as Verifier, '1')).resolves.toMatchObject({ passed: false });
  });

  it('property: never throws on arbitrary answers, scores stay in 0..1', async () => {
    const shape: Shape = { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] };
    const verifiers: Verifier[] = [{ kind: 'number', expected: 5, tolerance: 0.1 }, { kind: 'json-shape', shape }, code];
    const runner = runnerReturning({ passed: 1, failed: 1, total: 2, timedOut: false });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), fc.constantFrom(...verifiers), async (answer, v) => {
        const r = await runVerifier(v, answer, runner);
        expect(r.score).toBeGreaterThanOrEqual(0);
        expect(r.score).toBeLessThanOrEqual(1);
        expect(typeof r.detail).toBe('string');
        expect(r.detail.length).toBeLessThanOrEqual(500);
      }),
    );
  });
});
