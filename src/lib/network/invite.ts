/**
 * Invite links: how a person brings another instance into a network.
 *
 * The link is `<app URL>#join=<base64url of the canonical JSON invite>`.
 * Only the fragment carries it, and browsers never send fragments to
 * servers, so neither the app's host nor the relay sees the network key. The
 * link *is* the secret: whoever holds it until it expires can join.
 *
 * The invite is signed by the inviter's node key (context line
 * "h3lix/invite/v1\n"), so the joining person is shown who invites them and
 * to what, and a link whose relays, key or expiry were edited is refused as
 * tampered. Checks run: not-an-invite (no #join=) → too-large → malformed →
 * tampered (node id or signature) → expired.
 */
import { z } from 'zod';
import { canonicalJson } from '../artifacts/canonical';
import { MAX_TIME_MS } from '../artifacts/schema';
import { nodeIdSchema, type NodeId } from '../ccf/vote';
import { base64UrlPattern, fromBase64Url, isBase64Url, strictUtf8Decoder, toBase64Url, utf8 } from './encoding';
import { MAX_EPOCH, NETWORK_ID_PATTERN, NETWORK_KEY_BYTES } from './network-key';
import { labelSchema, multiaddrSchema } from './message-bodies';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, assertIdentity, nodeIdOf, signWith, signatureInput, verifyEd25519, type SigningIdentity } from './signing';

export const INVITE_VERSION = 1;
export const INVITE_FRAGMENT_PREFIX = '#join=';
/** Longest `#join=` payload accepted (characters); a full invite with 8 relays is about 2.5 KB. */
export const MAX_INVITE_PAYLOAD_CHARS = 6144;
export const MAX_INVITE_RELAYS = 8;
/** Longest validity an invite may claim; a link is a secret, it should not live for months. */
export const MAX_INVITE_LIFETIME_MS = 30 * 24 * 3_600_000;
export const DEFAULT_INVITE_LIFETIME_MS = 7 * 24 * 3_600_000;
/** How far in the future `createdAt` may lie (clock skew between inviter and joiner). */
export const INVITE_CLOCK_SKEW_MS = 10 * 60_000;

const bytesField = (n: number) => z.string().regex(base64UrlPattern(n)).refine(isBase64Url, 'not canonical base64url');

/** A libp2p peer id in its base58 text form. */
export const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/;

export const inviteSchema = z
  .strictObject({
    v: z.literal(INVITE_VERSION),
    network: z.string().regex(NETWORK_ID_PATTERN),
    /** What the inviter calls the network, shown to the joiner. */
    networkName: labelSchema.optional(),
    networkKey: bytesField(NETWORK_KEY_BYTES),
    epoch: z.int().min(0).max(MAX_EPOCH),
    relays: z.array(multiaddrSchema).min(1).max(MAX_INVITE_RELAYS),
    inviter: z.strictObject({
      nodeId: nodeIdSchema,
      publicKey: bytesField(PUBLIC_KEY_BYTES),
      displayName: labelSchema.optional(),
      /** The inviter's transport (libp2p) peer id: the joiner's first contact through the relays. */
      peerId: z.string().regex(PEER_ID_PATTERN, 'peerId must be a libp2p peer id (base58)').optional(),
    }),
    createdAt: z.int().min(0).max(MAX_TIME_MS),
    expiresAt: z.int().min(0).max(MAX_TIME_MS),
    sig: bytesField(SIGNATURE_BYTES),
  })
  .refine((i) => i.expiresAt > i.createdAt, 'expiresAt must be after createdAt')
  .refine((i) => i.expiresAt - i.createdAt <= MAX_INVITE_LIFETIME_MS, 'an invite may be valid for at most 30 days');
type InviteJson = z.infer<typeof inviteSchema>;

/** An invite as the app shows it: who invites to what, until when. */
export interface Invite {
  networkId: string;
  networkName?: string;
  networkKey: Uint8Array;
  epoch: number;
  relays: string[];
  inviter: { nodeId: NodeId; publicKey: Uint8Array; displayName?: string; peerId?: string };
  createdAt: number;
  expiresAt: number;
}

export const INVITE_REFUSALS = ['not-an-invite', 'too-large', 'malformed', 'tampered', 'expired'] as const;
export type InviteRefusal = (typeof INVITE_REFUSALS)[number];

export type InviteParseResult = { ok: true; invite: Invite } | { ok: false; reason: InviteRefusal; message: string };

/** Bad input when creating an invite (sending side). */
export class InviteError extends Error {
  override readonly name = 'InviteError';
}

export interface CreateInviteOptions {
  /** The app's URL the link opens (its fragment is replaced). */
  appUrl: string;
  networkId: string;
  networkName?: string;
  networkKey: Uint8Array;
  epoch: number;
  relays: readonly string[];
  inviter: SigningIdentity;
  inviterName?: string;
  /** The inviter's transport peer id, for the joiner's first dial. */
  inviterPeerId?: string;
  now: number;
  lifetimeMs?: number;
}

