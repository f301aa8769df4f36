/**
 * The main-thread side of the embedder: `embed(texts)` over the embedder
 * worker (src/workers/embedder.worker.ts) and its typed protocol.
 *
 * - Which model embeds is fixed per client (`embedderId`, a hub repository
 *   id from the deployment's or the person's settings; DEFAULT_EMBEDDER
 *   otherwise). A different embedder is a different client: its vectors live
 *   in another space, and nothing here ever swaps one model for another.
 * - The worker starts on the first call and loads the model then.
 * - Large calls go out in batches of MAX_TEXTS_PER_REQUEST, so a cancel
 *   takes effect between batches and no single message grows unbounded.
 * - Every reply is checked before it is believed.
 * - A worker that dies (an `error` or `messageerror` event, or a failed
 *   postMessage) fails the pending calls with WorkerCrashedError and is
 *   replaced on the next call, not at once: a worker whose script cannot load
 *   must not respawn in a loop.
 *
 * The app creates it with
 *   new EmbedderClient(
 *     () => new Worker(new URL('../workers/embedder.worker.ts', import.meta.url), { type: 'module' }),
 *     { embedderId: config.embedder ?? DEFAULT_EMBEDDER, source },
 *   )
 */
import type { LoadProgress, ModelSource } from '../lib/engine/contract';
import {
  AbortedError,
  EngineError,
  WorkerCrashedError,
  classifyError,
  deserializeError,
} from '../lib/engine/errors';
import { isLoadProgress, parseFromWorker } from '../lib/engine/protocol';
import {
  MAX_EMBED_TEXT_CHARS,
  MAX_TEXTS_PER_REQUEST,
  isEmbedResult,
  rowsOf,
  type EmbedderCancel,
  type EmbedderRequest,
  type EmbedResult,
} from '../lib/memory/embedder-protocol';
import type { TextEmbedder } from '../lib/memory/types';
import type { WorkerFactory, WorkerLike } from './engine-client';

export interface EmbedderClientOptions {
  /** The model: a hub repository id (e.g. DEFAULT_EMBEDDER). Stored with every vector it makes. */
  embedderId: string;
  /** Where its files come from: the same source as the chat engine's. */
  source: ModelSource;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  /** Model download progress (first call only). */
  onProgress?: (progress: LoadProgress) => void;
}

interface Pending {
  resolve(result: EmbedResult): void;
  reject(error: EngineError): void;
  progress(raw: unknown): void;
}

export class EmbedderClient implements TextEmbedder {
  readonly embedderId: string;
  readonly #source: ModelSource;
  readonly #createWorker: WorkerFactory;
  #worker: WorkerLike | null = null;
  /** Increments with every worker, so events from a replaced one are ignored. */
  #generation = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #disposed = false;

  constructor(createWorker: WorkerFactory, options: EmbedderClientOptions) {
    if (options.embedderId.trim() === '') throw new RangeError('EmbedderClient: embedderId must not be empty');
    this.#createWorker = createWorker;
    this.embedderId = options.embedderId;
    this.#source = options.source;
  }

