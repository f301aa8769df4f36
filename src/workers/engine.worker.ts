/**
 * The engine worker: owns the model, so that downloads, compilation and token
 * generation never block the page.
 *
 * It detects what the device can do once, answers requests from the engine
 * client (protocol.ts) by handing them to the back end the model needs
 * (WebLLM or transformers.js; the libraries are imported only when first
 * used), streams
 * progress back, and stops a generation when asked. Model work (load,
 * generate, unload) runs one request at a time; pings, capability queries and
 * cancels are answered at once. Every request ends in exactly one `return` or
 * `throw` reply: no exception escapes unreported.
 */
import ortMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { Capabilities, EngineBackend, LoadRequest } from '../lib/engine/contract';
import { EngineNotReadyError, serializeError } from '../lib/engine/errors';
import {
  parseToWorker,
  type FromWorkerMessage,
  type RequestKind,
  type RequestMessage,
  type ResultOf,
} from '../lib/engine/protocol';
import type { TransformersBackend } from './transformers-backend';
// Small: it imports WebLLM itself only when a WebLLM model is loaded.
import { WebLLMBackend, assertGpuCanRun } from './webllm-backend';

const scope = self as unknown as DedicatedWorkerGlobalScope;

// ---------------------------------------------------------------------------
// Capabilities, detected once
// ---------------------------------------------------------------------------

/** The smallest module using a SIMD instruction (v128.const): valid only where WASM SIMD is supported. */
const SIMD_PROBE = Uint8Array.of(
  0, 97, 115, 109, 1, 0, 0, 0, // header
  1, 5, 1, 96, 0, 1, 123, // type: () -> v128
  3, 2, 1, 0, // one function of that type
  10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, // body: v128.const 0; end
);

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|warp|basic render|software/i;

