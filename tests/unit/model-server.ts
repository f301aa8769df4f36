/**
 * TEST HELPER: serves public/models over HTTP in the hub layout, exactly as
 * the app's mirror serves it, so tests load real model files through the
 * real transformers.js download path (404 for anything missing). Also points
 * transformers.js's Node file cache at a fresh directory, so every run
 * really downloads. Used by the embedder and knowledge tests.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { env } from '@huggingface/transformers';
import type { ModelSource } from '../../src/lib/engine/contract';
import { rowsOf } from '../../src/lib/memory/embedder-protocol';
import type { TextEmbedder } from '../../src/lib/memory/types';
import { TransformersEmbedder } from '../../src/workers/transformers-embedder';

const MODELS = resolve(__dirname, '../../public/models');

/** The lexical fixture embedder: similarity follows shared words (see /work/shared/models/README.md). */
export const FIXTURE_EMBEDDER = 'fixtures/lexical-minilm-384';

export interface ModelServer {
  source: ModelSource;
  /** Paths requested so far. */
  requested: string[];
  /** A fresh, empty file cache (so nothing loads from disk). */
  freshCache(): void;
  close(): Promise<void>;
}

export interface ServeOptions {
  /**
   * Answer a missing file with an HTML page and status 200, as servers with a
   * single-page-app fallback do (vite preview, many static hosts).
   */
  spaFallback?: boolean;
}

export async function serveModels(options: ServeOptions = {}): Promise<ModelServer> {
  const requested: string[] = [];
  const server: Server = createServer((req, res) => {
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
      if (options.spaFallback) res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>H3LIX</body></html>');
      else res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const caches: string[] = [];
  const freshCache = (): void => {
    const dir = mkdtempSync(join(tmpdir(), 'h3lix-embed-'));
    caches.push(dir);
    env.cacheDir = dir;
  };
  freshCache();
  return {
    source: { mirror: `http://127.0.0.1:${address.port}/` },
    requested,
    freshCache,
    close: async () => {
      await new Promise((ok) => server.close(ok));
      for (const dir of caches) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The real embedder code (TransformersEmbedder, as the worker runs it) on
 * onnxruntime-node's CPU, as a TextEmbedder: what the knowledge tests use
 * where the app uses the embedder client.
 */
export function realEmbedder(source: ModelSource, repo: string = FIXTURE_EMBEDDER): TextEmbedder {
  const embedder = new TransformersEmbedder({ device: 'cpu' });
  return {
    embedderId: repo,
    async embed(texts, options = {}) {
      return rowsOf(await embedder.embed({ repo, source }, texts, options.signal ? { signal: options.signal } : {}));
    },
  };
}
