/**
 * Signed items: an artifact or a vote together with its author's signature.
 *
 * The envelope signature proves who *sent* a message; an item signature
 * proves who *authored* its content, independently of any envelope. That is
 * what lets reconciliation work: a member answering a late joiner re-sends
 * other members' artifacts and votes, sealed in its own envelope under the
 * current epoch key, and the joiner still checks each author's signature.
 *
 * The item signature covers the network id as well, so an item cannot be
 * carried into another network under its author's name.
 *
 * The item id (what reconciliation compares) is the first 16 bytes of
 * SHA-256 of the signature input, in base64url: it names the (author, kind,
 * content) triple, not the signature, so it does not depend on whether a
 * signer randomises its signatures. Two authors of the same artifact make two
 * items with one content id.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { canonicalJson, parseArtifact } from '../artifacts/canonical';
import { CONTENT_ID_PATTERN, type Artifact, type ContentId } from '../artifacts/schema';
import { parseVote, type NodeId, type Vote } from '../ccf/vote';
import { base64UrlPattern, isBase64Url, fromBase64Url, toBase64Url } from './encoding';
import { NETWORK_ID_PATTERN } from './network-key';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, nodeIdOf, signWith, signatureInput, verifyEd25519, type SigningIdentity } from './signing';

export const ITEM_KINDS = ['artifact', 'vote'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];
export const ITEM_ID_BYTES = 16;
export const ITEM_ID_PATTERN = base64UrlPattern(ITEM_ID_BYTES);
/** An item id: base64url of 16 bytes (22 characters). */
export type ItemId = string;

const publicKeyField = z.string().regex(base64UrlPattern(PUBLIC_KEY_BYTES), 'author must be a base64url Ed25519 public key').refine(isBase64Url, 'not canonical base64url');
const signatureField = z.string().regex(base64UrlPattern(SIGNATURE_BYTES), 'sig must be a base64url Ed25519 signature').refine(isBase64Url, 'not canonical base64url');

/** The JSON shape of a signed item; `data` is checked by the artifact or vote parser afterwards. */
export const signedItemSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('artifact'),
    author: publicKeyField,
    id: z.string().regex(CONTENT_ID_PATTERN, 'id must be a content id'),
    data: z.unknown(),
    sig: signatureField,
  }),
  z.strictObject({ kind: z.literal('vote'), author: publicKeyField, data: z.unknown(), sig: signatureField }),
]);

export type SignedItem =
  | { kind: 'artifact'; author: string; id: ContentId; data: Artifact; sig: string }
  | { kind: 'vote'; author: string; data: Vote; sig: string };

/** A signed item before its signature. */
export type UnsignedItem = SignedItem extends infer T ? (T extends SignedItem ? Omit<T, 'sig'> : never) : never;

/** A signed item that passed every check, with what was derived on the way. */
export type VerifiedItem = {
  item: SignedItem;
  itemId: ItemId;
  authorId: NodeId;
  /** The item's own time: an artifact's createdAt, a vote's `at`. Orders items for reconciliation. */
  time: number;
} & ({ kind: 'artifact'; artifact: Artifact; contentId: ContentId } | { kind: 'vote'; vote: Vote });

export type ItemCheck = { ok: true; verified: VerifiedItem } | { ok: false; reason: 'invalid' | 'bad-signature'; detail: string };

/** Bad input when making an item (sending side). */
export class SignedItemError extends Error {
  override readonly name = 'SignedItemError';
}

/** The canonical text the item signature covers (without the context line). */
export function itemSigningText(networkId: string, item: UnsignedItem): string {
  const payload: Record<string, unknown> = { author: item.author, data: item.data, kind: item.kind, network: networkId };
  if (item.kind === 'artifact') payload.id = item.id;
  return canonicalJson(payload);
}

export function itemIdOf(networkId: string, item: UnsignedItem): ItemId {
  return toBase64Url(sha256(signatureInput('item', itemSigningText(networkId, item))).subarray(0, ITEM_ID_BYTES));
}

