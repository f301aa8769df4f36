/**
 * The one contract every reasoning engine implements, and the types that
 * cross the worker boundary. The UI talks to an `Engine`; whether the model
 * runs on WebLLM (WebGPU) or transformers.js (WASM/WebGPU), in a worker or
 * in-process (tests), is invisible to it.
 *
 * Pure types: no DOM, no model library, no Svelte.
 */

export type Backend = 'webllm' | 'transformers';

/** Where model files come from. `mirror` is a URL prefix laid out like the
 *  Hugging Face hub (`<repo>/resolve/<revision>/<file>`). */
export interface ModelSource {
  /** null: the public hubs (huggingface.co, and MLC's model-lib repository for WebLLM). */
  mirror: string | null;
}

/** What the device can do, detected once (in the worker) and then frozen. */
export interface Capabilities {
  webgpu: {
    available: boolean;
    /** A software adapter (SwiftShader & co.): WebGPU exists but is CPU-slow. */
    fallbackAdapter: boolean;
    shaderF16: boolean;
    /** Largest single buffer the adapter allows, bytes (0 when no WebGPU). */
    maxBufferSize: number;
    vendor: string;
    architecture: string;
    /** Why WebGPU is unusable, when it is. */
    reason: string | null;
  };
  wasm: {
    available: boolean;
    threads: boolean;
    simd: boolean;
  };
  /** navigator.deviceMemory in GiB (Chromium caps it at 8; null where unknown). */
  deviceMemoryGiB: number | null;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
}

export type ModelFeature = 'webgpu' | 'shader-f16';

export interface CatalogueEntry {
  /** Stable id used in settings and stored on messages. */
  id: string;
  label: string;
  backend: Backend;
  /** Hub repository (transformers.js) or WebLLM prebuilt model id. */
  repo: string;
  /** transformers.js only: file precision (`q8` -> onnx/model_quantized.onnx). */
  dtype?: 'q8' | 'q4' | 'q4f16' | 'fp16' | 'fp32';
  /** transformers.js only: which device to run on. */
  device?: 'wasm' | 'webgpu';
  /** WebLLM only: URL of the compiled model library relative to the hub/mirror. */
  modelLib?: string;
  downloadBytes: number;
  /** Memory the model needs while running (weights + KV cache), bytes. */
  memoryBytes: number;
  /**
   * WebGPU only: the largest single GPU buffer the model allocates, bytes,
   * checked against the adapter's `maxBufferSize`. Unset: it fits in the
   * 256 MiB every WebGPU adapter must allow.
   */
  maxBufferBytes?: number;
  requiredFeatures: ModelFeature[];
  contextWindow: number;
  /** A synthetic fixture with random weights: plumbing only, never proposed to people. */
  fixture?: boolean;
  /** Only served by a mirror (fixtures), not by the public hubs. */
  mirrorOnly?: boolean;
  description: string;
}

/** Why a catalogue entry can or cannot run here. */
export interface Suitability {
  entry: CatalogueEntry;
  runnable: boolean;
  /** Human-readable reasons it cannot run (empty when runnable). */
  reasons: string[];
  /** Runs, but would be painfully slow (software WebGPU adapter). */
  slow: boolean;
}

export type Role = 'system' | 'user' | 'assistant';

export interface ChatTurn {
  role: Role;
  content: string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
}

export interface LoadRequest {
  entry: CatalogueEntry;
  source: ModelSource;
}

/** Typed load progress: real bytes where the library reports them. */
export interface LoadProgress {
  phase: 'download' | 'initialise' | 'self-test';
  loadedBytes: number;
  totalBytes: number;
  /** 0..1, null when unknown. */
  fraction: number | null;
  /** Seconds remaining, null when unknown. */
  etaSeconds: number | null;
  /** Short text, e.g. the file being fetched. */
  detail: string;
}

export interface LoadResult {
  modelId: string;
  backend: Backend;
  device: 'wasm' | 'webgpu';
  loadMs: number;
  /** Output of the short test generation run before the model is marked ready. */
  selfTestTokens: number;
}

/** One streamed piece of a reply. */
export interface GenerationChunk {
  text: string;
  /** Tokens in this chunk. */
  tokens: number;
}

export interface GenerationResult {
  text: string;
  tokens: number;
  /** Time to first token, ms. */
  ttftMs: number;
  totalMs: number;
  tokensPerSecond: number;
  /** 'stop': the person (or an AbortSignal) stopped it; 'length': max tokens hit; 'end': the model finished. */
  finishReason: 'end' | 'length' | 'stop';
}

export interface CallOptions<P> {
  signal?: AbortSignal;
  onProgress?: (progress: P) => void;
}

/**
 * The engine contract. Implemented by the worker client (what the UI uses) and
 * by the back ends inside the worker.
 */
export interface Engine {
  capabilities(): Promise<Capabilities>;
  /** Loads a model and runs a short test generation. Aborting cancels the download. */
  load(request: LoadRequest, options?: CallOptions<LoadProgress>): Promise<LoadResult>;
  /** Streams a reply. Aborting stops generation; the promise then resolves with finishReason 'stop'. */
  generate(
    turns: ChatTurn[],
    options: GenerateOptions,
    call?: CallOptions<GenerationChunk>,
  ): Promise<GenerationResult>;
  unload(): Promise<void>;
}

/**
 * What a back end inside the worker implements: the engine without device
 * detection, which the worker does once for all back ends.
 */
export type EngineBackend = Omit<Engine, 'capabilities'>;
