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
 * - Waking the page (DESIGN.md 2.8, docs/BACKGROUND.md): a one-off Background
 *   Sync for the outbox asks the open pages to publish it; a Periodic
 *   Background Sync asks them to look at their light jobs when the last
 *   battery reading leaves power to spare. The work itself happens in the
 *   page; the decisions are in src/lib/energy/wake.ts.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { CacheFirst, NetworkFirst } from 'workbox-strategies';
import { ExpirationPlugin } from 'workbox-expiration';
import {
  FLUSH_REPLY_TIMEOUT_MS,
  isOutboxFlushedMessage,
  isSkipWaitingMessage,
  LIGHT_JOBS_PERIODIC_TAG,
  OUTBOX_SYNC_TAG,
  type FlushOutboxMessage,
  type WakeJobsMessage,
} from './lib/energy/sw-messages';
import {
  countOutbox,
  decideLightJobsWake,
  judgeOutboxSync,
  readBatteryRecord,
  readPolicySettingsRecord,
  wakePowerSettingsFrom,
  type FlushReply,
} from './lib/energy/wake';

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

/** Answers to 'flush-outbox' that come back as plain messages (a page without the port), by requestId. */
const flushWaiters = new Map<string, (reply: FlushReply) => void>();

self.addEventListener('message', (event) => {
  const data: unknown = event.data;
  if (isSkipWaitingMessage(data)) {
    void self.skipWaiting();
  } else if (isOutboxFlushedMessage(data) && data.requestId !== undefined) {
    flushWaiters.get(data.requestId)?.({ sent: data.sent, left: data.left });
  }
});

// Neither event is in TypeScript's WebWorker library (both are Chromium-only).
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  /** The browser will not retry after this attempt. */
  readonly lastChance: boolean;
}
interface PeriodicSyncEvent extends ExtendableEvent {
  readonly tag: string;
}

const windowClients = () => self.clients.matchAll({ type: 'window', includeUncontrolled: true });

/**
 * One-off Background Sync: the outbox has items that could not be published.
 *
 * The worker cannot publish them itself: the libp2p node speaks WebRTC, which
 * service workers do not have, and the signing identity lives in the page. So
 * it asks every open H3LIX window to flush and waits for an answer. When no
 * window is open (or none answers, or items are still left because no peer is
 * reachable) the promise given to waitUntil rejects: that tells the browser
 * the sync failed, and Chromium retries it later with a back-off (twice, then
 * it drops the registration until the page registers it again). Resolving
 * instead would tell it the work was done and the items would wait until the
 * person next opens the app and a peer appears. A window cannot be opened from
 * here (clients.openWindow needs a notification click).
 */
self.addEventListener('sync', (e) => {
  const event = e as SyncEvent;
  if (event.tag !== OUTBOX_SYNC_TAG) return;
  event.waitUntil(wakeForOutbox());
});

async function wakeForOutbox(): Promise<void> {
  const outboxCount = await countOutbox(self.indexedDB).catch(() => null);
  const windows = outboxCount === 0 ? [] : await windowClients();
  const replies: FlushReply[] = [];
  const requestId = crypto.randomUUID();
  const verdict = await new Promise<ReturnType<typeof judgeOutboxSync>>((settle) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = (timedOut: boolean) => {
      const v = judgeOutboxSync({ outboxCount, windows: windows.length, replies, timedOut });
      if (v.settle === 'wait') return;
      clearTimeout(timer);
      flushWaiters.delete(requestId);
      settle(v);
    };
    const answered = (reply: FlushReply) => {
      replies.push(reply);
      check(false);
    };
    flushWaiters.set(requestId, answered);
    const message: FlushOutboxMessage = { type: 'flush-outbox', requestId };
    for (const client of windows) {
      const channel = new MessageChannel();
      channel.port1.onmessage = (m: MessageEvent) => {
        channel.port1.close();
        if (isOutboxFlushedMessage(m.data)) answered({ sent: m.data.sent, left: m.data.left });
      };
      client.postMessage(message, [channel.port2]);
    }
    timer = setTimeout(() => check(true), FLUSH_REPLY_TIMEOUT_MS);
    check(false);
  });
  if (verdict.settle === 'reject') throw new Error(verdict.reason);
}

/**
 * Periodic Background Sync (installed Chromium apps only): a chance to run
 * light jobs while the app is in the background. The battery cannot be read
 * here (no Battery Status API in workers), so the decision uses the last
 * reading the page stored; a stale one counts as unknown. The jobs run in the
 * page, so this only wakes open windows; with none open there is nothing to
 * do until the next period (periodic sync is not retried).
 */
self.addEventListener('periodicsync', (e) => {
  const event = e as PeriodicSyncEvent;
  if (event.tag !== LIGHT_JOBS_PERIODIC_TAG) return;
  event.waitUntil(wakeForLightJobs());
});

async function wakeForLightJobs(): Promise<void> {
  const windows = await windowClients();
  if (windows.length === 0) return;
  const [battery, policy] = await Promise.all([
    readBatteryRecord(self.indexedDB).catch(() => undefined),
    readPolicySettingsRecord(self.indexedDB).catch(() => undefined),
  ]);
  const decision = decideLightJobsWake(battery, Date.now(), { settings: wakePowerSettingsFrom(policy) });
  if (!decision.wake) return;
  const message: WakeJobsMessage = { type: 'wake-jobs', reason: decision.reason };
  for (const client of windows) client.postMessage(message);
}
