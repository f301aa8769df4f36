/**
 * TEST DOUBLE: a fake engine worker for the engine client's unit tests. It
 * speaks the real wire protocol (messages pass through structuredClone, as
 * with postMessage) and simulates a model with timers, so tests can drive
 * progress, streaming, cancel, crashes and silence deterministically with
 * fake timers. It runs no model. Never use it outside tests.
 */
import type { WorkerEventLike, WorkerLike } from '../../src/services/engine-client';
import type { Capabilities, LoadResult } from '../../src/lib/engine/contract';
import { EngineNotReadyError, ModelFilesMissingError, ShaderF16UnsupportedError, serializeError } from '../../src/lib/engine/errors';
import { parseToWorker, type FromWorkerMessage, type RequestMessage } from '../../src/lib/engine/protocol';

export const FAKE_CAPS: Capabilities = {
  webgpu: { available: false, fallbackAdapter: false, shaderF16: false, maxBufferSize: 0, vendor: '', architecture: '', reason: 'none' },
  wasm: { available: true, threads: false, simd: true },
  deviceMemoryGiB: 8,
  hardwareConcurrency: 4,
  crossOriginIsolated: false,
};

export interface FakeBehaviour {
  /** Words the fake model writes, one chunk (one token) each. */
  words: string[];
  /** Delay between chunks and between load steps, ms. */
  stepMs: number;
  /** Ignore cancel messages (a worker stuck in a long computation). */
  ignoreCancel: boolean;
  /** Answer nothing at all (a worker that died silently). */
  silent: boolean;
}

type Listener = (event: WorkerEventLike) => void;

export class FakeEngineWorker implements WorkerLike {
  static instances: FakeEngineWorker[] = [];
  /** Behaviour for workers created from now on. */
  static next: Partial<FakeBehaviour> = {};

  readonly behaviour: FakeBehaviour;
  readonly received: unknown[] = [];
  terminated = false;
  loadedModel: string | null = null;
  readonly #listeners = new Map<string, Listener[]>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #cancelled = new Set<number>();

  constructor() {
    this.behaviour = { words: ['Hello', ' there', ',', ' friend', '.'], stepMs: 10, ignoreCancel: false, silent: false, ...FakeEngineWorker.next };
    FakeEngineWorker.instances.push(this);
  }

  static reset(): void {
    FakeEngineWorker.instances = [];
    FakeEngineWorker.next = {};
  }

  static get latest(): FakeEngineWorker {
    const w = FakeEngineWorker.instances.at(-1);
    if (!w) throw new Error('no fake worker was created');
    return w;
  }

  // --- WorkerLike -----------------------------------------------------------

  postMessage(message: unknown): void {
    if (this.terminated) return;
    const data: unknown = structuredClone(message);
    this.received.push(data);
    this.#later(0, () => this.#handle(data));
  }

  terminate(): void {
    this.terminated = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  addEventListener(type: 'message' | 'messageerror' | 'error', listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  // --- test controls ----------------------------------------------------------

  /** Sends anything to the client, as the worker would (cloned). */
  emit(data: unknown): void {
    if (this.terminated) return;
    for (const l of this.#listeners.get('message') ?? []) l({ data: structuredClone(data) });
  }

  /** An uncaught error in the worker (the browser fires 'error' on the Worker object). */
  crash(message = 'RuntimeError: unreachable'): void {
    for (const l of this.#listeners.get('error') ?? []) l({ message });
  }

  requestsOfKind(kind: string): RequestMessage[] {
    return this.received
      .map((m) => parseToWorker(m))
      .filter((m): m is RequestMessage => m !== null && m.kind === kind);
  }

  cancels(): number[] {
    return this.received
      .map((m) => parseToWorker(m))
      .flatMap((m) => (m !== null && m.kind === 'cancel' ? [m.target] : []));
  }

  // --- the simulated engine ---------------------------------------------------

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.terminated) fn();
    }, ms);
    this.#timers.add(t);
  }

  #reply(message: FromWorkerMessage): void {
    this.emit(message);
  }

  #handle(data: unknown): void {
    if (this.behaviour.silent) return;
    const msg = parseToWorker(data);
    if (!msg) return;
    if (msg.kind === 'cancel') {
      if (!this.behaviour.ignoreCancel) this.#cancelled.add(msg.target);
      return;
    }
    switch (msg.kind) {
      case 'ping':
      case 'unload':
        if (msg.kind === 'unload') this.loadedModel = null;
        this.#reply({ id: msg.id, type: 'return', result: null });
        return;
      case 'capabilities':
        this.#reply({ id: msg.id, type: 'return', result: FAKE_CAPS });
        return;
      case 'load': {
        const { entry } = msg.params;
        // Like the real worker: a model this GPU cannot run is refused before the current one is freed.
        if (entry.backend === 'webllm') {
          this.#reply({ id: msg.id, type: 'throw', error: serializeError(new ShaderF16UnsupportedError()) });
          return;
        }
        this.loadedModel = null;
        if (entry.repo.startsWith('missing/')) {
          this.#reply({ id: msg.id, type: 'throw', error: serializeError(new ModelFilesMissingError()) });
          return;
        }
        const total = 3_000;
        const step = (i: number): void => {
          if (i < 3) {
            const loaded = (i + 1) * 1_000;
            this.#reply({
              id: msg.id,
              type: 'progress',
              progress: { phase: 'download', loadedBytes: loaded, totalBytes: total, fraction: loaded / total, etaSeconds: null, detail: `file ${i}` },
            });
            this.#later(this.behaviour.stepMs, () => step(i + 1));
            return;
          }
          this.loadedModel = entry.id;
          const result: LoadResult = { modelId: entry.id, backend: entry.backend, device: 'wasm', loadMs: 30, selfTestTokens: 4 };
          this.#reply({ id: msg.id, type: 'return', result });
        };
        this.#later(this.behaviour.stepMs, () => step(0));
        return;
      }
      case 'generate': {
        if (!this.loadedModel) {
          this.#reply({ id: msg.id, type: 'throw', error: serializeError(new EngineNotReadyError()) });
          return;
        }
        const max = msg.params.options.maxNewTokens;
        const words = this.behaviour.words;
        let text = '';
        let tokens = 0;
        const finish = (reason: 'end' | 'length' | 'stop'): void =>
          this.#reply({
            id: msg.id,
            type: 'return',
            result: { text, tokens, ttftMs: 1, totalMs: 2, tokensPerSecond: 100, finishReason: reason },
          });
        const step = (): void => {
          if (this.#cancelled.has(msg.id)) return finish('stop');
          if (tokens >= max) return finish('length');
          const word = words[tokens];
          if (word === undefined) return finish('end');
          text += word;
          tokens += 1;
          this.#reply({ id: msg.id, type: 'progress', progress: { text: word, tokens: 1 } });
          this.#later(this.behaviour.stepMs, step);
        };
        this.#later(this.behaviour.stepMs, step);
        return;
      }
    }
  }
}
