/**
 * The page's side of waking in the background (DESIGN.md 2.8,
 * docs/BACKGROUND.md).
 *
 * - Outbox: while items wait to be published, the page registers a one-off
 *   Background Sync ('h3lix-outbox'). When the browser fires it (at once when
 *   online, or when connectivity returns; retried with back-off) the service
 *   worker asks the open pages to flush (src/sw.ts) and this class calls the
 *   injected `flush()` and answers with what was sent and what is left.
 *   Where Background Sync is missing (Firefox, Safari, Chromium
 *   headless-shell) or refuses, the page listens to its own `online` event
 *   instead.
 * - Light jobs: `registerPeriodic()` asks for Periodic Background Sync
 *   ('h3lix-light-jobs', at most every 12 h) where the browser grants it
 *   (installed Chromium apps); the worker posts 'wake-jobs' and this class
 *   calls the injected `wakeJobs()`. Elsewhere the page's own scheduler is all
 *   there is, while the page is open.
 * - `capabilities()` says what this browser offers, for the matrix in the
 *   UI, and `deliveredBy` counts the items each path delivered.
 *
 * Every browser API is feature-detected and every call to one is guarded:
 * nothing here throws because an API is missing or refuses. The browser
 * objects are injected (`navigator`, `window`), so unit tests pass doubles.
 */
import {
  isFlushOutboxMessage,
  isWakeJobsMessage,
  LIGHT_JOBS_MIN_INTERVAL_MS,
  LIGHT_JOBS_PERIODIC_TAG,
  OUTBOX_SYNC_TAG,
  type OutboxFlushedMessage,
} from '../lib/energy/sw-messages';

// ---------------------------------------------------------------------------
// The slices of browser APIs used here (Background Sync and Periodic
// Background Sync are not in TypeScript's DOM library).

export interface SyncManagerLike {
  register(tag: string): Promise<void>;
}

export interface PeriodicSyncManagerLike {
  register(tag: string, options?: { minInterval?: number }): Promise<void>;
  unregister?(tag: string): Promise<void>;
}

export interface RegistrationLike {
  /** Unused; present so that a browser's ServiceWorkerRegistration shares a property with this shape. */
  readonly scope?: string;
  /** Present where one-off Background Sync exists. */
  sync?: SyncManagerLike | undefined;
  /** Present where Periodic Background Sync exists. */
  periodicSync?: PeriodicSyncManagerLike | undefined;
}

export interface MessagePortLike {
  postMessage(message: unknown): void;
}

export interface WorkerMessageEventLike {
  data: unknown;
  ports?: readonly MessagePortLike[];
  /** The worker that posted the message. */
  source?: MessagePortLike | object | null;
}

export interface ServiceWorkerContainerLike {
  /** Resolves once an active worker controls the scope (never, when none is ever registered). */
  ready?: Promise<RegistrationLike>;
  getRegistration?(): Promise<RegistrationLike | undefined>;
  addEventListener(type: 'message', listener: (event: WorkerMessageEventLike) => void): void;
  removeEventListener(type: 'message', listener: (event: WorkerMessageEventLike) => void): void;
  /** Delivers messages queued before the listener was added. */
  startMessages?(): void;
}

export interface NavigatorLike {
  serviceWorker?: ServiceWorkerContainerLike | undefined;
  permissions?: { query(descriptor: { name: string }): Promise<{ state: string }> } | undefined;
  /** Battery Status API (Chromium only); only its presence is looked at here. */
  getBattery?: unknown;
}

export interface WindowLike {
  addEventListener(type: 'online', listener: () => void): void;
  removeEventListener(type: 'online', listener: () => void): void;
  /** Present where one-off Background Sync exists (before a registration can be asked). */
  SyncManager?: unknown;
  /** Present where Periodic Background Sync exists. */
  PeriodicSyncManager?: unknown;
}

// ---------------------------------------------------------------------------

export interface FlushResult {
  sent: number;
  left: number;
}

export type PeriodicSyncState = 'granted' | 'denied' | 'unsupported';

export interface BackgroundCapabilities {
  /** One-off Background Sync exists and has not refused a registration. */
  backgroundSync: boolean;
  /** Periodic Background Sync: registered ('granted'), refused or not permitted ('denied'), or absent. */
  periodicSync: PeriodicSyncState;
  /** The Battery Status API exists in this page. */
  battery: boolean;
}

