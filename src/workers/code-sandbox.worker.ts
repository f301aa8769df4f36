/**
 * The code sandbox: runs one answer's JavaScript against unit tests, once,
 * and reports the counts (src/lib/learning/code-harness.ts has the runtime
 * and the reasons behind it; src/services/code-sandbox.ts starts a fresh one
 * of these per run and terminates it on its time limit).
 *
 * Order matters:
 * 1. capture what this file needs (postMessage, the Function constructor,
 *    crypto) while the global scope is still whole, listen, and say "ready"
 *    (the client posts its request only then: a message that reaches a module
 *    worker while it is still loading can be lost);
 * 2. on the one request: check it, remove the network, storage and
 *    messaging globals (a failure to remove any refuses the run), say
 *    "started" (the client's time limit starts now), build the harness with a
 *    fresh random nonce, and evaluate it with the Function constructor;
 * 3. the harness calls back once with the report, which is posted.
 *
 * Uncaught errors and rejections from the untrusted code are swallowed here,
 * so that they are not mistaken for the sandbox failing to start.
 *
 * Content-Security-Policy: a module worker from a same-origin URL does not
 * inherit the page's meta policy; its own policy is whatever headers its
 * script was served with (none by our servers: scripts/start.mjs and
 * vite.config.ts send COOP/COEP/CORP only). Were a deployment to send a CSP
 * without 'unsafe-eval', evaluation fails with an EvalError, reported as
 * 'eval-blocked' and surfaced by the client as CodeSandboxUnavailableError.
 */
import {
  HARNESS_DONE_PARAM,
  SANDBOX_READY,
  SANDBOX_STARTED,
  buildHarnessSource,
  lockDownGlobals,
  makeNonce,
  parseSandboxRequest,
  prepareSources,
  refusedReport,
} from '../lib/learning/code-harness';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post: (message: unknown) => void = scope.postMessage.bind(scope);
const FunctionCtor = Function;
const getRandomValues = crypto.getRandomValues.bind(crypto) as (array: Uint8Array) => Uint8Array;

scope.addEventListener('error', (event: ErrorEvent) => event.preventDefault());
scope.addEventListener('unhandledrejection', (event: PromiseRejectionEvent) => event.preventDefault());

let used = false;

function send(report: unknown): void {
  try {
    post(report);
  } catch {
    post(refusedReport('the sandbox could not send its report', 'sandbox'));
  }
}

scope.addEventListener('message', (event: MessageEvent<unknown>) => {
  // One run per worker: the client starts a fresh one each time.
  if (used) return;
  const request = parseSandboxRequest(event.data);
  if (!request) return;
  used = true;

  const sources = prepareSources(request.code, request.tests);
  if (!sources.ok) {
    send(refusedReport(sources.reason));
    return;
  }
  const lock = lockDownGlobals(scope);
  if (lock.failed.length > 0) {
    send(refusedReport(`the sandbox could not remove ${lock.failed.join(', ')}`, 'sandbox'));
    return;
  }
  let run: (done: (report: unknown) => void) => void;
  try {
    const source = buildHarnessSource(sources.code, request.tests, makeNonce(getRandomValues));
    run = new FunctionCtor(HARNESS_DONE_PARAM, source) as (done: (report: unknown) => void) => void;
  } catch (e) {
    const blocked = e instanceof EvalError;
    send(
      refusedReport(
        blocked
          ? `the sandbox may not evaluate code here (Content-Security-Policy): ${e.message}`
          : `the sandbox could not be built: ${e instanceof Error ? e.message : String(e)}`,
        blocked ? 'eval-blocked' : 'sandbox',
      ),
    );
    return;
  }
  post(SANDBOX_STARTED);
  try {
    run(send);
  } catch (e) {
    // The harness reports its own failures; reaching this is a sandbox bug.
    send(refusedReport(`the sandbox failed: ${e instanceof Error ? e.message : String(e)}`, 'sandbox'));
  }
});

post(SANDBOX_READY);
