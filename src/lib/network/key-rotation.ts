/**
 * Key rotation and leaving.
 *
 * Rotation moves a network to epoch e+1 with a fresh random key, e.g. to
 * remove a member. The new key must reach the remaining members and nobody
 * else, and the removed member still holds the old key, so "encrypted under
 * the old key" alone would hand it the new one. Each remaining member's copy
 * is therefore wrapped for that member alone:
 *
 *   shared = X25519(ephemeral secret, member's exchange key)
 *   KEK    = HKDF-SHA-256(shared, salt = empty,
 *                         info = "h3lix/v1/rotation-wrap/<network>/<epoch>/<member node id>")
 *   wrapped = AES-256-GCM(KEK, nonce = 12 zero bytes, AAD = UTF-8 of the ephemeral key's base64url, new key)
 *
 * (A fixed nonce is safe: each KEK encrypts exactly one message.) Exchange
 * keys are X25519 keys members publish in their presence announcements:
 * node identities are Ed25519 signing keys whose private half may be
 * non-extractable, so they cannot do key agreement themselves. The
 * rotation announcement travels as an 'announce' envelope sealed under the
 * old epoch key and signed by the rotating member, so outsiders cannot read
 * even who remains.
 *
 * Members are peers: any member may rotate. Two members rotating at once both
 * announce epoch e+1; every node keeps the one whose `rotationRank` is
 * smallest, so all converge on one key. Leaving is an announce of kind
 * 'leave' (a courtesy: the others may then rotate the leaver out) followed by
 * forgetting the keys.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJson } from '../artifacts/canonical';
import type { NodeId } from '../ccf/vote';
import { fromBase64Url, toBase64Url, toHex, utf8 } from './encoding';
import type { AnnounceBody, RotationAnnounce } from './message-bodies';
import { MAX_ROTATION_MEMBERS } from './message-bodies';
import { AES_GCM_NONCE_BYTES, MAX_EPOCH, NETWORK_KEY_BYTES, createNetworkKey, decryptGcm, encryptGcm, hkdfAesKey, type RandomBytes } from './network-key';

export const ROTATION_WRAP_INFO_PREFIX = 'h3lix/v1/rotation-wrap/';
export const EXCHANGE_KEY_BYTES = 32;
/** How long envelopes of the previous epoch stay accepted after a rotation (in-flight messages). */
export const ROTATION_GRACE_MS = 10 * 60_000;

/** X25519 agreement with this node's exchange secret (injected: the secret may live in WebCrypto). */
export type KeyAgreement = (peerPublicKey: Uint8Array) => Promise<Uint8Array>;

export class KeyRotationError extends Error {
  override readonly name = 'KeyRotationError';
}