async function detectWebGPU(): Promise<Capabilities['webgpu']> {
  const none = (reason: string): Capabilities['webgpu'] => ({
    available: false,
    fallbackAdapter: false,
    shaderF16: false,
    maxBufferSize: 0,
    vendor: '',
    architecture: '',
    reason,
  });
  const gpu = (navigator as Partial<Pick<Navigator, 'gpu'>>).gpu;
  if (!gpu) return none('this browser has no WebGPU');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return none(`asking for a GPU failed (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!adapter) return none('no usable GPU was found: it may be blocklisted, or WebGPU is turned off');
  // `info` arrived in Chrome 114 and `info.isFallbackAdapter` later still; older builds have neither.
  const info = (adapter as Partial<Pick<GPUAdapter, 'info'>>).info;
  const legacyFallback = (adapter as { isFallbackAdapter?: unknown }).isFallbackAdapter === true;
  const described = info ? `${info.vendor} ${info.architecture} ${info.device} ${info.description}` : '';
  return {
    available: true,
    fallbackAdapter: info?.isFallbackAdapter === true || legacyFallback || SOFTWARE_ADAPTER.test(described),
    shaderF16: adapter.features.has('shader-f16'),
    maxBufferSize: adapter.limits.maxBufferSize,
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    reason: null,
  };
}

async function detectCapabilities(): Promise<Capabilities> {
  const webgpu = await detectWebGPU();
  const isolated = scope.crossOriginIsolated === true;
  const hasWasm = typeof WebAssembly === 'object';
  const deviceMemory = (navigator as { deviceMemory?: unknown }).deviceMemory;
  return Object.freeze({
    webgpu: Object.freeze(webgpu),
    wasm: Object.freeze({
      available: hasWasm,
      // Threads need SharedArrayBuffer, which browsers only expose to cross-origin-isolated pages.
      threads: hasWasm && isolated && typeof SharedArrayBuffer === 'function',
      simd: hasWasm && WebAssembly.validate(SIMD_PROBE),
    }),
    deviceMemoryGiB: typeof deviceMemory === 'number' && Number.isFinite(deviceMemory) ? deviceMemory : null,
    hardwareConcurrency: navigator.hardwareConcurrency || 1,
    crossOriginIsolated: isolated,
  });
}

let capabilitiesOnce: Promise<Capabilities> | null = null;
function capabilities(): Promise<Capabilities> {
  capabilitiesOnce ??= detectCapabilities();
  return capabilitiesOnce;
}

// ---------------------------------------------------------------------------
// Back ends, created on first use
// ---------------------------------------------------------------------------

let transformers: TransformersBackend | null = null;
let webllm: WebLLMBackend | null = null;
/** The back end holding the loaded model, if any. */
let active: EngineBackend | null = null;

async function transformersBackend(): Promise<TransformersBackend> {
  if (transformers) return transformers;
  const caps = await capabilities();
  const { TransformersBackend } = await import('./transformers-backend');
  transformers = new TransformersBackend({
    // ONNX Runtime must load its runtime from our own origin (it defaults to a CDN, which fails
    // offline with "no available backend found"); this has to happen before the first session.
    onnxWasm: {
      wasmPaths: {
        mjs: new URL(ortMjsUrl, scope.location.href).href,
        wasm: new URL(ortWasmUrl, scope.location.href).href,
      },
      // ONNX Runtime picks a single thread on small machines; ask for what the device has.
      numThreads: caps.wasm.threads ? Math.max(1, Math.min(4, caps.hardwareConcurrency)) : 1,
    },
    yieldBetweenTokens: true,
  });
  return transformers;
}

function webllmBackend(): WebLLMBackend {
  webllm ??= new WebLLMBackend({ capabilities });
  return webllm;
}

/** The worker resolves a relative mirror against its own URL; back ends see absolute URLs only. */
function absoluteSource(request: LoadRequest): LoadRequest {
  const mirror = request.source.mirror;
  return mirror === null ? request : { ...request, source: { mirror: new URL(mirror, scope.location.href).href } };
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/** Model work runs one request at a time, in arrival order. */
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

const controllers = new Map<number, AbortController>();

function post(message: FromWorkerMessage): void {
  try {
    scope.postMessage(message);
  } catch (e) {
    // A result that cannot be cloned must still end its request.
    if (message.type !== 'throw') scope.postMessage({ id: message.id, type: 'throw', error: serializeError(e) });
  }
}

async function dispatch(msg: RequestMessage, signal: AbortSignal): Promise<ResultOf<RequestKind>> {
  switch (msg.kind) {
    case 'ping':
      return null;
    case 'capabilities':
      return capabilities();
    case 'load':
      return serially(async () => {
        const request = absoluteSource(msg.params);
        // A model this GPU cannot run must not cost the person the model they have.
        if (request.entry.backend === 'webllm') assertGpuCanRun(request.entry, await capabilities());
        const next = request.entry.backend === 'webllm' ? webllmBackend() : await transformersBackend();
        // Only one model fits in memory: free the other back end's before loading.
        if (active && active !== next) await active.unload();
        active = null;
        const result = await next.load(request, {
          signal,
          onProgress: (progress) => post({ id: msg.id, type: 'progress', progress }),
        });
        active = next;
        return result;
      });
    case 'generate':
      return serially(async () => {
        if (!active) throw new EngineNotReadyError();
        return active.generate(msg.params.turns, msg.params.options, {
          signal,
          onProgress: (chunk) => post({ id: msg.id, type: 'progress', progress: chunk }),
        });
      });
    case 'unload':
      return serially(async () => {
        const current = active;
        active = null;
        await current?.unload();
        return null;
      });
  }
}

async function handle(msg: RequestMessage): Promise<void> {
  const controller = new AbortController();
  controllers.set(msg.id, controller);
  try {
    const result = await dispatch(msg, controller.signal);
    post({ id: msg.id, type: 'return', result });
  } catch (e) {
    post({ id: msg.id, type: 'throw', error: serializeError(e) });
  } finally {
    controllers.delete(msg.id);
  }
}

scope.addEventListener('message', (event: MessageEvent<unknown>) => {
  const msg = parseToWorker(event.data);
  // Anything that is not a well-formed request is ignored, not trusted.
  if (!msg) return;
  if (msg.kind === 'cancel') {
    controllers.get(msg.target)?.abort();
    return;
  }
  void handle(msg);
});

// Library code can reject promises nobody awaits; log them rather than let them surface as worker errors,
// which the client treats as a crash.
scope.addEventListener('unhandledrejection', (event: PromiseRejectionEvent) => {
  event.preventDefault();
  console.error('[engine worker] unhandled rejection:', event.reason);
});
