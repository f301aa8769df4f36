/**
 * BackgroundSync (src/services/background-sync.ts) against doubles of the
 * browser: a service-worker container with or without Background Sync and
 * Periodic Background Sync, a window that fires `online`, and the worker's
 * messages. Real browsers are covered by Playwright (see docs/BACKGROUND.md
 * for what headless Chromium offers).
 */
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundSync,
  type BackgroundSyncDeps,
  type FlushResult,
  type MessagePortLike,
  type NavigatorLike,
  type RegistrationLike,
  type ServiceWorkerContainerLike,
  type WindowLike,
  type WorkerMessageEventLike,
} from '../../src/services/background-sync';
import { LIGHT_JOBS_MIN_INTERVAL_MS, LIGHT_JOBS_PERIODIC_TAG, OUTBOX_SYNC_TAG } from '../../src/lib/energy/sw-messages';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class FakeWindow implements WindowLike {
  readonly listeners = new Set<() => void>();
  SyncManager?: unknown;
  PeriodicSyncManager?: unknown;
  addEventListener(_type: 'online', listener: () => void) {
    this.listeners.add(listener);
  }
  removeEventListener(_type: 'online', listener: () => void) {
    this.listeners.delete(listener);
  }
  goOnline() {
    for (const l of [...this.listeners]) l();
  }
}

function registration(options: { sync?: boolean | 'refuses'; periodic?: boolean | 'refuses' } = {}) {
  const sync = {
    register: vi.fn(async (_tag: string) => {
      if (options.sync === 'refuses') throw new DOMException('Background Sync is disabled.', 'UnknownError');
    }),
  };
  const periodicSync = {
    register: vi.fn(async (_tag: string, _o?: { minInterval?: number }) => {
      if (options.periodic === 'refuses') throw new DOMException('Permission denied.', 'NotAllowedError');
    }),
    unregister: vi.fn(async (_tag: string) => undefined),
  };
  const reg: RegistrationLike = {
    ...(options.sync ? { sync } : {}),
    ...(options.periodic ? { periodicSync } : {}),
  };
  return { reg, sync, periodicSync };
}

class FakeContainer implements ServiceWorkerContainerLike {
  readonly listeners = new Set<(event: WorkerMessageEventLike) => void>();
  readonly readyGate = deferred<RegistrationLike>();
  ready: Promise<RegistrationLike> = this.readyGate.promise;
  current: RegistrationLike | undefined;
  startMessages = vi.fn();
  constructor(reg?: RegistrationLike, active = true) {
    this.current = reg;
    if (reg && active) this.readyGate.resolve(reg);
  }
  async getRegistration() {
    return this.current;
  }
  addEventListener(_type: 'message', listener: (event: WorkerMessageEventLike) => void) {
    this.listeners.add(listener);
  }
  removeEventListener(_type: 'message', listener: (event: WorkerMessageEventLike) => void) {
    this.listeners.delete(listener);
  }
  /** The worker posts a message, with a port to answer on (or without: the answer goes to `source`). */
  post(data: unknown, withPort = true) {
    const answers: unknown[] = [];
    const port: MessagePortLike = { postMessage: (m) => answers.push(m) };
    const source: MessagePortLike = { postMessage: (m) => answers.push(m) };
    for (const l of [...this.listeners]) l(withPort ? { data, ports: [port], source } : { data, ports: [], source });
    return answers;
  }
}

function setup(
  options: {
    container?: FakeContainer | null;
    window?: FakeWindow | null;
    permission?: string | 'throws' | null;
    battery?: boolean;
    flush?: () => Promise<FlushResult>;
    now?: () => number;
  } = {},
) {
  const container = options.container === undefined ? new FakeContainer(registration({ sync: true, periodic: true }).reg) : options.container;
  const win = options.window === undefined ? new FakeWindow() : options.window;
  const query = vi.fn(async (_d: { name: string }) => {
    if (options.permission === 'throws') throw new TypeError("'periodic-background-sync' is not a valid enum value");
    return { state: options.permission ?? 'granted' };
  });
  const navigator: NavigatorLike = {
    ...(container ? { serviceWorker: container } : {}),
    ...(options.permission === null ? {} : { permissions: { query } }),
    ...(options.battery ? { getBattery: () => Promise.resolve({}) } : {}),
  };
  const flush = vi.fn(options.flush ?? (async () => ({ sent: 1, left: 0 })));
  const wakeJobs = vi.fn();
  const onChange = vi.fn();
  const deps: BackgroundSyncDeps = {
    navigator,
    ...(win ? { window: win } : {}),
    flush,
    wakeJobs,
    onChange,
    ...(options.now ? { now: options.now } : {}),
  };
  const bs = new BackgroundSync(deps);
  bs.start();
  return { bs, container, win, flush, wakeJobs, onChange, query };
}