/** How items left the outbox: woken by the service worker's sync event, by the page's online event, or by the page itself. */
export type DeliveryPath = 'background-sync' | 'online' | 'direct';

/** How the outbox is armed to be flushed later. */
export type OutboxArm = 'background-sync' | 'online' | 'none';

export interface BackgroundSyncDeps {
  /** The browser's navigator (or a double); absent outside a browser. */
  navigator?: NavigatorLike | undefined;
  /** The browser's window (or a double), for the `online` event. */
  window?: WindowLike | undefined;
  /** Publishes the outbox; what went out and what is left. */
  flush(): Promise<FlushResult>;
  /** The service worker sees power to spare for light jobs: run the scheduler. */
  wakeJobs(reason: string): void | Promise<void>;
  /** Counters or capabilities changed (for the view). */
  onChange?(): void;
  now?(): number;
  /**
   * With the outbox still non-empty, register the sync again after this long
   * even when nothing else changed (Chromium drops a registration after its
   * last retry). Default 5 min.
   */
  reregisterMs?: number;
}

const DEFAULT_REREGISTER_MS = 5 * 60_000;

const asCount = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? Math.floor(x) : 0);

export class BackgroundSync {
  readonly #deps: BackgroundSyncDeps;
  readonly #delivered: Record<DeliveryPath, number> = { 'background-sync': 0, online: 0, direct: 0 };
  readonly #wakes = { 'background-sync': 0, online: 0, 'periodic-sync': 0 };
  #started = false;
  #readyRegistration: RegistrationLike | null = null;
  #syncRefused = false;
  #periodic: PeriodicSyncState | null = null;
  /** registerPeriodic() was asked before any worker was registered: ask again once one is active. */
  #periodicRetryOnReady = false;
  /** Outbox size as last reported. */
  #count = 0;
  #armed: OutboxArm = 'none';
  #lastRegisteredAt = Number.NEGATIVE_INFINITY;
  #onlineListening = false;
  #queue: Promise<unknown> = Promise.resolve();
  #inFlight: Promise<FlushResult> | null = null;

  constructor(deps: BackgroundSyncDeps) {
    this.#deps = deps;
  }

