import { webcrypto } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/lib/artifacts/schema';
import { canonicalJson } from '../../src/lib/artifacts/canonical';
import type { Vote } from '../../src/lib/ccf/vote';
import { DROP_REASONS, DropCounters } from '../../src/lib/network/drop-counters';
import { fromBase64Url, toBase64Url } from '../../src/lib/network/encoding';
import { EnvelopeSealError, MAX_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES_BY_TYPE, envelopeSignatureInput, sealEnvelope, type EnvelopeJson } from '../../src/lib/network/envelope';
import { MAX_CALIBRATION_ANSWER_CHARS, MAX_CALIBRATION_PROMPT_CHARS } from '../../src/lib/ccf/calibration';
import { ENVELOPE_TYPES, type OutboundBody } from '../../src/lib/network/message-bodies';
import { CHANNEL_OF_TYPE, topicForType } from '../../src/lib/network/topics';
import { Keyring, deriveEnvelopeKey } from '../../src/lib/network/network-key';
import { openEnvelope, type OpenContext } from '../../src/lib/network/open-envelope';
import { DEFAULT_RATE_LIMITS, RateLimiter } from '../../src/lib/network/rate-limiter';
import { ReplayGuard } from '../../src/lib/network/replay-guard';
import { signArtifact, signVote } from '../../src/lib/network/signed-item';
import { nodeIdOf, signatureInput, type SigningIdentity } from '../../src/lib/network/signing';

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const NETWORK = '0123456789abcdef0123456789abcdef';
const OTHER_NETWORK = 'fedcba9876543210fedcba9876543210';
const T0 = 1_750_000_000_000;

function identity(seed: number): SigningIdentity & { secret: Uint8Array } {
  const secret = new Uint8Array(32).fill(seed);
  const publicKey = ed25519.getPublicKey(secret);
  return { secret, publicKey, nodeId: nodeIdOf(publicKey), sign: async (bytes) => ed25519.sign(bytes, secret) };
}

let counter = 0;
/** Distinct, deterministic "random" bytes. */
const randomBytes = (n: number) => {
  counter++;
  return Uint8Array.from({ length: n }, (_, i) => (counter * 31 + i * 7) & 0xff);
};

const alice = identity(1);
const bob = identity(2);
const mallory = identity(3);
const networkKey = new Uint8Array(32).fill(9);
const wrongKey = new Uint8Array(32).fill(10);

const artifact: Artifact = {
  schemaVersion: 1,
  kind: 'strategy',
  text: 'Convert every quantity to SI units before any arithmetic.',
  domain: 'units',
  confidence: 0.8,
  evidence: { groupSize: 8, rewardSpread: 0.35 },
  createdAt: 1_749_999_600_000,
  embedderId: 'Xenova/all-MiniLM-L6-v2',
};

async function keyring(raw = networkKey, epoch = 0) {
  return new Keyring(epoch, await deriveEnvelopeKey(subtle, raw, NETWORK, epoch));
}

async function receiver(overrides: Partial<OpenContext> = {}): Promise<OpenContext & { counters: DropCounters }> {
  return {
    networkId: NETWORK,
    keys: await keyring(),
    now: () => T0,
    subtle,
    replay: new ReplayGuard(),
    rateLimiter: new RateLimiter(),
    isRevoked: () => false,
    counters: new DropCounters(),
    ...overrides,
  };
}

async function seal(message: OutboundBody, options: { who?: SigningIdentity; raw?: Uint8Array; network?: string; at?: number; epoch?: number } = {}) {
  const network = options.network ?? NETWORK;
  const epoch = options.epoch ?? 0;
  return sealEnvelope(message, {
    networkId: network,
    epoch,
    key: await deriveEnvelopeKey(subtle, options.raw ?? networkKey, network, epoch),
    identity: options.who ?? alice,
    now: () => options.at ?? T0,
    randomBytes,
    subtle,
  });
}

async function artifactMessage(who: SigningIdentity = alice, network = NETWORK): Promise<OutboundBody> {
  const signed = await signArtifact(network, artifact, who);
  if (signed.item.kind !== 'artifact') throw new Error('unreachable');
  return { type: 'artifact', item: signed.item };
}

