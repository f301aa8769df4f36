/**
 * The embedder worker: turns texts into vectors for memory and document
 * retrieval, off the page's thread and apart from the chat engine's worker,
 * so embedding a long document never stalls typing, and neither model has
 * to be unloaded for the other.
 *
 * It answers the embedder client (src/services/embedder-client.ts) over the
 * protocol in src/lib/memory/embedder-protocol.ts. Embedding requests run one
 * at a time in arrival order (the model loads on the first); pings and
 * cancels are answered at once. Every request ends in exactly one `return` or
 * `throw` reply.
 */
import ortMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { serializeError } from '../lib/engine/errors';
import type { FromWorkerMessage } from '../lib/engine/protocol';
import { parseToEmbedder, type EmbedderModel, type EmbedderRequest, type EmbedResult } from '../lib/memory/embedder-protocol';
import { TransformersEmbedder } from './transformers-embedder';

const scope = self as unknown as DedicatedWorkerGlobalScope;

// ONNX Runtime must load its runtime from our own origin (its default is a
// CDN, which fails offline with "no available backend found"), and this has
// to be set before the first session: the constructor does it. One thread:
// a batch of short texts takes milliseconds, and the chat engine's worker
// should keep the cores while it writes a reply.
const embedder = new TransformersEmbedder({
  device: 'wasm',
  onnxWasm: {
    wasmPaths: {
      mjs: new URL(ortMjsUrl, scope.location.href).href,
      wasm: new URL(ortWasmUrl, scope.location.href).href,
    },
    numThreads: 1,
  },
});

/** A relative mirror ('/models/') is resolved against the worker's own URL; the pipeline sees absolute URLs only. */
function absolute(model: EmbedderModel): EmbedderModel {
  const mirror = model.source.mirror;
  return mirror === null ? model : { ...model, source: { mirror: new URL(mirror, scope.location.href).href } };
}

let queue: Promise<unknown> = Promise.resolve();
function serially<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

const controllers = new Map<number, AbortController>();

function post(message: FromWorkerMessage, transfer: Transferable[] = []): void {
  try {
    scope.postMessage(message, transfer);
  } catch (e) {
    // A result that cannot be cloned must still end its request.
    if (message.type !== 'throw') scope.postMessage({ id: message.id, type: 'throw', error: serializeError(e) });
  }
}

async function handle(msg: EmbedderRequest): Promise<void> {
  if (msg.kind === 'ping') {
    post({ id: msg.id, type: 'return', result: null });
    return;
  }
  const controller = new AbortController();
  controllers.set(msg.id, controller);
  try {
    const result: EmbedResult = await serially(() =>
      embedder.embed(absolute(msg.params.model), msg.params.texts, {
        signal: controller.signal,
        onProgress: (progress) => post({ id: msg.id, type: 'progress', progress }),
      }),
    );
    post({ id: msg.id, type: 'return', result }, [result.vectors.buffer]);
  } catch (e) {
    post({ id: msg.id, type: 'throw', error: serializeError(e) });
  } finally {
    controllers.delete(msg.id);
  }
}

scope.addEventListener('message', (event: MessageEvent<unknown>) => {
  const msg = parseToEmbedder(event.data);
  // Anything that is not a well-formed request is ignored, not trusted.
  if (!msg) return;
  if (msg.kind === 'cancel') {
    controllers.get(msg.target)?.abort();
    return;
  }
  void handle(msg);
});

// Library code can reject promises nobody awaits; log them rather than let
// them surface as worker errors, which the client treats as a crash.
scope.addEventListener('unhandledrejection', (event: PromiseRejectionEvent) => {
  event.preventDefault();
  console.error('[embedder worker] unhandled rejection:', event.reason);
});
