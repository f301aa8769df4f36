/**
 * The service worker's decisions about waking the page (DESIGN.md 2.8), kept
 * out of src/sw.ts so that they run under unit tests
 * (tests/unit/sw-wake.test.ts):
 *
 * - reading what the page stored, with the raw IndexedDB API (Dexie would add
 *   tens of kB to sw.js for two reads; see docs/BACKGROUND.md): the last
 *   battery reading in `energy` and the number of items in `outbox`;
 * - whether a periodic wake-up should wake the page for light jobs: the last
 *   battery reading, parsed by signals.ts and judged by the same policy.ts
 *   rule the page's scheduler uses (a stale reading is "unknown", and unknown
 *   means "decide on the grid alone", which the page does once awake);
 * - when a one-off sync for the outbox is done, must be retried, or is still
 *   waiting for pages to answer.
 *
 * Pure apart from the IndexedDB reads, which take the factory as an argument
 * (fake-indexeddb in tests, `self.indexedDB` in the worker).
 */
import { assessPower, DEFAULT_POLICY_SETTINGS, type PolicySettings } from './policy';
import { batteryFromPersisted, DEFAULT_BATTERY_MAX_AGE_MS, type BatterySignal } from './signals';

/**
 * The database the app opens (src/services/db.ts DEFAULT_DATABASE_NAME; a test
 * checks they agree). Not imported from there: that module pulls in Dexie.
 */
export const DATABASE_NAME = 'h3lix';
/** Key-value table (schema v7): `{ key, value }`. */
export const ENERGY_TABLE = 'energy';
/** Where the page keeps the last battery reading: `{ key: 'battery', value: PersistedBattery }`. */
export const BATTERY_KEY = 'battery';
/** Items signed but not yet published (src/services/network.ts). */
export const OUTBOX_TABLE = 'outbox';

// ---------------------------------------------------------------------------
// Periodic sync: wake the page for light jobs?

export interface WakeDecision {
  wake: boolean;
  /** One sentence, for the page's log. */
  reason: string;
  battery: BatterySignal;
}

/**
 * The stored value out of an `energy` record. A record that is not
 * `{ key, value }` is passed through whole so that signals.ts calls it
 * malformed rather than missing.
 */
export function energyRecordValue(record: unknown): unknown {
  if (record === undefined || record === null) return undefined;
  if (typeof record === 'object' && 'value' in record) return (record as { value: unknown }).value;
  return record;
}

/**
 * Whether a periodic wake-up should wake the page for light jobs, from the
 * `energy` record under 'battery' as read from IndexedDB (undefined when there
 * is none). Light jobs run on a charger, on a fairly full battery that is not
 * draining fast, or when the battery is unknown (no reading, or one older
 * than `maxAgeMs`); the page decides again on fresh signals once awake.
 */
export function decideLightJobsWake(
  batteryRecord: unknown,
  now: number,
  options: { maxAgeMs?: number; settings?: PolicySettings } = {},
): WakeDecision {
  const battery = batteryFromPersisted(energyRecordValue(batteryRecord), now, options.maxAgeMs ?? DEFAULT_BATTERY_MAX_AGE_MS);
  const power = assessPower(battery, options.settings ?? DEFAULT_POLICY_SETTINGS);
  return { wake: power.light, reason: power.reason, battery };
}

// ---------------------------------------------------------------------------
// One-off sync: is the outbox done?

export interface FlushReply {
  sent: number;
  left: number;
}

export type SyncVerdict =
  | { settle: 'wait' }
  /** The work is done: the browser drops the registration. */
  | { settle: 'resolve'; reason: string }
  /** Not done: the browser retries later (Chromium: twice more, minutes apart, then gives up until the page registers again). */
  | { settle: 'reject'; reason: string };

export interface SyncProgress {
  /** Items in the outbox as the worker read them before waking anyone (null: could not read). */
  outboxCount: number | null;
  /** Window clients the worker asked to flush. */
  windows: number;
  /** Answers so far. */
  replies: readonly FlushReply[];
  /** The wait for answers is over. */
  timedOut: boolean;
}

/**
 * Where a sync event for the outbox stands. Every page shares the one outbox
 * in IndexedDB, so one answer with nothing left settles it; otherwise the
 * worker waits for every page it asked, or the timeout.
 */
export function judgeOutboxSync(p: SyncProgress): SyncVerdict {
  if (p.outboxCount === 0) return { settle: 'resolve', reason: 'the outbox is empty' };
  if (p.windows === 0) {
    return { settle: 'reject', reason: 'no H3LIX window is open to publish from; the browser will try again later' };
  }
  const emptied = p.replies.find((r) => r.left === 0);
  if (emptied) return { settle: 'resolve', reason: `outbox emptied (${sum(p.replies, 'sent')} sent)` };
  if (p.replies.length >= p.windows || p.timedOut) {
    if (p.replies.length === 0) return { settle: 'reject', reason: 'no window answered in time' };
    const left = Math.min(...p.replies.map((r) => r.left));
    return { settle: 'reject', reason: `${left} item${left === 1 ? '' : 's'} still waiting for peers (${sum(p.replies, 'sent')} sent)` };
  }
  return { settle: 'wait' };
}

const sum = (replies: readonly FlushReply[], field: keyof FlushReply) => replies.reduce((s, r) => s + r[field], 0);

// ---------------------------------------------------------------------------
// Reading IndexedDB without Dexie

/**
 * Opens the app's database as it is, without creating or upgrading it: null
 * when it does not exist (yet) or cannot be opened. Opening without a version
 * never upgrades an existing database; for a missing one the upgrade is
 * aborted, so the worker does not leave behind an empty version-1 database
 * that Dexie would then have to upgrade. The connection closes itself when a
 * page needs to upgrade (versionchange), so the worker never blocks a page.
 */
export function openExisting(factory: IDBFactory, name: string = DATABASE_NAME): Promise<IDBDatabase | null> {
  return new Promise((resolve) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name);
    } catch {
      resolve(null);
      return;
    }
    request.onupgradeneeded = () => {
      // Only reached when the database did not exist.
      request.transaction?.abort();
    };
    request.onerror = (event) => {
      event.preventDefault();
      resolve(null);
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
  });
}

/** Runs one read on a store; undefined when the database or store is not there or the read fails. */
export async function readStore<T>(
  factory: IDBFactory,
  store: string,
  read: (s: IDBObjectStore) => IDBRequest<T>,
  name: string = DATABASE_NAME,
): Promise<T | undefined> {
  const db = await openExisting(factory, name);
  if (!db) return undefined;
  try {
    if (!db.objectStoreNames.contains(store)) return undefined;
    const request = read(db.transaction(store, 'readonly').objectStore(store));
    return await new Promise<T | undefined>((resolve) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = (event) => {
        event.preventDefault();
        resolve(undefined);
      };
    });
  } catch {
    return undefined;
  } finally {
    // Closes once the read-only transaction finishes.
    db.close();
  }
}

/** The `energy` record under 'battery' as the page stored it (undefined when none). */
export function readBatteryRecord(factory: IDBFactory, name: string = DATABASE_NAME): Promise<unknown> {
  return readStore<unknown>(factory, ENERGY_TABLE, (s) => s.get(BATTERY_KEY), name);
}

/** Items waiting in the outbox; null when the database cannot be read. */
export async function countOutbox(factory: IDBFactory, name: string = DATABASE_NAME): Promise<number | null> {
  const count = await readStore<number>(factory, OUTBOX_TABLE, (s) => s.count(), name);
  return count ?? null;
}