  /**
   * One unit vector (EMBEDDING_DIMENSION floats) per text, in order. Texts
   * longer than MAX_EMBED_TEXT_CHARS are cut first (the model would not read
   * past that anyway). Rejects with AbortedError when `signal` fires, with
   * ModelFilesMissingError / NetworkError when the model cannot be fetched,
   * and with WorkerCrashedError when the worker dies.
   */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const { signal } = options;
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += MAX_TEXTS_PER_REQUEST) {
      if (signal?.aborted) throw new AbortedError('Embedding was cancelled.');
      const batch = texts.slice(start, start + MAX_TEXTS_PER_REQUEST).map((text) => text.slice(0, MAX_EMBED_TEXT_CHARS));
      const result = await this.#request(batch, options);
      if (result.count !== batch.length) throw new EngineError('The embedder returned a different number of vectors than texts.');
      vectors.push(...rowsOf(result));
    }
    return vectors;
  }

  /** Ends the worker for good; pending and later calls fail. */
  dispose(): void {
    this.#disposed = true;
    this.#discardWorker(new EngineError('The embedder was shut down.', { hint: 'Reload the page.' }));
  }

  #request(texts: string[], { signal, onProgress }: EmbedOptions): Promise<EmbedResult> {
    return new Promise<EmbedResult>((resolve, reject) => {
      let worker: WorkerLike;
      try {
        worker = this.#ensureWorker();
      } catch (e) {
        reject(e);
        return;
      }
      const id = this.#nextId++;
      const onAbort = (): void => {
        // The worker finishes the batch it is on (inference cannot be interrupted) and its reply is
        // ignored; the caller is answered now.
        this.#settle(id)?.reject(new AbortedError('Embedding was cancelled.'));
        const cancel: EmbedderCancel = { kind: 'cancel', target: id };
        this.#post(cancel);
      };
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
        progress: (raw) => {
          if (isLoadProgress(raw)) onProgress?.(raw);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      const request: EmbedderRequest = { id, kind: 'embed', params: { model: { repo: this.embedderId, source: this.#source }, texts } };
      try {
        worker.postMessage(request);
      } catch (e) {
        this.#discardWorker(new WorkerCrashedError('The embedder could not be reached.', { cause: e }));
      }
    });
  }

  #ensureWorker(): WorkerLike {
    if (this.#disposed) throw new EngineError('The embedder was shut down.', { hint: 'Reload the page.' });
    if (this.#worker) return this.#worker;
    const generation = ++this.#generation;
    let worker: WorkerLike;
    try {
      worker = this.#createWorker();
    } catch (e) {
      throw new WorkerCrashedError(`The embedder could not be started: ${classifyError(e).message}`, { cause: e });
    }
    worker.addEventListener('message', (event) => {
      if (generation === this.#generation) this.#onMessage(event.data);
    });
    worker.addEventListener('error', (event) => {
      if (generation !== this.#generation) return;
      const detail = typeof event.message === 'string' && event.message ? `: ${event.message}` : '';
      this.#discardWorker(new WorkerCrashedError(`The embedder stopped unexpectedly${detail}.`, { hint: EMBEDDER_CRASH_HINT }));
    });
    worker.addEventListener('messageerror', () => {
      if (generation !== this.#generation) return;
      this.#discardWorker(new WorkerCrashedError('The embedder sent a message that could not be read.', { hint: EMBEDDER_CRASH_HINT }));
    });
    this.#worker = worker;
    return worker;
  }

  #onMessage(data: unknown): void {
    const msg = parseFromWorker(data);
    if (!msg) return;
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    switch (msg.type) {
      case 'progress':
        pending.progress(msg.progress);
        return;
      case 'return':
        this.#settle(msg.id);
        if (isEmbedResult(msg.result)) pending.resolve(msg.result);
        else pending.reject(new EngineError('The embedder sent a malformed reply.'));
        return;
      case 'throw':
        this.#settle(msg.id);
        pending.reject(deserializeError(msg.error));
        return;
    }
  }

  /** Removes and returns a pending call (undefined when it already ended). */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    return pending;
  }

  #post(message: EmbedderRequest | EmbedderCancel): void {
    try {
      this.#worker?.postMessage(message);
    } catch (e) {
      this.#discardWorker(new WorkerCrashedError('The embedder could not be reached.', { cause: e, hint: EMBEDDER_CRASH_HINT }));
    }
  }

  /** Terminates the current worker and ends every pending call with `error`. */
  #discardWorker(error: EngineError): void {
    const worker = this.#worker;
    this.#worker = null;
    this.#generation++;
    try {
      worker?.terminate();
    } catch {
      // Already gone.
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}

const EMBEDDER_CRASH_HINT = 'Try again: it restarts by itself. If this repeats, reload the page.';
