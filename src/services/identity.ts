/**
 * The node identity in IndexedDB: loaded if it exists, made on first run if
 * not. WebCrypto Ed25519 with a non-extractable private key where the browser
 * has it (Chromium 137+, Firefox 129+, Safari 17+); elsewhere @noble/curves
 * with the secret bytes kept in IndexedDB (same origin only). Either way the
 * identity never depends on the model, so swapping models changes nothing.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  IDENTITY_RECORD_ID,
  nodeIdFromPublicKey,
  type KeyCustody,
  type PublicIdentity,
} from '../lib/governance/identity';
import type { H3lixDatabase } from './db';

/** What the identity table holds (one record). */
export interface IdentityRecord extends PublicIdentity {
  id: typeof IDENTITY_RECORD_ID;
  /** A CryptoKey (non-extractable) or the raw 32-byte secret. */
  privateKey: CryptoKey | Uint8Array;
}

export interface NodeIdentity extends PublicIdentity {
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const sha256 = async (data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));

async function makeKeyPair(): Promise<{ publicKey: Uint8Array; privateKey: CryptoKey | Uint8Array; custody: KeyCustody }> {
  try {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    return { publicKey, privateKey: pair.privateKey, custody: 'webcrypto-non-extractable' };
  } catch {
    // No WebCrypto Ed25519 here: the same algorithm in JavaScript.
    const secret = ed25519.utils.randomSecretKey();
    return { publicKey: ed25519.getPublicKey(secret), privateKey: secret, custody: 'raw-bytes' };
  }
}

function withSigner(record: IdentityRecord): NodeIdentity {
  const { privateKey } = record;
  return {
    nodeId: record.nodeId,
    publicKey: record.publicKey,
    createdAt: record.createdAt,
    custody: record.custody,
    async sign(data) {
      if (privateKey instanceof Uint8Array) return ed25519.sign(data, privateKey);
      return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, data as Uint8Array<ArrayBuffer>));
    },
  };
}

/** The node identity, made and stored on first call. Two tabs starting at once agree on one. */
export async function loadOrCreateIdentity(db: H3lixDatabase, now: () => number): Promise<NodeIdentity> {
  const existing = await db.identity.get(IDENTITY_RECORD_ID);
  if (existing) return withSigner(existing);
  const { publicKey, privateKey, custody } = await makeKeyPair();
  const candidate: IdentityRecord = {
    id: IDENTITY_RECORD_ID,
    nodeId: await nodeIdFromPublicKey(publicKey, sha256),
    publicKey,
    privateKey,
    createdAt: now(),
    custody,
  };
  // add() fails if another tab stored one first; then that one is the identity.
  const stored = await db.transaction('rw', db.identity, async () => {
    const raced = await db.identity.get(IDENTITY_RECORD_ID);
    if (raced) return raced;
    await db.identity.add(candidate);
    return candidate;
  });
  return withSigner(stored);
}

/** Checks an Ed25519 signature by any node (pure JavaScript: works everywhere, also in workers and Node). */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, data, publicKey);
  } catch {
    return false;
  }
}
