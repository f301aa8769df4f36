/**
 * The embedder client over an in-process worker double that runs the real
 * embedder code on the fixture (see embedder-worker-double.ts): batching,
 * ordering, cancellation, errors crossing the boundary by class, replies that
 * are not believed, and a worker that dies and is replaced on the next call.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../src/lib/engine/contract';
import { AbortedError, EngineError, ModelFilesMissingError, WorkerCrashedError } from '../../src/lib/engine/errors';
import { MAX_EMBED_TEXT_CHARS, MAX_TEXTS_PER_REQUEST, isEmbedResult, parseToEmbedder } from '../../src/lib/memory/embedder-protocol';
import { DEFAULT_EMBEDDER, EMBEDDING_DIMENSION } from '../../src/lib/memory/types';
import { EmbedderClient } from '../../src/services/embedder-client';
import { InProcessEmbedderWorker } from './embedder-worker-double';
import { FIXTURE_EMBEDDER, serveModels, type ModelServer } from './model-server';

let models: ModelServer;
beforeAll(async () => {
  models = await serveModels();
});
afterAll(async () => {
  await models.close();
});
beforeEach(() => {
  InProcessEmbedderWorker.reset();
});

function client(embedderId = FIXTURE_EMBEDDER): EmbedderClient {
  return new EmbedderClient(() => new InProcessEmbedderWorker(), { embedderId, source: models.source });
}

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);

describe('EmbedderClient', () => {
  it('starts no worker until the first call, then loads the model in it with progress', async () => {
    const embedder = client();
    expect(embedder.embedderId).toBe(FIXTURE_EMBEDDER);
    expect(await embedder.embed([])).toEqual([]);
    expect(InProcessEmbedderWorker.instances).toHaveLength(0);
    const progress: LoadProgress[] = [];
    const [vector] = await embedder.embed(['The cat sat on the mat.'], { onProgress: (p) => progress.push(p) });
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector!.length).toBe(EMBEDDING_DIMENSION);
    expect(Math.abs(dot(vector!, vector!) - 1)).toBeLessThan(1e-4);
    expect(progress.some((p) => p.phase === 'download' && p.loadedBytes > 0)).toBe(true);
    expect(InProcessEmbedderWorker.instances).toHaveLength(1);
    expect(InProcessEmbedderWorker.latest.embedRequests()[0]!.params.model).toEqual({ repo: FIXTURE_EMBEDDER, source: models.source });
  });

  it('splits big calls into batches and keeps the order', async () => {
    const embedder = client();
    const texts = Array.from({ length: MAX_TEXTS_PER_REQUEST * 2 + 5 }, (_, i) => `sentence number ${i} about topic ${i % 7}`);
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    expect(InProcessEmbedderWorker.latest.embedRequests().map((r) => r.params.texts.length)).toEqual([64, 64, 5]);
    // Each vector belongs to its own text: embedding one alone gives the same vector.
    const [again] = await embedder.embed([texts[100]!]);
    expect(dot(again!, vectors[100]!)).toBeGreaterThan(0.9999);
    expect(dot(again!, vectors[101]!)).toBeLessThan(0.99);
    // Each is its own compact copy (safe to store: see src/lib/memory/embedding.ts).
    expect(vectors[3]!.buffer.byteLength).toBe(EMBEDDING_DIMENSION * 4);
  });

  it('cuts texts longer than the model could read before sending them', async () => {
    const embedder = client();
    await embedder.embed(['word '.repeat(5_000)]);
    expect(InProcessEmbedderWorker.latest.embedRequests()[0]!.params.texts[0]!.length).toBe(MAX_EMBED_TEXT_CHARS);
  });

  it('a cancelled call rejects with AbortedError at once, tells the worker, and the next call works', async () => {
    const embedder = client();
    await embedder.embed(['warm up']);
    const stop = new AbortController();
    const call = embedder.embed(['one', 'two'], { signal: stop.signal });
    stop.abort();
    await expect(call).rejects.toBeInstanceOf(AbortedError);
    expect(InProcessEmbedderWorker.latest.cancels()).toHaveLength(1);
    expect(await embedder.embed(['three'])).toHaveLength(1);
    const already = new AbortController();
    already.abort();
    await expect(embedder.embed(['x'], { signal: already.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('the worker\'s errors arrive as the same classes: no silent fallback to another model', async () => {
    const err = await client(DEFAULT_EMBEDDER).embed(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFilesMissingError);
    expect((err as Error).message).toContain(DEFAULT_EMBEDDER);
  });

  it('a worker that dies fails the pending call and is replaced on the next one', async () => {
    const embedder = client();
    await embedder.embed(['warm up']);
    const first = InProcessEmbedderWorker.latest;
    first.behaviour.silent = true;
    const pending = embedder.embed(['lost']);
    await new Promise((r) => setTimeout(r, 5));
    first.crash();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect((err as Error).message).toMatch(/embedder stopped unexpectedly: RuntimeError/);
    expect(first.terminated).toBe(true);
    // Not respawned until asked.
    expect(InProcessEmbedderWorker.instances).toHaveLength(1);
    expect(await embedder.embed(['found'])).toHaveLength(1);
    expect(InProcessEmbedderWorker.instances).toHaveLength(2);
  });

  it('a worker that cannot be created is WorkerCrashedError', async () => {
    const embedder = new EmbedderClient(
      () => {
        throw new Error('CSP refused the worker');
      },
      { embedderId: FIXTURE_EMBEDDER, source: models.source },
    );
    await expect(embedder.embed(['x'])).rejects.toBeInstanceOf(WorkerCrashedError);
  });

  it('does not believe a malformed reply', async () => {
    InProcessEmbedderWorker.next = {
      reply: (request) => ({ id: request.id, type: 'return', result: { dimension: 384, count: 1, vectors: new Float32Array(3) } }),
    };
    await expect(client().embed(['x'])).rejects.toThrow(/malformed/);
    InProcessEmbedderWorker.next = {
      reply: (request) => ({ id: request.id, type: 'return', result: { dimension: 384, count: 1, vectors: new Float32Array(384).fill(Number.NaN) } }),
    };
    const err = await client().embed(['x']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
  });

  it('after dispose, pending and later calls fail', async () => {
    const embedder = client();
    InProcessEmbedderWorker.next = { silent: true };
    const pending = embedder.embed(['x']);
    embedder.dispose();
    await expect(pending).rejects.toThrow(/shut down/);
    await expect(embedder.embed(['y'])).rejects.toThrow(/shut down/);
  });

  it('refuses an empty embedder id', () => {
    expect(() => client('')).toThrow(RangeError);
  });
});

describe('embedder protocol guards', () => {
  it('accepts only well-formed requests and results', () => {
    const model = { repo: FIXTURE_EMBEDDER, source: { mirror: null } };
    expect(parseToEmbedder({ id: 1, kind: 'embed', params: { model, texts: ['a'] } })).not.toBeNull();
    expect(parseToEmbedder({ id: 1, kind: 'ping' })).toEqual({ id: 1, kind: 'ping', params: null });
    expect(parseToEmbedder({ kind: 'cancel', target: 3 })).toEqual({ kind: 'cancel', target: 3 });
    for (const bad of [
      null,
      'embed',
      { id: -1, kind: 'ping' },
      { id: 1, kind: 'generate', params: null },
      { id: 1, kind: 'embed', params: { model, texts: [1] } },
      { id: 1, kind: 'embed', params: { model, texts: Array(MAX_TEXTS_PER_REQUEST + 1).fill('a') } },
      { id: 1, kind: 'embed', params: { model, texts: ['x'.repeat(MAX_EMBED_TEXT_CHARS + 1)] } },
      { id: 1, kind: 'embed', params: { model: { repo: '', source: { mirror: null } }, texts: [] } },
      { id: 1, kind: 'embed', params: { model: { repo: 'r', source: {} }, texts: [] } },
      { kind: 'cancel', target: 'x' },
    ]) {
      expect(parseToEmbedder(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(isEmbedResult({ dimension: 384, count: 2, vectors: new Float32Array(768) })).toBe(true);
    expect(isEmbedResult({ dimension: 384, count: 2, vectors: new Float32Array(767) })).toBe(false);
    expect(isEmbedResult({ dimension: 128, count: 1, vectors: new Float32Array(128) })).toBe(false);
    expect(isEmbedResult({ dimension: 384, count: 1, vectors: Array(384).fill(0) })).toBe(false);
    expect(isEmbedResult({ dimension: 384, count: 1, vectors: new Float32Array(384).fill(Infinity) })).toBe(false);
  });
});