/** Signs an artifact as its author. */
export async function signArtifact(networkId: string, artifact: Artifact, author: SigningIdentity): Promise<VerifiedItem> {
  let parsed;
  try {
    parsed = parseArtifact(canonicalJson(artifact));
  } catch (error) {
    throw new SignedItemError(`cannot sign an invalid artifact: ${(error as Error).message}`);
  }
  const unsigned = { kind: 'artifact' as const, author: toBase64Url(author.publicKey), id: parsed.id, data: parsed.artifact };
  return finishSigning(networkId, unsigned, author);
}

/** Signs a vote as its voter (the vote's `voter` must be the signer). */
export async function signVote(networkId: string, vote: Vote, author: SigningIdentity): Promise<VerifiedItem> {
  const parsed = parseVote(vote);
  if (!parsed.ok) throw new SignedItemError(`cannot sign an invalid vote: ${parsed.reason}`);
  if (parsed.vote.voter !== author.nodeId) throw new SignedItemError(`vote.voter ${parsed.vote.voter} is not the signer ${author.nodeId}`);
  return finishSigning(networkId, { kind: 'vote', author: toBase64Url(author.publicKey), data: parsed.vote }, author);
}

async function finishSigning(networkId: string, unsigned: UnsignedItem, author: SigningIdentity): Promise<VerifiedItem> {
  if (!NETWORK_ID_PATTERN.test(networkId)) throw new SignedItemError(`${JSON.stringify(networkId)} is not a network id`);
  const signature = await signWith(author, signatureInput('item', itemSigningText(networkId, unsigned)));
  const item = { ...unsigned, sig: toBase64Url(signature) } as SignedItem;
  const check = verifyItem(networkId, item);
  if (!check.ok) throw new SignedItemError(`the item does not verify after signing (${check.detail}); is the signer's key the identity's public key?`);
  return check.verified;
}

/** Checks an untrusted item (already JSON-parsed): shape, content, author binding and signature. Never throws. */
export function verifyItem(networkId: string, raw: unknown): ItemCheck {
  const shape = signedItemSchema.safeParse(raw);
  if (!shape.success) return { ok: false, reason: 'invalid', detail: shape.error.issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; ') };
  const value = shape.data;
  let authorKey: Uint8Array;
  let signature: Uint8Array;
  try {
    authorKey = fromBase64Url(value.author);
    signature = fromBase64Url(value.sig);
  } catch (error) {
    return { ok: false, reason: 'invalid', detail: (error as Error).message };
  }
  const authorId = nodeIdOf(authorKey);
  let item: SignedItem;
  let content: { kind: 'artifact'; artifact: Artifact; contentId: ContentId } | { kind: 'vote'; vote: Vote };
  let time: number;
  if (value.kind === 'artifact') {
    let parsed;
    try {
      parsed = parseArtifact(canonicalJson(value.data));
    } catch (error) {
      return { ok: false, reason: 'invalid', detail: `artifact: ${(error as Error).message}` };
    }
    if (parsed.id !== value.id) return { ok: false, reason: 'invalid', detail: `content id mismatch: claims ${value.id}, is ${parsed.id}` };
    item = { kind: 'artifact', author: value.author, id: parsed.id, data: parsed.artifact, sig: value.sig };
    content = { kind: 'artifact', artifact: parsed.artifact, contentId: parsed.id };
    time = parsed.artifact.createdAt;
  } else {
    const parsed = parseVote(value.data);
    if (!parsed.ok) return { ok: false, reason: 'invalid', detail: `vote: ${parsed.reason}` };
    if (parsed.vote.voter !== authorId) return { ok: false, reason: 'invalid', detail: `vote.voter ${parsed.vote.voter} is not the author ${authorId}` };
    item = { kind: 'vote', author: value.author, data: parsed.vote, sig: value.sig };
    content = { kind: 'vote', vote: parsed.vote };
    time = parsed.vote.at;
  }
  let input: Uint8Array;
  try {
    input = signatureInput('item', itemSigningText(networkId, item));
  } catch (error) {
    return { ok: false, reason: 'invalid', detail: (error as Error).message };
  }
  if (!verifyEd25519(authorKey, input, signature)) return { ok: false, reason: 'bad-signature', detail: `item signature by ${authorId} does not verify` };
  const itemId = toBase64Url(sha256(input).subarray(0, ITEM_ID_BYTES));
  return { ok: true, verified: { item, itemId, authorId, time, ...content } };
}
