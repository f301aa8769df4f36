/**
 * The real transformers.js back end on the real fixture model
 * (public/models/fixtures/random-smollm2-chat, random weights, real SmolLM2
 * tokenizer and chat template), served over HTTP from the project's model
 * mirror exactly as the app's mirror serves it. Node has no 'wasm' device, so
 * it runs on onnxruntime-node's CPU ('cpu').
 */
import { mkdtempSync, rmSync, createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CHAT_ID, requireEntry } from '../../src/lib/engine/catalogue';
import type { GenerationChunk, LoadProgress, ModelSource } from '../../src/lib/engine/contract';
import {
  AbortedError,
  EngineError,
  EngineNotReadyError,
  ModelFilesMissingError,
  ModelUnavailableError,
  NetworkError,
} from '../../src/lib/engine/errors';
import { TransformersBackend } from '../../src/workers/transformers-backend';

const MODELS = resolve(__dirname, '../../public/models');
const fixture = requireEntry(FIXTURE_CHAT_ID);
const TURNS = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'Tell me about cakes.' },
];

let server: Server;
let mirror: ModelSource;
let cacheDir: string;
const requested: string[] = [];

/** A static file server over public/models: the hub layout, 404 for anything missing. */
function serveModels(): Promise<Server> {
  const s = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requested.push(path);
    const file = resolve(MODELS, `.${path}`);
    let size = -1;
    try {
      if (file.startsWith(MODELS + sep) && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      size = -1;
    }
    if (size < 0) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}

beforeAll(async () => {
  server = await serveModels();
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  mirror = { mirror: `http://127.0.0.1:${address.port}/` };
  // In Node, transformers.js hands ONNX Runtime a file path, so remote files go through its file cache;
  // a fresh directory per run makes every load a real download.
  cacheDir = mkdtempSync(join(tmpdir(), 'h3lix-tjs-'));
  env.cacheDir = cacheDir;
});

afterAll(() => {
  server?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

function backend(): TransformersBackend {
  return new TransformersBackend({ device: 'cpu', yieldBetweenTokens: true, progressIntervalMs: 0 });
}

describe('TransformersBackend (real, fixture model)', () => {
  const engine = backend();
  const progress: LoadProgress[] = [];

  it('loads from the mirror with byte progress and a self-test', async () => {
    const result = await engine.load({ entry: fixture, source: mirror }, { onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({ modelId: fixture.id, backend: 'transformers', device: 'wasm' });
    expect(result.selfTestTokens).toBeGreaterThanOrEqual(1);
    expect(result.loadMs).toBeGreaterThan(0);

    // Files came from the mirror in the hub layout.
    expect(requested).toContain('/fixtures/random-smollm2-chat/resolve/main/onnx/model_quantized.onnx');
    expect(requested).toContain('/fixtures/random-smollm2-chat/resolve/main/tokenizer.json');

    const downloads = progress.filter((p) => p.phase === 'download');
    expect(downloads.length).toBeGreaterThan(2);
    // Bytes only grow, and end at the real size of the fixture's files.
    for (let i = 1; i < downloads.length; i++) {
      expect(downloads[i]!.loadedBytes).toBeGreaterThanOrEqual(downloads[i - 1]!.loadedBytes);
    }
    const last = downloads.at(-1)!;
    expect(last.fraction).toBe(1);
    expect(last.loadedBytes).toBe(fixture.downloadBytes);
    expect(progress.some((p) => p.phase === 'self-test')).toBe(true);
    // Phases only move forward: download, then (perhaps) initialise, then self-test.
    const rank = { download: 0, initialise: 1, 'self-test': 2 } as const;
    for (let i = 1; i < progress.length; i++) {
      expect(rank[progress[i]!.phase]).toBeGreaterThanOrEqual(rank[progress[i - 1]!.phase]);
    }
    expect(progress.every((p) => p.fraction === null || (p.fraction >= 0 && p.fraction <= 1))).toBe(true);
  });

  it('streams a reply in more than one chunk and reports stats', async () => {
    const chunks: GenerationChunk[] = [];
    const result = await engine.generate(TURNS, { maxNewTokens: 24, temperature: 0, topP: 1 }, { onProgress: (c) => chunks.push(c) });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.text).join('')).toBe(result.text);
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.tokens).toBeGreaterThan(1);
    expect(chunks.reduce((n, c) => n + c.tokens, 0)).toBeLessThanOrEqual(result.tokens);
    expect(result.ttftMs).toBeGreaterThan(0);
    expect(result.totalMs).toBeGreaterThanOrEqual(result.ttftMs);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(['end', 'length']).toContain(result.finishReason);
  });

  it('respects maxNewTokens', async () => {
    for (const max of [1, 5]) {
      const result = await engine.generate(TURNS, { maxNewTokens: max, temperature: 0, topP: 1 });
      expect(result.tokens).toBeLessThanOrEqual(max);
      if (result.finishReason === 'length') expect(result.tokens).toBe(max);
    }
  });

  it('greedy decoding is deterministic and depends on the conversation', async () => {
    const opts = { maxNewTokens: 8, temperature: 0, topP: 1 };
    const a = await engine.generate(TURNS, opts);
    const b = await engine.generate(TURNS, opts);
    const c = await engine.generate([{ role: 'user', content: 'A completely different question about trains?' }], opts);
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });

  it('stops mid-generation when aborted and returns finishReason "stop"', async () => {
    const stop = new AbortController();
    let chunks = 0;
    const result = await engine.generate(
      TURNS,
      { maxNewTokens: 200, temperature: 0, topP: 1 },
      {
        signal: stop.signal,
        onProgress: () => {
          chunks += 1;
          if (chunks === 3) stop.abort();
        },
      },
    );
    expect(result.finishReason).toBe('stop');
    expect(result.tokens).toBeGreaterThanOrEqual(3);
    expect(result.tokens).toBeLessThan(20);
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('samples when a temperature is given', async () => {
    const result = await engine.generate(TURNS, { maxNewTokens: 6, temperature: 0.8, topP: 0.9 });
    expect(result.tokens).toBeGreaterThan(0);
  });

  it('refuses a conversation longer than the context window', async () => {
    const long = [{ role: 'user' as const, content: 'cake '.repeat(3_000) }];
    await expect(engine.generate(long, { maxNewTokens: 4, temperature: 0, topP: 1 })).rejects.toThrow(/longer than/);
  });

  it('after unload, generation says no model is loaded', async () => {
    await engine.unload();
    await expect(engine.generate(TURNS, { maxNewTokens: 4, temperature: 0, topP: 1 })).rejects.toBeInstanceOf(
      EngineNotReadyError,
    );
  });
});

describe('TransformersBackend failures', () => {
  it('a model the mirror does not have is ModelFilesMissingError', async () => {
    const missing = { ...fixture, id: 'fixtures/does-not-exist', repo: 'fixtures/does-not-exist' };
    await expect(backend().load({ entry: missing, source: mirror })).rejects.toBeInstanceOf(ModelFilesMissingError);
  });

  it('an unreachable mirror is a NetworkError', async () => {
    const closed = await serveModels();
    const address = closed.address();
    await new Promise((ok) => closed.close(ok));
    if (address === null || typeof address === 'string') throw new Error('no port');
    // Node's file cache is keyed by repo and file, not host: an empty one, so nothing loads from disk.
    env.cacheDir = mkdtempSync(join(cacheDir, 'empty-'));
    const err = await backend()
      .load({ entry: fixture, source: { mirror: `http://127.0.0.1:${address.port}/` } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as EngineError).hint).toMatch(/connection|mirror/);
  });

  it('a load aborted before it starts is AbortedError', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(backend().load({ entry: fixture, source: mirror }, { signal: stop.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });

  it('refuses WebLLM entries', async () => {
    const webllm = requireEntry('SmolLM2-360M-Instruct-q4f32_1-MLC');
    await expect(backend().load({ entry: webllm, source: mirror })).rejects.toBeInstanceOf(ModelUnavailableError);
  });
});
