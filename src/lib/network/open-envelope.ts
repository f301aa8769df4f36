/**
 * The inbound pipeline: from bytes off a gossip topic to a checked message,
 * or a drop reason. Every inbound envelope is hostile until proven
 * otherwise, so the checks run cheapest first and nothing expensive
 * (signature, decryption) happens before the cheap ones have passed:
 *
 *   oversize → malformed → version → (per-type size) → wrong-network →
 *   node-id-mismatch → bad-signature → revoked (sender) → stale / replay →
 *   rate-limited → decrypt-failed → body-invalid (items: bad-signature,
 *   revoked authors)
 *
 * The sender's revocation is checked right after its signature (a set
 * lookup): a removed member's envelopes should not use up replay memory or
 * rate budget. The nonce is remembered only once the body decrypted, so
 * outsiders without the key cannot fill the replay memory.
 *
 * Never throws and never rejects: a bug on a path nobody foresaw still ends
 * as a 'malformed' drop rather than a crashed node.
 */
import { canonicalJson } from '../artifacts/canonical';
import type { NodeId } from '../ccf/vote';
import { DropCounters, type DropReason } from './drop-counters';
import { fromBase64Url, strictUtf8Decoder } from './encoding';
import { ENVELOPE_VERSION, MAX_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES_BY_TYPE, envelopeAdditionalData, envelopeSchema, envelopeSignatureInput } from './envelope';
import { checkBody, type EnvelopeType, type InboundBody } from './message-bodies';
import { decryptGcm, type EpochKeys } from './network-key';
import type { RateLimiter } from './rate-limiter';
import type { ReplayGuard } from './replay-guard';
import { nodeIdOf, verifyEd25519 } from './signing';

export interface OpenContext {
  /** The network this node is in; envelopes of any other are dropped. */
  networkId: string;
  keys: EpochKeys;
  now: () => number;
  subtle: SubtleCrypto;
  replay: ReplayGuard;
  rateLimiter: RateLimiter;
  /** Members removed at a key rotation. */
  isRevoked: (nodeId: NodeId) => boolean;
  /** Counted into when given. */
  counters?: DropCounters;
}

/** What the envelope says about itself, once checked. */
export interface EnvelopeMeta {
  sender: NodeId;
  senderKey: Uint8Array;
  epoch: number;
  sentAt: number;
  /** base64url; a sync-response names its request by it. */
  nonce: string;
  /** Size on the wire. */
  bytes: number;
}

export type InboundMessage = EnvelopeMeta & InboundBody;

export type OpenResult = { ok: true; message: InboundMessage } | { ok: false; reason: DropReason; detail: string };

/** Checks, decrypts and parses one inbound envelope. Never throws. */
export async function openEnvelope(bytes: Uint8Array, context: OpenContext): Promise<OpenResult> {
  let result: OpenResult;
  try {
    result = await open(bytes, context);
  } catch (error) {
    result = drop('malformed', `unexpected: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!result.ok) context.counters?.count(result.reason);
  return result;
}

function drop(reason: DropReason, detail: string): OpenResult {
  return { ok: false, reason, detail };
}

async function open(bytes: Uint8Array, context: OpenContext): Promise<OpenResult> {
  if (!(bytes instanceof Uint8Array)) return drop('malformed', 'not bytes');
  if (bytes.length > MAX_ENVELOPE_BYTES) return drop('oversize', `${bytes.length} bytes, over ${MAX_ENVELOPE_BYTES}`);

  let text: string;
  let json: unknown;
  try {
    text = strictUtf8Decoder.decode(bytes);
    json = JSON.parse(text);
  } catch {
    return drop('malformed', 'not UTF-8 JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return drop('malformed', 'not a JSON object');
  const version = (json as { v?: unknown }).v;
  if (typeof version !== 'number') return drop('malformed', 'no version');
  if (version !== ENVELOPE_VERSION) return drop('version', `envelope version ${version}, this node speaks ${ENVELOPE_VERSION}`);
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) return drop('malformed', parsed.error.issues.map((i) => `${i.path.join('.') || '(envelope)'}: ${i.message}`).join('; '));
  const envelope = parsed.data;
  // One envelope, one spelling: a re-encoded copy is not the signed bytes.
  if (canonicalJson(envelope) !== text) return drop('malformed', 'not in canonical form');
  const type: EnvelopeType = envelope.type;
  if (bytes.length > MAX_ENVELOPE_BYTES_BY_TYPE[type]) return drop('oversize', `${bytes.length} bytes, over the ${type} cap of ${MAX_ENVELOPE_BYTES_BY_TYPE[type]}`);

  if (envelope.network !== context.networkId) return drop('wrong-network', `for network ${envelope.network}`);

  const senderKey = fromBase64Url(envelope.senderKey);
  if (nodeIdOf(senderKey) !== envelope.sender) return drop('node-id-mismatch', `sender ${envelope.sender} is not the hash of its key`);

  const { sig, ...unsigned } = envelope;
  if (!verifyEd25519(senderKey, envelopeSignatureInput(unsigned), fromBase64Url(sig))) return drop('bad-signature', `envelope signature of ${envelope.sender} does not verify`);

  if (context.isRevoked(envelope.sender)) return drop('revoked', `sender ${envelope.sender} was removed from the network`);

  const now = context.now();
  const freshness = context.replay.check(envelope.sender, envelope.nonce, envelope.sentAt, now);
  if (freshness !== 'fresh') return drop(freshness, freshness === 'stale' ? `sent at ${envelope.sentAt}, now ${now}` : `nonce ${envelope.nonce} seen before`);

  if (!context.rateLimiter.take(envelope.sender, type, now)) return drop('rate-limited', `sender ${envelope.sender} is over its rate`);

  const key = context.keys.keyFor(envelope.epoch, now);
  if (key === undefined) return drop('decrypt-failed', `no key for epoch ${envelope.epoch}`);
  const plaintext = await decryptGcm(context.subtle, key, fromBase64Url(envelope.nonce), fromBase64Url(envelope.body), envelopeAdditionalData(envelope));
  if (plaintext === undefined) return drop('decrypt-failed', 'wrong network key, or the envelope was altered');

  // Remembered only now (see the module comment); a concurrent copy may have won the race.
  if (!context.replay.remember(envelope.sender, envelope.nonce, envelope.sentAt, context.now())) return drop('replay', `nonce ${envelope.nonce} seen before`);

  const body = checkBody(plaintext, { networkId: context.networkId, type, sender: envelope.sender, epoch: envelope.epoch, isRevoked: context.isRevoked });
  if (!body.ok) return drop(body.reason, body.detail);

  const meta: EnvelopeMeta = { sender: envelope.sender, senderKey, epoch: envelope.epoch, sentAt: envelope.sentAt, nonce: envelope.nonce, bytes: bytes.length };
  return { ok: true, message: { ...meta, ...body.body } };
}
