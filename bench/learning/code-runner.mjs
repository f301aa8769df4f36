// A CodeRunner (src/lib/learning/verifiers.ts) for Node: the model's code and
// the task's tests run in a fresh worker thread, inside a node:vm context that
// holds nothing but the language built-ins and the test helpers below (no
// require, process, fs or network). The worker is terminated at the time
// limit or on abort, which also stops an endless loop inside a promise
// callback, where vm's own timeout does not reach. A worker is not a
// security boundary against hostile code; it is enough for a bench that runs
// a model's answers to our own tasks on our own machine.
//
// Test helpers, the same as the browser sandbox offers the tests:
//   test(name, fn)                 fn may be async; a throw or rejection fails it
//   assert(condition, message?)
//   assertEqual(actual, expected, message?)   deep equality of JSON-like values
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const vm = require('node:vm');
const HELPERS = \`
  const __tests = [];
  function test(name, fn) { __tests.push([String(name), fn]); }
  function __eq(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && __eq(a[k], b[k]));
  }
  function __show(v) { try { return JSON.stringify(v) ?? String(v); } catch { return String(v); } }
  function assert(condition, message) { if (!condition) throw new Error(message || 'assertion failed'); }
  function assertEqual(actual, expected, message) {
    if (!__eq(actual, expected)) throw new Error((message ? message + ': ' : '') + 'expected ' + __show(expected) + ', got ' + __show(actual));
  }
  globalThis.__runTests = async () => {
    let passed = 0; const failures = [];
    for (const [name, fn] of __tests) {
      try { await fn(); passed++; }
      catch (e) { failures.push(name + ': ' + (e && e.message ? e.message : String(e))); }
    }
    return { passed, failed: failures.length, total: __tests.length, failures: failures.slice(0, 5) };
  };
\`;
(async () => {
  const { code, tests, timeoutMs } = workerData;
  const context = vm.createContext(Object.create(null), { codeGeneration: { strings: false, wasm: false } });
  const post = (r) => parentPort.postMessage(r);
  try { new vm.Script(HELPERS, { filename: 'helpers.js' }).runInContext(context); }
  catch (e) { post({ passed: 0, failed: 0, total: 0, timedOut: false, error: 'sandbox setup failed: ' + e.message }); return; }
  for (const [source, filename] of [[code, 'answer.js'], [tests, 'tests.js']]) {
    try { new vm.Script(source, { filename }).runInContext(context, { timeout: timeoutMs }); }
    catch (e) {
      const timedOut = e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
      post({ passed: 0, failed: 0, total: 0, timedOut, error: timedOut ? undefined : filename + ': ' + (e && e.name ? e.name + ': ' + e.message : String(e)) });
      return;
    }
  }
  try {
    const r = await vm.runInContext('__runTests()', context, { timeout: timeoutMs });
    post({ passed: r.passed, failed: r.failed, total: r.total, failures: [...r.failures], timedOut: false });
  } catch (e) {
    const timedOut = e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
    post({ passed: 0, failed: 0, total: 0, timedOut, error: timedOut ? undefined : String(e && e.message ? e.message : e) });
  }
})();
`;

function abortReason(signal) {
  return signal.reason ?? new DOMException('The check was cancelled.', 'AbortError');
}

/** @returns {{ run(code: string, tests: string, options: { timeoutMs: number, signal?: AbortSignal }): Promise<object> }} */
export function createNodeCodeRunner() {
  return {
    run(code, tests, { timeoutMs, signal }) {
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise((resolve, reject) => {
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { code, tests, timeoutMs },
          resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
          stdout: true,
          stderr: true,
        });
        let settled = false;
        const finish = (fn) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          void worker.terminate();
          fn();
        };
        // The vm timeout covers synchronous code; this covers everything else (and the worker's start-up).
        const timer = setTimeout(() => finish(() => resolve({ passed: 0, failed: 0, total: 0, timedOut: true })), timeoutMs + 1000);
        const onAbort = () => finish(() => reject(abortReason(signal)));
        signal?.addEventListener('abort', onAbort, { once: true });
        worker.once('message', (result) => finish(() => resolve(result)));
        worker.once('error', (e) => finish(() => resolve({ passed: 0, failed: 0, total: 0, timedOut: false, error: `the sandbox failed: ${e.message}` })));
        // Exit without a result: a test awaited a promise that never settles (nothing left to run), or the worker ran out of memory.
        worker.once('exit', (exitCode) =>
          finish(() =>
            resolve({
              passed: 0,
              failed: 0,
              total: 0,
              timedOut: false,
              error: exitCode === 0 ? 'the tests never finished (a promise that never settles)' : `the sandbox stopped (exit code ${exitCode})`,
            }),
          ),
        );
      });
    },
  };
}
