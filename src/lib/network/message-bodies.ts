/**
 * The plaintext bodies of the seven envelope types, and their checks.
 *
 * A body is the canonical JSON (JCS) of one object, encrypted in the
 * envelope. The shapes are closed (`strictObject`) and bounded, like the
 * artifact schema, because they come from peers; anything that is not
 * exactly the canonical spelling of a valid body is refused, so one body has
 * one byte string.
 *
 * - artifact / vote: a signed item (signed-item.ts) whose author is the
 *   envelope's sender: a node publishes only its own items on these topics
 *   (gossip forwards the original envelope, it never re-seals).
 * - sync-request / sync-response: reconciliation (reconciliation.ts).
 * - announce: presence on the discovery topic, key rotation, leaving.
 * - calibration-task / calibration-answer: proof of capability for
 *   newcomers (ccf/calibration.ts): a task set to one peer, that peer's
 *   answer. Targeted like sync traffic; the expected answer never travels.
 */
import { z } from 'zod';
import { canonicalJson } from '../artifacts/canonical';
import { MAX_TIME_MS } from '../artifacts/schema';
import { CALIBRATION_TASK_ID_PATTERN, MAX_CALIBRATION_ANSWER_CHARS, MAX_CALIBRATION_PROMPT_CHARS } from '../ccf/calibration';
import { nodeIdSchema, type NodeId } from '../ccf/vote';
import { base64UrlPattern, isBase64Url, strictUtf8Decoder } from './encoding';
import { AES_GCM_NONCE_BYTES, AES_GCM_TAG_BYTES, MAX_EPOCH, NETWORK_KEY_BYTES } from './network-key';
import { ITEM_ID_PATTERN, verifyItem, type ItemId, type SignedItem, type VerifiedItem } from './signed-item';

export const ENVELOPE_TYPES = ['artifact', 'vote', 'sync-request', 'sync-response', 'announce', 'calibration-task', 'calibration-answer'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

/** Most item ids one sync-request may list (512 × 25 bytes ≈ 13 KB). */
export const MAX_HAVE_IDS = 512;
/** Most items in one sync-response page (the byte cap usually binds first). */
export const MAX_PAGE_ITEMS = 256;
/** Most members a rotation can hand the new key to, and most it can remove. */
export const MAX_ROTATION_MEMBERS = 256;
/** Longest display name, in UTF-16 code units. */
export const MAX_DISPLAY_NAME_LENGTH = 64;
/** Most and longest multiaddrs one presence announcement carries. */
export const MAX_ANNOUNCED_ADDRS = 8;
export const MAX_MULTIADDR_LENGTH = 512;
/** Bytes of a wrapped epoch key: the 32-byte key plus the GCM tag. */
export const WRAPPED_KEY_BYTES = NETWORK_KEY_BYTES + AES_GCM_TAG_BYTES;

const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A short human label (display name, network name): bounded, one line, valid
 * Unicode in NFC. It is shown to people, so it is plain text only; the UI
 * renders it as text, never as HTML.
 */
export const labelSchema = z
  .string()
  .min(1)
  .max(MAX_DISPLAY_NAME_LENGTH)
  .refine((s) => !CONTROL_CHARACTERS.test(s), 'must not contain control characters')
  .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode')
  .refine((s) => s === s.normalize('NFC'), 'must be in Unicode NFC form');

// C0 and C1 controls except the line feed.
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/;

/**
 * Plain text from a peer that may span lines (a calibration task, an
 * answer): bounded in UTF-16 code units, valid Unicode in NFC, no control
 * characters but the line feed. It is untrusted: shown as text, and given to
 * a model only cleaned and delimited (ccf/calibration.ts `calibrationPrompt`).
 */
export const plainTextSchema = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !CONTROL_EXCEPT_NEWLINE.test(s), 'must not contain control characters other than newline')
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode')
    .refine((s) => s === s.normalize('NFC'), 'must be in Unicode NFC form');

