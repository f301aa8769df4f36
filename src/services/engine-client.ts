/**
 * The main-thread side of the engine: implements `Engine` by talking to the
 * engine worker (src/workers/engine.worker.ts) over the typed protocol.
 *
 * Beyond forwarding calls it makes the worker boundary safe to rely on:
 * - every reply is checked before it is believed (protocol guards);
 * - stopping a generation asks the worker to stop and resolves with the text
 *   so far; if the worker does not answer in time it is replaced;
 * - cancelling a load ends the worker (transformers.js downloads cannot be
 *   aborted reliably) and starts a fresh one;
 * - a worker that dies (an `error` event, or silence past the heartbeat
 *   timeout) fails its pending calls with WorkerCrashedError, is replaced,
 *   and the model it held is loaded again before the next generation.
 *
 * The app creates it with
 *   new EngineClient(() => new Worker(new URL('../workers/engine.worker.ts', import.meta.url), { type: 'module' }))
 * and unit tests pass a fake worker.
 */
import type {
  CallOptions,
  Capabilities,
  ChatTurn,
  Engine,
  GenerateOptions,
  GenerationChunk,
  GenerationResult,
  LoadProgress,
  LoadRequest,
  LoadResult,
} from '../lib/engine/contract';
import {
  AbortedError,
  EngineError,
  ShaderF16UnsupportedError,
  WebGPUUnavailableError,
  WorkerCrashedError,
  classifyError,
  deserializeError,
  serializeError,
  type SerializedError,
} from '../lib/engine/errors';
import {
  PROGRESS_GUARDS,
  RESULT_GUARDS,
  parseFromWorker,
  type CancelMessage,
  type ParamsOf,
  type ProgressOf,
  type RequestKind,
  type RequestMessage,
  type ResultOf,
} from '../lib/engine/protocol';

/** What the client needs of a Worker; a real `Worker` satisfies it, and so does a test double. */
export interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: WorkerEventLike) => void): void;
}

export interface WorkerEventLike {
  /** The message, for 'message' events. */
  data?: unknown;
  /** The error text, for 'error' events. */
  message?: unknown;
}

export type WorkerFactory = () => WorkerLike;

export type EngineStatus = 'idle' | 'loading' | 'ready' | 'generating' | 'crashed';

export interface EngineClientState {
  status: EngineStatus;
  /** The model loaded, being loaded, or (after a crash) to be reloaded. */
  modelId: string | null;
  /** True while loading a model again after the worker crashed. */
  recovering: boolean;
  /** Progress of the current load, if any. */
  progress: LoadProgress | null;
  /** Why the worker last crashed (status 'crashed'), as plain data. */
  error: SerializedError | null;
}

export interface EngineClientOptions {
  /** How often to check the worker is alive while calls are pending, ms. */
  heartbeatIntervalMs?: number;
  /** Silence after which a worker with pending calls counts as dead, ms. */
  heartbeatTimeoutMs?: number;
  /** The same while a load is pending: compiling a large model can keep the worker busy for long. */
  loadHeartbeatTimeoutMs?: number;
  /** How long a stopped generation may take to wind down before the worker is replaced, ms. */
  stopGraceMs?: number;
  /** Clock in ms. */
  now?: () => number;
}

type Listener = (state: EngineClientState) => void;

interface Pending {
  kind: RequestKind;
  progress(raw: unknown): void;
  settle(raw: unknown): void;
  fail(error: SerializedError): void;
  /** Ends the call when its worker is gone; generations may resolve with what they have. */
  lost(error: EngineError): void;
}

const DEFAULTS = {
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 60_000,
  loadHeartbeatTimeoutMs: 300_000,
  stopGraceMs: 5_000,
} as const;

export class EngineClient implements Engine {
  readonly #createWorker: WorkerFactory;
  readonly #opts: Required<Omit<EngineClientOptions, 'now'>>;
  readonly #now: () => number;

  #worker: WorkerLike | null = null;
  /** Increments with every worker, so events from a replaced one are ignored. */
  #generation = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #lastHeard = 0;
  #heartbeat: ReturnType<typeof setInterval> | null = null;

