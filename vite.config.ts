/**
 * Build and serve configuration.
 *
 * - COOP/COEP on every server (dev and preview) so the page is cross-origin
 *   isolated and ONNX Runtime's WASM can use threads.
 * - The service worker is our own (src/sw.ts, injectManifest): the shell is
 *   precached; model files are cached by the engines themselves.
 * - `/h3lix.config.json` is the deploy config. The file in public/ is the
 *   default (public hubs); a server started with H3LIX_* variables serves a
 *   generated one instead, so one build can be pointed at a model mirror.
 */
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { deployConfigFromEnv } from './scripts/deploy-config.mjs';

const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function deployConfig(): Plugin {
  const serve = (
    req: { url?: string },
    res: { setHeader(k: string, v: string): void; end(body: string): void },
    next: () => void,
  ) => {
    const config = deployConfigFromEnv(process.env);
    if (!config || !req.url?.startsWith('/h3lix.config.json')) return next();
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-store');
    for (const [k, v] of Object.entries(isolationHeaders)) res.setHeader(k, v);
    res.end(JSON.stringify(config));
  };
  return {
    name: 'h3lix-deploy-config',
    configureServer(server) {
      server.middlewares.use(serve);
    },
    configurePreviewServer(server) {
      server.middlewares.use(serve);
    },
  };
}

export default defineConfig({
  plugins: [
    deployConfig(),
    svelte(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts',
      registerType: 'prompt',
      injectRegister: false,
      manifest: {
        name: 'H3LIX — private assistant',
        short_name: 'H3LIX',
        description: 'A private AI assistant that runs on your own device and learns with its network.',
        theme_color: '#0f172a',
        background_color: '#0f172a',
        display: 'standalone',
        start_url: '/',
        scope: '/',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      injectManifest: {
        globPatterns: ['**/*.{js,mjs,css,html,svg,png,webmanifest}'],
        globIgnores: ['models/**', 'bench/**'],
        // The shell and the transformers.js path are precached. The ONNX Runtime
        // wasm (~27 MB) and WebLLM's library (~6 MB) are cached by the service
        // worker the first time they are used (src/sw.ts), not downloaded by
        // everyone at install.
        maximumFileSizeToCacheInBytes: 3 * 1024 * 1024,
      },
      showMaximumFileSizeToCacheInBytesWarning: true,
      devOptions: { enabled: false },
    }),
  ],
  worker: { format: 'es' },
  server: { headers: isolationHeaders, host: '127.0.0.1' },
  preview: { headers: isolationHeaders, host: '127.0.0.1' },
  build: { target: 'es2022', chunkSizeWarningLimit: 8000 },
  optimizeDeps: { exclude: ['@huggingface/transformers', 'onnxruntime-web'] },
});
