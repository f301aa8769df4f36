/**
 * The baseline: transformers.js called directly, in a plain module worker,
 * with the same model, dtype, device, ONNX Runtime setup (own-origin wasm,
 * same thread count) and generation options as our engine worker. No
 * protocol, no validation, no queue, no yielding between tokens: each
 * streamed piece is posted to the page as it comes.
 */
import ortMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { AutoModelForCausalLM, AutoTokenizer, TextStreamer, env } from '@huggingface/transformers';

export type DirectRequest =
  | {
      type: 'load';
      repo: string;
      dtype: 'q8';
      device: 'wasm';
      /** Absolute URL of a mirror laid out like the hub. */
      mirror: string;
    }
  | {
      type: 'generate';
      messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
      maxNewTokens: number;
    };

export type DirectReply =
  | { type: 'loaded'; loadMs: number; numThreads: number }
  | { type: 'chunk'; text: string; tokens: number }
  | { type: 'done'; text: string; tokens: number }
  | { type: 'error'; message: string };

type Tokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
type CausalLM = Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>;

const scope = self as unknown as DedicatedWorkerGlobalScope;
let loaded: { tokenizer: Tokenizer; model: CausalLM } | null = null;

function reply(message: DirectReply): void {
  scope.postMessage(message);
}

async function load(request: Extract<DirectRequest, { type: 'load' }>): Promise<void> {
  const started = performance.now();
  // Exactly what the engine worker does before its first session.
  const isolated = scope.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const numThreads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  const wasm = env.backends.onnx.wasm;
  if (wasm) {
    wasm.wasmPaths = {
      mjs: new URL(ortMjsUrl, scope.location.href).href,
      wasm: new URL(ortWasmUrl, scope.location.href).href,
    };
    wasm.numThreads = numThreads;
  }
  env.allowLocalModels = false;
  env.allowRemoteModels = true;
  env.remoteHost = request.mirror;
  env.remotePathTemplate = '{model}/resolve/{revision}/';
  const [tokenizer, model] = await Promise.all([
    AutoTokenizer.from_pretrained(request.repo),
    AutoModelForCausalLM.from_pretrained(request.repo, { dtype: request.dtype, device: request.device }),
  ]);
  loaded = { tokenizer, model };
  reply({ type: 'loaded', loadMs: performance.now() - started, numThreads });
}

async function generate(request: Extract<DirectRequest, { type: 'generate' }>): Promise<void> {
  if (!loaded) throw new Error('No model loaded.');
  const { tokenizer, model } = loaded;
  const inputs = tokenizer.apply_chat_template(request.messages, { add_generation_prompt: true, return_dict: true });
  let text = '';
  let tokens = 0;
  let unreported = 0;
  const streamer = new TextStreamer(tokenizer, {
    skip_prompt: true,
    skip_special_tokens: true,
    token_callback_function: (ids: bigint[]) => {
      tokens += ids.length;
      unreported += ids.length;
    },
    callback_function: (piece: string) => {
      if (piece.length === 0) return;
      text += piece;
      reply({ type: 'chunk', text: piece, tokens: unreported });
      unreported = 0;
    },
  });
  await model.generate({ ...inputs, do_sample: false, max_new_tokens: request.maxNewTokens, streamer });
  reply({ type: 'done', text, tokens });
}

scope.addEventListener('message', (event: MessageEvent<DirectRequest>) => {
  const request = event.data;
  const run = request.type === 'load' ? load(request) : generate(request);
  run.catch((e: unknown) => reply({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
});
