/**
 * The pure half of the code sandbox (issue 4, item 1: "a unit-tested code
 * snippet run in a sandboxed worker"): what runs inside the sandbox, as
 * source text, and how its messages are checked on both sides.
 *
 * Shape of a run. The sandbox (src/workers/code-sandbox.worker.ts, a fresh
 * module worker per run that src/services/code-sandbox.ts terminates on its
 * time limit) removes the network, storage and messaging globals
 * (`lockDownGlobals`), then evaluates `buildHarnessSource(...)` with the
 * Function constructor. That source is a small test runtime which
 *
 * 1. captures the intrinsics it needs (Reflect.apply, Object.is,
 *    Promise.prototype.then, …) before any untrusted code runs, so code that
 *    patches prototypes cannot change how tests are counted or compared;
 * 2. checks that the answer's code and the tests each parse on their own as
 *    a strict async function body (so neither can close the other's scope or
 *    comment it out) and compiles both into one function:
 *
 *        "use strict"; return async (<nonce>) => {
 *          <code>
 *          ;<nonce>.begin();
 *          await (async (test, it, assert, assertEqual, …) => { <tests> })(<nonce>.test, …);
 *        };
 *
 *    The code sees only globals and its own bindings: the test API reaches
 *    the tests as parameters, under a random name the code cannot guess, so
 *    the code can neither register passing tests of its own nor shadow
 *    `assertEqual` with one that always passes;
 * 3. disables code generation from strings (the Function constructors, eval,
 *    string timers): together with the refusal of the `import` keyword this
 *    closes `import()`, the one network door that is syntax, not a global;
 * 4. runs the registered tests one by one (async ones awaited through the
 *    captured `then`) and calls `done(report)` exactly once.
 *
 * What the sandbox does not stop: a loop that never ends (the client's time
 * limit terminates the worker) and CPU or memory use until then.
 *
 * Pure: strings and zod; runs in Node for the tests (tests/unit, under
 * node:vm as a test double of the worker).
 */
import { z } from 'zod';
import { MAX_CODE_CHARS, MAX_TESTS_CHARS } from './verifiers';

export interface HarnessLimits {
  /** Most tests one run may register. */
  maxTests: number;
  /** Captured console output kept (characters). */
  maxOutputChars: number;
  /** Longest failure message per test. */
  maxMessageChars: number;
  /** Longest test name kept. */
  maxNameChars: number;
  /** Failure messages reported (the rest are counted only). */
  maxFailures: number;
  /** Longest error text. */
  maxErrorChars: number;
  /** Deepest values assertEqual compares. */
  maxCompareDepth: number;
}

export const HARNESS_LIMITS: Readonly<HarnessLimits> = Object.freeze({
  maxTests: 200,
  maxOutputChars: 4_000,
  maxMessageChars: 300,
  maxNameChars: 120,
  maxFailures: 10,
  maxErrorChars: 500,
  maxCompareDepth: 100,
});

/** The names the tests see. `it` is `test`; `assertDeepEqual` is `assertEqual` (always deep). */
export const TEST_API_NAMES = ['test', 'it', 'assert', 'assertEqual', 'assertDeepEqual', 'assertNotEqual', 'assertThrows'] as const;

/**
 * Globals removed before untrusted code runs: every way out of a worker we
 * know of (network, storage, messaging, nested workers, notifications, fonts
 * that fetch) and the navigator (storage, locks, devices). Defence in depth:
 * the sandbox only ever holds the answer's code and the tests, and dies after
 * the run; `import()` is closed separately (see the module comment).
 */
export const BLOCKED_GLOBALS = [
  // network
  'fetch',
  'XMLHttpRequest',
  'XMLHttpRequestEventTarget',
  'XMLHttpRequestUpload',
  'WebSocket',
  'WebSocketStream',
  'WebTransport',
  'EventSource',
  'RTCPeerConnection',
  'RTCDataChannel',
  'RTCRtpScriptTransform',
  'FontFace',
  'FontFaceSet',
  'fonts',
  'importScripts',
  // storage
  'indexedDB',
  'IDBFactory',
  'caches',
  'CacheStorage',
  'Cache',
  'cookieStore',
  'CookieStore',
  'localStorage',
  'sessionStorage',
  'webkitRequestFileSystem',
  'webkitRequestFileSystemSync',
  'webkitResolveLocalFileSystemURL',
  'webkitResolveLocalFileSystemSyncURL',
  'requestFileSystem',
  'FileSystemHandle',
  'FileSystemDirectoryHandle',
  'FileSystemFileHandle',
  'FileSystemSyncAccessHandle',
  'StorageManager',
  // messaging and other contexts
  'postMessage',
  'BroadcastChannel',
  'MessageChannel',
  'MessagePort',
  'Worker',
  'SharedWorker',
  'ServiceWorker',
  'ServiceWorkerContainer',
  'Notification',
  'PushManager',
  'sendBeacon',
  // device and browser state
  'navigator',
  'WorkerNavigator',
  'Navigator',
  'LockManager',
] as const;

