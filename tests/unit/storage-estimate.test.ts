/** Persistence and quota readings, tolerant of every missing or failing API. */
import { describe, expect, it, vi } from 'vitest';
import { readStorageEstimate, requestPersistence, type StorageManagerLike } from '../../src/services/storage-estimate';

describe('requestPersistence', () => {
  it('is false where there is no StorageManager (Node has none)', async () => {
    expect(await requestPersistence()).toBe(false);
    expect(await requestPersistence(undefined)).toBe(false);
    expect(await requestPersistence({})).toBe(false);
  });

  it('does not ask again when already persisted', async () => {
    const persist = vi.fn(async () => true);
    expect(await requestPersistence({ persisted: async () => true, persist })).toBe(true);
    expect(persist).not.toHaveBeenCalled();
  });

  it('asks, and reports the answer', async () => {
    expect(await requestPersistence({ persisted: async () => false, persist: async () => true })).toBe(true);
    expect(await requestPersistence({ persisted: async () => false, persist: async () => false })).toBe(false);
    expect(await requestPersistence({ persist: async () => true })).toBe(true);
  });

  it('is false when the browser throws', async () => {
    const storage: StorageManagerLike = {
      persisted: async () => false,
      persist: async () => {
        throw new DOMException('nope', 'SecurityError');
      },
    };
    expect(await requestPersistence(storage)).toBe(false);
  });
});

describe('readStorageEstimate', () => {
  it('reads usage, quota and persistence', async () => {
    const storage: StorageManagerLike = {
      estimate: async () => ({ usage: 1234, quota: 5_000_000 }),
      persisted: async () => true,
    };
    expect(await readStorageEstimate(storage)).toEqual({ usage: 1234, quota: 5_000_000, persisted: true });
  });

  it('gives null for whatever the browser cannot say', async () => {
    expect(await readStorageEstimate(undefined)).toEqual({ usage: null, quota: null, persisted: null });
    expect(await readStorageEstimate({ estimate: async () => ({}) })).toEqual({ usage: null, quota: null, persisted: null });
    expect(
      await readStorageEstimate({
        estimate: async () => {
          throw new Error('boom');
        },
        persisted: async () => {
          throw new Error('boom');
        },
      }),
    ).toEqual({ usage: null, quota: null, persisted: null });
    expect(await readStorageEstimate({ estimate: async () => ({ usage: Number.NaN, quota: -1 }) })).toEqual({
      usage: null,
      quota: null,
      persisted: null,
    });
  });
});