describe('outbox: one-off Background Sync', () => {
  it('registers the sync tag when the outbox is non-empty', async () => {
    const { reg, sync } = registration({ sync: true });
    const { bs, win } = setup({ container: new FakeContainer(reg) });
    await tick();
    // Probed once when the worker is active (the outbox is empty then) …
    expect(sync.register).toHaveBeenCalledExactlyOnceWith(OUTBOX_SYNC_TAG);
    expect(bs.armed).toBe('none');
    // … and registered for real when the outbox fills.
    expect(await bs.outboxChanged(1)).toBe('background-sync');
    expect(sync.register).toHaveBeenCalledTimes(2);
    expect(sync.register).toHaveBeenLastCalledWith(OUTBOX_SYNC_TAG);
    expect(bs.armed).toBe('background-sync');
    expect(win!.listeners.size).toBe(0);
    expect(bs.capabilities().backgroundSync).toBe(true);
  });

  it('does nothing for an empty outbox', async () => {
    const { reg, sync } = registration({ sync: true });
    const { bs, win } = setup({ container: new FakeContainer(reg, false) });
    expect(await bs.outboxChanged(0)).toBe('none');
    expect(sync.register).not.toHaveBeenCalled();
    expect(win!.listeners.size).toBe(0);
  });

  it('registers again when items are added or after a while, not on every unchanged count', async () => {
    let now = 0;
    const { reg, sync } = registration({ sync: true });
    const { bs } = setup({ container: new FakeContainer(reg), now: () => now });
    await bs.outboxChanged(1);
    await bs.outboxChanged(1);
    expect(sync.register).toHaveBeenCalledTimes(1);
    await bs.outboxChanged(2);
    expect(sync.register).toHaveBeenCalledTimes(2);
    await bs.outboxChanged(1);
    expect(sync.register).toHaveBeenCalledTimes(2);
    now += 5 * 60_000;
    await bs.outboxChanged(1);
    expect(sync.register).toHaveBeenCalledTimes(3);
    await bs.outboxChanged(0);
    await bs.outboxChanged(1);
    expect(sync.register).toHaveBeenCalledTimes(4);
  });

  it('answers the worker: flushes, counts the delivery, replies on the port with the requestId', async () => {
    const { bs, container, flush, onChange } = setup({ flush: async () => ({ sent: 2, left: 1 }) });
    await bs.outboxChanged(3);
    const answers = container!.post({ type: 'flush-outbox', requestId: 'r1' });
    await tick();
    expect(flush).toHaveBeenCalledTimes(1);
    expect(answers).toEqual([{ type: 'outbox-flushed', requestId: 'r1', sent: 2, left: 1 }]);
    expect(bs.deliveredBy).toEqual({ 'background-sync': 2, online: 0, direct: 0 });
    expect(bs.wakes['background-sync']).toBe(1);
    expect(onChange).toHaveBeenCalled();
  });

  it('replies to the worker itself when the message came without a port', async () => {
    const { container } = setup();
    const answers = container!.post({ type: 'flush-outbox', requestId: 'r2' }, false);
    await tick();
    expect(answers).toEqual([{ type: 'outbox-flushed', requestId: 'r2', sent: 1, left: 0 }]);
  });

  it('says something is left when the flush fails, so that the worker retries', async () => {
    const { bs, container } = setup({
      flush: async () => {
        throw new Error('node not started');
      },
    });
    await bs.outboxChanged(2);
    const answers = container!.post({ type: 'flush-outbox', requestId: 'r3' });
    await tick();
    expect(answers).toEqual([{ type: 'outbox-flushed', requestId: 'r3', sent: 0, left: 2 }]);
    expect(bs.deliveredBy['background-sync']).toBe(0);
  });

  it('joins a flush already running instead of starting a second one', async () => {
    const gate = deferred<FlushResult>();
    const { bs, container, flush } = setup({ flush: () => gate.promise });
    const a = container!.post({ type: 'flush-outbox', requestId: 'a' });
    const b = container!.post({ type: 'flush-outbox', requestId: 'b' });
    gate.resolve({ sent: 1, left: 0 });
    await tick();
    expect(flush).toHaveBeenCalledTimes(1);
    expect(a).toEqual([{ type: 'outbox-flushed', requestId: 'a', sent: 1, left: 0 }]);
    expect(b).toEqual([{ type: 'outbox-flushed', requestId: 'b', sent: 1, left: 0 }]);
    expect(bs.deliveredBy['background-sync']).toBe(1);
  });

  it('ignores messages that are not its own', async () => {
    const { container, flush, wakeJobs } = setup();
    for (const data of [null, 'flush-outbox', { type: 'flush-outbox' }, { type: 'SKIP_WAITING' }, { type: 'other' }]) container!.post(data);
    await tick();
    expect(flush).not.toHaveBeenCalled();
    expect(wakeJobs).not.toHaveBeenCalled();
  });
});