export interface LockdownResult {
  /** Names that existed and are gone. */
  removed: string[];
  /** Names still reachable with a value: the sandbox must not run code. */
  failed: string[];
}

/**
 * Removes `names` from a global object: deleted wherever they are own
 * properties along its prototype chain (Web APIs live on
 * WorkerGlobalScope.prototype and its relatives), or, where deletion is
 * refused, redefined as undefined and read-only. Anything still defined
 * afterwards is reported in `failed`.
 */
export function lockDownGlobals(scope: object, names: readonly string[] = BLOCKED_GLOBALS): LockdownResult {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const name of names) {
    let found = false;
    for (let obj: object | null = scope; obj !== null; obj = Object.getPrototypeOf(obj) as object | null) {
      if (!Object.hasOwn(obj, name)) continue;
      found = true;
      try {
        Reflect.deleteProperty(obj, name);
      } catch {
        // Refused: fall through to redefining it.
      }
      if (Object.hasOwn(obj, name)) {
        try {
          Object.defineProperty(obj, name, { value: undefined, writable: false, enumerable: false, configurable: false });
        } catch {
          // Non-configurable and non-writable: reported below.
        }
      }
    }
    let still: unknown;
    try {
      still = (scope as Record<string, unknown>)[name];
    } catch {
      still = undefined;
    }
    if (still !== undefined) failed.push(name);
    else if (found) removed.push(name);
  }
  return { removed, failed };
}

/*
 * Sources.
 */

export type SourceCheck = { ok: true; code: string } | { ok: false; reason: string };

const IMPORT_KEYWORD = /\bimport\b/;
/** `export` in front of a top-level declaration, as models write modules. */
const EXPORT_DECLARATION = /^([ \t]*)export[ \t]+(?:default[ \t]+)?(?=(?:async[ \t]+)?function\b|class\b|const\b|let\b|var\b)/gm;
/** `export { a, b as c };` and `export default name;` lines. */
const EXPORT_LIST = /^[ \t]*export[ \t]*(?:\{[^}\n]*\}|default[ \t]+[A-Za-z_$][\w$]*)[ \t]*;?[ \t]*$/gm;

/**
 * Checks the two sources and turns module syntax in the code into plain
 * declarations (`export function f` becomes `function f`; `export { f }` and
 * `export default f;` lines go): the sandbox has no modules. Any `import`
 * (static or `import()`, even in a comment or a string: the check is on the
 * word) is refused, since `import()` is the one way to the network that
 * cannot be removed as a global.
 */
export function prepareSources(code: unknown, tests: unknown): SourceCheck {
  if (typeof code !== 'string' || typeof tests !== 'string') return { ok: false, reason: 'code and tests must be text' };
  if (code.length > MAX_CODE_CHARS) return { ok: false, reason: `the code is longer than ${MAX_CODE_CHARS} characters` };
  if (tests.length > MAX_TESTS_CHARS) return { ok: false, reason: `the tests are longer than ${MAX_TESTS_CHARS} characters` };
  if (IMPORT_KEYWORD.test(code)) return { ok: false, reason: 'the code uses "import": modules and the network are not available in the sandbox' };
  if (IMPORT_KEYWORD.test(tests)) return { ok: false, reason: 'the tests use "import": modules and the network are not available in the sandbox' };
  return { ok: true, code: code.replace(EXPORT_LIST, '').replace(EXPORT_DECLARATION, '$1') };
}

/** Nonces: the test API's parameter name, so it must be an identifier no one can guess. */
export const NONCE_PATTERN = /^[a-z0-9]{16,64}$/;

/** The name of the one parameter of the harness source: the callback that receives the report. */
export const HARNESS_DONE_PARAM = '__h3lixHarnessDone';

