/**
 * The embedder itself: a transformers.js feature-extraction pipeline (mean
 * pooling, unit length), run by ONNX Runtime on WASM in the embedder worker,
 * or on onnxruntime-node's CPU when the unit tests drive it in Node.
 *
 * Kept apart from the worker entry (embedder.worker.ts) so the same code
 * runs in both places: the worker adds only the message plumbing and the
 * browser's WASM runtime paths.
 *
 * The model loads on first use and stays loaded; asking for another
 * repository or mirror replaces it. Model files come from the public hub or a
 * mirror in the hub layout (`<mirror><repo>/resolve/main/<file>`), exactly as
 * for the chat model. Only int8 weights ('q8', onnx/model_quantized.onnx) are
 * loaded: the one format both the real all-MiniLM-L6-v2 export and the test
 * fixture ship, and the fastest on WASM.
 */
import { env, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import type { LoadProgress, ModelSource } from '../lib/engine/contract';
import {
  AbortedError,
  ModelFilesMissingError,
  ModelUnavailableError,
  NetworkError,
  classifyError,
  type EngineError,
} from '../lib/engine/errors';
import { ByteProgress, phaseProgress } from '../lib/engine/progress';
import { fileProgressReporter } from './file-progress';
import type { EmbedderModel, EmbedResult } from '../lib/memory/embedder-protocol';
import { EMBEDDING_DIMENSION } from '../lib/memory/types';

export interface TransformersEmbedderOptions {
  /** Node has no 'wasm' device: the unit tests pass 'cpu' (onnxruntime-node). The browser default is 'wasm'. */
  device?: 'cpu' | 'wasm';
  /**
   * Browser only: where ONNX Runtime's WASM runtime lives and how many threads
   * it may use. Applied at construction, before the first session exists,
   * which is the only time ONNX Runtime reads it.
   */
  onnxWasm?: { wasmPaths: { mjs: string; wasm: string }; numThreads: number };
  /** Clock in ms (performance.now by default). */
  now?: () => number;
  /** Minimum gap between download progress reports, ms. */
  progressIntervalMs?: number;
}

export interface EmbedCall {
  signal?: AbortSignal;
  /** Model download and preparation, on first use only. */
  onProgress?: (progress: LoadProgress) => void;
}

/** transformers.js's own default, captured before anything changes it. */
const PUBLIC_HUB = env.remoteHost;

interface Loaded {
  key: string;
  extractor: FeatureExtractionPipeline;
}

export class TransformersEmbedder {
  readonly #options: TransformersEmbedderOptions;
  readonly #now: () => number;
  #loaded: Loaded | null = null;

  constructor(options: TransformersEmbedderOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    const wasm = env.backends.onnx.wasm;
    if (options.onnxWasm && wasm) {
      wasm.wasmPaths = options.onnxWasm.wasmPaths;
      wasm.numThreads = options.onnxWasm.numThreads;
    }
  }

  /** Unit vectors of `texts` (one row each), loading the model first if needed. Calls must not overlap. */
  async embed(model: EmbedderModel, texts: readonly string[], call: EmbedCall = {}): Promise<EmbedResult> {
    const { signal } = call;
    try {
      throwIfAborted(signal);
      const extractor = await this.#extractor(model, call);
      throwIfAborted(signal);
      if (texts.length === 0) return { dimension: EMBEDDING_DIMENSION, count: 0, vectors: new Float32Array(0) };
      const output = await extractor([...texts], { pooling: 'mean', normalize: true });
      try {
        const [count, dimension] = output.dims;
        if (dimension !== EMBEDDING_DIMENSION) {
          throw new ModelUnavailableError(
            `${model.repo} makes ${String(dimension)}-dimensional embeddings; H3LIX stores ${EMBEDDING_DIMENSION}-dimensional ones.`,
            { hint: 'Configure an embedder with 384 dimensions, such as Xenova/all-MiniLM-L6-v2.' },
          );
        }
        if (count !== texts.length || !(output.data instanceof Float32Array)) {
          throw new ModelUnavailableError(`${model.repo} returned an unexpected output (${output.type}, [${output.dims.join(', ')}]).`);
        }
        // A copy that owns its buffer: the tensor's memory is released below, and the
        // worker transfers this buffer to the page.
        return { dimension, count, vectors: new Float32Array(output.data) };
      } finally {
        output.dispose();
      }
    } catch (e) {
      throw classify(e, model);
    }
  }

  async dispose(): Promise<void> {
    const loaded = this.#loaded;
    this.#loaded = null;
    if (loaded) await loaded.extractor.dispose();
  }

  async #extractor(model: EmbedderModel, call: EmbedCall): Promise<FeatureExtractionPipeline> {
    const key = `${model.source.mirror ?? ''}\u0000${model.repo}`;
    if (this.#loaded?.key === key) return this.#loaded.extractor;
    await this.dispose();
    pointAt(model.source);
    const progress = new ByteProgress({ now: this.#now });
    const extractor = await pipeline('feature-extraction', model.repo, {
      dtype: 'q8',
      device: this.#options.device ?? 'wasm',
      progress_callback: fileProgressReporter(progress, call.onProgress, {
        now: this.#now,
        intervalMs: this.#options.progressIntervalMs ?? 100,
      }).callback,
    });
    call.onProgress?.(phaseProgress('initialise', 'Embedder ready', progress.loadedBytes));
    this.#loaded = { key, extractor };
    return extractor;
  }
}

/** Points transformers.js at the mirror (hub layout) or at the public hub. Global to this worker. */
function pointAt(source: ModelSource): void {
  env.allowLocalModels = false;
  env.allowRemoteModels = true;
  env.remoteHost = source.mirror ?? PUBLIC_HUB;
  env.remotePathTemplate = '{model}/resolve/{revision}/';
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Embedding was cancelled.');
}

/** The engine's error classes, with messages that name the embedder (the person may not know one exists). */
function classify(e: unknown, model: EmbedderModel): EngineError {
  const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
  const where = model.source.mirror === null ? 'the public model hub' : model.source.mirror;
  // A server with a single-page-app fallback (vite preview, many static hosts) answers a
  // missing weights file with its index.html and status 200; ONNX Runtime then fails to
  // parse it. Seen in a browser with the real embedder's id on a mirror without its weights.
  if (/protobuf parsing failed/i.test(e instanceof Error ? e.message : String(e))) {
    return new ModelFilesMissingError(
      `The weights of the embedding model ${model.repo} are not on ${where} (it answered with something that is not a model file).`,
      { cause: e },
    );
  }
  const error = classifyError(e, { offline });
  if (error instanceof ModelFilesMissingError && error.message === new ModelFilesMissingError().message) {
    return new ModelFilesMissingError(`The files of the embedding model ${model.repo} could not be found on ${where}.`, {
      hint: error.hint,
      cause: e,
    });
  }
  if (error instanceof NetworkError) {
    return new NetworkError(`The embedding model ${model.repo} could not be downloaded (network error).`, { hint: error.hint, cause: e });
  }
  return error;
}
