/**
 * The real embedder code path (TransformersEmbedder, the code the embedder
 * worker runs) on the real fixture model fixtures/lexical-minilm-384, served
 * over HTTP from the project's model mirror exactly as the app's mirror
 * serves it. Node has no 'wasm' device, so it runs on onnxruntime-node's CPU.
 *
 * The fixture's similarity follows shared words, not meaning: "related"
 * below means sharing the key words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../src/lib/engine/contract';
import { AbortedError, ModelFilesMissingError, NetworkError } from '../../src/lib/engine/errors';
import { rowsOf } from '../../src/lib/memory/embedder-protocol';
import { DEFAULT_EMBEDDER, EMBEDDING_DIMENSION } from '../../src/lib/memory/types';
import { TransformersEmbedder } from '../../src/workers/transformers-embedder';
import { FIXTURE_EMBEDDER, serveModels, type ModelServer } from './model-server';

let models: ModelServer;
beforeAll(async () => {
  models = await serveModels();
});
afterAll(async () => {
  await models.close();
});

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((sum, x, i) => sum + x * (b[i] as number), 0);

describe('TransformersEmbedder on the fixture (real pipeline, CPU)', () => {
  const embedder = new TransformersEmbedder({ device: 'cpu', progressIntervalMs: 0 });
  const model = () => ({ repo: FIXTURE_EMBEDDER, source: models.source });

  it('loads from the mirror on first use, reporting download progress, and makes unit 384-d vectors', async () => {
    const progress: LoadProgress[] = [];
    const result = await embedder.embed(model(), ['The cat sat on the mat.', 'A dog barked.'], { onProgress: (p) => progress.push(p) });
    expect(result.dimension).toBe(EMBEDDING_DIMENSION);
    expect(result.count).toBe(2);
    expect(result.vectors).toBeInstanceOf(Float32Array);
    expect(result.vectors.length).toBe(2 * EMBEDDING_DIMENSION);
    for (const row of rowsOf(result)) {
      expect(Math.abs(dot(row, row) - 1)).toBeLessThan(1e-4);
      expect(row.buffer.byteLength).toBe(EMBEDDING_DIMENSION * 4);
    }
    expect(models.requested).toContain(`/${FIXTURE_EMBEDDER}/resolve/main/onnx/model_quantized.onnx`);
    expect(models.requested).toContain(`/${FIXTURE_EMBEDDER}/resolve/main/tokenizer.json`);
    const downloads = progress.filter((p) => p.phase === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads.at(-1)!.loadedBytes).toBeGreaterThan(11_000_000);
    expect(progress.at(-1)!.phase).toBe('initialise');
  });

  it('ranks sentences sharing the key words above unrelated ones', async () => {
    const query = "When is my sister's birthday?";
    const candidates = [
      'The stock market fell sharply today.',
      "My sister's birthday is on March 3.",
      'Paris is the capital of France.',
      'I am allergic to peanuts.',
    ];
    const rows = rowsOf(await embedder.embed(model(), [query, ...candidates]));
    const scores = candidates.map((_, i) => dot(rows[0]!, rows[i + 1]!));
    const best = scores.indexOf(Math.max(...scores));
    expect(candidates[best]).toBe("My sister's birthday is on March 3.");
    expect(scores[best]).toBeGreaterThan(0.5);
    for (const [i, score] of scores.entries()) if (i !== best) expect(score).toBeLessThan(0.2);
  });

  it('is deterministic and batch-independent: a text gets the same vector alone or in a batch', async () => {
    const alone = rowsOf(await embedder.embed(model(), ['A red kite over the hills']))[0]!;
    const batched = rowsOf(await embedder.embed(model(), ['short', 'A red kite over the hills', 'a much longer sentence that pads the batch with many more tokens than the others']))[1]!;
    expect(dot(alone, batched)).toBeGreaterThan(0.9999);
  });

  it('embeds nothing for no texts', async () => {
    expect((await embedder.embed(model(), [])).count).toBe(0);
  });

  it('loads once: a second call fetches no files', async () => {
    const before = models.requested.length;
    await embedder.embed(model(), ['again']);
    expect(models.requested.length).toBe(before);
  });
});

describe('TransformersEmbedder failures', () => {
  it('the real embedder id without its weights on the mirror is ModelFilesMissingError naming it (no fallback)', async () => {
    const err = await new TransformersEmbedder({ device: 'cpu' })
      .embed({ repo: DEFAULT_EMBEDDER, source: models.source }, ['x'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFilesMissingError);
    expect((err as Error).message).toContain(DEFAULT_EMBEDDER);
    expect((err as Error).message).toContain(models.source.mirror!);
  });

  it('weights answered by a single-page-app fallback page are ModelFilesMissingError too', async () => {
    const spa = await serveModels({ spaFallback: true });
    // Keep the file cache in a directory that outlives this server.
    models.freshCache();
    try {
      const err = await new TransformersEmbedder({ device: 'cpu' })
        .embed({ repo: DEFAULT_EMBEDDER, source: spa.source }, ['x'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFilesMissingError);
      expect((err as Error).message).toContain(DEFAULT_EMBEDDER);
    } finally {
      await spa.close();
    }
  });

  it('a repository the mirror does not have is ModelFilesMissingError', async () => {
    await expect(
      new TransformersEmbedder({ device: 'cpu' }).embed({ repo: 'fixtures/does-not-exist', source: models.source }, ['x']),
    ).rejects.toBeInstanceOf(ModelFilesMissingError);
  });

  it('an unreachable mirror is a NetworkError', async () => {
    const closed = await serveModels();
    const mirror = closed.source.mirror!;
    await closed.close();
    models.freshCache();
    const err = await new TransformersEmbedder({ device: 'cpu' })
      .embed({ repo: FIXTURE_EMBEDDER, source: { mirror } }, ['x'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toContain(FIXTURE_EMBEDDER);
  });

  it('a call aborted before it starts is AbortedError', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(
      new TransformersEmbedder({ device: 'cpu' }).embed({ repo: FIXTURE_EMBEDDER, source: models.source }, ['x'], { signal: stop.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
  });
});
