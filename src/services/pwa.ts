/**
 * Service-worker registration and the update handshake, through workbox-window.
 * A new version installs in the background and waits; the page offers
 * "Update now", which tells the waiting worker to take over and reloads once
 * it controls the page. Nothing updates under a person mid-conversation.
 */
import { Workbox } from 'workbox-window';

export interface UpdateHandle {
  /** Activate the waiting version and reload. */
  apply(): void;
}

export function registerServiceWorker(onUpdateReady: (update: UpdateHandle) => void): void {
  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return;
  const wb = new Workbox('/sw.js', { scope: '/', type: 'classic' });
  wb.addEventListener('waiting', () => {
    onUpdateReady({
      apply() {
        wb.addEventListener('controlling', () => window.location.reload());
        wb.messageSkipWaiting();
      },
    });
  });
  wb.register().catch((err: unknown) => {
    // The app works without a service worker (only offline start is lost).
    console.warn('Service worker registration failed', err);
  });
}