describe('outbox: the online-event fallback', () => {
  it('listens to `online` where there is no service worker, and stops once the outbox is empty', async () => {
    let left = 1;
    const { bs, win, flush } = setup({ container: null, flush: async () => ({ sent: 1, left: left-- }) });
    expect(await bs.outboxChanged(2)).toBe('online');
    expect(win!.listeners.size).toBe(1);
    win!.goOnline();
    await tick();
    expect(flush).toHaveBeenCalledTimes(1);
    expect(win!.listeners.size).toBe(1); // one item still left
    win!.goOnline();
    await tick();
    expect(flush).toHaveBeenCalledTimes(2);
    expect(win!.listeners.size).toBe(0);
    expect(bs.deliveredBy).toEqual({ 'background-sync': 0, online: 2, direct: 0 });
    expect(bs.wakes.online).toBe(2);
    expect(bs.armed).toBe('none');
  });

  it('falls back when the registration has no sync manager (Firefox, Safari)', async () => {
    const { bs } = setup({ container: new FakeContainer(registration({ sync: false }).reg) });
    await tick();
    expect(await bs.outboxChanged(1)).toBe('online');
    expect(bs.capabilities().backgroundSync).toBe(false);
  });

  it('learns at start that registering is refused (Chromium headless-shell), and falls back', async () => {
    const { reg, sync } = registration({ sync: 'refuses' });
    const { bs, win } = setup({ container: new FakeContainer(reg) });
    await tick();
    await tick();
    expect(sync.register).toHaveBeenCalledTimes(1);
    expect(bs.capabilities().backgroundSync).toBe(false);
    expect(await bs.outboxChanged(1)).toBe('online');
    expect(win!.listeners.size).toBe(1);
    // Refused once, not asked again.
    await bs.outboxChanged(2);
    expect(sync.register).toHaveBeenCalledTimes(1);
  });

  it('moves to Background Sync once the worker becomes active', async () => {
    const { reg, sync } = registration({ sync: true });
    const container = new FakeContainer(undefined, false);
    const { bs, win } = setup({ container });
    expect(await bs.outboxChanged(1)).toBe('online');
    container.current = reg;
    container.readyGate.resolve(reg);
    await tick();
    await tick();
    expect(sync.register).toHaveBeenCalledWith(OUTBOX_SYNC_TAG);
    expect(bs.armed).toBe('background-sync');
    expect(win!.listeners.size).toBe(0);
  });

  it('does not flush on `online` when the outbox has become empty meanwhile', async () => {
    const { bs, win, flush } = setup({ container: null });
    await bs.outboxChanged(1);
    await bs.outboxChanged(0);
    win!.goOnline();
    await tick();
    expect(flush).not.toHaveBeenCalled();
    expect(win!.listeners.size).toBe(0);
  });

  it('arms nothing when there is neither a worker nor a window', async () => {
    const { bs } = setup({ container: null, window: null });
    expect(await bs.outboxChanged(1)).toBe('none');
  });
});