export const calibrationTaskIdSchema = z.string().regex(CALIBRATION_TASK_ID_PATTERN, 'taskId must be 32 lower-case hex characters');

export const calibrationTaskSchema = z.strictObject({
  /** The peer asked to answer (tasks travel by gossip on the sync topic; only the target answers). */
  target: nodeIdSchema,
  /** 16 random bytes in lower-case hex, chosen by the asker; the answer names it. */
  taskId: calibrationTaskIdSchema,
  /** The question, ending with how to answer. */
  prompt: plainTextSchema(1, MAX_CALIBRATION_PROMPT_CHARS),
  /** ms since epoch, the asker's clock: answers after it are ignored. */
  expiresAt: z.int().min(0).max(MAX_TIME_MS),
});
export type CalibrationTaskBody = z.infer<typeof calibrationTaskSchema>;

export const calibrationAnswerSchema = z.strictObject({
  /** The node that set the task (the task envelope's sender). */
  target: nodeIdSchema,
  /** The task answered. */
  taskId: calibrationTaskIdSchema,
  /** The answer as the answering node's model gave it, bounded; may be empty (counts as wrong). */
  answer: plainTextSchema(0, MAX_CALIBRATION_ANSWER_CHARS),
});
export type CalibrationAnswerBody = z.infer<typeof calibrationAnswerSchema>;

export const multiaddrSchema = z
  .string()
  .min(2)
  .max(MAX_MULTIADDR_LENGTH)
  .regex(/^\/[\x21-\x7E]+$/, 'must be a multiaddr in text form (starts with /, printable ASCII)');

/** A position in the reconciliation order: by item time, then by item id. */
export const syncKeySchema = z.strictObject({
  time: z.int().min(0).max(MAX_TIME_MS),
  /** An item id, or '' for "before every id at this time". */
  id: z.union([z.literal(''), z.string().regex(ITEM_ID_PATTERN, 'id must be an item id or empty')]),
});
export type SyncKey = z.infer<typeof syncKeySchema>;

const sortedUnique = <T extends string>(values: readonly T[]) => values.every((v, i) => i === 0 || values[i - 1]! < v);

export const syncRequestSchema = z
  .strictObject({
    /** The node asked to answer (requests travel by gossip; only the target answers). */
    target: nodeIdSchema,
    /** Inclusive lower bound of the range, or null for the beginning. */
    from: syncKeySchema.nullable(),
    /** Exclusive upper bound of the range, or null for the end. */
    until: syncKeySchema.nullable(),
    /** Every item the requester holds in the range, sorted ascending, no duplicates. */
    have: z.array(z.string().regex(ITEM_ID_PATTERN)).max(MAX_HAVE_IDS).refine(sortedUnique, 'have must be sorted ascending without duplicates'),
  })
  .refine((r) => r.from === null || r.until === null || compareSyncKeys(r.from, r.until) < 0, 'from must be below until');
export type SyncRequestBody = z.infer<typeof syncRequestSchema>;

export const syncResponseShape = z.strictObject({
  /** The requester. */
  target: nodeIdSchema,
  /** The nonce of the request envelope this answers. */
  inReplyTo: z.string().regex(base64UrlPattern(AES_GCM_NONCE_BYTES)).refine(isBase64Url, 'not canonical base64url'),
  /** 0-based page number of this answer. */
  page: z.int().min(0).max(1023),
  /** Whether this is the answer's last page (false: more follow, or the responder's page limit cut it short). */
  last: z.boolean(),
  items: z.array(z.unknown()).max(MAX_PAGE_ITEMS),
});
export interface SyncResponseBody {
  target: NodeId;
  inReplyTo: string;
  page: number;
  last: boolean;
  items: SignedItem[];
}

const wrappedKeySchema = z.strictObject({
  to: nodeIdSchema,
  wrapped: z.string().regex(base64UrlPattern(WRAPPED_KEY_BYTES)).refine(isBase64Url, 'not canonical base64url'),
});

