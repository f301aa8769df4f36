/**
 * TEST DOUBLE: an in-process stand-in for the embedder worker, for the
 * embedder client's tests. It speaks the real wire protocol (every message is
 * structured-cloned, as postMessage does) and answers with the REAL embedder
 * code (TransformersEmbedder on onnxruntime-node's CPU), so what the client
 * receives are real vectors; only the thread boundary is simulated. Tests can
 * make it crash, fall silent or answer garbage. Never use it outside tests.
 */
import { serializeError } from '../../src/lib/engine/errors';
import type { FromWorkerMessage } from '../../src/lib/engine/protocol';
import { parseToEmbedder, type EmbedderRequest } from '../../src/lib/memory/embedder-protocol';
import type { WorkerEventLike, WorkerLike } from '../../src/services/engine-client';
import { TransformersEmbedder } from '../../src/workers/transformers-embedder';

type Listener = (event: WorkerEventLike) => void;
type EmbedRequest = Extract<EmbedderRequest, { kind: 'embed' }>;

export interface DoubleBehaviour {
  /** Answer nothing (a hung worker). */
  silent: boolean;
  /** Answer every embed with this instead of the real result. */
  reply: ((request: EmbedderRequest) => unknown) | null;
}

export class InProcessEmbedderWorker implements WorkerLike {
  static instances: InProcessEmbedderWorker[] = [];
  static next: Partial<DoubleBehaviour> = {};
  /** One real embedder shared by all doubles: a respawned worker in the app reloads, here it need not. */
  static readonly embedder = new TransformersEmbedder({ device: 'cpu', progressIntervalMs: 0 });

  readonly behaviour: DoubleBehaviour;
  readonly received: unknown[] = [];
  terminated = false;
  readonly #listeners = new Map<string, Listener[]>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.behaviour = { silent: false, reply: null, ...InProcessEmbedderWorker.next };
    InProcessEmbedderWorker.instances.push(this);
  }

  static reset(): void {
    InProcessEmbedderWorker.instances = [];
    InProcessEmbedderWorker.next = {};
  }

  static get latest(): InProcessEmbedderWorker {
    const w = InProcessEmbedderWorker.instances.at(-1);
    if (!w) throw new Error('no worker double was created');
    return w;
  }

  postMessage(message: unknown): void {
    if (this.terminated) return;
    const data: unknown = structuredClone(message);
    this.received.push(data);
    setTimeout(() => this.#handle(data), 0);
  }

  terminate(): void {
    this.terminated = true;
  }

  addEventListener(type: 'message' | 'messageerror' | 'error', listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  /** An uncaught error in the worker (the browser fires 'error' on the Worker object). */
  crash(message = 'RuntimeError: memory access out of bounds'): void {
    for (const l of this.#listeners.get('error') ?? []) l({ message });
  }

  embedRequests(): EmbedRequest[] {
    return this.received.map((m) => parseToEmbedder(m)).filter((m): m is EmbedRequest => m !== null && m.kind === 'embed');
  }

  cancels(): number[] {
    return this.received.map((m) => parseToEmbedder(m)).flatMap((m) => (m !== null && m.kind === 'cancel' ? [m.target] : []));
  }

  #emit(message: unknown): void {
    if (this.terminated) return;
    for (const l of this.#listeners.get('message') ?? []) l({ data: structuredClone(message) });
  }

  #handle(data: unknown): void {
    if (this.terminated || this.behaviour.silent) return;
    const msg = parseToEmbedder(data);
    if (!msg || msg.kind === 'cancel') return;
    if (msg.kind === 'ping') {
      this.#emit({ id: msg.id, type: 'return', result: null } satisfies FromWorkerMessage);
      return;
    }
    const custom = this.behaviour.reply;
    if (custom) {
      this.#emit(custom(msg));
      return;
    }
    // One at a time, like the real worker.
    this.#queue = this.#queue.then(async () => {
      try {
        const result = await InProcessEmbedderWorker.embedder.embed(msg.params.model, msg.params.texts, {
          onProgress: (progress) => this.#emit({ id: msg.id, type: 'progress', progress }),
        });
        this.#emit({ id: msg.id, type: 'return', result });
      } catch (e) {
        this.#emit({ id: msg.id, type: 'throw', error: serializeError(e) });
      }
    });
  }
}
