/**
 * The code sandbox's pure half (code-harness.ts) and its client
 * (services/code-sandbox.ts). The browser worker itself runs in Playwright;
 * here the harness runs under node:vm (`runInVm`, a test double of the worker:
 * a separate realm with a synchronous time limit), and the client drives
 * `VmSandboxWorkerDouble`, a WorkerLike that does what the worker does
 * (check the request, lock down, say "started", evaluate the harness) in a vm
 * context.
 */
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BLOCKED_GLOBALS,
  buildHarnessSource,
  HARNESS_DONE_PARAM,
  HARNESS_LIMITS,
  lockDownGlobals,
  makeNonce,
  parseHarnessReport,
  parseSandboxRequest,
  prepareSources,
  refusedReport,
  SANDBOX_READY,
  SANDBOX_STARTED,
  type HarnessReport,
} from '../../src/lib/learning/code-harness';
import { AbortedError } from '../../src/lib/engine/errors';
import { CodeSandbox, CodeSandboxUnavailableError } from '../../src/services/code-sandbox';
import type { WorkerEventLike, WorkerLike } from '../../src/services/engine-client';
import { runVerifier, type Verifier } from '../../src/lib/learning/verifiers';

const NONCE = '0123456789abcdef0123456789abcdef';

type VmOutcome = { kind: 'report'; report: HarnessReport } | { kind: 'timed-out' } | { kind: 'pending' } | { kind: 'malformed'; raw: unknown };

/** Test double of the worker: the harness in a fresh vm context, stopped after `timeoutMs` of synchronous work. */
function runInVm(code: string, tests: string, options: { timeoutMs?: number; globals?: Record<string, unknown> } = {}): VmOutcome {
  const sources = prepareSources(code, tests);
  if (!sources.ok) return { kind: 'report', report: refusedReport(sources.reason) };
  const context = vm.createContext({ ...options.globals }, { microtaskMode: 'afterEvaluate' });
  let raw: unknown;
  let called = 0;
  (context as Record<string, unknown>).__done = (r: unknown) => {
    called++;
    // What postMessage does: a structured clone into this realm.
    raw = structuredClone(r);
  };
  const source = `(function (${HARNESS_DONE_PARAM}) {${buildHarnessSource(sources.code, tests, NONCE)}\n})(__done)`;
  try {
    vm.runInContext(source, context, { timeout: options.timeoutMs ?? 500 });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { kind: 'timed-out' };
    throw e;
  }
  if (called === 0) return { kind: 'pending' };
  expect(called).toBe(1);
  const report = parseHarnessReport(raw);
  return report ? { kind: 'report', report } : { kind: 'malformed', raw };
}

function report(code: string, tests: string): HarnessReport {
  const outcome = runInVm(code, tests);
  if (outcome.kind !== 'report') throw new Error(`expected a report, got ${outcome.kind}`);
  return outcome.report;
}

const ADD = 'function add(a, b) { return a + b; }';