export const announceSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('presence'),
    /** X25519 public key for receiving rotated network keys (key-rotation.ts). */
    exchangeKey: z.string().regex(base64UrlPattern(32)).refine(isBase64Url, 'not canonical base64url'),
    displayName: labelSchema.optional(),
    addrs: z.array(multiaddrSchema).max(MAX_ANNOUNCED_ADDRS),
  }),
  z
    .strictObject({
      kind: z.literal('rotation'),
      /** The new epoch: the envelope's epoch plus one. */
      epoch: z.int().min(1).max(MAX_EPOCH),
      /** The sender's one-off X25519 public key for this rotation. */
      ephemeralKey: z.string().regex(base64UrlPattern(32)).refine(isBase64Url, 'not canonical base64url'),
      /** The new key wrapped for each remaining member, sorted by `to`. */
      keys: z.array(wrappedKeySchema).min(1).max(MAX_ROTATION_MEMBERS),
      /** Members removed by this rotation, sorted, no duplicates. */
      removed: z.array(nodeIdSchema).max(MAX_ROTATION_MEMBERS),
    })
    .refine((r) => sortedUnique(r.keys.map((k) => k.to)), 'keys must be sorted by `to` without duplicates')
    .refine((r) => sortedUnique(r.removed), 'removed must be sorted without duplicates')
    .refine((r) => !r.keys.some((k) => r.removed.includes(k.to)), 'a removed member cannot receive the new key'),
  z.strictObject({ kind: z.literal('leave') }),
]);
export type AnnounceBody = z.infer<typeof announceSchema>;
export type PresenceAnnounce = Extract<AnnounceBody, { kind: 'presence' }>;
export type RotationAnnounce = Extract<AnnounceBody, { kind: 'rotation' }>;

/** The body of each type as the sending side gives it. */
export type OutboundBody =
  | { type: 'artifact'; item: SignedItem & { kind: 'artifact' } }
  | { type: 'vote'; item: SignedItem & { kind: 'vote' } }
  | { type: 'sync-request'; request: SyncRequestBody }
  | { type: 'sync-response'; response: SyncResponseBody }
  | { type: 'announce'; announce: AnnounceBody }
  | { type: 'calibration-task'; task: CalibrationTaskBody }
  | { type: 'calibration-answer'; answer: CalibrationAnswerBody };

/** The body of each type after every check. */
export type InboundBody =
  | { type: 'artifact'; item: VerifiedItem & { kind: 'artifact' } }
  | { type: 'vote'; item: VerifiedItem & { kind: 'vote' } }
  | { type: 'sync-request'; request: SyncRequestBody }
  | { type: 'sync-response'; response: Omit<SyncResponseBody, 'items'> & { items: VerifiedItem[] } }
  | { type: 'announce'; announce: AnnounceBody }
  | { type: 'calibration-task'; task: CalibrationTaskBody }
  | { type: 'calibration-answer'; answer: CalibrationAnswerBody };

export type BodyCheck =
  | { ok: true; body: InboundBody }
  | { ok: false; reason: 'body-invalid' | 'bad-signature' | 'revoked'; detail: string };

/** What a body is checked against: the envelope it came in, and who is revoked. */
export interface BodyContext {
  networkId: string;
  type: EnvelopeType;
  sender: NodeId;
  epoch: number;
  isRevoked: (nodeId: NodeId) => boolean;
}

/** The JSON value a body travels as. */
export function bodyJson(body: OutboundBody): unknown {
  switch (body.type) {
    case 'artifact':
    case 'vote':
      return body.item;
    case 'sync-request':
      return body.request;
    case 'sync-response':
      return body.response;
    case 'announce':
      return body.announce;
    case 'calibration-task':
      return body.task;
    case 'calibration-answer':
      return body.answer;
  }
}

