/**
 * The wire protocol between the engine client (main thread) and the engine
 * worker, typed end to end from one handler map.
 *
 *   client -> worker   { id, kind, params }          a request
 *                      { kind: 'cancel', target }    stop request `target` (generation)
 *   worker -> client   { id, type: 'progress', progress }
 *                      { id, type: 'return', result }
 *                      { id, type: 'throw', error: SerializedError }
 *
 * Both ends check every inbound message with the guards below before acting
 * on it: a message is structured-cloned data from another context, and a bug
 * (or anything else that can post to us) must not be able to crash a handler
 * with a shape it did not expect.
 */
import type {
  Capabilities,
  CatalogueEntry,
  ChatTurn,
  GenerateOptions,
  GenerationChunk,
  GenerationResult,
  LoadProgress,
  LoadRequest,
  LoadResult,
} from './contract';
import { isSerializedError, type SerializedError } from './errors';

export interface GenerateParams {
  turns: ChatTurn[];
  options: GenerateOptions;
}

/** Every request kind: what it takes, what it returns, what it streams meanwhile. */
export interface EngineHandlers {
  capabilities: { params: null; result: Capabilities; progress: never };
  load: { params: LoadRequest; result: LoadResult; progress: LoadProgress };
  generate: { params: GenerateParams; result: GenerationResult; progress: GenerationChunk };
  unload: { params: null; result: null; progress: never };
  /** Liveness check: answered at once, outside the queue of model work. */
  ping: { params: null; result: null; progress: never };
}

export type RequestKind = keyof EngineHandlers;
export type ParamsOf<K extends RequestKind> = EngineHandlers[K]['params'];
export type ResultOf<K extends RequestKind> = EngineHandlers[K]['result'];
export type ProgressOf<K extends RequestKind> = EngineHandlers[K]['progress'];

export type RequestMessage<K extends RequestKind = RequestKind> = K extends RequestKind
  ? { id: number; kind: K; params: ParamsOf<K> }
  : never;

export interface CancelMessage {
  kind: 'cancel';
  target: number;
}

export type ToWorkerMessage = RequestMessage | CancelMessage;

export interface ProgressReply<P = unknown> {
  id: number;
  type: 'progress';
  progress: P;
}
export interface ReturnReply<R = unknown> {
  id: number;
  type: 'return';
  result: R;
}
export interface ThrowReply {
  id: number;
  type: 'throw';
  error: SerializedError;
}

/** Replies as received: the envelope is checked here, the payload by the kind-specific guards below. */
export type FromWorkerMessage = ProgressReply | ReturnReply | ThrowReply;

// ---------------------------------------------------------------------------
// Small structural checks
// ---------------------------------------------------------------------------

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isNonNegNum(v: unknown): v is number {
  return isNum(v) && v >= 0;
}
function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isStr(v: unknown): v is string {
  return typeof v === 'string';
}
function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}
function isOneOf<T extends string>(v: unknown, options: readonly T[]): v is T {
  return typeof v === 'string' && (options as readonly string[]).includes(v);
}
function isNullOr<T>(v: unknown, guard: (x: unknown) => x is T): v is T | null {
  return v === null || guard(v);
}
function optional<T>(v: unknown, guard: (x: unknown) => x is T): v is T | undefined {
  return v === undefined || guard(v);
}

// ---------------------------------------------------------------------------
// Payload guards
// ---------------------------------------------------------------------------

const BACKENDS = ['webllm', 'transformers'] as const;
const DTYPES = ['q8', 'q4', 'q4f16', 'fp16', 'fp32'] as const;
const DEVICES = ['wasm', 'webgpu'] as const;
const FEATURES = ['webgpu', 'shader-f16'] as const;
const ROLES = ['system', 'user', 'assistant'] as const;

export function isCatalogueEntry(v: unknown): v is CatalogueEntry {
  return (
    isRecord(v) &&
    isStr(v.id) &&
    v.id.length > 0 &&
    isStr(v.label) &&
    isOneOf(v.backend, BACKENDS) &&
    isStr(v.repo) &&
    v.repo.length > 0 &&
    optional(v.dtype, (x): x is string => isOneOf(x, DTYPES)) &&
    optional(v.device, (x): x is string => isOneOf(x, DEVICES)) &&
    optional(v.modelLib, isStr) &&
    isNonNegNum(v.downloadBytes) &&
    isNonNegNum(v.memoryBytes) &&
    optional(v.maxBufferBytes, isNonNegNum) &&
    Array.isArray(v.requiredFeatures) &&
    v.requiredFeatures.every((f) => isOneOf(f, FEATURES)) &&
    isNonNegNum(v.contextWindow) &&
    optional(v.fixture, isBool) &&
    optional(v.mirrorOnly, isBool) &&
    isStr(v.description)
  );
}

export function isLoadRequest(v: unknown): v is LoadRequest {
  return isRecord(v) && isCatalogueEntry(v.entry) && isRecord(v.source) && isNullOr(v.source.mirror, isStr);
}

export function isChatTurn(v: unknown): v is ChatTurn {
  return isRecord(v) && isOneOf(v.role, ROLES) && isStr(v.content);
}

export function isGenerateOptions(v: unknown): v is GenerateOptions {
  return (
    isRecord(v) &&
    isId(v.maxNewTokens) &&
    v.maxNewTokens > 0 &&
    isNonNegNum(v.temperature) &&
    isNum(v.topP) &&
    v.topP > 0 &&
    v.topP <= 1
  );
}