describe('direct deliveries', () => {
  it('counts what the page published itself', () => {
    const { bs, onChange } = setup();
    bs.recordDirect(1);
    bs.recordDirect(0);
    bs.recordDirect(-3);
    bs.recordDirect(Number.NaN);
    bs.recordDirect(2);
    expect(bs.deliveredBy).toEqual({ 'background-sync': 0, online: 0, direct: 3 });
    expect(onChange).toHaveBeenCalledTimes(2);
  });
});

describe('light jobs: Periodic Background Sync', () => {
  it('registers where permission is granted', async () => {
    const { reg, periodicSync } = registration({ periodic: true });
    const { bs, query } = setup({ container: new FakeContainer(reg), permission: 'granted' });
    expect(await bs.registerPeriodic()).toBe('granted');
    expect(query).toHaveBeenCalledWith({ name: 'periodic-background-sync' });
    expect(periodicSync.register).toHaveBeenCalledExactlyOnceWith(LIGHT_JOBS_PERIODIC_TAG, { minInterval: LIGHT_JOBS_MIN_INTERVAL_MS });
    expect(bs.capabilities().periodicSync).toBe('granted');
  });

  it('does not register where permission is denied or would need a prompt (a tab, headless)', async () => {
    for (const permission of ['denied', 'prompt']) {
      const { reg, periodicSync } = registration({ periodic: true });
      const { bs } = setup({ container: new FakeContainer(reg), permission });
      expect(await bs.registerPeriodic()).toBe('denied');
      expect(periodicSync.register).not.toHaveBeenCalled();
      expect(bs.capabilities().periodicSync).toBe('denied');
    }
  });

  it('lets register() decide when the permission cannot be queried', async () => {
    for (const permission of ['throws', null] as const) {
      const { reg, periodicSync } = registration({ periodic: true });
      const { bs } = setup({ container: new FakeContainer(reg), permission });
      expect(await bs.registerPeriodic()).toBe('granted');
      expect(periodicSync.register).toHaveBeenCalled();
    }
  });

  it('reports a refused registration as denied', async () => {
    const { bs } = setup({ container: new FakeContainer(registration({ periodic: 'refuses' }).reg) });
    expect(await bs.registerPeriodic()).toBe('denied');
  });

  it('reports unsupported where the API is missing', async () => {
    const { bs } = setup({ container: new FakeContainer(registration({ sync: true }).reg) });
    expect(await bs.registerPeriodic()).toBe('unsupported');
    expect(bs.capabilities().periodicSync).toBe('unsupported');
    const none = setup({ container: null });
    expect(await none.bs.registerPeriodic()).toBe('unsupported');
  });

  it('registers once the worker is active when asked before', async () => {
    const { reg, periodicSync } = registration({ periodic: true });
    const container = new FakeContainer(undefined, false);
    const { bs } = setup({ container });
    expect(await bs.registerPeriodic()).toBe('unsupported');
    container.current = reg;
    container.readyGate.resolve(reg);
    for (let i = 0; i < 5; i++) await tick();
    expect(periodicSync.register).toHaveBeenCalledTimes(1);
    expect(bs.capabilities().periodicSync).toBe('granted');
  });

  it('unregisters on request', async () => {
    const { reg, periodicSync } = registration({ periodic: true });
    const { bs } = setup({ container: new FakeContainer(reg) });
    await bs.registerPeriodic();
    await bs.unregisterPeriodic();
    expect(periodicSync.unregister).toHaveBeenCalledWith(LIGHT_JOBS_PERIODIC_TAG);
    expect(bs.capabilities().periodicSync).toBe('denied');
  });

  it("calls wakeJobs on the worker's wake-jobs message and counts it", async () => {
    const { bs, container, wakeJobs } = setup();
    container!.post({ type: 'wake-jobs', reason: 'charging (80 %)' });
    container!.post({ type: 'wake-jobs' });
    expect(wakeJobs).toHaveBeenNthCalledWith(1, 'charging (80 %)');
    expect(wakeJobs).toHaveBeenNthCalledWith(2, 'woken by periodic background sync');
    expect(bs.wakes['periodic-sync']).toBe(2);
  });

  it('survives a wakeJobs that throws or rejects', async () => {
    const container = new FakeContainer(registration({ sync: true }).reg);
    for (const wakeJobs of [
      () => {
        throw new Error('boom');
      },
      () => Promise.reject(new Error('boom')),
    ]) {
      const bs = new BackgroundSync({ navigator: { serviceWorker: container }, flush: async () => ({ sent: 0, left: 0 }), wakeJobs });
      bs.start();
      expect(() => container.post({ type: 'wake-jobs' })).not.toThrow();
      await tick();
      bs.dispose();
    }
  });
});

