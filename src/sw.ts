/// <reference lib="webworker" />
/**
 * The service worker: the offline shell and the update handshake.
 *
 * - The app shell (HTML, JS, CSS, icons, manifest) is precached at install.
 * - Navigations fall back to the precached index.html, so the app opens
 *   offline after the first visit.
 * - The ONNX Runtime wasm and WebLLM's library are too big to precache for
 *   everyone (each person needs only one of them): they are cached the first
 *   time they are used.
 * - Model files are cached by the engines (transformers.js, WebLLM) in their
 *   own Cache Storage buckets; the worker stays out of their way.
 * - The deploy config is network-first, so a changed mirror is seen online and
 *   the last known one is used offline.
 * - A new version waits until the page asks it to take over (the page shows
 *   "Update available" through workbox-window and sends SKIP_WAITING).
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { CacheFirst, NetworkFirst } from 'workbox-strategies';
import { ExpirationPlugin } from 'workbox-expiration';

declare const self: ServiceWorkerGlobalScope & {
  __WB_MANIFEST: Array<{ url: string; revision: string | null }>;
};

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

registerRoute(
  new NavigationRoute(createHandlerBoundToURL('/index.html'), {
    denylist: [/^\/models\//, /^\/h3lix\.config\.json/],
  }),
);

// Build assets have content hashes in their names, so a cached copy is never stale.
registerRoute(
  ({ url, sameOrigin }) => sameOrigin && url.pathname.startsWith('/assets/'),
  new CacheFirst({
    cacheName: 'h3lix-large-assets',
    plugins: [new ExpirationPlugin({ maxEntries: 16, purgeOnQuotaError: true })],
  }),
);

registerRoute(
  ({ url, sameOrigin }) => sameOrigin && url.pathname === '/h3lix.config.json',
  new NetworkFirst({ cacheName: 'h3lix-deploy-config', networkTimeoutSeconds: 3 }),
);

self.addEventListener('message', (event) => {
  if (event.data && (event.data as { type?: unknown }).type === 'SKIP_WAITING') {
    void self.skipWaiting();
  }
});
