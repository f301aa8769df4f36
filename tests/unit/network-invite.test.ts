import { webcrypto } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/lib/artifacts/canonical';
import { fromBase64Url, toBase64Url } from '../../src/lib/network/encoding';
import { INVITE_FRAGMENT_PREFIX, InviteError, MAX_INVITE_PAYLOAD_CHARS, createInvite, parseInviteUrl } from '../../src/lib/network/invite';
import { Keyring, deriveEnvelopeKey } from '../../src/lib/network/network-key';
import { createExchangeKeyPair, openRotation, planRotation, rotationRank, x25519Agreement } from '../../src/lib/network/key-rotation';
import { nodeIdOf, type SigningIdentity } from '../../src/lib/network/signing';

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const NETWORK = '0123456789abcdef0123456789abcdef';
const NOW = 1_750_000_000_000;
const DAY = 24 * 3_600_000;

function identity(seed: number): SigningIdentity {
  const secret = new Uint8Array(32).fill(seed);
  const publicKey = ed25519.getPublicKey(secret);
  return { publicKey, nodeId: nodeIdOf(publicKey), sign: async (bytes) => ed25519.sign(bytes, secret) };
}
const alice = identity(1);
const mallory = identity(3);
let counter = 0;
const randomBytes = (n: number) => {
  counter++;
  return Uint8Array.from({ length: n }, (_, i) => (counter * 97 + i * 13 + 1) & 0xff);
};

const options = {
  appUrl: 'https://h3lix.example/app?x=1#old',
  networkId: NETWORK,
  networkName: 'Study group',
  networkKey: new Uint8Array(32).fill(9),
  epoch: 2,
  relays: ['/dns4/relay.example.org/tcp/443/wss/p2p/12D3KooWRelay'],
  inviter: alice,
  inviterName: 'Alice',
  now: NOW,
};

const payloadOf = (url: string) => url.slice(url.indexOf(INVITE_FRAGMENT_PREFIX) + INVITE_FRAGMENT_PREFIX.length);
const decode = (url: string) => JSON.parse(new TextDecoder().decode(fromBase64Url(payloadOf(url)))) as Record<string, unknown>;
const withPayload = (value: unknown) => `https://h3lix.example/${INVITE_FRAGMENT_PREFIX}${toBase64Url(new TextEncoder().encode(canonicalJson(value)))}`;

