/**
 * The WebLLM back end: MLC-compiled models on WebGPU, run by `MLCEngine`
 * directly inside our worker (not WebLLM's own worker wrapper, so one worker
 * and one protocol serve both back ends).
 *
 * Before anything is downloaded it checks the model's GPU needs against the
 * detected adapter: WebLLM fetches the model config before it looks at the
 * GPU, so without this check an f16 model on a device without shader-f16
 * fails late and vaguely.
 *
 * Model files come from the public hubs as listed in WebLLM's
 * `prebuiltAppConfig`, or from a mirror with the hub layout:
 *   weights  https://huggingface.co/mlc-ai/<model>
 *         -> <mirror>mlc-ai/<model>/resolve/main/
 *   library  https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/main/<path>
 *         -> <mirror>mlc-ai/binary-mlc-llm-libs/resolve/main/<path>
 *
 * The library is imported lazily: most of its 6 MB is only needed once a
 * WebLLM model is actually loaded.
 */
import type { AppConfig, InitProgressReport, MLCEngine, ModelRecord } from '@mlc-ai/web-llm';
import type {
  CallOptions,
  Capabilities,
  CatalogueEntry,
  ChatTurn,
  EngineBackend,
  GenerateOptions,
  GenerationChunk,
  GenerationResult,
  LoadProgress,
  LoadRequest,
  LoadResult,
  ModelSource,
} from '../lib/engine/contract';
import {
  AbortedError,
  EngineError,
  EngineNotReadyError,
  GPUDeviceLostError,
  ModelUnavailableError,
  SelfTestFailedError,
  ShaderF16UnsupportedError,
  WebGPUUnavailableError,
  classifyError,
} from '../lib/engine/errors';
import { ByteProgress } from '../lib/engine/progress';

type WebLLMModule = typeof import('@mlc-ai/web-llm');

export interface WebLLMBackendDeps {
  /** The worker's one-time device detection. */
  capabilities: () => Promise<Capabilities>;
  now?: () => number;
  /** How to load the library; tests and the worker use the default dynamic import. */
  loadLibrary?: () => Promise<WebLLMModule>;
  selfTestTokens?: number;
}

// ---------------------------------------------------------------------------
// Pure parts (unit-tested)
// ---------------------------------------------------------------------------

/** Throws the error that says why this entry cannot run on this GPU, if it cannot. */
export function assertGpuCanRun(entry: CatalogueEntry, caps: Capabilities): void {
  if (!caps.webgpu.available) {
    throw new WebGPUUnavailableError(
      `WebGPU is not available in this browser${caps.webgpu.reason ? `: ${caps.webgpu.reason}` : ''}.`,
    );
  }
  if (entry.requiredFeatures.includes('shader-f16') && !caps.webgpu.shaderF16) {
    throw new ShaderF16UnsupportedError(
      `${entry.label} needs the WebGPU "shader-f16" feature, which this GPU or browser does not offer.`,
    );
  }
}

/** 'https://huggingface.co/mlc-ai/X' (optionally '/resolve/main/') -> 'mlc-ai/X'. */
function hubRepoPath(modelUrl: string): string {
  const path = new URL(modelUrl).pathname.replace(/^\/+/, '').replace(/\/+$/, '');
  return path.replace(/\/resolve\/[^/]+$/, '');
}

/** 'https://raw.githubusercontent.com/<owner>/<repo>/<branch>/<file>' -> '<owner>/<repo>/resolve/<branch>/<file>'. */
function githubRawToHubPath(libUrl: string): string {
  const url = new URL(libUrl);
  const [owner, repo, branch, ...file] = url.pathname.replace(/^\/+/, '').split('/');
  if (!owner || !repo || !branch || file.length === 0) {
    throw new ModelUnavailableError(`Cannot map the model library URL ${libUrl} onto a mirror.`);
  }
  return `${owner}/${repo}/resolve/${branch}/${file.join('/')}`;
}