describe('capabilities and missing APIs', () => {
  it('reports the battery API by its presence', () => {
    expect(setup({ battery: true }).bs.capabilities().battery).toBe(true);
    expect(setup({ battery: false }).bs.capabilities().battery).toBe(false);
  });

  it('guesses from the constructors before the worker is active', () => {
    const win = new FakeWindow();
    win.SyncManager = function SyncManager() {};
    const { bs } = setup({ container: new FakeContainer(undefined, false), window: win });
    expect(bs.capabilities()).toEqual({ backgroundSync: true, periodicSync: 'unsupported', battery: false });
    win.PeriodicSyncManager = function PeriodicSyncManager() {};
    expect(bs.capabilities().periodicSync).toBe('denied');
  });

  it('reports what the active registration has', async () => {
    const { bs } = setup({ battery: true });
    await tick();
    expect(bs.capabilities()).toEqual({ backgroundSync: true, periodicSync: 'denied', battery: true });
  });

  it('throws nowhere with no browser APIs at all', async () => {
    const bs = new BackgroundSync({ flush: async () => ({ sent: 0, left: 0 }), wakeJobs: () => undefined });
    bs.start();
    expect(bs.capabilities()).toEqual({ backgroundSync: false, periodicSync: 'unsupported', battery: false });
    expect(await bs.outboxChanged(3)).toBe('none');
    expect(await bs.registerPeriodic()).toBe('unsupported');
    await bs.unregisterPeriodic();
    bs.dispose();
  });

  it('throws nowhere when the browser objects themselves throw (sandboxed frames, broken APIs)', async () => {
    const hostile = {
      get serviceWorker(): ServiceWorkerContainerLike {
        throw new DOMException('denied', 'SecurityError');
      },
      get getBattery(): unknown {
        throw new Error('nope');
      },
    } as NavigatorLike;
    const win: WindowLike = {
      addEventListener: () => {
        throw new Error('nope');
      },
      removeEventListener: () => {
        throw new Error('nope');
      },
    };
    const bs = new BackgroundSync({ navigator: hostile, window: win, flush: async () => ({ sent: 0, left: 0 }), wakeJobs: () => undefined });
    bs.start();
    expect(await bs.outboxChanged(1)).toBe('none');
    expect(bs.capabilities()).toEqual({ backgroundSync: false, periodicSync: 'unsupported', battery: false });
    const rejecting: ServiceWorkerContainerLike = {
      ready: Promise.reject(new Error('no')),
      getRegistration: () => Promise.reject(new Error('no')),
      addEventListener: () => {
        throw new Error('no');
      },
      removeEventListener: () => undefined,
    };
    const bs2 = new BackgroundSync({ navigator: { serviceWorker: rejecting }, flush: async () => ({ sent: 0, left: 0 }), wakeJobs: () => undefined });
    bs2.start();
    expect(await bs2.outboxChanged(1)).toBe('none');
    expect(await bs2.registerPeriodic()).toBe('unsupported');
    bs.dispose();
    bs2.dispose();
  });

  it('stops listening on dispose', async () => {
    const { bs, container, win, flush } = setup({ container: new FakeContainer(registration({ sync: 'refuses' }).reg) });
    await tick();
    await bs.outboxChanged(1);
    bs.dispose();
    expect(container!.listeners.size).toBe(0);
    expect(win!.listeners.size).toBe(0);
    container!.post({ type: 'flush-outbox', requestId: 'x' });
    await tick();
    expect(flush).not.toHaveBeenCalled();
  });

  it('starts listening once and asks for queued messages', () => {
    const { bs, container } = setup();
    bs.start();
    expect(container!.listeners.size).toBe(1);
    expect(container!.startMessages).toHaveBeenCalledTimes(1);
  });
});

// Compile-time only: the browser's own objects fit the injected shapes.
export function wireWithBrowserObjects(nav: Navigator, win: Window): BackgroundSync {
  return new BackgroundSync({ navigator: nav, window: win, flush: async () => ({ sent: 0, left: 0 }), wakeJobs: () => undefined });
}
