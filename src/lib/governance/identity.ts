/**
 * The node identity: who this instance is to itself and, later, to its
 * network. An Ed25519 key pair made on first run and kept in IndexedDB; the
 * private key is non-extractable where the platform allows (WebCrypto
 * Ed25519), so not even an export file can carry it off the device. The node
 * id is derived from the public key, so it cannot be claimed by anyone else.
 * Pure: hashing is passed in.
 */

export const IDENTITY_RECORD_ID = 'node';
export const NODE_ID_BYTES = 16;

/** How the private key is held. */
export type KeyCustody =
  /** A WebCrypto CryptoKey with extractable = false: usable, never readable. */
  | 'webcrypto-non-extractable'
  /** Raw secret bytes in IndexedDB, for browsers without WebCrypto Ed25519. */
  | 'raw-bytes';

/** The public, shareable part of the identity. */
export interface PublicIdentity {
  /** hex of the first 16 bytes of SHA-256(public key). */
  nodeId: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  createdAt: number;
  custody: KeyCustody;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function nodeIdFromPublicKey(
  publicKey: Uint8Array,
  sha256: (data: Uint8Array) => Promise<Uint8Array>,
): Promise<string> {
  if (publicKey.length !== 32) throw new RangeError(`An Ed25519 public key has 32 bytes, not ${publicKey.length}.`);
  const digest = await sha256(publicKey);
  return toHex(digest.slice(0, NODE_ID_BYTES));
}

/** "3f2a 9c1d 77e0 …": the node id in groups of four, easier to read aloud and compare. */
export function formatFingerprint(nodeId: string): string {
  return nodeId.match(/.{1,4}/g)?.join(' ') ?? nodeId;
}