  get #container(): ServiceWorkerContainerLike | undefined {
    try {
      return this.#deps.navigator?.serviceWorker ?? undefined;
    } catch {
      return undefined;
    }
  }

  #now(): number {
    return this.#deps.now?.() ?? Date.now();
  }

  #changed(): void {
    try {
      this.#deps.onChange?.();
    } catch {
      // The view's problem, not the sync's.
    }
  }

  /**
   * Listens to the service worker and notices when it becomes active (then a
   * pending outbox is armed again with Background Sync, and a wanted periodic
   * registration is made). Idempotent.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const container = this.#container;
    if (!container) return;
    try {
      container.addEventListener('message', this.#onMessage);
      container.startMessages?.();
    } catch {
      // No messages from the worker: the online fallback and the page's scheduler still work.
    }
    let ready: Promise<RegistrationLike> | undefined;
    try {
      ready = container.ready;
    } catch {
      ready = undefined;
    }
    void ready?.then(
      (registration) => {
        if (!this.#started) return;
        this.#readyRegistration = registration;
        this.#changed();
        if (this.#count > 0 && this.#armed !== 'background-sync') void this.#enqueue(() => this.#arm(this.#count, true));
        else if (this.#count === 0) void this.#enqueue(() => this.#probeSync(registration));
        if (this.#periodicRetryOnReady) void this.registerPeriodic();
      },
      () => undefined,
    );
  }

  /** Stops listening (worker messages, online event). */
  dispose(): void {
    this.#started = false;
    try {
      this.#container?.removeEventListener('message', this.#onMessage);
    } catch {
      // Nothing to undo.
    }
    this.#stopOnline();
  }

  // -------------------------------------------------------------------------
  // Outbox

  /**
   * The outbox now holds `count` items. Non-empty: arm a later flush, with a
   * one-off Background Sync where the browser has it and accepts it, with the
   * page's `online` event otherwise. Empty: disarm. Resolves to what is armed;
   * never rejects. Cheap to call on every change: an unchanged count does not
   * register again until `reregisterMs` has passed.
   */
  outboxChanged(count: number): Promise<OutboxArm> {
    return this.#enqueue(() => this.#arm(asCount(count), false));
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #arm(count: number, force: boolean): Promise<OutboxArm> {
    const previous = this.#count;
    this.#count = count;
    if (count === 0) {
      this.#stopOnline();
      this.#armed = 'none';
      return 'none';
    }
    const stale = this.#now() - this.#lastRegisteredAt >= (this.#deps.reregisterMs ?? DEFAULT_REREGISTER_MS);
    if (!force && this.#armed === 'background-sync' && count <= previous && !stale) return 'background-sync';
    const sync = this.#syncRefused ? undefined : (await this.#registration())?.sync;
    if (sync) {
      try {
        await sync.register(OUTBOX_SYNC_TAG);
        this.#lastRegisteredAt = this.#now();
        this.#armed = 'background-sync';
        this.#stopOnline();
        return 'background-sync';
      } catch {
        // Chromium headless-shell, a worker not active yet, or site settings
        // that block background sync. No active worker yet is retried when
        // `ready` resolves; anything else is taken as "not here".
        if (this.#readyRegistration) {
          this.#syncRefused = true;
          this.#changed();
        }
      }
    }
    this.#armed = this.#listenOnline() ? 'online' : 'none';
    return this.#armed;
  }

  /**
   * Learns whether one-off sync is really usable (Chromium headless-shell has
   * the API but refuses every registration), so that `capabilities()` is true
   * to the browser before the outbox ever fills. The sync event this causes is
   * cheap: the worker finds the outbox empty and settles without waking a page.
   */
  async #probeSync(registration: RegistrationLike): Promise<void> {
    const sync = registration.sync;
    if (!sync || this.#syncRefused || this.#count > 0) return;
    try {
      await sync.register(OUTBOX_SYNC_TAG);
    } catch {
      this.#syncRefused = true;
      this.#changed();
    }
  }

  async #registration(): Promise<RegistrationLike | null> {
    if (this.#readyRegistration) return this.#readyRegistration;
    try {
      return (await this.#container?.getRegistration?.()) ?? null;
    } catch {
      return null;
    }
  }

  #onOnline = (): void => {
    if (this.#count === 0) return;
    void this.#flushFor('online');
  };

  #listenOnline(): boolean {
    if (this.#onlineListening) return true;
    const w = this.#deps.window;
    if (!w) return false;
    try {
      w.addEventListener('online', this.#onOnline);
      this.#onlineListening = true;
    } catch {
      return false;
    }
    return true;
  }

  #stopOnline(): void {
    if (!this.#onlineListening) return;
    this.#onlineListening = false;
    try {
      this.#deps.window?.removeEventListener('online', this.#onOnline);
    } catch {
      // Nothing to undo.
    }
  }

  /** Items the page published itself (a share with peers present): counted as 'direct'. */
  recordDirect(sent: number): void {
    const n = asCount(sent);
    if (n === 0) return;
    this.#delivered.direct += n;
    this.#changed();
  }

  /**
   * Flushes for one path and counts what went out. A flush already running
   * for a wake-up is joined rather than started again (its items are counted
   * once, for the path that started it).
   */
  #flushFor(path: 'background-sync' | 'online'): Promise<FlushResult> {
    this.#wakes[path]++;
    if (this.#inFlight) return this.#inFlight;
    const run = (async (): Promise<FlushResult> => {
      try {
        const result = await this.#deps.flush();
        const sent = asCount(result?.sent);
        const left = asCount(result?.left);
        this.#delivered[path] += sent;
        this.#count = left;
        if (left === 0) {
          this.#stopOnline();
          this.#armed = 'none';
        }
        return { sent, left };
      } catch {
        // Unknown: say something is left so that the worker retries.
        return { sent: 0, left: Math.max(1, this.#count) };
      } finally {
        this.#changed();
      }
    })();
    this.#inFlight = run.finally(() => (this.#inFlight = null));
    return this.#inFlight;
  }

  // -------------------------------------------------------------------------
  // Messages from the service worker

  #onMessage = (event: WorkerMessageEventLike): void => {
    const data = event?.data;
    if (isFlushOutboxMessage(data)) {
      void this.#flushFor('background-sync').then((result) => {
        const reply: OutboxFlushedMessage = { type: 'outbox-flushed', requestId: data.requestId, sent: result.sent, left: result.left };
        const port = event.ports?.[0];
        const target = port ?? (event.source && 'postMessage' in event.source ? (event.source as MessagePortLike) : undefined);
        try {
          target?.postMessage(reply);
        } catch {
          // The worker went away; it will time out and the browser retries.
        }
      });
    } else if (isWakeJobsMessage(data)) {
      this.#wakes['periodic-sync']++;
      this.#changed();
      try {
        void Promise.resolve(this.#deps.wakeJobs(data.reason ?? 'woken by periodic background sync')).catch(() => undefined);
      } catch {
        // The scheduler's own error handling applies; the wake-up is best effort.
      }
    }
  };

  // -------------------------------------------------------------------------
  // Periodic sync

  /**
   * Asks for Periodic Background Sync for light jobs where it is granted
   * (Chromium grants it to installed apps with some engagement; there is no
   * prompt). Resolves to the resulting state; never rejects. Called before
   * the worker is active, it is tried again once it is.
   */
  async registerPeriodic(): Promise<PeriodicSyncState> {
    const registration = await this.#registration();
    // No worker yet (first visit, still installing): try again when it is active.
    this.#periodicRetryOnReady = !registration;
    const periodic = registration?.periodicSync;
    if (!periodic) return this.#setPeriodic('unsupported');
    let permission = 'granted';
    try {
      const status = await this.#deps.navigator?.permissions?.query({ name: 'periodic-background-sync' });
      if (status) permission = status.state;
    } catch {
      // No Permissions API or it does not know this name: let register() decide.
    }
    if (permission !== 'granted') return this.#setPeriodic('denied');
    try {
      await periodic.register(LIGHT_JOBS_PERIODIC_TAG, { minInterval: LIGHT_JOBS_MIN_INTERVAL_MS });
      return this.#setPeriodic('granted');
    } catch {
      return this.#setPeriodic('denied');
    }
  }

  /** Stops periodic wake-ups (the person turned background work off). Never rejects. */
  async unregisterPeriodic(): Promise<void> {
    this.#periodicRetryOnReady = false;
    const periodic = (await this.#registration())?.periodicSync;
    try {
      await periodic?.unregister?.(LIGHT_JOBS_PERIODIC_TAG);
    } catch {
      // Already gone.
    }
    if (this.#periodic === 'granted') this.#setPeriodic('denied');
  }

  #setPeriodic(state: PeriodicSyncState): PeriodicSyncState {
    if (this.#periodic !== state) {
      this.#periodic = state;
      this.#changed();
    }
    return state;
  }

  // -------------------------------------------------------------------------
  // For the view and tests

  /**
   * What this browser offers. Once the worker is active, one-off sync has
   * been tried (a probe with the empty outbox, or a real registration), so
   * `backgroundSync` says whether it is accepted, not only present. Before the
   * worker is active and before
   * `registerPeriodic()` has answered, the API's presence is all that is
   * known: periodic sync reads 'denied' where the API exists but has not been
   * granted yet.
   */
  capabilities(): BackgroundCapabilities {
    const registration = this.#readyRegistration;
    const w = this.#deps.window;
    const hasSync = registration ? !!registration.sync : this.#container !== undefined && typeof w?.SyncManager === 'function';
    const hasPeriodic = registration ? !!registration.periodicSync : this.#container !== undefined && typeof w?.PeriodicSyncManager === 'function';
    let battery = false;
    try {
      battery = typeof this.#deps.navigator?.getBattery === 'function';
    } catch {
      battery = false;
    }
    return {
      backgroundSync: hasSync && !this.#syncRefused,
      periodicSync: this.#periodic ?? (hasPeriodic ? 'denied' : 'unsupported'),
      battery,
    };
  }

  /** Items delivered by each path since the page opened. */
  get deliveredBy(): Readonly<Record<DeliveryPath, number>> {
    return { ...this.#delivered };
  }

  /** How often each path woke a flush (or, for periodic sync, the scheduler). */
  get wakes(): Readonly<{ 'background-sync': number; online: number; 'periodic-sync': number }> {
    return { ...this.#wakes };
  }

  /** How a pending outbox is armed right now. */
  get armed(): OutboxArm {
    return this.#armed;
  }
}