export interface ExchangeKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh X25519 key pair for receiving rotated keys (the secret is kept by the node, like its identity). */
export function createExchangeKeyPair(randomBytes: RandomBytes): ExchangeKeyPair {
  const secretKey = randomBytes(EXCHANGE_KEY_BYTES);
  if (secretKey.length !== EXCHANGE_KEY_BYTES) throw new KeyRotationError(`randomBytes returned ${secretKey.length} bytes`);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** The agreement function for a raw X25519 secret. */
export function x25519Agreement(secretKey: Uint8Array): KeyAgreement {
  return async (peerPublicKey) => x25519.getSharedSecret(secretKey, peerPublicKey);
}

export interface RotationMember {
  nodeId: NodeId;
  /** The member's X25519 exchange key, from its presence announcement. */
  exchangeKey: Uint8Array;
}

export interface PlannedRotation {
  announce: RotationAnnounce;
  epoch: number;
  /** The new raw network key (what new invite links carry). */
  networkKey: Uint8Array;
}

export function rotationWrapInfo(networkId: string, epoch: number, member: NodeId): string {
  return `${ROTATION_WRAP_INFO_PREFIX}${networkId}/${epoch}/${member}`;
}

/**
 * Makes a rotation to `currentEpoch + 1`: a new key, wrapped for each of
 * `members` (the remaining members other than the rotating node; the
 * removed ones must not be among them). Seal the announce under the current
 * epoch, then switch this node's keyring.
 */
export async function planRotation(options: {
  networkId: string;
  currentEpoch: number;
  members: readonly RotationMember[];
  removed: readonly NodeId[];
  randomBytes: RandomBytes;
  subtle: SubtleCrypto;
}): Promise<PlannedRotation> {
  const epoch = options.currentEpoch + 1;
  if (epoch > MAX_EPOCH) throw new KeyRotationError('no epochs left');
  const removed = [...new Set(options.removed)].sort();
  const members = [...options.members].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  if (members.length === 0) throw new KeyRotationError('a rotation needs at least one remaining member to hand the key to');
  if (members.length > MAX_ROTATION_MEMBERS || removed.length > MAX_ROTATION_MEMBERS) throw new KeyRotationError(`at most ${MAX_ROTATION_MEMBERS} members`);
  for (let i = 1; i < members.length; i++) if (members[i]!.nodeId === members[i - 1]!.nodeId) throw new KeyRotationError(`member ${members[i]!.nodeId} listed twice`);
  for (const m of members) if (removed.includes(m.nodeId)) throw new KeyRotationError(`member ${m.nodeId} is both kept and removed`);
  const networkKey = createNetworkKey(options.randomBytes);
  const ephemeral = createExchangeKeyPair(options.randomBytes);
  const ephemeralKey = toBase64Url(ephemeral.publicKey);
  const keys: RotationAnnounce['keys'] = [];
  for (const member of members) {
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(ephemeral.secretKey, member.exchangeKey);
    } catch (error) {
      throw new KeyRotationError(`member ${member.nodeId} has an unusable exchange key: ${(error as Error).message}`);
    }
    const kek = await hkdfAesKey(options.subtle, shared, rotationWrapInfo(options.networkId, epoch, member.nodeId));
    const wrapped = await encryptGcm(options.subtle, kek, new Uint8Array(AES_GCM_NONCE_BYTES), networkKey, utf8(ephemeralKey));
    keys.push({ to: member.nodeId, wrapped: toBase64Url(wrapped) });
  }
  return { announce: { kind: 'rotation', epoch, ephemeralKey, keys, removed }, epoch, networkKey };
}

export type RotationOutcome =
  | { ok: true; epoch: number; networkKey: Uint8Array; removed: NodeId[] }
  /** removed: this node was rotated out; not-addressed: it got no copy (e.g. its exchange key was unknown); unwrap-failed: its copy does not open. */
  | { ok: false; reason: 'removed' | 'not-addressed' | 'unwrap-failed'; removed: NodeId[] };

/** Reads a rotation announce (already opened by openEnvelope) as member `self`. Never throws. */
export async function openRotation(announce: RotationAnnounce, options: { networkId: string; self: NodeId; agree: KeyAgreement; subtle: SubtleCrypto }): Promise<RotationOutcome> {
  const removed = [...announce.removed];
  if (announce.removed.includes(options.self)) return { ok: false, reason: 'removed', removed };
  const mine = announce.keys.find((k) => k.to === options.self);
  if (mine === undefined) return { ok: false, reason: 'not-addressed', removed };
  try {
    const shared = await options.agree(fromBase64Url(announce.ephemeralKey));
    const kek = await hkdfAesKey(options.subtle, shared, rotationWrapInfo(options.networkId, announce.epoch, options.self));
    const key = await decryptGcm(options.subtle, kek, new Uint8Array(AES_GCM_NONCE_BYTES), fromBase64Url(mine.wrapped), utf8(announce.ephemeralKey));
    if (key === undefined || key.length !== NETWORK_KEY_BYTES) return { ok: false, reason: 'unwrap-failed', removed };
    return { ok: true, epoch: announce.epoch, networkKey: key, removed };
  } catch {
    return { ok: false, reason: 'unwrap-failed', removed };
  }
}

/**
 * Orders competing rotations to the same epoch: the smaller rank wins on
 * every node. SHA-256 of the sender and the canonical announce, so no member
 * can pick a winning rank without trying many keys (and even then it only
 * wins a race it could have won by rotating alone).
 */
export function rotationRank(sender: NodeId, announce: RotationAnnounce): string {
  return toHex(sha256(utf8(`${sender}\n${canonicalJson(announce)}`)));
}

/** The announce a leaving member sends before forgetting the network keys. */
export function leaveAnnounce(): AnnounceBody {
  return { kind: 'leave' };
}
