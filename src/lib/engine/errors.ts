/**
 * The engine's failures, one class per thing that can go wrong, each with a
 * `message` (what happened) and a `hint` (what the person can do about it).
 *
 * Errors cross the worker boundary as plain data (`SerializedError`) and are
 * rebuilt into the same class on the other side by `name`. Raw errors from the
 * model libraries (transformers.js, ONNX Runtime, WebLLM, fetch, the Cache API)
 * are mapped onto these classes by `classifyError`, by name and message only,
 * so this module stays pure: no DOM, no model library.
 */

export interface EngineErrorOptions {
  /** What the person should do; each class has a default. */
  hint?: string;
  /** The underlying error, kept for diagnostics (not sent over the wire as an object). */
  cause?: unknown;
}

/** An engine error as plain, structured-clone-safe data. */
export interface SerializedError {
  name: string;
  message: string;
  hint: string;
  /** The raw library error this was classified from ("TypeError: Failed to fetch"), for bug reports. */
  detail?: string;
}

export class EngineError extends Error {
  override name = 'EngineError';
  readonly hint: string;
  /** The raw error text this one was classified from, if any. */
  readonly detail: string | undefined;

  constructor(message = 'The reasoning engine failed.', options: EngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint ?? 'Try again. If it keeps failing, reload the page.';
    this.detail = options.cause === undefined ? undefined : describeRaw(options.cause);
  }
}

/*
 * Each subclass gives a default message and hint. Constructors all take
 * `(message?, options?)` so `deserializeError` can rebuild any of them the same way.
 */

export class WebGPUUnavailableError extends EngineError {
  override name = 'WebGPUUnavailableError';
  constructor(message = 'WebGPU is not available in this browser.', options: EngineErrorOptions = {}) {
    super(message, {
      hint: 'Use a recent Chrome or Edge with WebGPU enabled, or pick a model that runs on WASM (transformers.js).',
      ...options,
    });
  }
}

export class ShaderF16UnsupportedError extends EngineError {
  override name = 'ShaderF16UnsupportedError';
  constructor(
    message = 'This model needs the WebGPU "shader-f16" feature, which this GPU or browser does not offer.',
    options: EngineErrorOptions = {},
  ) {
    super(message, {
      hint: 'Pick a model without f16 in its name (for example a q4f32 one) or a transformers.js (WASM) model.',
      ...options,
    });
  }
}

export class GPUDeviceLostError extends EngineError {
  override name = 'GPUDeviceLostError';
  constructor(
    message = 'The GPU was lost while running the model (usually it ran out of memory, or the driver reset).',
    options: EngineErrorOptions = {},
  ) {
    super(message, {
      hint: 'Load the model again. If it happens again, close other GPU-heavy tabs or pick a smaller model.',
      ...options,
    });
  }
}

export class OutOfMemoryError extends EngineError {
  override name = 'OutOfMemoryError';
  constructor(message = 'The model ran out of memory.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Close other tabs or apps, or pick a smaller model.', ...options });
  }
}

export class StorageQuotaError extends EngineError {
  override name = 'StorageQuotaError';
  constructor(
    message = 'The browser refused to store the model files: the storage quota is used up.',
    options: EngineErrorOptions = {},
  ) {
    super(message, {
      hint: 'Free some space (remove models you no longer use, or other site data) or pick a smaller model.',
      ...options,
    });
  }
}

export class ModelFilesMissingError extends EngineError {
  override name = 'ModelFilesMissingError';
  constructor(message = 'The model files could not be found.', options: EngineErrorOptions = {}) {
    super(message, {
      hint: 'Check the model mirror URL in settings, or go online once so the files can be downloaded and kept.',
      ...options,
    });
  }
}

export class ModelUnavailableError extends EngineError {
  override name = 'ModelUnavailableError';
  constructor(message = 'This model is not available.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Pick another model from the list.', ...options });
  }
}

export class NetworkError extends EngineError {
  override name = 'NetworkError';
  constructor(message = 'The model files could not be downloaded (network error).', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Check your connection or the model mirror, then try again.', ...options });
  }
}

export class WorkerCrashedError extends EngineError {
  override name = 'WorkerCrashedError';
  constructor(message = 'The engine stopped unexpectedly.', options: EngineErrorOptions = {}) {
    super(message, {
      hint: 'It has been restarted and the model is reloaded with your next message. If this repeats, pick a smaller model.',
      ...options,
    });
  }
}

export class EngineNotReadyError extends EngineError {
  override name = 'EngineNotReadyError';
  constructor(message = 'No model is loaded.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Load a model first.', ...options });
  }
}

export class SelfTestFailedError extends EngineError {
  override name = 'SelfTestFailedError';
  constructor(message = 'The model loaded but failed its short test generation.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Load it again; if it fails again, pick another model.', ...options });
  }
}

export class AbortedError extends EngineError {
  override name = 'AbortedError';
  constructor(message = 'Cancelled.', options: EngineErrorOptions = {}) {
    super(message, { hint: 'Start it again whenever you like.', ...options });
  }
}

type EngineErrorClass = new (message?: string, options?: EngineErrorOptions) => EngineError;