describe('harness: counting', () => {
  it('counts passing and failing tests, sync and async, with readable failures', () => {
    const r = report(
      ADD,
      `test('adds', () => assertEqual(add(1, 2), 3));
       test('wrong on purpose', () => assertEqual(add(1, 2), 4));
       it('async', async () => { await null; assertEqual([add(1, 1)], [2]); });
       test('async failure', async () => { await Promise.resolve(); assert(add(2, 2) === 5, 'two and two'); });
       test('throws', () => assertThrows(() => { throw new Error('x'); }));`,
    );
    expect(r).toMatchObject({ passed: 3, failed: 2, total: 5, ignoredTests: 0 });
    expect(r.error).toBeUndefined();
    expect(r.failures).toEqual(['wrong on purpose: AssertionError: expected 4, got 3', 'async failure: AssertionError: two and two']);
  });

  it('assertEqual is deep: arrays, objects, dates, maps, sets, NaN; key order does not matter', () => {
    const r = report(
      '',
      `test('a', () => assertEqual({ a: [1, { b: 2 }], c: 'x' }, { c: 'x', a: [1, { b: 2 }] }));
       test('b', () => assertEqual(new Date(5), new Date(5)));
       test('c', () => assertEqual(new Map([[1, { x: 1 }]]), new Map([[1, { x: 1 }]])));
       test('d', () => assertEqual(new Set([1, 2]), new Set([2, 1])));
       test('e', () => assertEqual(NaN, NaN));
       test('f', () => assertNotEqual({ a: 1 }, { a: 2 }));
       test('g', () => assertEqual({ a: 1 }, { a: 1, b: undefined }));
       test('h', () => assertEqual([1, 2], { 0: 1, 1: 2, length: 2 }));`,
    );
    expect(r).toMatchObject({ passed: 6, failed: 2 });
    expect(r.failures.map((f) => f.split(':')[0])).toEqual(['g', 'h']);
  });

  it('accepts module syntax in the answer (export is stripped)', () => {
    const prepared = prepareSources('export function add(a, b) { return a + b; }\nexport default add;\nexport { add as plus };', '');
    expect(prepared).toEqual({ ok: true, code: 'function add(a, b) { return a + b; }\n\n' });
    expect(report('export const double = (x) => x * 2;', 'test("d", () => assertEqual(double(4), 8));')).toMatchObject({ passed: 1, total: 1 });
  });

  it('reports syntax errors, throwing code and throwing test files as errors', () => {
    expect(report('function (', 'test("a", () => {})')).toMatchObject({ total: 0, errorKind: 'syntax', error: expect.stringContaining('the code does not parse') });
    expect(report(ADD, 'test("a", () => {')).toMatchObject({ total: 0, errorKind: 'syntax', error: expect.stringContaining('the tests do not parse') });
    expect(report('throw new Error("boom")', 'test("a", () => {})')).toMatchObject({ total: 0, errorKind: 'code', error: 'the code threw: Error: boom' });
    const tests = report(ADD, 'test("first", () => assertEqual(add(1, 1), 2)); missing();');
    expect(tests).toMatchObject({ passed: 1, total: 1, errorKind: 'tests', error: expect.stringContaining('the tests threw outside a test: ReferenceError') });
  });

  it('captures console output, capped', () => {
    const r = report('console.log("hello", 42, { a: 1 }); for (let i = 0; i < 10000; i++) console.log("x".repeat(50));', '');
    expect(r.output.startsWith('hello 42 {"a":1}\n')).toBe(true);
    expect(r.output.length).toBeLessThanOrEqual(HARNESS_LIMITS.maxOutputChars);
  });

  it('caps the number of tests', () => {
    const r = report('', `for (let i = 0; i < ${HARNESS_LIMITS.maxTests + 5}; i++) test('t' + i, () => {});`);
    expect(r).toMatchObject({ passed: HARNESS_LIMITS.maxTests, errorKind: 'tests', error: expect.stringContaining(`more than ${HARNESS_LIMITS.maxTests} tests`) });
  });
});