function withSlash(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * The model record WebLLM should load: the prebuilt one (the only source of
 * truth for which model libraries match this WebLLM version), with URLs moved
 * to the mirror if there is one, and our feature requirements added.
 */
export function buildModelRecord(
  entry: CatalogueEntry,
  source: ModelSource,
  prebuilt: ModelRecord | undefined,
): ModelRecord {
  if (!prebuilt) {
    throw new ModelUnavailableError(`"${entry.repo}" is not one of WebLLM's prebuilt models.`);
  }
  const features = new Set(prebuilt.required_features ?? []);
  if (entry.requiredFeatures.includes('shader-f16')) features.add('shader-f16');

  const record: ModelRecord = {
    ...prebuilt,
    model_id: entry.repo,
    required_features: [...features],
  };
  if (source.mirror) {
    const mirror = withSlash(source.mirror);
    record.model = `${mirror}${hubRepoPath(prebuilt.model)}/resolve/main/`;
    record.model_lib = `${mirror}${githubRawToHubPath(prebuilt.model_lib)}`;
  }
  return record;
}

export function buildAppConfig(entry: CatalogueEntry, source: ModelSource, prebuiltList: readonly ModelRecord[]): AppConfig {
  const prebuilt = prebuiltList.find((r) => r.model_id === entry.repo);
  return { model_list: [buildModelRecord(entry, source, prebuilt)], cacheBackend: 'cache' };
}

/**
 * What one of WebLLM's init reports says, in our terms. Its text carries the
 * real byte count ("Fetching param cache[3/20]: 150MB fetched. 30% completed")
 * and `progress` is the byte fraction, so the total follows from both.
 */
export function readInitReport(report: InitProgressReport): {
  phase: LoadProgress['phase'];
  loadedBytes: number | null;
  totalBytes: number | null;
} {
  const text = report.text;
  if (/shader|finish loading/i.test(text)) return { phase: 'initialise', loadedBytes: null, totalBytes: null };
  const mb = /(\d+(?:\.\d+)?)\s*MB (?:fetched|loaded)/i.exec(text);
  if (!mb?.[1]) return { phase: 'download', loadedBytes: null, totalBytes: null };
  // tvmjs counts MB as MiB.
  const loadedBytes = Number(mb[1]) * 1024 * 1024;
  const totalBytes = report.progress > 0 ? loadedBytes / report.progress : null;
  return { phase: 'download', loadedBytes, totalBytes };
}

// ---------------------------------------------------------------------------
// The back end
// ---------------------------------------------------------------------------

export class WebLLMBackend implements EngineBackend {
  readonly #deps: WebLLMBackendDeps;
  readonly #now: () => number;
  #engine: MLCEngine | null = null;
  #loaded: CatalogueEntry | null = null;

  constructor(deps: WebLLMBackendDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  async load(request: LoadRequest, call: CallOptions<LoadProgress> = {}): Promise<LoadResult> {
    const { entry, source } = request;
    const { signal, onProgress } = call;
    if (entry.backend !== 'webllm') throw new ModelUnavailableError(`${entry.label} is not a WebLLM model.`);
    const started = this.#now();
    await this.unload();
    try {
      assertGpuCanRun(entry, await this.#deps.capabilities());
      const lib = await (this.#deps.loadLibrary ?? (() => import('@mlc-ai/web-llm')))();
      const appConfig = buildAppConfig(entry, source, lib.prebuiltAppConfig.model_list);
      if (signal?.aborted) throw new AbortedError('Loading was cancelled.');

      const engine = this.#engine ?? new lib.MLCEngine({ logLevel: 'WARN' });
      this.#engine = engine;
      engine.setAppConfig(appConfig);
      const progress = new ByteProgress({ now: this.#now, expectedTotalBytes: entry.downloadBytes });
      engine.setInitProgressCallback((report) => {
        const read = readInitReport(report);
        if (read.phase === 'download' && read.loadedBytes !== null) {
          progress.update('weights', read.loadedBytes, read.totalBytes ?? 0);
          onProgress?.(progress.snapshot(report.text));
        } else {
          onProgress?.({
            phase: read.phase,
            loadedBytes: progress.loadedBytes,
            totalBytes: progress.totalBytes,
            fraction: read.phase === 'download' ? clamp01(report.progress) : null,
            etaSeconds: null,
            detail: report.text,
          });
        }
      });

      // WebLLM aborts a reload when unload() is called, and then returns quietly.
      const onAbort = (): void => void engine.unload();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await engine.reload(entry.repo);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      if (signal?.aborted) throw new AbortedError('Loading was cancelled.');

      onProgress?.({
        phase: 'self-test',
        loadedBytes: progress.loadedBytes,
        totalBytes: progress.totalBytes,
        fraction: null,
        etaSeconds: null,
        detail: 'Running a short test generation',
      });
      const test = await engine.chat.completions.create({
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: this.#deps.selfTestTokens ?? 4,
        temperature: 0,
        stream: false,
      });
      const testTokens = test.usage?.completion_tokens ?? 0;
      if (testTokens < 1) throw new SelfTestFailedError('The model produced no tokens in its test generation.');
      // The test exchange must not become the start of the person's conversation.
      await engine.resetChat();

      this.#loaded = entry;
      return {
        modelId: entry.id,
        backend: 'webllm',
        device: 'webgpu',
        loadMs: this.#now() - started,
        selfTestTokens: testTokens,
      };
    } catch (e) {
      await this.unload().catch(() => undefined);
      throw classify(e);
    }
  }

  async generate(
    turns: ChatTurn[],
    options: GenerateOptions,
    call: CallOptions<GenerationChunk> = {},
  ): Promise<GenerationResult> {
    const engine = this.#engine;
    if (!engine || !this.#loaded) throw new EngineNotReadyError();
    const { signal, onProgress } = call;
    const started = this.#now();
    if (signal?.aborted) return { text: '', tokens: 0, ttftMs: 0, totalMs: 0, tokensPerSecond: 0, finishReason: 'stop' };

    const onAbort = (): void => void engine.interruptGenerate();
    signal?.addEventListener('abort', onAbort, { once: true });
    let text = '';
    let counted = 0;
    let firstTokenAt: number | null = null;
    let finish: string | null = null;
    let usageTokens: number | null = null;
    let decodeRate: number | null = null;
    try {
      const stream = await engine.chat.completions.create({
        messages: turns.map((t) => ({ role: t.role, content: t.content })),
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: options.maxNewTokens,
        temperature: options.temperature,
        top_p: options.topP,
      });
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const piece = choice?.delta.content ?? '';
        if (piece.length > 0) {
          firstTokenAt ??= this.#now();
          text += piece;
          // WebLLM streams one decoding step per chunk.
          counted += 1;
          onProgress?.({ text: piece, tokens: 1 });
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) {
          usageTokens = chunk.usage.completion_tokens;
          decodeRate = chunk.usage.extra.decode_tokens_per_s;
        }
      }
    } catch (e) {
      // WebLLM unloads itself when the GPU device is lost; the next request then finds no model.
      const err = rawName(e) === 'ModelNotLoadedError' ? new GPUDeviceLostError(undefined, { cause: e }) : classify(e);
      if (err instanceof GPUDeviceLostError) this.#loaded = null;
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }

    const ended = this.#now();
    const tokens = usageTokens ?? counted;
    return {
      text,
      tokens,
      ttftMs: (firstTokenAt ?? ended) - started,
      totalMs: ended - started,
      tokensPerSecond:
        decodeRate ?? (firstTokenAt !== null && tokens > 1 ? (tokens - 1) / ((ended - firstTokenAt) / 1000) : 0),
      finishReason: signal?.aborted || finish === 'abort' ? 'stop' : finish === 'length' ? 'length' : 'end',
    };
  }

  async unload(): Promise<void> {
    this.#loaded = null;
    if (this.#engine) await this.#engine.unload();
  }
}

function clamp01(n: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(n) ? n : 0));
}

function rawName(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string'
    ? (e as { name: string }).name
    : '';
}

function classify(e: unknown): EngineError {
  const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
  return classifyError(e, { offline });
}
