/**
 * Opening the database: named errors when storage is unusable, and the
 * multi-tab dance (our upgrade blocked by an old tab; another tab upgrading
 * or deleting under us).
 */
import { describe, expect, it, vi } from 'vitest';
import Dexie from 'dexie';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { SCHEMA_VERSIONS, type SchemaVersion } from '../../src/services/db-schema';
import {
  DatabaseTooNewError,
  StorageQuotaError,
  StorageUnavailableError,
  declareSchema,
  errorNames,
  openDatabase,
  toWriteError,
} from '../../src/services/db';

const fresh = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

/** A factory whose open() fails the way a browser does: the request errors with a DOMException. */
function failingFactory(errorName: string) {
  return {
    open() {
      const request: Record<string, unknown> = {};
      setTimeout(() => {
        const error = new DOMException(`simulated ${errorName}`, errorName);
        request['error'] = error;
        const onerror = request['onerror'] as ((event: unknown) => void) | undefined;
        onerror?.({ target: request, type: 'error', preventDefault() {}, stopPropagation() {} });
      });
      return request;
    },
  };
}

/** The app's schema plus one more version, as a newer H3LIX would ship it. */
const NEWER_SCHEMA: readonly SchemaVersion[] = [
  ...SCHEMA_VERSIONS,
  {
    version: SCHEMA_VERSIONS.length + 1,
    date: '2099-01-01',
    stores: { ...SCHEMA_VERSIONS[SCHEMA_VERSIONS.length - 1]!.stores, extras: 'id' },
    note: 'A version from the future, for tests.',
  },
];

describe('openDatabase', () => {
  it('opens through the given factory, at the latest version', async () => {
    const open = vi.fn((name: string, version?: number) => indexedDB.open(name, version));
    const db = await openDatabase(fresh('lazy'), { indexedDB: { open }, IDBKeyRange });
    // (Dexie may also open its own '__dbnames' bookkeeping database.)
    expect(open).toHaveBeenCalledWith(expect.stringMatching(/^lazy-/), SCHEMA_VERSIONS.length * 10);
    expect(db.isOpen()).toBe(true);
    expect(db.verno).toBe(SCHEMA_VERSIONS[SCHEMA_VERSIONS.length - 1]!.version);
    db.close();
  });

  it('reopens an existing database with its data', async () => {
    const name = fresh('reopen');
    const first = await openDatabase(name, { indexedDB, IDBKeyRange });
    await first.settings.put({ key: 'modelId', value: 'm' });
    first.close();
    const second = await openDatabase(name, { indexedDB, IDBKeyRange });
    expect(await second.settings.get('modelId')).toEqual({ key: 'modelId', value: 'm' });
    second.close();
  });

  it('says StorageUnavailableError when there is no IndexedDB', async () => {
    const err = await openDatabase(fresh('none'), { indexedDB: { open: () => undefined }, IDBKeyRange }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).name).toBe('StorageUnavailableError');
    expect((err as Error).message).toMatch(/private browsing/);
  });

  it('says StorageUnavailableError when the browser refuses (private mode, blocked site data)', async () => {
    for (const name of ['InvalidStateError', 'SecurityError', 'UnknownError']) {
      const err = await openDatabase(fresh('refused'), { indexedDB: failingFactory(name), IDBKeyRange }).catch(
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(StorageUnavailableError);
      expect(errorNames(err)).toContain(name);
    }
  });

  it('says StorageQuotaError when the disk is full', async () => {
    const err = await openDatabase(fresh('quota'), { indexedDB: failingFactory('QuotaExceededError'), IDBKeyRange }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as Error).message).toMatch(/full/);
  });

  it('maps a quota failure of a write, and leaves other errors alone', () => {
    const wrapped = Object.assign(new Error('Transaction aborted'), {
      name: 'AbortError',
      inner: new DOMException('full', 'QuotaExceededError'),
    });
    expect(toWriteError(wrapped)).toBeInstanceOf(StorageQuotaError);
    const other = new TypeError('nope');
    expect(toWriteError(other)).toBe(other);
  });

  it('refuses a database upgraded by a newer H3LIX (DatabaseTooNewError), leaving it intact', async () => {
    const name = fresh('too-new');
    const newer = new Dexie(name, { indexedDB, IDBKeyRange });
    declareSchema(newer, NEWER_SCHEMA);
    await newer.open();
    await newer.table('extras').add({ id: 'x' });
    newer.close();

    const err = await openDatabase(name, { indexedDB, IDBKeyRange }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseTooNewError);
    expect(err).toMatchObject({ installedVersion: NEWER_SCHEMA.length, supportedVersion: SCHEMA_VERSIONS.length });
    expect((err as Error).message).toMatch(/Reload/);

    const check = new Dexie(name, { indexedDB, IDBKeyRange });
    declareSchema(check, NEWER_SCHEMA);
    await check.open();
    expect(await check.table('extras').count()).toBe(1);
    check.close();
  });
});

describe('several tabs', () => {
  it('calls onBlocked while an old tab holds the database, and finishes once it closes', async () => {
    const name = fresh('blocked');
    // An "old tab" that ignores versionchange (it never closes by itself).
    const oldTab = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const onBlocked = vi.fn();
    const opening = openDatabase(name, { indexedDB, IDBKeyRange, onBlocked });
    await vi.waitFor(() => expect(onBlocked).toHaveBeenCalled());
    oldTab.close();
    const db = await opening;
    expect(db.isOpen()).toBe(true);
    db.close();
  });

  it('closes for good and tells the caller when another tab upgrades, so that tab is not blocked', async () => {
    const name = fresh('upgrade-elsewhere');
    const onVersionChange = vi.fn();
    const ours = await openDatabase(name, { indexedDB, IDBKeyRange, onVersionChange });
    const onBlocked = vi.fn();
    const theirs = await openDatabase(name, { indexedDB, IDBKeyRange, schema: NEWER_SCHEMA, onBlocked });
    expect(onVersionChange).toHaveBeenCalledWith('upgrade');
    expect(ours.isOpen()).toBe(false);
    expect(theirs.verno).toBe(NEWER_SCHEMA.length);
    // No silent reopen against a schema this code does not know.
    await expect(ours.conversations.count()).rejects.toMatchObject({ name: 'DatabaseClosedError' });
    theirs.close();
  });

  it('tells the caller when another tab deletes the database', async () => {
    const name = fresh('delete-elsewhere');
    const onVersionChange = vi.fn();
    const ours = await openDatabase(name, { indexedDB, IDBKeyRange, onVersionChange });
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    expect(onVersionChange).toHaveBeenCalledWith('delete');
    expect(ours.isOpen()).toBe(false);
  });
});