describe('invite links', () => {
  it('round-trip: who invites to what, until when; the key only in the fragment', async () => {
    const { url } = await createInvite(options);
    expect(url.startsWith('https://h3lix.example/app?x=1#join=')).toBe(true);
    expect(new URL(url).search).toBe('?x=1');
    const result = await parseInviteUrl(url, NOW + DAY);
    if (!result.ok) throw new Error(result.message);
    expect(result.invite).toMatchObject({ networkId: NETWORK, networkName: 'Study group', epoch: 2, relays: options.relays, expiresAt: NOW + 7 * DAY });
    expect(result.invite.inviter).toMatchObject({ nodeId: alice.nodeId, displayName: 'Alice' });
    expect(result.invite.networkKey).toEqual(options.networkKey);
    // the fragment alone works too
    expect((await parseInviteUrl(`#join=${payloadOf(url)}`, NOW)).ok).toBe(true);
  });

  it('expired', async () => {
    const { url } = await createInvite({ ...options, lifetimeMs: DAY });
    expect(await parseInviteUrl(url, NOW + DAY + 1)).toMatchObject({ ok: false, reason: 'expired' });
    expect((await parseInviteUrl(url, NOW + DAY)).ok).toBe(true);
  });

  it('tampered: any field edited (relays, key, expiry, inviter) and re-encoded', async () => {
    const { url } = await createInvite(options);
    const invite = decode(url);
    const edits = [
      { ...invite, relays: ['/dns4/evil.example/tcp/443/wss'] },
      { ...invite, networkKey: toBase64Url(new Uint8Array(32).fill(7)) },
      { ...invite, expiresAt: NOW + 20 * DAY },
      { ...invite, inviter: { ...(invite.inviter as object), displayName: 'Bank' } },
      { ...invite, inviter: { ...(invite.inviter as object), nodeId: mallory.nodeId } },
    ];
    for (const edit of edits) expect(await parseInviteUrl(withPayload(edit), NOW)).toMatchObject({ ok: false, reason: 'tampered' });
  });

  it('tampering any character of the payload is refused', async () => {
    const { url } = await createInvite(options);
    const payload = payloadOf(url);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: payload.length - 1 }), fc.nat({ max: 63 }), async (index, c) => {
        fc.pre(alphabet[c] !== payload[index]);
        const edited = `${payload.slice(0, index)}${alphabet[c]}${payload.slice(index + 1)}`;
        const result = await parseInviteUrl(`#join=${edited}`, NOW);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(['tampered', 'malformed']).toContain(result.reason);
      }),
      { numRuns: 300 },
    );
  });

  it('malformed, not-an-invite, too-large, and never throws', async () => {
    expect(await parseInviteUrl('https://h3lix.example/', NOW)).toMatchObject({ ok: false, reason: 'not-an-invite' });
    expect(await parseInviteUrl('https://h3lix.example/#other=1', NOW)).toMatchObject({ ok: false, reason: 'not-an-invite' });
    expect(await parseInviteUrl('#join=%%%', NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await parseInviteUrl(withPayload({ v: 1 }), NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await parseInviteUrl(`#join=${'A'.repeat(MAX_INVITE_PAYLOAD_CHARS + 4)}`, NOW)).toMatchObject({ ok: false, reason: 'too-large' });
    await fc.assert(
      fc.asyncProperty(fc.string(), async (s) => {
        expect((await parseInviteUrl(`#join=${s}`, NOW)).ok).toBe(false);
        expect((await parseInviteUrl(s, NOW)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to create an invite nobody could accept', async () => {
    await expect(createInvite({ ...options, relays: [] })).rejects.toThrow(InviteError);
    await expect(createInvite({ ...options, lifetimeMs: 60 * DAY })).rejects.toThrow(InviteError);
    await expect(createInvite({ ...options, inviterName: '<b>\u0000</b>' })).rejects.toThrow(InviteError);
  });
});

describe('key rotation', () => {
  const bobX = createExchangeKeyPair(randomBytes);
  const carolX = createExchangeKeyPair(randomBytes);
  const bob = identity(2).nodeId;
  const carol = identity(4).nodeId;
  const dave = identity(5).nodeId;

  it('hands the new key to the remaining members only', async () => {
    const plan = await planRotation({ networkId: NETWORK, currentEpoch: 2, members: [{ nodeId: carol, exchangeKey: carolX.publicKey }, { nodeId: bob, exchangeKey: bobX.publicKey }], removed: [dave], randomBytes, subtle });
    expect(plan.epoch).toBe(3);
    expect(plan.announce.keys.map((k) => k.to)).toEqual([bob, carol].sort());
    for (const [self, pair] of [[bob, bobX], [carol, carolX]] as const) {
      const outcome = await openRotation(plan.announce, { networkId: NETWORK, self, agree: x25519Agreement(pair.secretKey), subtle });
      expect(outcome).toMatchObject({ ok: true, epoch: 3, removed: [dave] });
      if (outcome.ok) expect(outcome.networkKey).toEqual(plan.networkKey);
    }
    expect(await openRotation(plan.announce, { networkId: NETWORK, self: dave, agree: x25519Agreement(bobX.secretKey), subtle })).toMatchObject({ ok: false, reason: 'removed' });
    // Bob's secret cannot open Carol's copy (nor a copy for another network).
    expect(await openRotation(plan.announce, { networkId: NETWORK, self: carol, agree: x25519Agreement(bobX.secretKey), subtle })).toMatchObject({ ok: false, reason: 'unwrap-failed' });
    expect(await openRotation(plan.announce, { networkId: 'f'.repeat(32), self: bob, agree: x25519Agreement(bobX.secretKey), subtle })).toMatchObject({ ok: false, reason: 'unwrap-failed' });
    expect(rotationRank(alice.nodeId, plan.announce)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps the previous epoch for a grace period only', async () => {
    const old = await deriveEnvelopeKey(subtle, new Uint8Array(32).fill(1), NETWORK, 0);
    const next = await deriveEnvelopeKey(subtle, new Uint8Array(32).fill(2), NETWORK, 1);
    const ring = new Keyring(0, old);
    ring.rotate(1, next, NOW, 1000);
    expect(ring.currentEpoch).toBe(1);
    expect(ring.keyFor(0, NOW + 1000)).toBe(old);
    expect(ring.keyFor(0, NOW + 1001)).toBeUndefined();
    expect(ring.keyFor(1, NOW + 10_000_000)).toBe(next);
    expect(() => ring.rotate(1, next, NOW, 0)).toThrow();
  });
});