export function isGenerateParams(v: unknown): v is GenerateParams {
  return isRecord(v) && Array.isArray(v.turns) && v.turns.every(isChatTurn) && isGenerateOptions(v.options);
}

export function isCapabilities(v: unknown): v is Capabilities {
  if (!isRecord(v) || !isRecord(v.webgpu) || !isRecord(v.wasm)) return false;
  const g = v.webgpu;
  const w = v.wasm;
  return (
    isBool(g.available) &&
    isBool(g.fallbackAdapter) &&
    isBool(g.shaderF16) &&
    isNonNegNum(g.maxBufferSize) &&
    isStr(g.vendor) &&
    isStr(g.architecture) &&
    isNullOr(g.reason, isStr) &&
    isBool(w.available) &&
    isBool(w.threads) &&
    isBool(w.simd) &&
    isNullOr(v.deviceMemoryGiB, isNonNegNum) &&
    isNonNegNum(v.hardwareConcurrency) &&
    isBool(v.crossOriginIsolated)
  );
}

export function isLoadProgress(v: unknown): v is LoadProgress {
  return (
    isRecord(v) &&
    isOneOf(v.phase, ['download', 'initialise', 'self-test'] as const) &&
    isNonNegNum(v.loadedBytes) &&
    isNonNegNum(v.totalBytes) &&
    isNullOr(v.fraction, isNonNegNum) &&
    isNullOr(v.etaSeconds, isNonNegNum) &&
    isStr(v.detail)
  );
}

export function isLoadResult(v: unknown): v is LoadResult {
  return (
    isRecord(v) &&
    isStr(v.modelId) &&
    isOneOf(v.backend, BACKENDS) &&
    isOneOf(v.device, DEVICES) &&
    isNonNegNum(v.loadMs) &&
    isNonNegNum(v.selfTestTokens)
  );
}

export function isGenerationChunk(v: unknown): v is GenerationChunk {
  return isRecord(v) && isStr(v.text) && isNonNegNum(v.tokens);
}

export function isGenerationResult(v: unknown): v is GenerationResult {
  return (
    isRecord(v) &&
    isStr(v.text) &&
    isNonNegNum(v.tokens) &&
    isNonNegNum(v.ttftMs) &&
    isNonNegNum(v.totalMs) &&
    isNonNegNum(v.tokensPerSecond) &&
    isOneOf(v.finishReason, ['end', 'length', 'stop'] as const)
  );
}

const isNull = (v: unknown): v is null => v === null;
const isNever = (_v: unknown): _v is never => false;

type Guard<T> = (v: unknown) => v is T;

/** Per kind: the shape of its params (checked by the worker). */
export const PARAMS_GUARDS: { [K in RequestKind]: Guard<ParamsOf<K>> } = {
  capabilities: isNull,
  load: isLoadRequest,
  generate: isGenerateParams,
  unload: isNull,
  ping: isNull,
};

/** Per kind: the shape of its result (checked by the client). */
export const RESULT_GUARDS: { [K in RequestKind]: Guard<ResultOf<K>> } = {
  capabilities: isCapabilities,
  load: isLoadResult,
  generate: isGenerationResult,
  unload: isNull,
  ping: isNull,
};

/** Per kind: the shape of its progress events (checked by the client). */
export const PROGRESS_GUARDS: { [K in RequestKind]: Guard<ProgressOf<K>> } = {
  capabilities: isNever,
  load: isLoadProgress,
  generate: isGenerationChunk,
  unload: isNever,
  ping: isNever,
};

const REQUEST_KINDS = Object.keys(PARAMS_GUARDS) as RequestKind[];

export function isRequestKind(v: unknown): v is RequestKind {
  return isOneOf(v, REQUEST_KINDS);
}

// ---------------------------------------------------------------------------
// Envelope parsers
// ---------------------------------------------------------------------------

/** Worker side: a request or a cancel, fully checked; anything else is null (and ignored). */
export function parseToWorker(data: unknown): ToWorkerMessage | null {
  if (!isRecord(data)) return null;
  if (data.kind === 'cancel') {
    return isId(data.target) ? { kind: 'cancel', target: data.target } : null;
  }
  if (!isId(data.id) || !isRequestKind(data.kind)) return null;
  // Requests without params (capabilities, unload, ping) may omit the field.
  const params = data.params === undefined ? null : data.params;
  return checkRequest(data.id, data.kind, params);
}

function checkRequest(id: number, kind: RequestKind, params: unknown): ToWorkerMessage | null {
  switch (kind) {
    case 'load':
      return isLoadRequest(params) ? { id, kind, params } : null;
    case 'generate':
      return isGenerateParams(params) ? { id, kind, params } : null;
    case 'capabilities':
    case 'unload':
    case 'ping':
      return params === null ? { id, kind, params } : null;
  }
}

/** Client side: a well-formed reply envelope, or null. The payload is checked per kind by the caller. */
export function parseFromWorker(data: unknown): FromWorkerMessage | null {
  if (!isRecord(data) || !isId(data.id)) return null;
  switch (data.type) {
    case 'progress':
      return 'progress' in data ? { id: data.id, type: 'progress', progress: data.progress } : null;
    case 'return':
      return 'result' in data ? { id: data.id, type: 'return', result: data.result } : null;
    case 'throw':
      return isSerializedError(data.error) ? { id: data.id, type: 'throw', error: data.error } : null;
    default:
      return null;
  }
}