  #capabilities: Promise<Capabilities> | null = null;
  /** The last load that succeeded in the current worker. */
  #loaded: LoadRequest | null = null;
  /** A model to load again before the next generation (the worker holding it crashed). */
  #restore: LoadRequest | null = null;
  #disposed = false;

  #state: EngineClientState = { status: 'idle', modelId: null, recovering: false, progress: null, error: null };
  readonly #listeners = new Set<Listener>();

  constructor(createWorker: WorkerFactory, options: EngineClientOptions = {}) {
    this.#createWorker = createWorker;
    this.#opts = {
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULTS.heartbeatTimeoutMs,
      loadHeartbeatTimeoutMs: options.loadHeartbeatTimeoutMs ?? DEFAULTS.loadHeartbeatTimeoutMs,
      stopGraceMs: options.stopGraceMs ?? DEFAULTS.stopGraceMs,
    };
    this.#now = options.now ?? (() => Date.now());
  }

  // -------------------------------------------------------------------------
  // State for the UI
  // -------------------------------------------------------------------------

  get state(): EngineClientState {
    return this.#state;
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setState(patch: Partial<EngineClientState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of [...this.#listeners]) {
      try {
        listener(this.#state);
      } catch (e) {
        console.error('[engine client] state listener failed:', e);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Engine
  // -------------------------------------------------------------------------

  capabilities(): Promise<Capabilities> {
    // The device does not change while the page lives; a failure is not cached.
    this.#capabilities ??= this.#request('capabilities', null).promise.catch((e: unknown) => {
      this.#capabilities = null;
      throw e;
    });
    return this.#capabilities;
  }

  async load(request: LoadRequest, call: CallOptions<LoadProgress> = {}): Promise<LoadResult> {
    return this.#load(request, call, false);
  }

  async generate(
    turns: ChatTurn[],
    options: GenerateOptions,
    call: CallOptions<GenerationChunk> = {},
  ): Promise<GenerationResult> {
    const { signal, onProgress } = call;
    if (signal?.aborted) return stoppedResult('', 0, 0, 0);
    await this.#restoreIfNeeded();
    if (signal?.aborted) return stoppedResult('', 0, 0, 0);

    const started = this.#now();
    let text = '';
    let tokens = 0;
    let firstChunkAt: number | null = null;
    const partial = (): GenerationResult =>
      stoppedResult(text, tokens, firstChunkAt === null ? 0 : firstChunkAt - started, this.#now() - started);

    let stopping = false;
    const { id, promise } = this.#request(
      'generate',
      { turns, options },
      (chunk) => {
        firstChunkAt ??= this.#now();
        text += chunk.text;
        tokens += chunk.tokens;
        onProgress?.(chunk);
      },
      // If the worker dies after the person pressed stop, what was written so far is the answer.
      () => (stopping ? partial() : null),
    );

    this.#setState({ status: 'generating', modelId: this.#loaded?.entry.id ?? this.#state.modelId });
    let grace: ReturnType<typeof setTimeout> | null = null;
    const onAbort = (): void => {
      stopping = true;
      const cancel: CancelMessage = { kind: 'cancel', target: id };
      this.#post(cancel);
      // A worker that cannot stop (stuck in a long computation) is replaced; the reply keeps its text.
      grace = setTimeout(() => {
        if (this.#pending.has(id)) this.#crash(new WorkerCrashedError('The engine did not stop when asked.'));
      }, this.#opts.stopGraceMs);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await promise;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (grace !== null) clearTimeout(grace);
      if (this.#state.status === 'generating') {
        this.#setState({ status: this.#loaded ? 'ready' : 'idle' });
      }
    }
  }

  async unload(): Promise<void> {
    this.#restore = null;
    if (this.#worker) await this.#request('unload', null).promise;
    this.#loaded = null;
    this.#setState({ status: 'idle', modelId: null, progress: null, recovering: false });
  }

  /** Ends the worker for good; pending and later calls fail. */
  dispose(): void {
    this.#disposed = true;
    this.#discardWorker(new EngineError('The engine was shut down.', { hint: 'Reload the page.' }));
    this.#listeners.clear();
  }

  // -------------------------------------------------------------------------
  // Loading and recovery
  // -------------------------------------------------------------------------

  async #load(request: LoadRequest, call: CallOptions<LoadProgress>, recovering: boolean): Promise<LoadResult> {
    const { signal, onProgress } = call;
    if (signal?.aborted) throw new AbortedError('Loading was cancelled.');
    if (!recovering) this.#restore = null;
    this.#setState({ status: 'loading', modelId: request.entry.id, recovering, progress: null, error: null });

    const { promise } = this.#request('load', request, (progress) => {
      this.#setState({ progress });
      onProgress?.(progress);
    });
    // transformers.js cannot abort a download midway, so cancelling ends the worker that runs it.
    const onAbort = (): void => this.#discardWorker(new AbortedError('Loading was cancelled.'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await promise;
      this.#loaded = request;
      this.#setState({ status: 'ready', modelId: request.entry.id, recovering: false, progress: null });
      return result;
    } catch (e) {
      // A model refused for this GPU is refused before anything is touched, so the current one stays.
      // Any other failure happens after the worker freed the old model to make room: nothing is loaded.
      const refusedUpFront = e instanceof WebGPUUnavailableError || e instanceof ShaderF16UnsupportedError;
      if (!refusedUpFront) this.#loaded = null;
      if (this.#state.status === 'loading') {
        const kept = this.#loaded;
        this.#setState(
          kept
            ? { status: 'ready', modelId: kept.entry.id, recovering: false, progress: null }
            : { status: 'idle', modelId: null, recovering: false, progress: null },
        );
      }
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async #restoreIfNeeded(): Promise<void> {
    const request = this.#restore;
    if (!request) return;
    // One attempt only: a model that crashes the worker while loading must not be retried forever.
    this.#restore = null;
    await this.#load(request, {}, true);
  }

  // -------------------------------------------------------------------------
  // The worker
  // -------------------------------------------------------------------------

  #ensureWorker(): WorkerLike {
    if (this.#disposed) throw new EngineError('The engine was shut down.', { hint: 'Reload the page.' });
    if (this.#worker) return this.#worker;
    const generation = ++this.#generation;
    let worker: WorkerLike;
    try {
      worker = this.#createWorker();
    } catch (e) {
      throw new WorkerCrashedError(`The engine could not be started: ${classifyError(e).message}`, { cause: e });
    }
    worker.addEventListener('message', (event) => this.#onMessage(generation, event.data));
    worker.addEventListener('error', (event) => {
      if (generation !== this.#generation) return;
      const detail = typeof event.message === 'string' && event.message ? `: ${event.message}` : '';
      this.#crash(new WorkerCrashedError(`The engine stopped unexpectedly${detail}.`));
    });
    // A reply that could not be deserialised leaves its call unanswerable; start clean.
    worker.addEventListener('messageerror', () => {
      if (generation !== this.#generation) return;
      this.#crash(new WorkerCrashedError('The engine sent a message that could not be read.'));
    });
    this.#worker = worker;
    this.#lastHeard = this.#now();
    return worker;
  }

  #onMessage(generation: number, data: unknown): void {
    if (generation !== this.#generation) return;
    this.#lastHeard = this.#now();
    const msg = parseFromWorker(data);
    if (!msg) return;
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    switch (msg.type) {
      case 'progress':
        pending.progress(msg.progress);
        return;
      case 'return':
        this.#settled(msg.id);
        pending.settle(msg.result);
        return;
      case 'throw':
        this.#settled(msg.id);
        pending.fail(msg.error);
        return;
    }
  }

  #post(message: RequestMessage | CancelMessage): void {
    try {
      this.#worker?.postMessage(message);
    } catch (e) {
      this.#crash(new WorkerCrashedError('The engine could not be reached.', { cause: e }));
    }
  }

  /**
   * Sends a request; its progress and result are checked against the kind's
   * guards. `onLost` may turn the loss of the worker into a result.
   */
  #request<K extends RequestKind>(
    kind: K,
    params: ParamsOf<K>,
    onProgress?: (progress: ProgressOf<K>) => void,
    onLost?: () => ResultOf<K> | null,
  ): { id: number; promise: Promise<ResultOf<K>> } {
    const id = this.#nextId++;
    const resultGuard: (v: unknown) => v is ResultOf<K> = RESULT_GUARDS[kind];
    const progressGuard: (v: unknown) => v is ProgressOf<K> = PROGRESS_GUARDS[kind];
    const promise = new Promise<ResultOf<K>>((resolve, reject) => {
      let worker: WorkerLike;
      try {
        worker = this.#ensureWorker();
      } catch (e) {
        reject(e instanceof EngineError ? e : classifyError(e));
        return;
      }
      this.#pending.set(id, {
        kind,
        progress: (raw) => {
          if (progressGuard(raw)) onProgress?.(raw);
        },
        settle: (raw) => {
          if (resultGuard(raw)) resolve(raw);
          else reject(new EngineError(`The engine sent a malformed reply to "${kind}".`));
        },
        fail: (error) => reject(deserializeError(error)),
        lost: (error) => {
          const fallback = onLost?.() ?? null;
          if (fallback !== null) resolve(fallback);
          else reject(error);
        },
      });
      this.#startHeartbeat();
      try {
        worker.postMessage({ id, kind, params });
      } catch (e) {
        this.#crash(new WorkerCrashedError('The engine could not be reached.', { cause: e }));
      }
    });
    return { id, promise };
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#stopHeartbeat();
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== null) return;
    // Time spent idle before this call is not silence.
    this.#lastHeard = this.#now();
    this.#heartbeat = setInterval(() => this.#checkAlive(), this.#opts.heartbeatIntervalMs);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  #checkAlive(): void {
    if (this.#pending.size === 0) {
      this.#stopHeartbeat();
      return;
    }
    const loading = [...this.#pending.values()].some((p) => p.kind === 'load');
    const timeout = loading ? this.#opts.loadHeartbeatTimeoutMs : this.#opts.heartbeatTimeoutMs;
    const silentFor = this.#now() - this.#lastHeard;
    if (silentFor > timeout) {
      this.#crash(new WorkerCrashedError(`The engine stopped responding (silent for ${Math.round(silentFor / 1000)} s).`));
      return;
    }
    // Any reply, even to a ping nobody waits for, proves the worker is alive.
    this.#post({ id: this.#nextId++, kind: 'ping', params: null });
  }

  /** The worker died: fail its calls, drop it, and remember its model for the next generation. */
  #crash(error: WorkerCrashedError): void {
    const lostModel = this.#loaded ?? this.#restore;
    this.#discardWorker(error);
    this.#restore = lostModel;
    this.#setState({
      status: 'crashed',
      modelId: lostModel?.entry.id ?? null,
      recovering: false,
      progress: null,
      error: serializeError(error),
    });
    // The replacement starts with the next call, not here: a worker whose script cannot load
    // would otherwise crash, respawn and crash again in a tight loop.
  }

  /** Terminates the current worker and ends every pending call with `error`. */
  #discardWorker(error: EngineError): void {
    const worker = this.#worker;
    this.#worker = null;
    this.#generation++;
    this.#stopHeartbeat();
    this.#loaded = null;
    try {
      worker?.terminate();
    } catch {
      // Already gone.
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.lost(error);
    if (error instanceof AbortedError) {
      this.#setState({ status: 'idle', modelId: null, recovering: false, progress: null });
      this.#spawnQuietly();
    }
  }

  /** After a cancelled load a fresh worker is started right away, so the next call does not wait for it. */
  #spawnQuietly(): void {
    if (this.#disposed) return;
    try {
      this.#ensureWorker();
    } catch {
      // The next call reports it.
    }
  }
}

function stoppedResult(text: string, tokens: number, ttftMs: number, totalMs: number): GenerationResult {
  const decodeMs = totalMs - ttftMs;
  return {
    text,
    tokens,
    ttftMs,
    totalMs,
    tokensPerSecond: tokens > 1 && decodeMs > 0 ? (tokens - 1) / (decodeMs / 1000) : 0,
    finishReason: 'stop',
  };
}
