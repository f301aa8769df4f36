import { describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase } from '../../src/services/db';
import { loadOrCreateIdentity, verifySignature } from '../../src/services/identity';
import { formatFingerprint, nodeIdFromPublicKey, toHex } from '../../src/lib/governance/identity';
import { deleteEverything } from '../../src/services/backup';

const open = (name = `id-${crypto.randomUUID()}`) => openDatabase(name, { indexedDB, IDBKeyRange });
const bytes = (s: string) => new TextEncoder().encode(s);

describe('node identity', () => {
  it('is made once, kept across restarts, and signs verifiably', async () => {
    const name = `id-${crypto.randomUUID()}`;
    const db = await open(name);
    const a = await loadOrCreateIdentity(db, () => 1000);
    expect(a.nodeId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.publicKey).toHaveLength(32);
    expect(a.custody).toBe('webcrypto-non-extractable');
    db.close();

    const again = await open(name);
    const b = await loadOrCreateIdentity(again, () => 2000);
    expect(b.nodeId).toBe(a.nodeId);
    expect(b.createdAt).toBe(1000);
    const sig = await b.sign(bytes('hello'));
    expect(verifySignature(a.publicKey, bytes('hello'), sig)).toBe(true);
    expect(verifySignature(a.publicKey, bytes('hellO'), sig)).toBe(false);
    // The private key cannot be read back out.
    const record = await again.identity.get('node');
    expect((record!.privateKey as CryptoKey).extractable).toBe(false);
    await again.delete();
  });

  it('two starts racing agree on one identity', async () => {
    const db = await open();
    const [x, y] = await Promise.all([loadOrCreateIdentity(db, () => 1), loadOrCreateIdentity(db, () => 2)]);
    expect(x.nodeId).toBe(y.nodeId);
    expect(await db.identity.count()).toBe(1);
    await db.delete();
  });

  it('is part of "delete everything": a new one is made afterwards', async () => {
    const db = await open();
    const first = await loadOrCreateIdentity(db, () => 1);
    await deleteEverything(db);
    const second = await loadOrCreateIdentity(db, () => 2);
    expect(second.nodeId).not.toBe(first.nodeId);
    await db.delete();
  });

  it('derives the node id from the public key only', async () => {
    const sha = async (d: Uint8Array) => new Uint8Array(await crypto.subtle.digest('SHA-256', d as Uint8Array<ArrayBuffer>));
    const key = new Uint8Array(32).fill(7);
    const id = await nodeIdFromPublicKey(key, sha);
    expect(id).toBe(toHex((await sha(key)).slice(0, 16)));
    await expect(nodeIdFromPublicKey(new Uint8Array(31), sha)).rejects.toThrow(/32 bytes/);
    expect(formatFingerprint('0123456789abcdef')).toBe('0123 4567 89ab cdef');
  });
});