async function artifactIdOf(a: Artifact): Promise<Vote['artifactId']> {
  const signed = await signArtifact(NETWORK, a, alice);
  if (signed.kind !== 'artifact') throw new Error('unreachable');
  return signed.contentId;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const json = (bytes: Uint8Array) => JSON.parse(text(bytes)) as EnvelopeJson;
const encode = (value: unknown) => new TextEncoder().encode(canonicalJson(value));

/** Re-signs an edited envelope with `who`'s key, so the edit gets past the signature check. */
async function resign(envelope: Omit<EnvelopeJson, 'sig'>, who: SigningIdentity) {
  const sig = await who.sign(envelopeSignatureInput(envelope));
  return encode({ ...envelope, sig: toBase64Url(sig) });
}

describe('seal and open', () => {
  it('round-trips an artifact, attributing it to its author', async () => {
    const message = await artifactMessage();
    const bytes = await seal(message);
    const context = await receiver();
    const result = await openEnvelope(bytes, context);
    expect(result.ok).toBe(true);
    if (!result.ok || result.message.type !== 'artifact') throw new Error('not an artifact');
    expect(result.message.sender).toBe(alice.nodeId);
    expect(result.message.item.artifact).toEqual(artifact);
    expect(result.message.item.authorId).toBe(alice.nodeId);
    expect(context.counters.total).toBe(0);
  });

  it('round-trips a vote, announce, sync-request and sync-response', async () => {
    const vote: Vote = { schemaVersion: 1, artifactId: await artifactIdOf(artifact), voter: bob.nodeId, value: 'endorse', confidence: 0.7, at: T0 };
    const signedVote = await signVote(NETWORK, vote, bob);
    const signedArtifact = await signArtifact(NETWORK, artifact, alice);
    const messages: Array<[OutboundBody, SigningIdentity]> = [
      [{ type: 'vote', item: signedVote.item as Extract<typeof signedVote.item, { kind: 'vote' }> }, bob],
      [{ type: 'announce', announce: { kind: 'presence', exchangeKey: toBase64Url(new Uint8Array(32).fill(5)), displayName: 'Bob’s laptop', addrs: ['/ip4/127.0.0.1/tcp/4174/ws'] } }, bob],
      [{ type: 'sync-request', request: { target: alice.nodeId, from: null, until: null, have: [] } }, bob],
      [{ type: 'sync-response', response: { target: bob.nodeId, inReplyTo: toBase64Url(new Uint8Array(12)), page: 0, last: true, items: [signedArtifact.item, signedVote.item] } }, alice],
    ];
    const context = await receiver();
    for (const [message, who] of messages) {
      const result = await openEnvelope(await seal(message, { who }), context);
      expect(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`).toBe(true);
      if (result.ok) expect(result.message.type).toBe(message.type);
    }
  });

  it('refuses to seal what receivers would drop', async () => {
    const message = await artifactMessage(alice);
    await expect(seal(message, { who: bob })).rejects.toThrow(EnvelopeSealError); // bob cannot publish alice's item as his own
    await expect(seal({ type: 'sync-request', request: { target: 'nope', from: null, until: null, have: [] } })).rejects.toThrow(EnvelopeSealError);
  });
});

describe('every drop reason, from a crafted hostile envelope', () => {
  it('oversize: over the global cap, and over the per-type cap', async () => {
    const context = await receiver();
    const huge = new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(0x20);
    expect(await openEnvelope(huge, context)).toMatchObject({ ok: false, reason: 'oversize' });
    const sealed = json(await seal(await artifactMessage()));
    const body = 'A'.repeat(MAX_ENVELOPE_BYTES_BY_TYPE.artifact); // valid base64url length (multiple of 4)
    const bytes = await resign({ ...sealed, body }, alice);
    expect(bytes.length).toBeGreaterThan(MAX_ENVELOPE_BYTES_BY_TYPE.artifact);
    expect(bytes.length).toBeLessThan(MAX_ENVELOPE_BYTES);
    expect(await openEnvelope(bytes, context)).toMatchObject({ ok: false, reason: 'oversize' });
  });

  it('malformed: not JSON, not an object, schema, non-canonical, bad base64url', async () => {
    const context = await receiver();
    const sealed = json(await seal(await artifactMessage()));
    const cases = [
      new TextEncoder().encode('not json'),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
      encode([1, 2]),
      encode({ ...sealed, extra: 1 }),
      encode({ ...sealed, type: 'gossip' }),
      new TextEncoder().encode(JSON.stringify(sealed, null, 1)),
      encode({ ...sealed, senderKey: `${sealed.senderKey.slice(0, 42)}B` }), // 2 spare bits set: not the canonical spelling
    ];
    for (const bytes of cases) expect(await openEnvelope(bytes, context)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(context.counters.snapshot().malformed).toBe(cases.length);
  });

  it('version: an envelope of another version', async () => {
    const sealed = json(await seal(await artifactMessage()));
    expect(await openEnvelope(encode({ ...sealed, v: 2 }), await receiver())).toMatchObject({ ok: false, reason: 'version' });
  });

  it('wrong-network: sealed for another network', async () => {
    const bytes = await seal(await artifactMessage(alice, OTHER_NETWORK), { network: OTHER_NETWORK });
    expect(await openEnvelope(bytes, await receiver())).toMatchObject({ ok: false, reason: 'wrong-network' });
  });

  it('node-id-mismatch: claims another node id than its key gives', async () => {
    const sealed = json(await seal(await artifactMessage()));
    const { sig: _sig, ...rest } = sealed;
    const bytes = await resign({ ...rest, sender: bob.nodeId }, alice);
    expect(await openEnvelope(bytes, await receiver())).toMatchObject({ ok: false, reason: 'node-id-mismatch' });
  });

  it('bad-signature: a forged signature, a signature by another key, a forged item signature', async () => {
    const context = await receiver();
    const sealed = json(await seal(await artifactMessage()));
    const forged = encode({ ...sealed, sig: toBase64Url(new Uint8Array(64).fill(1)) });
    expect(await openEnvelope(forged, context)).toMatchObject({ ok: false, reason: 'bad-signature' });
    const { sig: _sig, ...rest } = sealed;
    expect(await openEnvelope(await resign(rest, mallory), context)).toMatchObject({ ok: false, reason: 'bad-signature' });
    // Mallory holds the network key and seals a sync-response carrying an "alice" item with a forged signature.
    const item = (await signArtifact(NETWORK, artifact, alice)).item;
    const badItem = { ...item, sig: toBase64Url(new Uint8Array(64).fill(2)) };
    const plaintextEnvelope = await forgeSealed(mallory, 'sync-response', { target: bob.nodeId, inReplyTo: toBase64Url(new Uint8Array(12)), page: 0, last: true, items: [badItem] });
    expect(await openEnvelope(plaintextEnvelope, context)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('revoked: a removed member, and an item by a removed member', async () => {
    const context = await receiver({ isRevoked: (id) => id === mallory.nodeId });
    expect(await openEnvelope(await seal(await artifactMessage(mallory), { who: mallory }), context)).toMatchObject({ ok: false, reason: 'revoked' });
    const item = (await signArtifact(NETWORK, artifact, mallory)).item;
    const bytes = await forgeSealed(alice, 'sync-response', { target: bob.nodeId, inReplyTo: toBase64Url(new Uint8Array(12)), page: 0, last: true, items: [item] });
    expect(await openEnvelope(bytes, context)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('stale and replay: an old envelope, a future one, the same envelope twice', async () => {
    const context = await receiver();
    expect(await openEnvelope(await seal(await artifactMessage(), { at: T0 - 11 * 60_000 }), context)).toMatchObject({ ok: false, reason: 'stale' });
    expect(await openEnvelope(await seal(await artifactMessage(), { at: T0 + 6 * 60_000 }), context)).toMatchObject({ ok: false, reason: 'stale' });
    const bytes = await seal(await artifactMessage());
    expect((await openEnvelope(bytes, context)).ok).toBe(true);
    expect(await openEnvelope(bytes, context)).toMatchObject({ ok: false, reason: 'replay' });
    // Concurrent copies: only one gets through.
    const again = await seal(await artifactMessage());
    const results = await Promise.all([openEnvelope(again, context), openEnvelope(again, context)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ reason: 'replay' });
  });

  it('rate-limited: a flood from one sender is cut at its burst, others still pass', async () => {
    const context = await receiver({
      rateLimiter: new RateLimiter({ burst: 5, perSecond: 1, cost: { artifact: 1, vote: 1, 'sync-request': 1, 'sync-response': 1, announce: 1, 'calibration-task': 1, 'calibration-answer': 1 } }),
    });
    const message = await artifactMessage(mallory);
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await openEnvelope(await seal(message, { who: mallory }), context));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(results.filter((r) => !r.ok && r.reason === 'rate-limited')).toHaveLength(15);
    expect((await openEnvelope(await seal(await artifactMessage(alice)), context)).ok).toBe(true);
  });

  it('decrypt-failed: the wrong network key, an unknown epoch, a body moved under another header', async () => {
    const context = await receiver();
    expect(await openEnvelope(await seal(await artifactMessage(), { raw: wrongKey }), context)).toMatchObject({ ok: false, reason: 'decrypt-failed' });
    expect(await openEnvelope(await seal(await artifactMessage(), { epoch: 3 }), context)).toMatchObject({ ok: false, reason: 'decrypt-failed' });
    // Same body, header changed (type) and re-signed by its own sender: the AAD no longer matches.
    const sealed = json(await seal({ type: 'announce', announce: { kind: 'leave' } }));
    const { sig: _sig, ...rest } = sealed;
    expect(await openEnvelope(await resign({ ...rest, type: 'vote' }, alice), context)).toMatchObject({ ok: false, reason: 'decrypt-failed' });
  });

  it('body-invalid: schema, non-canonical body, content id mismatch, someone else’s item as one’s own', async () => {
    const context = await receiver();
    const item = (await signArtifact(NETWORK, artifact, alice)).item;
    const cases: Array<[SigningIdentity, string, unknown]> = [
      [alice, 'artifact', { ...item, data: { ...item.data, confidence: 2 } }],
      [alice, 'artifact', { ...item, id: `h3x1-${'a'.repeat(52)}` }],
      [bob, 'artifact', item],
      [alice, 'sync-request', { target: bob.nodeId, from: null, until: null, have: ['b', 'a'] }],
      [alice, 'announce', { kind: 'rotation', epoch: 5, ephemeralKey: toBase64Url(new Uint8Array(32)), keys: [{ to: bob.nodeId, wrapped: toBase64Url(new Uint8Array(48)) }], removed: [] }],
    ];
    for (const [who, type, body] of cases) {
      expect(await openEnvelope(await forgeSealed(who, type, body), context)).toMatchObject({ ok: false, reason: 'body-invalid' });
    }
    const raw = new TextEncoder().encode(JSON.stringify({ kind: 'leave' }, null, 2));
    expect(await openEnvelope(await forgeSealed(alice, 'announce', raw), context)).toMatchObject({ ok: false, reason: 'body-invalid' });
    expect(context.counters.snapshot()['body-invalid']).toBe(cases.length + 1);
  });

  it('counts every reason in its own counter', () => {
    const counters = new DropCounters();
    for (const reason of DROP_REASONS) counters.count(reason);
    counters.count('replay');
    expect(counters.total).toBe(DROP_REASONS.length + 1);
    expect(counters.snapshot().replay).toBe(2);
  });
});

/** Seals an arbitrary body as a network member would, bypassing sealEnvelope's own checks (a hostile member). */
async function forgeSealed(who: SigningIdentity, type: string, body: unknown): Promise<Uint8Array> {
  const plaintext = body instanceof Uint8Array ? body : encode(body);
  const nonce = randomBytes(12);
  const header = { v: 1, type, network: NETWORK, epoch: 0, sender: who.nodeId, senderKey: toBase64Url(who.publicKey), sentAt: T0, nonce: toBase64Url(nonce) };
  const key = await deriveEnvelopeKey(subtle, networkKey, NETWORK, 0);
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: encode(header), tagLength: 128 }, key, plaintext as Uint8Array<ArrayBuffer>));
  const unsigned = { ...header, body: toBase64Url(ct) } as Omit<EnvelopeJson, 'sig'>;
  return resign(unsigned, who);
}

const TASK_ID = '0123456789abcdef'.repeat(2);
const taskBody = (overrides: Record<string, unknown> = {}) => ({
  expiresAt: T0 + 30 * 60_000,
  prompt: 'How many minutes are in 2 hours? Answer with the number only.',
  target: bob.nodeId,
  taskId: TASK_ID,
  ...overrides,
});
const answerBody = (overrides: Record<string, unknown> = {}) => ({ answer: '120', target: alice.nodeId, taskId: TASK_ID, ...overrides });
/** Body bytes with sorted keys, also for strings canonicalJson refuses to write (not NFC, lone surrogates). */
const sortedBytes = (value: unknown) =>
  new TextEncoder().encode(value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value, Object.keys(value).sort()) : JSON.stringify(value));

describe('calibration-task and calibration-answer', () => {
  it('round-trip: alice sets bob a task, bob answers it; both travel on the sync topic', async () => {
    const context = await receiver();
    const task = await openEnvelope(await seal({ type: 'calibration-task', task: taskBody() }), context);
    expect(task.ok, task.ok ? '' : `${task.reason}: ${task.detail}`).toBe(true);
    if (!task.ok || task.message.type !== 'calibration-task') throw new Error('not a task');
    expect(task.message.sender).toBe(alice.nodeId);
    expect(task.message.task).toEqual(taskBody());
    const answer = await openEnvelope(await seal({ type: 'calibration-answer', answer: answerBody() }, { who: bob }), context);
    expect(answer.ok && answer.message.type === 'calibration-answer' && answer.message.answer).toEqual(answerBody());
    // An empty answer and a multi-line prompt are valid.
    expect((await openEnvelope(await seal({ type: 'calibration-answer', answer: answerBody({ answer: '' }) }, { who: bob }), context)).ok).toBe(true);
    expect((await openEnvelope(await seal({ type: 'calibration-task', task: taskBody({ prompt: 'Line one.\nLine two?' }) }), context)).ok).toBe(true);
    expect(CHANNEL_OF_TYPE['calibration-task']).toBe('sync');
    expect(CHANNEL_OF_TYPE['calibration-answer']).toBe('sync');
    expect(topicForType(NETWORK, 'calibration-task')).toBe(`h3lix/${NETWORK}/v1/sync`);
    expect(DEFAULT_RATE_LIMITS.cost['calibration-task']).toBeGreaterThan(0);
  });

  it('the largest bodies fit their caps (3-byte characters and escaped quotes throughout)', async () => {
    const context = await receiver();
    for (const ch of ['\u20AC', '"', '\n']) {
      const prompt = ch.repeat(MAX_CALIBRATION_PROMPT_CHARS);
      expect((await openEnvelope(await seal({ type: 'calibration-task', task: taskBody({ prompt }) }), context)).ok).toBe(true);
      const answer = ch.repeat(MAX_CALIBRATION_ANSWER_CHARS);
      expect((await openEnvelope(await seal({ type: 'calibration-answer', answer: answerBody({ answer }) }, { who: bob }), context)).ok).toBe(true);
    }
    // 4-byte characters are two UTF-16 units: the unit bound holds them to 2 bytes a unit.
    expect((await openEnvelope(await seal({ type: 'calibration-task', task: taskBody({ prompt: '\u{1F600}'.repeat(MAX_CALIBRATION_PROMPT_CHARS / 2) }) }), context)).ok).toBe(true);
  });

  it('refuses to seal an invalid task or answer', async () => {
    await expect(seal({ type: 'calibration-task', task: taskBody({ prompt: 'x'.repeat(MAX_CALIBRATION_PROMPT_CHARS + 1) }) })).rejects.toThrow(EnvelopeSealError);
    await expect(seal({ type: 'calibration-task', task: taskBody({ target: alice.nodeId }) })).rejects.toThrow(EnvelopeSealError); // to itself
    await expect(seal({ type: 'calibration-answer', answer: answerBody({ target: bob.nodeId }) }, { who: bob })).rejects.toThrow(EnvelopeSealError);
  });

  it('body-invalid: hostile task bodies', async () => {
    const context = await receiver();
    const cases: unknown[] = [
      taskBody({ prompt: 'x'.repeat(MAX_CALIBRATION_PROMPT_CHARS + 1) }),
      taskBody({ prompt: '' }),
      taskBody({ prompt: 'bell \u0007' }),
      taskBody({ prompt: 'tab\there' }),
      taskBody({ prompt: 'carriage\r\nreturn' }),
      taskBody({ prompt: 'C1 \u0085' }),
      taskBody({ prompt: 'e\u0301' }), // not NFC
      taskBody({ prompt: 'lone \uD800 surrogate' }),
      taskBody({ prompt: 42 }),
      taskBody({ target: bob.nodeId.toUpperCase() }),
      taskBody({ target: bob.nodeId.slice(1) }),
      taskBody({ target: `${bob.nodeId}0` }),
      taskBody({ target: alice.nodeId }), // the sender itself
      taskBody({ taskId: TASK_ID.toUpperCase() }),
      taskBody({ taskId: TASK_ID.slice(2) }),
      taskBody({ taskId: 12 }),
      taskBody({ expiresAt: -1 }),
      taskBody({ expiresAt: 1.5 }),
      taskBody({ expiresAt: 8.64e15 + 1 }),
      taskBody({ expected: '120' }), // the expected answer never travels: an unknown key
      taskBody({ extra: true }),
      { target: bob.nodeId, taskId: TASK_ID, prompt: 'no expiry' },
      [taskBody()],
      null,
    ];
    for (const body of cases) {
      const result = await openEnvelope(await forgeSealed(alice, 'calibration-task', sortedBytes(body)), context);
      expect(result, JSON.stringify(body)?.slice(0, 80)).toMatchObject({ ok: false, reason: 'body-invalid' });
    }
    // Non-canonical spellings of a valid body: whitespace, key order, escaped characters.
    const valid = taskBody();
    const spellings = [
      JSON.stringify(valid, null, 1),
      JSON.stringify({ target: valid.target, taskId: valid.taskId, prompt: valid.prompt, expiresAt: valid.expiresAt }),
      canonicalJson(valid).replace('How', '\\u0048ow'),
      canonicalJson(valid).replace(String(valid.expiresAt), `${valid.expiresAt}.0`),
    ];
    for (const text of spellings) {
      const result = await openEnvelope(await forgeSealed(alice, 'calibration-task', new TextEncoder().encode(text)), context);
      expect(result, text).toMatchObject({ ok: false, reason: 'body-invalid' });
    }
    expect(context.counters.snapshot()['body-invalid']).toBe(cases.length + spellings.length);
    // The canonical spelling of the same body passes.
    expect((await openEnvelope(await forgeSealed(alice, 'calibration-task', valid), context)).ok).toBe(true);
  });

  it('body-invalid: hostile answer bodies', async () => {
    const context = await receiver();
    const cases: unknown[] = [
      answerBody({ answer: '1'.repeat(MAX_CALIBRATION_ANSWER_CHARS + 1) }),
      answerBody({ answer: 'nul \u0000' }),
      answerBody({ answer: 'A\u030A' }), // not NFC
      answerBody({ answer: 120 }),
      answerBody({ target: 'not a node id' }),
      answerBody({ target: bob.nodeId }), // bob answering himself
      answerBody({ taskId: 'g'.repeat(32) }),
      answerBody({ passed: true }),
      { target: alice.nodeId, taskId: TASK_ID },
    ];
    for (const body of cases) {
      expect(await openEnvelope(await forgeSealed(bob, 'calibration-answer', sortedBytes(body)), context), JSON.stringify(body)).toMatchObject({ ok: false, reason: 'body-invalid' });
    }
    // A task body in an answer envelope, and the other way round.
    expect(await openEnvelope(await forgeSealed(bob, 'calibration-answer', taskBody({ target: alice.nodeId })), context)).toMatchObject({ ok: false, reason: 'body-invalid' });
    expect(await openEnvelope(await forgeSealed(alice, 'calibration-task', answerBody({ target: bob.nodeId })), context)).toMatchObject({ ok: false, reason: 'body-invalid' });
  });

  it('oversize: an envelope over the calibration caps is dropped before any crypto; an unknown type is malformed', async () => {
    const context = await receiver();
    for (const type of ['calibration-task', 'calibration-answer'] as const) {
      const sealed = json(await seal(type === 'calibration-task' ? { type, task: taskBody() } : { type, answer: answerBody({ target: bob.nodeId }) }));
      const { sig: _sig, ...rest } = sealed;
      const bytes = await resign({ ...rest, body: 'A'.repeat(MAX_ENVELOPE_BYTES_BY_TYPE[type]) }, alice);
      expect(bytes.length).toBeLessThan(MAX_ENVELOPE_BYTES);
      expect(await openEnvelope(bytes, context)).toMatchObject({ ok: false, reason: 'oversize' });
    }
    expect(MAX_ENVELOPE_BYTES_BY_TYPE['calibration-task']).toBeLessThan(MAX_ENVELOPE_BYTES_BY_TYPE.artifact);
    expect(await openEnvelope(await forgeSealed(alice, 'calibration-result', answerBody({ target: bob.nodeId })), context)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(ENVELOPE_TYPES).toEqual(['artifact', 'vote', 'sync-request', 'sync-response', 'announce', 'calibration-task', 'calibration-answer']);
  });
});

describe('properties', () => {
  it('openEnvelope never throws on arbitrary bytes or arbitrary JSON', async () => {
    const context = await receiver();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v)))), async (bytes) => {
        const result = await openEnvelope(bytes, context);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('seal → open is the identity on valid messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          text: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/.test(s) && s === s.normalize('NFC') && !/[\uD800-\uDFFF]/.test(s)),
          confidence: fc.double({ min: 0, max: 1, noNaN: true }),
          hour: fc.integer({ min: 0, max: 500_000 }),
          displayName: fc.option(fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !/[\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]/.test(s) && s === s.normalize('NFC')), { nil: undefined }),
        }),
        async ({ text, confidence, hour, displayName }) => {
          const context = await receiver();
          const a: Artifact = { ...artifact, text, confidence, createdAt: hour * 3_600_000 };
          const signed = await signArtifact(NETWORK, a, alice);
          const result = await openEnvelope(await seal({ type: 'artifact', item: signed.item as Extract<typeof signed.item, { kind: 'artifact' }> }), context);
          expect(result.ok && result.message.type === 'artifact' && result.message.item.artifact).toEqual(a);
          const presence = { kind: 'presence' as const, exchangeKey: toBase64Url(new Uint8Array(32).fill(1)), addrs: [], ...(displayName === undefined ? {} : { displayName }) };
          const opened = await openEnvelope(await seal({ type: 'announce', announce: presence }), context);
          expect(opened.ok && opened.message.type === 'announce' && opened.message.announce).toEqual(presence);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('tampering with any byte of a sealed envelope is caught', async () => {
    const bytes = await seal(await artifactMessage());
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, delta) => {
        const tampered = bytes.slice();
        tampered[index] = (tampered[index]! + delta) & 0xff;
        const result = await openEnvelope(tampered, await receiver());
        expect(result.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
    // and the untouched bytes still open
    expect((await openEnvelope(bytes, await receiver())).ok).toBe(true);
  });
});

describe('wire details', () => {
  it('is canonical JSON whose signature covers the context line and every other field', async () => {
    const bytes = await seal(await artifactMessage());
    const envelope = json(bytes);
    expect(canonicalJson(envelope)).toBe(text(bytes));
    const { sig, ...rest } = envelope;
    expect(ed25519.verify(fromBase64Url(sig), signatureInput('envelope', canonicalJson(rest)), alice.publicKey)).toBe(true);
    expect(Object.keys(envelope).sort()).toEqual(['body', 'epoch', 'network', 'nonce', 'sender', 'senderKey', 'sentAt', 'sig', 'type', 'v']);
  });
});
