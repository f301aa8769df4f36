/**
 * Who signed what: node ids from public keys, the domain-separated signature
 * input of each signed structure, and strict Ed25519 verification.
 *
 * One node key signs three kinds of things (envelopes, items, invites). Each
 * signature input starts with its own context line ("h3lix/envelope/v1\n",
 * …), so a signature made for one can never be presented as another, even
 * if some future field layout made their JSON coincide.
 *
 * Signing itself is injected (`Signer`): the private key may be a
 * non-extractable WebCrypto key (services/identity.ts). Verification is
 * @noble/curves in strict RFC 8032 mode (zip215: false): canonical encodings
 * only, so a signature has one spelling and flipping any of its bits fails.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { NODE_ID_PATTERN, type NodeId } from '../ccf/vote';
import { concatBytes, toHex, utf8 } from './encoding';

export { NODE_ID_PATTERN, type NodeId };

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** As governance/identity.ts: the first 16 bytes of SHA-256(public key). */
export const NODE_ID_BYTES = 16;

/** Signs bytes with the node's Ed25519 private key (pure Ed25519, RFC 8032). */
export type Signer = (bytes: Uint8Array) => Promise<Uint8Array>;

/** The public identity a sender presents, and its signer. */
export interface SigningIdentity {
  nodeId: NodeId;
  publicKey: Uint8Array;
  sign: Signer;
}

/** The context lines that start each signature input (see docs/PROTOCOL.md, "Signatures"). */
export const SIGNATURE_CONTEXT = {
  envelope: 'h3lix/envelope/v1\n',
  item: 'h3lix/item/v1\n',
  invite: 'h3lix/invite/v1\n',
} as const;
export type SignatureContext = keyof typeof SIGNATURE_CONTEXT;

/** The node id of an Ed25519 public key. Synchronous (noble SHA-256), so the inbound pipeline can check it cheaply. */
export function nodeIdOf(publicKey: Uint8Array): NodeId {
  return toHex(sha256(publicKey).subarray(0, NODE_ID_BYTES));
}

/** The bytes a signature covers: the context line, then the canonical JSON text. */
export function signatureInput(context: SignatureContext, canonicalText: string): Uint8Array {
  return concatBytes(utf8(SIGNATURE_CONTEXT[context]), utf8(canonicalText));
}

/** Strict Ed25519 verification; false (never an exception) for any malformed key or signature. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Signs and checks the signer returned a signature of the right shape (a broken signer is a programming error). */
export async function signWith(identity: SigningIdentity, message: Uint8Array): Promise<Uint8Array> {
  const signature = await identity.sign(message);
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new SignerError(`the signer returned ${signature instanceof Uint8Array ? `${signature.length} bytes` : typeof signature}, not a ${SIGNATURE_BYTES}-byte Ed25519 signature`);
  }
  return signature;
}

/** The injected signer misbehaved, or the identity does not match its key. */
export class SignerError extends Error {
  override readonly name = 'SignerError';
}

/** Throws SignerError unless the identity's node id is the one its public key gives. */
export function assertIdentity(identity: SigningIdentity): void {
  if (identity.publicKey.length !== PUBLIC_KEY_BYTES) throw new SignerError(`an Ed25519 public key has ${PUBLIC_KEY_BYTES} bytes, not ${identity.publicKey.length}`);
  if (nodeIdOf(identity.publicKey) !== identity.nodeId) throw new SignerError(`node id ${identity.nodeId} is not derived from this public key`);
}
