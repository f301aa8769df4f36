/**
 * Reactive engine state: what the device can do, which model is proposed,
 * loaded or loading (with progress and cancel), and the last failure with
 * what to do about it. The UI reads this; the engine itself lives in a worker
 * behind `Engine`.
 */
import type {
  Capabilities,
  CatalogueEntry,
  ChatTurn,
  Engine,
  GenerateOptions,
  GenerationChunk,
  GenerationResult,
  LoadProgress,
  LoadResult,
  ModelSource,
  Suitability,
} from '../lib/engine/contract';
import { CATALOGUE, findEntry } from '../lib/engine/catalogue';
import { assessSuitability, recommendModel } from '../lib/engine/selection';
import {
  AbortedError,
  EngineError,
  ShaderF16UnsupportedError,
  WebGPUUnavailableError,
} from '../lib/engine/errors';
import { describeProgress } from '../lib/engine/progress-text';

export type EngineStatus = 'detecting' | 'idle' | 'loading' | 'ready' | 'generating' | 'error';

export interface ShownError {
  name: string;
  message: string;
  hint: string;
}

function toShownError(err: unknown): ShownError {
  if (err instanceof EngineError) return { name: err.name, message: err.message, hint: err.hint };
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, hint: 'Try again. If it keeps failing, reload the page.' };
}

export class EngineState {
  status = $state<EngineStatus>('detecting');
  capabilities = $state.raw<Capabilities | null>(null);
  source = $state.raw<ModelSource>({ mirror: null });
  /** The model the person chose (or was proposed), not necessarily loaded. */
  selectedId = $state<string | null>(null);
  preferredId = $state<string | null>(null);
  loaded = $state.raw<{ entry: CatalogueEntry; result: LoadResult } | null>(null);
  loadingEntry = $state.raw<CatalogueEntry | null>(null);
  progress = $state.raw<LoadProgress | null>(null);
  error = $state.raw<ShownError | null>(null);
  /** A line for the status region; changes only at meaningful steps so screen readers are not flooded. */
  announcement = $state('Starting…');

  suitability: Suitability[] = $derived(
    this.capabilities ? CATALOGUE.map((e) => assessSuitability(e, this.capabilities!, this.source)) : [],
  );
  recommendation = $derived(
    this.capabilities ? recommendModel(CATALOGUE, this.capabilities, this.source, this.preferredId ?? undefined) : null,
  );
  selected: CatalogueEntry | null = $derived(
    (this.selectedId ? findEntry(this.selectedId) : undefined) ?? this.recommendation?.entry ?? null,
  );

  #engine: Engine;
  #loadAbort: AbortController | null = null;
  #lastAnnouncedQuarter = -1;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  async detect(source: ModelSource, preferredId: string | null): Promise<void> {
    this.source = source;
    this.preferredId = preferredId;
    try {
      this.capabilities = await this.#engine.capabilities();
      this.status = 'idle';
      this.announcement = this.loaded ? this.announcement : 'No model loaded.';
    } catch (err) {
      this.#fail(err);
    }
  }

  setSource(source: ModelSource): void {
    this.source = source;
  }

  select(id: string): void {
    this.selectedId = id;
  }

  async load(entry: CatalogueEntry | null = this.selected): Promise<boolean> {
    if (!entry) return false;
    if (this.status === 'loading') this.cancelLoad();
    const abort = new AbortController();
    this.#loadAbort = abort;
    this.status = 'loading';
    this.loadingEntry = entry;
    this.error = null;
    this.progress = null;
    this.#lastAnnouncedQuarter = -1;
    this.announcement = `Loading ${entry.label}…`;
    try {
      const result = await this.#engine.load(
        { entry, source: this.source },
        { signal: abort.signal, onProgress: (p) => this.#onProgress(entry, p) },
      );
      if (abort.signal.aborted) return false;
      this.loaded = { entry, result };
      this.status = 'ready';
      this.announcement = `${entry.label} is ready (${result.backend === 'webllm' ? 'WebLLM' : 'transformers.js'}, ${result.device === 'webgpu' ? 'WebGPU' : 'WASM'}).`;
      return true;
    } catch (err) {
      if (err instanceof AbortedError || abort.signal.aborted) {
        // Cancelling ends the worker that was downloading, and any model it held.
        this.loaded = null;
        this.status = 'idle';
        this.announcement = `Loading ${entry.label} was cancelled.`;
        return false;
      }
      // A refusal for this GPU happens before the old model is touched: it keeps working.
      const refusedBeforeLoading = err instanceof WebGPUUnavailableError || err instanceof ShaderF16UnsupportedError;
      if (!refusedBeforeLoading) this.loaded = null;
      this.#fail(err);
      if (this.loaded) this.status = 'ready';
      return false;
    } finally {
      if (this.#loadAbort === abort) this.#loadAbort = null;
      this.loadingEntry = null;
      this.progress = null;
    }
  }

  cancelLoad(): void {
    this.#loadAbort?.abort();
  }

  async generate(
    turns: ChatTurn[],
    options: GenerateOptions,
    onChunk: (chunk: GenerationChunk) => void,
    signal: AbortSignal,
  ): Promise<GenerationResult> {
    if (!this.loaded) throw new EngineError('No model is loaded.');
    this.status = 'generating';
    try {
      return await this.#engine.generate(turns, options, { signal, onProgress: onChunk });
    } catch (err) {
      // The client recovers a crashed worker and reloads the model on the next call.
      this.error = toShownError(err);
      throw err;
    } finally {
      if (this.status === 'generating') this.status = this.loaded ? 'ready' : 'idle';
    }
  }

  #onProgress(entry: CatalogueEntry, p: LoadProgress): void {
    this.progress = p;
    const quarter = p.fraction === null ? -1 : Math.floor(p.fraction * 4);
    if (p.phase !== 'download' || quarter !== this.#lastAnnouncedQuarter) {
      this.#lastAnnouncedQuarter = quarter;
      this.announcement = `Loading ${entry.label}: ${describeProgress(p)}`;
    }
  }

  #fail(err: unknown): void {
    this.error = toShownError(err);
    this.status = 'error';
    this.announcement = `${this.error.message} ${this.error.hint}`;
  }
}
