/**
 * The network key and what is derived from it.
 *
 * A network is a random id plus a random 32-byte key shared by its members
 * (handed over in invite links). The key is never used directly: each key
 * epoch gets its own AES-256-GCM key through HKDF-SHA-256, with an info
 * string naming the protocol, the network and the epoch, so a key from one
 * network or epoch cannot open envelopes of another even if someone reused a
 * raw key by mistake.
 *
 * AES-GCM nonces are 96 random bits per envelope. Every member encrypts under
 * the same epoch key, so the bound that matters is the whole network's
 * message count per epoch: random 96-bit nonces stay safe to about 2^32
 * messages per key (NIST SP 800-38D), far beyond a network of assistants
 * exchanging a few artifacts an hour; rotation resets it anyway.
 *
 * WebCrypto is passed in (`SubtleCrypto`), so this runs in browsers, workers
 * and Node alike; the derived keys are non-extractable.
 */
import { asBufferSource, utf8 } from './encoding';

export const NETWORK_KEY_BYTES = 32;
export const NETWORK_ID_BYTES = 16;
/** Network ids: 32 lower-case hex characters (16 random bytes). */
export const NETWORK_ID_PATTERN = /^[0-9a-f]{32}$/;
export const AES_GCM_NONCE_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;
/** Largest key epoch (so it stays an exact integer everywhere, also in JSON). */
export const MAX_EPOCH = 2 ** 31 - 1;

/** The HKDF info of the envelope key: this prefix, then `<networkId>/<epoch>` (epoch in decimal). */
export const ENVELOPE_KEY_INFO_PREFIX = 'h3lix/v1/envelope-key/';

export type RandomBytes = (length: number) => Uint8Array;

/** Bad input to a key operation (a programming error on the sending side). */
export class NetworkKeyError extends Error {
  override readonly name = 'NetworkKeyError';
}

/** A fresh network id. */
export function createNetworkId(randomBytes: RandomBytes): string {
  const bytes = randomBytes(NETWORK_ID_BYTES);
  if (bytes.length !== NETWORK_ID_BYTES) throw new NetworkKeyError(`randomBytes returned ${bytes.length} bytes, not ${NETWORK_ID_BYTES}`);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A fresh 32-byte network key. */
export function createNetworkKey(randomBytes: RandomBytes): Uint8Array {
  const key = randomBytes(NETWORK_KEY_BYTES);
  if (key.length !== NETWORK_KEY_BYTES) throw new NetworkKeyError(`randomBytes returned ${key.length} bytes, not ${NETWORK_KEY_BYTES}`);
  return key;
}

export function envelopeKeyInfo(networkId: string, epoch: number): string {
  return `${ENVELOPE_KEY_INFO_PREFIX}${networkId}/${epoch}`;
}

/** The AES-256-GCM key of one epoch: HKDF-SHA-256(ikm = network key, salt = empty, info = envelopeKeyInfo). */
export async function deriveEnvelopeKey(subtle: SubtleCrypto, networkKey: Uint8Array, networkId: string, epoch: number): Promise<CryptoKey> {
  if (networkKey.length !== NETWORK_KEY_BYTES) throw new NetworkKeyError(`a network key has ${NETWORK_KEY_BYTES} bytes, not ${networkKey.length}`);
  if (!NETWORK_ID_PATTERN.test(networkId)) throw new NetworkKeyError(`${JSON.stringify(networkId)} is not a network id`);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new NetworkKeyError(`epoch ${epoch} is not an integer in 0..${MAX_EPOCH}`);
  return hkdfAesKey(subtle, networkKey, envelopeKeyInfo(networkId, epoch));
}

/** HKDF-SHA-256 with an empty salt into a non-extractable AES-256-GCM key. */
export async function hkdfAesKey(subtle: SubtleCrypto, ikm: Uint8Array, info: string): Promise<CryptoKey> {
  const base = await subtle.importKey('raw', asBufferSource(ikm), 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: asBufferSource(utf8(info)) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** AES-256-GCM, 128-bit tag appended to the ciphertext (WebCrypto's layout). */
export async function encryptGcm(subtle: SubtleCrypto, key: CryptoKey, nonce: Uint8Array, plaintext: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
  const out = await subtle.encrypt(
    { name: 'AES-GCM', iv: asBufferSource(nonce), additionalData: asBufferSource(additionalData), tagLength: 128 },
    key,
    asBufferSource(plaintext),
  );
  return new Uint8Array(out);
}

/** The plaintext, or undefined when the key is wrong or anything was altered (never throws). */
export async function decryptGcm(subtle: SubtleCrypto, key: CryptoKey, nonce: Uint8Array, ciphertext: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const out = await subtle.decrypt(
      { name: 'AES-GCM', iv: asBufferSource(nonce), additionalData: asBufferSource(additionalData), tagLength: 128 },
      key,
      asBufferSource(ciphertext),
    );
    return new Uint8Array(out);
  } catch {
    return undefined;
  }
}

/** Which epochs a node accepts, and their keys. */
export interface EpochKeys {
  /** The current epoch: outbound envelopes use it. */
  readonly currentEpoch: number;
  /** The key of `epoch` if envelopes of that epoch are accepted at `now`, else undefined. */
  keyFor(epoch: number, now: number): CryptoKey | undefined;
}

/**
 * The epoch keys a node holds. After a rotation the previous epoch stays
 * accepted for a grace period, because envelopes sealed just before the
 * rotation are still travelling; its revoked members are refused anyway.
 */
export class Keyring implements EpochKeys {
  private readonly keys = new Map<number, { key: CryptoKey; acceptUntil: number }>();
  private current: number;

  constructor(epoch: number, key: CryptoKey) {
    this.current = epoch;
    this.keys.set(epoch, { key, acceptUntil: Number.POSITIVE_INFINITY });
  }

  get currentEpoch(): number {
    return this.current;
  }

  /** The current epoch's key (for sealing). */
  get currentKey(): CryptoKey {
    return this.keys.get(this.current)!.key;
  }

  keyFor(epoch: number, now: number): CryptoKey | undefined {
    const entry = this.keys.get(epoch);
    return entry !== undefined && now <= entry.acceptUntil ? entry.key : undefined;
  }

  /** Moves to a newer epoch; the old ones stay accepted until `now + graceMs`. */
  rotate(epoch: number, key: CryptoKey, now: number, graceMs: number): void {
    if (epoch <= this.current) throw new NetworkKeyError(`epoch ${epoch} is not newer than the current ${this.current}`);
    for (const [e, entry] of this.keys) {
      entry.acceptUntil = Math.min(entry.acceptUntil, now + graceMs);
      if (entry.acceptUntil < now) this.keys.delete(e);
    }
    this.keys.set(epoch, { key, acceptUntil: Number.POSITIVE_INFINITY });
    this.current = epoch;
  }
}

