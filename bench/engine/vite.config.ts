/**
 * Builds the engine benchmark page (bench/engine/index.html) on its own, with
 * the app's worker format and serve headers (COOP/COEP: ONNX Runtime's
 * threaded WASM needs a cross-origin-isolated page) and the repository's
 * public/ folder, so the fixture models are served at /models/ exactly as the
 * app's mirror serves them. Output goes to .tmp/ (gitignored).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import app from '../../vite.config.ts';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  publicDir: here('../../public'),
  // The app's own cache of pre-bundled dependencies is left alone.
  cacheDir: here('../../node_modules/.vite-bench'),
  logLevel: 'warn',
  worker: app.worker,
  preview: { headers: app.preview?.headers, host: '127.0.0.1' },
  server: { headers: app.server?.headers, host: '127.0.0.1' },
  build: {
    outDir: here('../../.tmp/bench/engine'),
    emptyOutDir: true,
    target: app.build?.target,
    chunkSizeWarningLimit: app.build?.chunkSizeWarningLimit,
    reportCompressedSize: false,
  },
  optimizeDeps: app.optimizeDeps,
});