describe('harness: the code cannot cheat', () => {
  it('tests the answer registers itself are ignored, not counted', () => {
    const r = report(`${ADD}\ntest('fake pass', () => {}); it('another', () => {}); describe('suite', () => {});`, 'test("real", () => assertEqual(add(1, 2), 4));');
    expect(r).toMatchObject({ passed: 0, failed: 1, total: 1, ignoredTests: 3 });
  });

  it('shadowing the assertions in the code does not change the tests', () => {
    const r = report(`${ADD}\nconst assertEqual = () => {}; function assert() {} var test = () => {};`, 'test("real", () => assertEqual(add(1, 2), 4));');
    expect(r).toMatchObject({ passed: 0, failed: 1, total: 1 });
  });

  it('patching prototypes does not turn failures into passes', () => {
    const r = report(
      `Promise.prototype.then = function (ok) { ok(); };
       Promise.prototype.constructor = function Fake(executor) { executor(() => {}, () => {}); };
       Array.prototype.push = function () {};
       Object.defineProperty(Array.prototype, '0', { set() {}, configurable: true });
       Object.is = () => true; Object.keys = () => []; JSON.stringify = () => '"fake"';
       function f() { return 1; }`,
      'test("async fails", async () => assertEqual(f(), 2)); test("sync fails", () => assertEqual({ a: f() }, { a: 2 })); test("passes", () => assertEqual(f(), 1));',
    );
    expect(r.passed).toBe(1);
    expect(r.total).toBe(3);
  });

  it('cannot break out of its place in the harness (each source must parse alone)', () => {
    expect(report('}); (async () => {', 'test("a", () => {})')).toMatchObject({ errorKind: 'syntax', total: 0 });
    expect(report('/*', 'test("a", () => {})')).toMatchObject({ errorKind: 'syntax' });
    expect(report('`', 'test("a", () => {})')).toMatchObject({ errorKind: 'syntax' });
    // An early return skips the tests: nothing ran, which the verifier scores as a failure.
    const early = report('return;', 'test("a", () => {})');
    expect(early.total).toBe(0);
    expect(early.error).toBeUndefined();
  });

  it('has no way to evaluate strings after compilation: Function, eval, constructors, string timers', () => {
    const attempts = [
      'Function("return 1")()',
      'eval("1")',
      '(() => {}).constructor("return 1")()',
      '(async () => {}).constructor("return 1")',
      '(function* () {}).constructor("yield 1")',
      'Reflect.construct(Object.getPrototypeOf(function () {}).constructor, ["return 1"])',
    ];
    for (const attempt of attempts) {
      const r = report(attempt, 'test("a", () => {})');
      expect(r, attempt).toMatchObject({ errorKind: 'code', error: expect.stringContaining('code generation from strings is disabled') });
    }
    const timers = runInVm('setTimeout("1", 0)', '', { globals: { setTimeout } });
    expect(timers).toMatchObject({ kind: 'report', report: { errorKind: 'code', error: expect.stringContaining('setTimeout takes a function') } });
  });

  it('refuses import in any form (the network door that is syntax)', () => {
    expect(prepareSources('const m = await import("https://example.com/x.js");', '')).toMatchObject({ ok: false, reason: expect.stringContaining('import') });
    expect(prepareSources('import fs from "fs";', '')).toMatchObject({ ok: false });
    expect(prepareSources('', 'import("data:text/javascript,1")')).toMatchObject({ ok: false });
    // Escaped keywords do not parse, so no spelling gets past the word check.
    expect(report('im\\u0070ort("x")', '')).toMatchObject({ errorKind: 'syntax' });
  });

  it('property: arbitrary code and tests never break the harness (always one well-formed report or a time-out)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (code, tests) => {
        const outcome = runInVm(code, tests, { timeoutMs: 200 });
        expect(outcome.kind === 'report' || outcome.kind === 'timed-out' || outcome.kind === 'pending').toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe('harness: time limits (vm double)', () => {
  it('an infinite loop in the code is stopped', () => {
    const started = Date.now();
    expect(runInVm('while (true) {}', 'test("a", () => {})', { timeoutMs: 200 })).toEqual({ kind: 'timed-out' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an infinite loop inside an async test is stopped too (microtasks run under the limit)', () => {
    expect(runInVm(ADD, 'test("a", async () => { await null; for (;;) {} })', { timeoutMs: 200 })).toEqual({ kind: 'timed-out' });
  });

  it('a promise that never settles leaves the run pending (the client terminates it)', () => {
    expect(runInVm('await new Promise(() => {})', '')).toEqual({ kind: 'pending' });
  });
});

describe('lockDownGlobals', () => {
  it('removes names from the object and its prototype chain, and reports what it could not remove', () => {
    const proto = { fetch: () => 'net', indexedDB: {}, keep: 1 };
    const scope = Object.create(proto) as Record<string, unknown>;
    scope.WebSocket = class {};
    Object.defineProperty(scope, 'caches', { value: {}, writable: true, configurable: false });
    Object.defineProperty(scope, 'navigator', { value: {}, writable: false, configurable: false });
    const r = lockDownGlobals(scope, ['fetch', 'indexedDB', 'WebSocket', 'caches', 'navigator', 'absent']);
    expect(scope.fetch).toBeUndefined();
    expect(scope.indexedDB).toBeUndefined();
    expect(scope.WebSocket).toBeUndefined();
    expect(scope.caches).toBeUndefined();
    expect(scope.keep).toBe(1);
    expect(r).toEqual({ removed: ['fetch', 'indexedDB', 'WebSocket', 'caches'], failed: ['navigator'] });
  });

  it('blocks the network, storage and messaging globals the brief names', () => {
    for (const name of ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'importScripts', 'indexedDB', 'caches', 'BroadcastChannel', 'Worker', 'SharedWorker', 'postMessage', 'navigator']) {
      expect(BLOCKED_GLOBALS).toContain(name);
    }
  });
});

describe('messages', () => {
  it('parses a well-formed report and refuses forged or inconsistent ones', () => {
    const good = refusedReport('nope');
    expect(parseHarnessReport(good)).toEqual(good);
    expect(parseHarnessReport({ ...good, passed: 3, total: 2 })).toBeNull();
    expect(parseHarnessReport({ ...good, extra: 1 })).toBeNull();
    expect(parseHarnessReport({ ...good, error: undefined })).toBeNull();
    expect(parseHarnessReport('result')).toBeNull();
    expect(parseSandboxRequest({ type: 'run', code: 'x', tests: 'y' })).toEqual({ type: 'run', code: 'x', tests: 'y' });
    expect(parseSandboxRequest({ type: 'run', code: 1, tests: 'y' })).toBeNull();
  });

  it('nonces are 32 hex digits from the random source; malformed nonces are refused', () => {
    expect(makeNonce((a) => a.fill(171))).toBe('ab'.repeat(16));
    expect(() => buildHarnessSource('', '', 'x); alert(1); (')).toThrow(RangeError);
  });
});

/*
 * The client, against a worker double that runs the harness in node:vm.
 */

type Listener = (event: WorkerEventLike) => void;

/** Test double of code-sandbox.worker.ts: the same steps, in a vm context, on a later tick like a real worker. */
class VmSandboxWorkerDouble implements WorkerLike {
  readonly #listeners = new Map<string, Listener[]>();
  terminated = false;
  received: unknown[] = [];

  constructor(private readonly behaviour: 'normal' | 'never-starts' | 'load-error' | 'eval-blocked' = 'normal') {
    // Like the module worker: it says "ready" once loaded; a request before that would be lost.
    setTimeout(() => {
      if (this.behaviour === 'load-error') this.#emit('error', { message: 'Failed to load module script' });
      else if (this.behaviour !== 'never-starts') {
        this.#ready = true;
        this.#emit('message', { data: SANDBOX_READY });
      }
    }, 0);
  }

  #ready = false;
  /** Requests that arrived before "ready" (dropped, as Chromium may). */
  lost = 0;

  addEventListener(type: 'message' | 'messageerror' | 'error', listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  #emit(type: string, event: WorkerEventLike): void {
    if (this.terminated) return;
    for (const l of this.#listeners.get(type) ?? []) l(event);
  }

  postMessage(message: unknown): void {
    this.received.push(message);
    if (!this.#ready) {
      this.lost++;
      return;
    }
    setTimeout(() => this.#handle(message), 0);
  }

  terminate(): void {
    this.terminated = true;
  }

  #handle(message: unknown): void {
    if (this.behaviour === 'eval-blocked') {
      this.#emit('message', { data: refusedReport('the sandbox may not evaluate code here (Content-Security-Policy)', 'eval-blocked') });
      return;
    }
    const request = parseSandboxRequest(message);
    if (!request) return;
    this.#emit('message', { data: SANDBOX_STARTED });
    const outcome = runInVm(request.code, request.tests, { timeoutMs: 300 });
    // A timed-out or pending run sends nothing, like a worker stuck in a loop.
    if (outcome.kind === 'report') setTimeout(() => this.#emit('message', { data: outcome.report }), 0);
  }
}

describe('CodeSandbox (client)', () => {
  it('runs in a fresh worker per call, returns the counts and terminates the worker', async () => {
    const workers: VmSandboxWorkerDouble[] = [];
    const sandbox = new CodeSandbox(() => {
      const w = new VmSandboxWorkerDouble();
      workers.push(w);
      return w;
    });
    const tests = 'test("a", () => assertEqual(add(1, 2), 3)); test("b", () => assertEqual(add(2, 2), 5));';
    await expect(sandbox.run(ADD, tests, { timeoutMs: 1_000 })).resolves.toEqual({
      passed: 1,
      failed: 1,
      total: 2,
      timedOut: false,
      failures: ['b: AssertionError: expected 5, got 4'],
    });
    await expect(sandbox.run(ADD, tests, { timeoutMs: 1_000 })).resolves.toMatchObject({ passed: 1 });
    expect(workers).toHaveLength(2);
    expect(workers.every((w) => w.terminated)).toBe(true);
    // The request went out only after "ready", exactly once per worker.
    expect(workers.map((w) => [w.lost, w.received.length])).toEqual([
      [0, 1],
      [0, 1],
    ]);
  });

  it('an infinite loop cannot hang the caller: the worker is terminated and the run times out', async () => {
    const worker = new VmSandboxWorkerDouble();
    const sandbox = new CodeSandbox(() => worker);
    await expect(sandbox.run('while (true) {}', 'test("a", () => {})', { timeoutMs: 100 })).resolves.toMatchObject({ timedOut: true, total: 0 });
    expect(worker.terminated).toBe(true);
  });

  it('abort terminates the worker and rejects with AbortedError', async () => {
    const worker = new VmSandboxWorkerDouble();
    const controller = new AbortController();
    const pending = new CodeSandbox(() => worker).run('await new Promise(() => {})', '', { timeoutMs: 5_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    expect(worker.terminated).toBe(true);
    const already = new AbortController();
    already.abort();
    await expect(new CodeSandbox(() => new VmSandboxWorkerDouble()).run('', '', { timeoutMs: 100, signal: already.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('a sandbox that cannot run rejects with CodeSandboxUnavailableError', async () => {
    await expect(new CodeSandbox(() => new VmSandboxWorkerDouble('load-error')).run('', '', { timeoutMs: 100 })).rejects.toBeInstanceOf(CodeSandboxUnavailableError);
    await expect(new CodeSandbox(() => new VmSandboxWorkerDouble('eval-blocked')).run('', '', { timeoutMs: 100 })).rejects.toThrow(/Content-Security-Policy/);
    await expect(new CodeSandbox(() => new VmSandboxWorkerDouble('never-starts'), { startTimeoutMs: 50 }).run('', '', { timeoutMs: 100 })).rejects.toThrow('did not start');
    await expect(
      new CodeSandbox(() => {
        throw new Error('no workers here');
      }).run('', '', { timeoutMs: 100 }),
    ).rejects.toBeInstanceOf(CodeSandboxUnavailableError);
  });

  it('refuses imports without starting a worker', async () => {
    let created = 0;
    const sandbox = new CodeSandbox(() => {
      created++;
      return new VmSandboxWorkerDouble();
    });
    await expect(sandbox.run('import("https://example.com")', '', { timeoutMs: 100 })).resolves.toMatchObject({ total: 0, error: expect.stringContaining('import') });
    expect(created).toBe(0);
  });

  it('end to end with runVerifier: partial credit from real test runs', async () => {
    const verifier: Verifier = {
      kind: 'code',
      language: 'javascript',
      tests: 'test("small", () => assertEqual(fib(5), 5)); test("zero", () => assertEqual(fib(0), 0)); test("big", () => assertEqual(fib(30), 832040));',
    };
    const sandbox = new CodeSandbox(() => new VmSandboxWorkerDouble());
    const right = '```js\nfunction fib(n) { let a = 0, b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; }\n```';
    const offByOne = '```js\nfunction fib(n) { let a = 1, b = 1; for (let i = 1; i < n; i++) [a, b] = [b, a + b]; return n === 0 ? 1 : a; }\n```';
    await expect(runVerifier(verifier, right, sandbox)).resolves.toEqual({ passed: true, score: 1, detail: 'all 3 tests passed' });
    const partial = await runVerifier(verifier, offByOne, sandbox);
    expect(partial.passed).toBe(false);
    expect(partial.score).toBeCloseTo(2 / 3);
    const looping = await runVerifier(verifier, '```js\nfunction fib(n) { while (true) {} }\n```', sandbox, undefined, { timeoutMs: 100 });
    expect(looping).toMatchObject({ passed: false, score: 0, detail: expect.stringContaining('time limit') });
  });
});
