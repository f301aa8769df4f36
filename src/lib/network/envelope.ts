/**
 * The envelope (version 1): what travels on a gossip topic.
 *
 * One JSON object in canonical form (JCS, RFC 8785, via canonicalJson),
 * UTF-8, bytes as unpadded base64url:
 *
 *   { "body": <AES-256-GCM ciphertext+tag of the canonical body>,
 *     "epoch": <key epoch>, "network": <network id>,
 *     "nonce": <12 random bytes: GCM nonce and replay id>,
 *     "sender": <node id>, "senderKey": <Ed25519 public key>,
 *     "sentAt": <ms since epoch>, "sig": <Ed25519 signature>,
 *     "type": "artifact" | "vote" | "sync-request" | "sync-response" | "announce"
 *             | "calibration-task" | "calibration-answer",
 *     "v": 1 }
 *
 * The header is every field but `body` and `sig`; its canonical bytes are
 * the GCM additional data, so a body cannot be moved under another header.
 * The signature covers the context line "h3lix/envelope/v1\n" and the
 * canonical bytes of everything but `sig`, so it can be checked before
 * decrypting, and anyone holding the network key still cannot speak for
 * another member.
 *
 * Why JSON rather than a binary format: the artifact layer already defines
 * canonical JSON and content ids over it; one canonicaliser serves artifacts,
 * bodies, envelopes and invites; another implementation needs nothing but a
 * JSON library, base64url and sorting. The price is base64's third on the
 * ciphertext plus ~330 bytes of header, about 0.5 KB on a 1 KB artifact,
 * paid on links that carry a few artifacts an hour.
 */
import { MAX_ARTIFACT_BYTES, canonicalJson } from '../artifacts/canonical';
import { MAX_TIME_MS } from '../artifacts/schema';
import { nodeIdSchema } from '../ccf/vote';
import { z } from 'zod';
import { base64UrlLength, base64UrlPattern, isBase64Url, toBase64Url, utf8 } from './encoding';
import { AES_GCM_NONCE_BYTES, AES_GCM_TAG_BYTES, MAX_EPOCH, NETWORK_ID_PATTERN, encryptGcm, type RandomBytes } from './network-key';
import { ENVELOPE_TYPES, bodyJson, checkBodyValue, type EnvelopeType, type OutboundBody } from './message-bodies';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, assertIdentity, signWith, signatureInput, type SigningIdentity } from './signing';

export const ENVELOPE_VERSION = 1;

/** Largest plaintext body per type (bytes of canonical JSON). */
export const MAX_BODY_BYTES: Readonly<Record<EnvelopeType, number>> = {
  // A signed item adds ~320 bytes (author, id, signature, key names) to the artifact.
  artifact: MAX_ARTIFACT_BYTES + 1024,
  vote: 2048,
  'sync-request': 16_384,
  'sync-response': 65_536,
  announce: 49_152,
  // A prompt of MAX_CALIBRATION_PROMPT_CHARS (1,000 UTF-16 units, at most 3 bytes each in canonical JSON) and ~130 bytes of fields.
  'calibration-task': 4096,
  // An answer of MAX_CALIBRATION_ANSWER_CHARS (256 units, at most 768 bytes) and ~100 bytes of fields.
  'calibration-answer': 1024,
};

/** Room for the header fields and the signature around the body (the real header is ~330 bytes). */
export const ENVELOPE_HEADER_ALLOWANCE = 512;

/** Largest envelope of each type: the base64url of the largest ciphertext plus the header allowance. */
export const MAX_ENVELOPE_BYTES_BY_TYPE: Readonly<Record<EnvelopeType, number>> = Object.fromEntries(
  ENVELOPE_TYPES.map((type) => [type, base64UrlLength(MAX_BODY_BYTES[type] + AES_GCM_TAG_BYTES) + ENVELOPE_HEADER_ALLOWANCE]),
) as Record<EnvelopeType, number>;

/** Largest envelope of any type: refused before parsing. */
export const MAX_ENVELOPE_BYTES = Math.max(...Object.values(MAX_ENVELOPE_BYTES_BY_TYPE));

const bytesField = (n: number) => z.string().regex(base64UrlPattern(n)).refine(isBase64Url, 'not canonical base64url');