/**
 * The test runtime, as source (see the module comment). It is the body of a
 * function with one parameter, HARNESS_DONE_PARAM, which it calls once with
 * the report. Placeholders are filled by buildHarnessSource.
 */
const RUNTIME = String.raw`"use strict";
const CODE = /*CODE*/;
const TESTS = /*TESTS*/;
const N = /*NONCE*/;
const LIMITS = /*LIMITS*/;
const done = ${HARNESS_DONE_PARAM};

// 1. Intrinsics, captured before any untrusted code runs.
const G = globalThis;
const apply = Reflect.apply;
const create = Object.create;
const defineProperty = Object.defineProperty;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const getProto = Object.getPrototypeOf;
const hasOwn = Object.hasOwn;
const objectKeys = Object.keys;
const is = Object.is;
const isArray = Array.isArray;
const _Array = Array;
const _Error = Error;
const _TypeError = TypeError;
const _EvalError = EvalError;
const _Promise = Promise;
const promiseThen = Promise.prototype.then;
const strSlice = String.prototype.slice;
const jsonStringify = JSON.stringify;
const dateGetTime = Date.prototype.getTime;
const DateProto = Date.prototype;
const RegExpProto = RegExp.prototype;
const regexpToString = RegExp.prototype.toString;
const MapProto = Map.prototype;
const SetProto = Set.prototype;
const mapForEach = Map.prototype.forEach;
const mapHas = Map.prototype.has;
const mapGet = Map.prototype.get;
const mapSize = getOwnPropertyDescriptor(Map.prototype, 'size').get;
const setForEach = Set.prototype.forEach;
const setHas = Set.prototype.has;
const setSize = getOwnPropertyDescriptor(Set.prototype, 'size').get;
const FunctionCtor = Function;
const AsyncFunctionCtor = getProto(async function () {}).constructor;
const GeneratorFunctionCtor = getProto(function* () {}).constructor;
const AsyncGeneratorFunctionCtor = getProto(async function* () {}).constructor;

function clip(s, n) {
  return s.length > n ? apply(strSlice, s, [0, n - 1]) + '\u2026' : s;
}
function safeGet(obj, key) {
  try { return obj[key]; } catch (e) { return undefined; }
}
/** A thrown value as text, without trusting its toString. */
function describe(e) {
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const message = safeGet(e, 'message');
      const name = safeGet(e, 'name');
      if (typeof message === 'string') {
        return clip((typeof name === 'string' && name !== '' ? clip(name, 40) + ': ' : '') + clip(message, LIMITS.maxMessageChars), LIMITS.maxMessageChars);
      }
      return 'a thrown ' + typeof e + ' without a message';
    }
    if (typeof e === 'string') return clip(e, LIMITS.maxMessageChars);
    if (typeof e === 'symbol') return 'a thrown symbol';
    return clip('' + e, LIMITS.maxMessageChars);
  } catch (inner) {
    return 'an error that cannot be described';
  }
}
/** A value in a message, shortened. */
function show(v) {
  try {
    if (typeof v === 'string') return clip(jsonStringify(clip(v, 200)), 210);
    if (typeof v === 'bigint') return '' + v + 'n';
    if (typeof v === 'symbol') return 'a symbol';
    if (typeof v === 'function') return 'a function';
    if (v === undefined) return 'undefined';
    if (typeof v !== 'object' || v === null) return '' + v;
    const json = jsonStringify(v);
    return typeof json === 'string' ? clip(json, 200) : 'an object';
  } catch (e) {
    return 'an object';
  }
}
function fresh(values, count) {
  const out = [];
  for (let i = 0; i < count; i++) defineProperty(out, i, { value: values[i], writable: true, enumerable: true, configurable: true });
  return out;
}

// Console output, captured and capped.
let output = '';
function write(args) {
  if (output.length >= LIMITS.maxOutputChars) return;
  let line = '';
  for (let i = 0; i < args.length; i++) line += (i > 0 ? ' ' : '') + (typeof args[i] === 'string' ? clip(args[i], 1000) : show(args[i]));
  output = clip(output + line + '\n', LIMITS.maxOutputChars);
}
const captured = create(null);
captured.log = function (...args) { write(args); };
captured.info = captured.log;
captured.warn = captured.log;
captured.error = captured.log;
captured.debug = captured.log;
try { defineProperty(G, 'console', { value: captured, writable: true, configurable: true }); } catch (e) { /* keep going */ }

// 2. The test API.
let stage = 'code';
const registered = create(null);
let registeredCount = 0;
let ignored = 0;
function test(name, fn) {
  if (stage !== 'tests') { ignored++; return; }
  if (typeof fn !== 'function') throw new _TypeError('test(name, fn): fn must be a function');
  if (registeredCount >= LIMITS.maxTests) throw new _Error('more than ' + LIMITS.maxTests + ' tests');
  registered[registeredCount] = { name: typeof name === 'string' && name !== '' ? clip(name, LIMITS.maxNameChars) : 'test ' + (registeredCount + 1), fn: fn };
  registeredCount++;
}
function assertionError(message) {
  const e = new _Error(message);
  defineProperty(e, 'name', { value: 'AssertionError', writable: true, configurable: true });
  return e;
}
function prefix(message) {
  return typeof message === 'string' && message !== '' ? clip(message, 100) + ': ' : '';
}
function deepEqual(a, b, depth) {
  if (is(a, b)) return true;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (depth > LIMITS.maxCompareDepth) throw new _Error('the values are nested too deeply to compare');
  const proto = getProto(a);
  if (proto !== getProto(b)) return false;
  if (isArray(a)) {
    if (!isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (proto === DateProto) return is(apply(dateGetTime, a, []), apply(dateGetTime, b, []));
  if (proto === RegExpProto) return apply(regexpToString, a, []) === apply(regexpToString, b, []);
  if (proto === MapProto) {
    if (apply(mapSize, a, []) !== apply(mapSize, b, [])) return false;
    let same = true;
    apply(mapForEach, a, [function (value, key) {
      if (same && (!apply(mapHas, b, [key]) || !deepEqual(value, apply(mapGet, b, [key]), depth + 1))) same = false;
    }]);
    return same;
  }
  if (proto === SetProto) {
    if (apply(setSize, a, []) !== apply(setSize, b, [])) return false;
    let same = true;
    apply(setForEach, a, [function (value) { if (same && !apply(setHas, b, [value])) same = false; }]);
    return same;
  }
  const ka = objectKeys(a);
  const kb = objectKeys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i];
    if (!hasOwn(b, k) || !deepEqual(a[k], b[k], depth + 1)) return false;
  }
  return true;
}
function assert(condition, message) {
  if (!condition) throw assertionError(typeof message === 'string' && message !== '' ? clip(message, 200) : 'assertion failed');
}
function assertEqual(actual, expected, message) {
  if (!deepEqual(actual, expected, 0)) throw assertionError(prefix(message) + 'expected ' + show(expected) + ', got ' + show(actual));
}
function assertNotEqual(actual, unexpected, message) {
  if (deepEqual(actual, unexpected, 0)) throw assertionError(prefix(message) + 'expected a value other than ' + show(unexpected));
}
function assertThrows(fn, message) {
  if (typeof fn !== 'function') throw new _TypeError('assertThrows(fn): fn must be a function');
  try { fn(); } catch (e) { return; }
  throw assertionError(prefix(message) + 'expected the function to throw');
}
// An answer's own jest-style tests (test(...), it(...), describe(...) in the code block) are ignored, not errors.
const ignore = function () { ignored++; };
try {
  defineProperty(G, 'test', { value: ignore, writable: true, configurable: true });
  defineProperty(G, 'it', { value: ignore, writable: true, configurable: true });
  defineProperty(G, 'describe', { value: ignore, writable: true, configurable: true });
} catch (e) { /* the code then fails with a ReferenceError, which is reported */ }
const api = create(null);
api.test = test;
api.assert = assert;
api.assertEqual = assertEqual;
api.assertNotEqual = assertNotEqual;
api.assertThrows = assertThrows;
api.begin = function () { if (stage === 'code') stage = 'tests'; };

// 4. Reporting.
let finished = false;
let passed = 0;
let failed = 0;
const failures = create(null);
let failureCount = 0;
function finish(error, errorKind) {
  if (finished) return;
  finished = true;
  const report = {
    type: 'result',
    passed: passed,
    failed: failed,
    total: passed + failed,
    failures: fresh(failures, failureCount),
    output: output,
    ignoredTests: ignored,
  };
  if (typeof error === 'string') {
    report.error = clip(error, LIMITS.maxErrorChars);
    report.errorKind = errorKind;
  }
  done(report);
}
function fail(name, e) {
  failed++;
  if (failureCount < LIMITS.maxFailures) failures[failureCount++] = clip(name + ': ' + describe(e), LIMITS.maxMessageChars + LIMITS.maxNameChars + 2);
}

// 3. Compile. Each source must parse on its own, so neither can reach into the other's text.
try {
  new AsyncFunctionCtor('"use strict";\n' + CODE);
} catch (e) {
  if (e instanceof _EvalError) { finish('the sandbox may not evaluate code here (Content-Security-Policy): ' + describe(e), 'eval-blocked'); return; }
  finish('the code does not parse: ' + describe(e), 'syntax');
  return;
}
try {
  new AsyncFunctionCtor('"use strict";\n' + TESTS);
} catch (e) {
  finish('the tests do not parse: ' + describe(e), 'syntax');
  return;
}
let body;
try {
  body = new FunctionCtor(
    '"use strict";\nreturn async (' + N + ') => {\n' + CODE + '\n;\n' + N + '.begin();\n' +
    'await (async (test, it, assert, assertEqual, assertDeepEqual, assertNotEqual, assertThrows) => {\n' + TESTS + '\n})(' +
    N + '.test, ' + N + '.test, ' + N + '.assert, ' + N + '.assertEqual, ' + N + '.assertEqual, ' + N + '.assertNotEqual, ' + N + '.assertThrows);\n};',
  )();
} catch (e) {
  finish('the code and tests do not compile together: ' + describe(e), 'syntax');
  return;
}

// No more code from strings: closes eval, the Function constructors and import() through them.
const blocked = function () { throw new _EvalError('code generation from strings is disabled in the sandbox'); };
try { defineProperty(blocked, 'prototype', { value: FunctionCtor.prototype }); } catch (e) { /* cosmetic */ }
const ctors = [FunctionCtor, AsyncFunctionCtor, GeneratorFunctionCtor, AsyncGeneratorFunctionCtor];
for (let i = 0; i < ctors.length; i++) {
  try { defineProperty(ctors[i].prototype, 'constructor', { value: blocked, writable: false, configurable: false }); } catch (e) { finish('the sandbox could not disable code generation', 'sandbox'); return; }
}
try {
  defineProperty(G, 'Function', { value: blocked, writable: false, configurable: false });
  defineProperty(G, 'eval', { value: blocked, writable: false, configurable: false });
} catch (e) { finish('the sandbox could not disable code generation', 'sandbox'); return; }
const timers = ['setTimeout', 'setInterval'];
for (let i = 0; i < timers.length; i++) {
  const timerName = timers[i];
  const original = G[timerName];
  if (typeof original !== 'function') continue;
  const guarded = function (handler, delay, ...rest) {
    if (typeof handler !== 'function') throw new _TypeError(timerName + ' takes a function in the sandbox');
    return apply(original, G, [handler, delay, ...rest]);
  };
  try { defineProperty(G, timerName, { value: guarded, writable: false, configurable: false }); } catch (e) { finish('the sandbox could not guard timers', 'sandbox'); return; }
}

// 4. Run: the body (code, then the tests' top level, which registers tests), then each test in turn.
let index = 0;
function next() {
  while (index < registeredCount) {
    const t = registered[index++];
    let result;
    try {
      result = apply(t.fn, undefined, []);
    } catch (e) {
      fail(t.name, e);
      continue;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
      let settled = false;
      const onPass = function () { if (settled) return; settled = true; passed++; next(); };
      const onFail = function (e) { if (settled) return; settled = true; fail(t.name, e); next(); };
      try {
        apply(promiseThen, result, [onPass, onFail]);
        return;
      } catch (e) {
        if (typeof safeGet(result, 'then') === 'function') { settled = true; fail(t.name, 'the test returned a thenable that is not a promise'); continue; }
      }
    }
    passed++;
  }
  finish();
}
let running;
try {
  running = body(api);
} catch (e) {
  finish('the code threw: ' + describe(e), 'code');
  return;
}
apply(promiseThen, running, [
  function () { stage = 'running'; next(); },
  function (e) {
    const where = stage === 'code' ? 'code' : 'tests';
    stage = 'running';
    if (where === 'code') { finish('the code threw: ' + describe(e), 'code'); return; }
    const error = 'the tests threw outside a test: ' + describe(e);
    const previous = finish;
    // Run what was registered, then report the error with the counts (a function declaration's binding can be reassigned).
    finish = function () { previous(error, 'tests'); };
    next();
  },
]);
`;