/** Checks decrypted body bytes. Never throws. */
export function checkBody(plaintext: Uint8Array, context: BodyContext): BodyCheck {
  const invalid = (detail: string): BodyCheck => ({ ok: false, reason: 'body-invalid', detail });
  let text: string;
  let json: unknown;
  try {
    text = strictUtf8Decoder.decode(plaintext);
    json = JSON.parse(text);
  } catch {
    return invalid('body is not UTF-8 JSON');
  }
  try {
    if (canonicalJson(json) !== text) return invalid('body is not in canonical form');
  } catch (error) {
    return invalid(`body has no canonical form: ${(error as Error).message}`);
  }
  return checkBodyValue(json, context);
}

/** Checks a parsed body value (shared by the inbound pipeline and the sending side's self-check). */
export function checkBodyValue(json: unknown, context: BodyContext): BodyCheck {
  const invalid = (detail: string): BodyCheck => ({ ok: false, reason: 'body-invalid', detail });
  switch (context.type) {
    case 'artifact':
    case 'vote': {
      const check = verifyItem(context.networkId, json);
      if (!check.ok) return { ok: false, reason: check.reason === 'bad-signature' ? 'bad-signature' : 'body-invalid', detail: check.detail };
      const verified = check.verified;
      if (verified.kind !== context.type) return invalid(`a ${verified.kind} item in a ${context.type} envelope`);
      if (verified.authorId !== context.sender) return invalid(`item author ${verified.authorId} is not the sender ${context.sender}`);
      return verified.kind === 'artifact' ? { ok: true, body: { type: 'artifact', item: verified } } : { ok: true, body: { type: 'vote', item: verified } };
    }
    case 'sync-request': {
      const parsed = syncRequestSchema.safeParse(json);
      return parsed.success ? { ok: true, body: { type: 'sync-request', request: parsed.data } } : invalid(issues(parsed.error));
    }
    case 'sync-response': {
      const parsed = syncResponseShape.safeParse(json);
      if (!parsed.success) return invalid(issues(parsed.error));
      const items: VerifiedItem[] = [];
      for (const [index, raw] of parsed.data.items.entries()) {
        const check = verifyItem(context.networkId, raw);
        if (!check.ok) return { ok: false, reason: check.reason === 'bad-signature' ? 'bad-signature' : 'body-invalid', detail: `items[${index}]: ${check.detail}` };
        if (context.isRevoked(check.verified.authorId)) return { ok: false, reason: 'revoked', detail: `items[${index}] is by revoked member ${check.verified.authorId}` };
        items.push(check.verified);
      }
      return { ok: true, body: { type: 'sync-response', response: { ...parsed.data, items } } };
    }
    case 'announce': {
      const parsed = announceSchema.safeParse(json);
      if (!parsed.success) return invalid(issues(parsed.error));
      const announce = parsed.data;
      if (announce.kind === 'rotation') {
        if (announce.epoch !== context.epoch + 1) return invalid(`rotation to epoch ${announce.epoch} sent under epoch ${context.epoch} (must be the next one)`);
        if (announce.removed.includes(context.sender)) return invalid('a rotation cannot remove its own sender');
      }
      return { ok: true, body: { type: 'announce', announce } };
    }
    case 'calibration-task': {
      const parsed = calibrationTaskSchema.safeParse(json);
      if (!parsed.success) return invalid(issues(parsed.error));
      if (parsed.data.target === context.sender) return invalid('a node does not set itself a calibration task');
      return { ok: true, body: { type: 'calibration-task', task: parsed.data } };
    }
    case 'calibration-answer': {
      const parsed = calibrationAnswerSchema.safeParse(json);
      if (!parsed.success) return invalid(issues(parsed.error));
      if (parsed.data.target === context.sender) return invalid('a node does not answer its own calibration task');
      return { ok: true, body: { type: 'calibration-answer', answer: parsed.data } };
    }
  }
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

/** Total order of reconciliation keys: time, then id (UTF-16 code units, like canonical JSON's key order). */
export function compareSyncKeys(a: SyncKey, b: SyncKey): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export type { ItemId };