/** Makes a signed invite link. Throws InviteError on input no joiner would accept. */
export async function createInvite(options: CreateInviteOptions): Promise<{ url: string; invite: Invite }> {
  assertIdentity(options.inviter);
  const lifetime = options.lifetimeMs ?? DEFAULT_INVITE_LIFETIME_MS;
  const unsigned: Omit<InviteJson, 'sig'> = {
    v: INVITE_VERSION,
    network: options.networkId,
    networkKey: toBase64Url(options.networkKey),
    epoch: options.epoch,
    relays: [...options.relays],
    inviter: {
      nodeId: options.inviter.nodeId,
      publicKey: toBase64Url(options.inviter.publicKey),
      ...(options.inviterName === undefined ? {} : { displayName: options.inviterName }),
      ...(options.inviterPeerId === undefined ? {} : { peerId: options.inviterPeerId }),
    },
    createdAt: options.now,
    expiresAt: options.now + lifetime,
    ...(options.networkName === undefined ? {} : { networkName: options.networkName }),
  };
  const check = inviteSchema.safeParse({ ...unsigned, sig: 'A'.repeat(86) });
  if (!check.success) throw new InviteError(`an invite no one could accept: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const sig = await signWith(options.inviter, signatureInput('invite', canonicalJson(unsigned)));
  const payload = toBase64Url(utf8(canonicalJson({ ...unsigned, sig: toBase64Url(sig) })));
  if (payload.length > MAX_INVITE_PAYLOAD_CHARS) throw new InviteError(`the invite is ${payload.length} characters, over ${MAX_INVITE_PAYLOAD_CHARS}`);
  let url: URL;
  try {
    url = new URL(options.appUrl);
  } catch {
    throw new InviteError(`${JSON.stringify(options.appUrl)} is not an absolute URL`);
  }
  url.hash = '';
  const result = await parseInviteUrl(`${url.toString()}${INVITE_FRAGMENT_PREFIX}${payload}`, options.now);
  if (!result.ok) throw new InviteError(`the new invite does not parse (${result.reason}: ${result.message}); is the signer's key the identity's public key?`);
  return { url: `${url.toString()}${INVITE_FRAGMENT_PREFIX}${payload}`, invite: result.invite };
}

/**
 * Reads an invite from a link (a whole URL, or just its fragment). Never
 * throws; refusals say what is wrong in words a person can act on.
 * Async only so a later version can verify with WebCrypto; today it is not.
 */
export async function parseInviteUrl(url: string, now: number): Promise<InviteParseResult> {
  try {
    return parse(url, now);
  } catch (error) {
    return { ok: false, reason: 'malformed', message: `This invite link is damaged (${error instanceof Error ? error.message : 'unreadable'}).` };
  }
}

function parse(url: string, now: number): InviteParseResult {
  if (typeof url !== 'string') return { ok: false, reason: 'not-an-invite', message: 'This is not an invite link.' };
  const hashAt = url.indexOf('#');
  const fragment = hashAt < 0 ? '' : url.slice(hashAt);
  if (!fragment.startsWith(INVITE_FRAGMENT_PREFIX)) return { ok: false, reason: 'not-an-invite', message: 'This is not an H3LIX invite link (it has no #join= part).' };
  const payload = fragment.slice(INVITE_FRAGMENT_PREFIX.length).trim();
  if (payload.length > MAX_INVITE_PAYLOAD_CHARS) return { ok: false, reason: 'too-large', message: `This invite link is too long (${payload.length} characters, at most ${MAX_INVITE_PAYLOAD_CHARS}).` };
  const damaged = (why: string): InviteParseResult => ({ ok: false, reason: 'malformed', message: `This invite link is damaged or incomplete (${why}). Ask for a new one.` });
  let text: string;
  let json: unknown;
  try {
    text = strictUtf8Decoder.decode(fromBase64Url(payload));
    json = JSON.parse(text);
  } catch {
    return damaged('it does not decode');
  }
  const parsed = inviteSchema.safeParse(json);
  if (!parsed.success) return damaged(parsed.error.issues.map((i) => `${i.path.join('.') || '(invite)'}: ${i.message}`).join('; '));
  const invite = parsed.data;
  if (canonicalJson(invite) !== text) return { ok: false, reason: 'tampered', message: 'This invite link was altered after it was made (not in its signed form).' };
  const publicKey = fromBase64Url(invite.inviter.publicKey);
  const { sig, ...unsigned } = invite;
  if (nodeIdOf(publicKey) !== invite.inviter.nodeId || !verifyEd25519(publicKey, signatureInput('invite', canonicalJson(unsigned)), fromBase64Url(sig))) {
    return { ok: false, reason: 'tampered', message: 'This invite link was altered after it was made: its signature does not match. Do not use it; ask the inviter for a new one.' };
  }
  if (now > invite.expiresAt) return { ok: false, reason: 'expired', message: `This invite link expired on ${new Date(invite.expiresAt).toISOString()}. Ask for a new one.` };
  if (invite.createdAt > now + INVITE_CLOCK_SKEW_MS) return damaged('it claims to be made in the future; check this device’s clock');
  return {
    ok: true,
    invite: {
      networkId: invite.network,
      ...(invite.networkName === undefined ? {} : { networkName: invite.networkName }),
      networkKey: fromBase64Url(invite.networkKey),
      epoch: invite.epoch,
      relays: invite.relays,
      inviter: {
        nodeId: invite.inviter.nodeId,
        publicKey,
        ...(invite.inviter.displayName === undefined ? {} : { displayName: invite.inviter.displayName }),
        ...(invite.inviter.peerId === undefined ? {} : { peerId: invite.inviter.peerId }),
      },
      createdAt: invite.createdAt,
      expiresAt: invite.expiresAt,
    },
  };
}