/**
 * The harness for one run: the body of a function whose single parameter is
 * HARNESS_DONE_PARAM (the report callback). Evaluate it with
 * `new Function(HARNESS_DONE_PARAM, source)(done)`. Throws RangeError on a
 * malformed nonce (a programming error); code and tests are embedded as
 * string literals, so their content cannot change the harness's structure.
 */
export function buildHarnessSource(code: string, tests: string, nonce: string, limits: HarnessLimits = HARNESS_LIMITS): string {
  if (!NONCE_PATTERN.test(nonce)) throw new RangeError('buildHarnessSource: the nonce must be 16-64 lowercase letters and digits');
  // JSON is valid JavaScript for strings (U+2028/2029 included since ES2019).
  return RUNTIME.replace('/*CODE*/', () => JSON.stringify(String(code)))
    .replace('/*TESTS*/', () => JSON.stringify(String(tests)))
    .replace('/*NONCE*/', () => JSON.stringify(`h3lix_${nonce}`))
    .replace('/*LIMITS*/', () => JSON.stringify(limits));
}

/** A nonce from a cryptographic source: 128 bits as 32 hex digits. */
export function makeNonce(getRandomValues: (array: Uint8Array) => Uint8Array): string {
  const bytes = getRandomValues(new Uint8Array(16));
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/*
 * Messages.
 */

export const HARNESS_ERROR_KINDS = ['syntax', 'code', 'tests', 'eval-blocked', 'sandbox', 'refused'] as const;
export type HarnessErrorKind = (typeof HARNESS_ERROR_KINDS)[number];

const count = z.int().min(0).max(HARNESS_LIMITS.maxTests);

/** What the sandbox reports: checked with this before it is believed. */
export const harnessReportSchema = z
  .strictObject({
    type: z.literal('result'),
    passed: count,
    failed: count,
    total: count,
    failures: z.array(z.string().max(HARNESS_LIMITS.maxMessageChars + HARNESS_LIMITS.maxNameChars + 2)).max(HARNESS_LIMITS.maxFailures),
    output: z.string().max(HARNESS_LIMITS.maxOutputChars),
    ignoredTests: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
    error: z.string().max(HARNESS_LIMITS.maxErrorChars).optional(),
    errorKind: z.enum(HARNESS_ERROR_KINDS).optional(),
  })
  .refine((r) => r.passed + r.failed === r.total, 'passed and failed must add up to total')
  .refine((r) => (r.error === undefined) === (r.errorKind === undefined), 'error and errorKind come together');

export type HarnessReport = z.infer<typeof harnessReportSchema>;

/** The report, or null for anything else (a forged or garbled message is not a result). */
export function parseHarnessReport(data: unknown): HarnessReport | null {
  const parsed = harnessReportSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}

/** The client's one request to a fresh sandbox. */
export const sandboxRequestSchema = z.strictObject({
  type: z.literal('run'),
  code: z.string().max(MAX_CODE_CHARS),
  tests: z.string().max(MAX_TESTS_CHARS),
});
export type SandboxRequest = z.infer<typeof sandboxRequestSchema>;

export function parseSandboxRequest(data: unknown): SandboxRequest | null {
  const parsed = sandboxRequestSchema.safeParse(data);
  return parsed.success ? parsed.data : null;
}

/**
 * Sent by the sandbox once its module has loaded and it listens: the client
 * posts the request only then (Chromium can drop a message that reaches a
 * module worker while its module graph is still loading).
 */
export const SANDBOX_READY = { type: 'ready' } as const;
export function isSandboxReady(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'ready';
}

/** Sent by the sandbox when it has the request and is about to run untrusted code: the time limit starts here. */
export const SANDBOX_STARTED = { type: 'started' } as const;
export function isSandboxStarted(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'started';
}

/** A report for a run refused before it started (the sources failed prepareSources, or the lockdown failed). */
export function refusedReport(reason: string, kind: HarnessErrorKind = 'refused'): HarnessReport {
  return {
    type: 'result',
    passed: 0,
    failed: 0,
    total: 0,
    failures: [],
    output: '',
    ignoredTests: 0,
    error: reason.length > HARNESS_LIMITS.maxErrorChars ? `${reason.slice(0, HARNESS_LIMITS.maxErrorChars - 1)}…` : reason,
    errorKind: kind,
  };
}