export const envelopeSchema = z.strictObject({
  v: z.literal(ENVELOPE_VERSION),
  type: z.enum(ENVELOPE_TYPES),
  network: z.string().regex(NETWORK_ID_PATTERN),
  epoch: z.int().min(0).max(MAX_EPOCH),
  sender: nodeIdSchema,
  senderKey: bytesField(PUBLIC_KEY_BYTES),
  sentAt: z.int().min(0).max(MAX_TIME_MS),
  nonce: bytesField(AES_GCM_NONCE_BYTES),
  // Non-empty and a valid base64url length; the exact bound is the per-type cap on the whole envelope.
  body: z.string().min(base64UrlLength(AES_GCM_TAG_BYTES + 1)).refine(isBase64Url, 'not canonical base64url'),
  sig: bytesField(SIGNATURE_BYTES),
});
export type EnvelopeJson = z.infer<typeof envelopeSchema>;
export type EnvelopeHeader = Omit<EnvelopeJson, 'body' | 'sig'>;

/** The GCM additional data: the canonical bytes of the header. */
export function envelopeAdditionalData(envelope: EnvelopeHeader | EnvelopeJson): Uint8Array {
  const { epoch, network, nonce, sender, senderKey, sentAt, type, v } = envelope;
  return utf8(canonicalJson({ epoch, network, nonce, sender, senderKey, sentAt, type, v }));
}

/** The bytes the envelope signature covers: the context line and the canonical bytes of all fields but `sig`. */
export function envelopeSignatureInput(envelope: Omit<EnvelopeJson, 'sig'>): Uint8Array {
  const { body, epoch, network, nonce, sender, senderKey, sentAt, type, v } = envelope;
  return signatureInput('envelope', canonicalJson({ body, epoch, network, nonce, sender, senderKey, sentAt, type, v }));
}

/** The sending side gave something that must not be sent (a programming error, not hostile input). */
export class EnvelopeSealError extends Error {
  override readonly name = 'EnvelopeSealError';
}

export interface SealOptions {
  networkId: string;
  epoch: number;
  /** The epoch's AES-GCM key (deriveEnvelopeKey). */
  key: CryptoKey;
  identity: SigningIdentity;
  now: () => number;
  randomBytes: RandomBytes;
  subtle: SubtleCrypto;
}

/**
 * Seals an outbound message: checks the body as a receiver would, encrypts
 * it, signs the envelope. Returns the wire bytes. Throws EnvelopeSealError
 * (or SignerError) when the message could not pass a receiver's checks.
 */
export async function sealEnvelope(message: OutboundBody, options: SealOptions): Promise<Uint8Array> {
  const { identity, networkId, epoch } = options;
  assertIdentity(identity);
  if (!NETWORK_ID_PATTERN.test(networkId)) throw new EnvelopeSealError(`${JSON.stringify(networkId)} is not a network id`);
  const json = bodyJson(message);
  // The receiver's own check, so nothing leaves that an honest peer would drop.
  const check = checkBodyValue(json, { networkId, type: message.type, sender: identity.nodeId, epoch, isRevoked: () => false });
  if (!check.ok) throw new EnvelopeSealError(`a ${message.type} body that receivers would refuse (${check.reason}): ${check.detail}`);
  const plaintext = utf8(canonicalJson(json));
  if (plaintext.length > MAX_BODY_BYTES[message.type]) {
    throw new EnvelopeSealError(`a ${message.type} body of ${plaintext.length} bytes is over its cap of ${MAX_BODY_BYTES[message.type]}`);
  }
  const nonceBytes = options.randomBytes(AES_GCM_NONCE_BYTES);
  if (nonceBytes.length !== AES_GCM_NONCE_BYTES) throw new EnvelopeSealError(`randomBytes returned ${nonceBytes.length} bytes, not ${AES_GCM_NONCE_BYTES}`);
  const sentAt = options.now();
  if (!Number.isInteger(sentAt) || sentAt < 0 || sentAt > MAX_TIME_MS) throw new EnvelopeSealError(`now() returned ${sentAt}, not a whole ms time`);
  const header: EnvelopeHeader = {
    v: ENVELOPE_VERSION,
    type: message.type,
    network: networkId,
    epoch,
    sender: identity.nodeId,
    senderKey: toBase64Url(identity.publicKey),
    sentAt,
    nonce: toBase64Url(nonceBytes),
  };
  const ciphertext = await encryptGcm(options.subtle, options.key, nonceBytes, plaintext, envelopeAdditionalData(header));
  const unsigned = { ...header, body: toBase64Url(ciphertext) };
  const signature = await signWith(identity, envelopeSignatureInput(unsigned));
  const bytes = utf8(canonicalJson({ ...unsigned, sig: toBase64Url(signature) }));
  if (bytes.length > MAX_ENVELOPE_BYTES_BY_TYPE[message.type]) {
    throw new EnvelopeSealError(`a ${message.type} envelope of ${bytes.length} bytes is over its cap of ${MAX_ENVELOPE_BYTES_BY_TYPE[message.type]}`);
  }
  return bytes;
}
