/**
 * The main-thread side of the code sandbox: a `CodeRunner` (verifiers.ts)
 * that runs each request in a FRESH module worker
 * (src/workers/code-sandbox.worker.ts) and terminates it when the run ends,
 * when its time limit passes (default DEFAULT_CODE_TIMEOUT_MS) or when the
 * caller aborts. A fresh worker per run means nothing one answer's code does
 * (patching prototypes, timers left behind, a loop that never ends) can touch
 * the next run or the app.
 *
 * Outcomes:
 * - the run ends: resolves with the counts (a syntax error, a throw in the
 *   code or the tests, or a refused source are results with `error`, not
 *   rejections);
 * - the time limit passes: the worker is terminated and the call resolves
 *   with `timedOut: true`. The limit starts when the worker says it is about
 *   to run the code, so a slow worker start is not charged to the code; the
 *   start itself has its own limit (DEFAULT_START_TIMEOUT_MS). The request
 *   is posted only when the worker says "ready": Chromium can drop a message
 *   that reaches a module worker while its modules are still loading;
 * - the caller aborts: terminated, rejects with AbortedError;
 * - no sandbox can run: rejects with CodeSandboxUnavailableError (the worker
 *   did not start, the page's or server's Content-Security-Policy forbids
 *   evaluating code in it, or its globals could not be locked down).
 *
 * The app creates it with `new CodeSandbox()`; tests pass a WorkerFactory.
 */
import { AbortedError, EngineError, type EngineErrorOptions } from '../lib/engine/errors';
import { isSandboxReady, isSandboxStarted, parseHarnessReport, prepareSources, type SandboxRequest } from '../lib/learning/code-harness';
import { DEFAULT_CODE_TIMEOUT_MS, type CodeRunner, type CodeRunOptions, type CodeRunResult } from '../lib/learning/verifiers';
import type { WorkerFactory, WorkerLike } from './engine-client';

/** Longest time a worker may take to load before the sandbox counts as unavailable. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Longest run anyone may ask for. */
export const MAX_CODE_TIMEOUT_MS = 60_000;

export class CodeSandboxError extends EngineError {
  override name = 'CodeSandboxError';
  constructor(message = 'The code sandbox failed.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Try again. Answers with code are scored without their tests until it works.', ...options });
  }
}

export class CodeSandboxUnavailableError extends CodeSandboxError {
  override name = 'CodeSandboxUnavailableError';
  constructor(message = 'The code sandbox cannot run in this browser.', options: EngineErrorOptions = {}) {
    super(message, {
      hint: 'Code answers cannot be tested here. If the app is served with a Content-Security-Policy header, it must allow the sandbox worker to evaluate code.',
      ...options,
    });
  }
}

export interface CodeSandboxOptions {
  startTimeoutMs?: number;
}

export function createCodeSandboxWorker(): WorkerLike {
  return new Worker(new URL('../workers/code-sandbox.worker.ts', import.meta.url), { type: 'module' });
}

const result = (partial: Partial<CodeRunResult>): CodeRunResult => ({ passed: 0, failed: 0, total: 0, timedOut: false, ...partial });

function timeoutOf(options: CodeRunOptions | undefined): number {
  const t = options?.timeoutMs;
  if (t === undefined || !Number.isFinite(t) || t <= 0) return DEFAULT_CODE_TIMEOUT_MS;
  return Math.min(MAX_CODE_TIMEOUT_MS, t);
}

export class CodeSandbox implements CodeRunner {
  readonly #createWorker: WorkerFactory;
  readonly #startTimeoutMs: number;

  constructor(createWorker: WorkerFactory = createCodeSandboxWorker, options: CodeSandboxOptions = {}) {
    this.#createWorker = createWorker;
    this.#startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  run(code: string, tests: string, options: CodeRunOptions = { timeoutMs: DEFAULT_CODE_TIMEOUT_MS }): Promise<CodeRunResult> {
    const { signal } = options;
    const timeoutMs = timeoutOf(options);
    if (signal?.aborted) return Promise.reject(new AbortedError('The code check was cancelled.'));
    // Refuse what the worker would refuse without starting one.
    const sources = prepareSources(code, tests);
    if (!sources.ok) return Promise.resolve(result({ error: sources.reason }));

    return new Promise<CodeRunResult>((resolve, reject) => {
      let worker: WorkerLike | null = null;
      let started = false;
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;

      const end = (): void => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        try {
          worker?.terminate();
        } catch {
          // Already gone.
        }
        worker = null;
      };
      const succeed = (r: CodeRunResult): void => {
        if (settled) return;
        end();
        resolve(r);
      };
      const failWith = (e: Error): void => {
        if (settled) return;
        end();
        reject(e);
      };
      function onAbort(): void {
        failWith(new AbortedError('The code check was cancelled.'));
      }

      try {
        worker = this.#createWorker();
      } catch (e) {
        failWith(new CodeSandboxUnavailableError(`The code sandbox could not be started: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => failWith(new CodeSandboxUnavailableError('The code sandbox did not start in time.')), this.#startTimeoutMs);

      const request: SandboxRequest = { type: 'run', code, tests };
      let sent = false;
      worker.addEventListener('message', (event) => {
        if (settled) return;
        const data = event.data;
        if (!sent) {
          // Nothing counts before the worker has loaded and asked for the request.
          if (!isSandboxReady(data)) return;
          sent = true;
          try {
            worker?.postMessage(request);
          } catch (e) {
            failWith(new CodeSandboxUnavailableError('The code sandbox could not be reached.', { cause: e }));
          }
          return;
        }
        if (!started && isSandboxStarted(data)) {
          started = true;
          if (timer !== undefined) clearTimeout(timer);
          timer = setTimeout(() => succeed(result({ timedOut: true, error: `the code ran past its time limit (${timeoutMs} ms)` })), timeoutMs);
          return;
        }
        const report = parseHarnessReport(data);
        if (!report) {
          succeed(result({ error: 'the code sandbox sent a malformed report' }));
          return;
        }
        if (report.errorKind === 'eval-blocked' || report.errorKind === 'sandbox') {
          failWith(new CodeSandboxUnavailableError(`The code sandbox cannot run code here: ${report.error ?? report.errorKind}`));
          return;
        }
        succeed({
          passed: report.passed,
          failed: report.failed,
          total: report.total,
          timedOut: false,
          ...(report.error !== undefined ? { error: report.error } : {}),
          ...(report.failures.length > 0 ? { failures: report.failures } : {}),
        });
      });
      worker.addEventListener('error', (event) => {
        const detail = typeof event.message === 'string' && event.message ? `: ${event.message}` : '';
        // Before "started" the worker itself failed (its script did not load); after, the code broke it.
        if (!started) failWith(new CodeSandboxUnavailableError(`The code sandbox could not be started${detail}.`));
        else succeed(result({ error: `the code sandbox stopped unexpectedly${detail}` }));
      });
      worker.addEventListener('messageerror', () => succeed(result({ error: 'the code sandbox sent a message that could not be read' })));
    });
  }
}