/** Every class by name: the one place deserialisation looks classes up. */
const ERROR_CLASSES: Readonly<Record<string, EngineErrorClass>> = {
  EngineError,
  WebGPUUnavailableError,
  ShaderF16UnsupportedError,
  GPUDeviceLostError,
  OutOfMemoryError,
  StorageQuotaError,
  ModelFilesMissingError,
  ModelUnavailableError,
  NetworkError,
  WorkerCrashedError,
  EngineNotReadyError,
  SelfTestFailedError,
  AbortedError,
};

export const ENGINE_ERROR_NAMES: readonly string[] = Object.keys(ERROR_CLASSES);

export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === 'string' &&
    typeof v.message === 'string' &&
    typeof v.hint === 'string' &&
    (v.detail === undefined || typeof v.detail === 'string')
  );
}

/** Plain data for postMessage. Anything that is not yet an EngineError is classified first. */
export function serializeError(e: unknown): SerializedError {
  const err = classifyError(e);
  const out: SerializedError = { name: err.name, message: err.message, hint: err.hint };
  if (err.detail !== undefined) out.detail = err.detail;
  return out;
}

/** Rebuilds the right class by name; unknown names become a plain EngineError with the same text. */
export function deserializeError(s: SerializedError): EngineError {
  const Ctor = Object.hasOwn(ERROR_CLASSES, s.name) ? ERROR_CLASSES[s.name] : undefined;
  const options: EngineErrorOptions = { hint: s.hint };
  if (s.detail !== undefined) options.cause = s.detail;
  return Ctor ? new Ctor(s.message, options) : new EngineError(s.message, options);
}

export interface ClassifyContext {
  /** navigator.onLine at the time of failure: a failed fetch while offline means the files are not cached. */
  offline?: boolean;
}

/**
 * Maps a raw error (or anything thrown) to one of ours. EngineErrors pass through.
 * Matching is by the error's `name` first and then by well-known message text,
 * because library errors rarely have distinct classes (or lose them crossing realms).
 */
export function classifyError(e: unknown, context: ClassifyContext = {}): EngineError {
  if (e instanceof EngineError) return e;
  const { name, message } = rawParts(e);
  const text = `${name}: ${message}`;
  const opts: EngineErrorOptions = { cause: e };

  if (name === 'AbortError' || name === 'AbortedError') return new AbortedError(undefined, opts);
  if (name === 'QuotaExceededError' || /quota ?exceeded|exceeded the quota|storage quota/i.test(text)) {
    return new StorageQuotaError(undefined, opts);
  }
  // WebLLM: an unknown prebuilt id.
  if (name === 'ModelNotFoundError' || name === 'SpecifiedModelNotFoundError') {
    return new ModelUnavailableError(`This model id is not known to WebLLM (${message}).`, opts);
  }
  if (name === 'ShaderF16SupportError' || /shader-f16/i.test(message)) return new ShaderF16UnsupportedError(undefined, opts);
  if (name === 'WebGPUNotAvailableError' || name === 'WebGPUNotFoundError' || name === 'FeatureSupportError') {
    return new WebGPUUnavailableError(undefined, opts);
  }
  if (name === 'DeviceLostError' || /device (was |is )?lost|GPUDeviceLost/i.test(text)) {
    return new GPUDeviceLostError(undefined, opts);
  }
  // transformers.js: a missing file (local or remote 404), or a mirror that lacks the repo.
  if (
    name === 'ModelFileNotFoundError' ||
    /could not locate file|file was not found|local file missing|\b404\b|not found locally/i.test(message)
  ) {
    return new ModelFilesMissingError(undefined, opts);
  }
  // A server with a single-page-app fallback answers a missing file with its index.html (status 200).
  if (/unexpected token '?<'?|<!doctype html|<html/i.test(message) && /json/i.test(message)) {
    return new ModelFilesMissingError(
      "The model mirror answered with a web page instead of the model's files: they are probably not on the mirror.",
      opts,
    );
  }
  // ONNX Runtime could not load its own WASM runtime (wrong wasmPaths, or offline before first caching).
  if (/no available backend found/i.test(message)) {
    return new EngineError('The WASM runtime for the model could not be loaded.', {
      hint: 'Reload the page. If you are offline, open the app once while online so it can keep the runtime.',
      cause: e,
    });
  }
  if (
    /out of memory|array buffer allocation failed|bad_alloc|could not allocate memory|cannot allocate memory|failed to allocate|allocation failed/i.test(
      text,
    )
  ) {
    return new OutOfMemoryError(undefined, opts);
  }
  if (/failed to fetch|fetch failed|networkerror|network error|load failed|err_internet_disconnected/i.test(text)) {
    return context.offline
      ? new ModelFilesMissingError('You are offline and the model files are not stored on this device.', opts)
      : new NetworkError(undefined, opts);
  }
  return new EngineError(message || 'The reasoning engine failed.', opts);
}

function rawParts(e: unknown): { name: string; message: string } {
  if (typeof e === 'object' && e !== null) {
    const v = e as { name?: unknown; message?: unknown };
    return {
      name: typeof v.name === 'string' ? v.name : 'Error',
      message: typeof v.message === 'string' ? v.message : safeString(e),
    };
  }
  return { name: 'Error', message: safeString(e) };
}

function describeRaw(e: unknown): string {
  if (typeof e === 'string') return e;
  const { name, message } = rawParts(e);
  return `${name}: ${message}`;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return 'unprintable error';
  }
}
