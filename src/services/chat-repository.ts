/**
 * The chat operations the UI needs, over the local database: conversations,
 * their messages, and the person's settings.
 *
 * Each function takes the database first and, where it creates or stamps
 * records, the clock and id maker (`now`, `newId`): nothing in here reads
 * Date.now() or crypto, so tests control time and ids. Operations that touch
 * more than one record run in one transaction, so a crash or a closed tab
 * leaves either all of it or none.
 *
 * Invariants kept here:
 * - Within a conversation, messages have strictly increasing `createdAt`
 *   (a user message and the reply placeholder are often made in the same
 *   millisecond; ordering, and "delete everything after", must not depend on
 *   random ids to break the tie).
 * - Strings are no longer than the export format accepts (EXPORT_LIMITS), so
 *   everything stored can be exported and imported back.
 * - `updatedAt` of a conversation moves with any change to it or to its
 *   message list, except streaming progress (kept to one cheap write).
 */

import { z } from 'zod';
import type { Conversation, Message, MessageStats, SettingRecord } from '../lib/chat/types';
import { EXPORT_LIMITS } from '../lib/data/export-format';
import { toWriteError, type H3lixDatabase } from './db';

export interface Clock {
  now: () => number;
}

export interface RecordMakers extends Clock {
  newId: () => string;
}

/** An update or delete named a record that does not exist (deleted in another tab, or a stale id). */
export class RecordNotFoundError extends Error {
  override readonly name = 'RecordNotFoundError';
  constructor(
    readonly kind: 'conversation' | 'message',
    readonly id: string,
  ) {
    super(`That ${kind} no longer exists (it may have been deleted in another tab).`);
  }
}

/** A text is longer than H3LIX stores (see EXPORT_LIMITS). */
export class FieldTooLongError extends Error {
  override readonly name = 'FieldTooLongError';
  constructor(
    readonly field: string,
    readonly length: number,
    readonly limit: number,
  ) {
    super(
      `The ${field} is too long to save (${length.toLocaleString('en-US')} characters; ` +
        `the limit is ${limit.toLocaleString('en-US')}).`,
    );
  }
}

// ---------------------------------------------------------------------------
// Settings

/**
 * One entry per setting: how to check a stored value, and the value used
 * when it is missing or unreadable (an older export, a hand-edited file).
 * Adding a setting is one line here; `Settings` and the getters follow.
 */
export const SETTING_DEFINITIONS = {
  /** The model the person chose (catalogue id), null before they choose. */
  modelId: defineSetting(z.string().min(1).max(EXPORT_LIMITS.modelIdChars).nullable(), null),
  /** The person's own model mirror URL, null to use the deployment's or the public hubs. */
  modelMirror: defineSetting(z.string().min(1).max(2_000).nullable(), null),
  /** The model that was last loaded successfully (its files are cached): loaded without asking next time. */
  lastLoadedModelId: defineSetting(z.string().min(1).max(EXPORT_LIMITS.modelIdChars).nullable(), null),
  /** The person's profile (identity layer): how the assistant should address them. */
  profileName: defineSetting(z.string().max(200), ''),
  /** Preferred language for answers, in the person's words ('' = no preference). */
  profileLanguage: defineSetting(z.string().max(100), ''),
  /** Instructions that apply to every conversation, before its own system prompt. */
  standingInstructions: defineSetting(z.string().max(4_000), ''),
  /** Execution layer: the person's policy per action (read through parsePolicyOverrides, which clamps). */
  actionPolicies: defineSetting(z.record(z.string().max(64), z.enum(['allow', 'ask', 'deny'])), {}),
  /** Background learning paused by the person. */
  learningPaused: defineSetting(z.boolean(), false),
  /** When self-training was last queued (ms since epoch), null before the first time. */
  lastSelfTrainingQueuedAt: defineSetting(z.number().int().nonnegative().nullable(), null),
  /** Pending reminders (fired ones are removed). */
  reminders: defineSetting(
    z.array(z.strictObject({ id: z.string().min(1).max(128), text: z.string().min(1).max(200), at: z.number().int().nonnegative() })).max(500),
    [] as Array<{ id: string; text: string; at: number }>,
  ),
};

interface SettingDefinition<T> {
  schema: z.ZodType<T>;
  fallback: T;
}

function defineSetting<T>(schema: z.ZodType<T>, fallback: T): SettingDefinition<T> {
  return { schema, fallback };
}

export type Settings = { [K in keyof typeof SETTING_DEFINITIONS]: (typeof SETTING_DEFINITIONS)[K]['fallback'] };
export type SettingKey = keyof Settings;

export async function getSetting<K extends SettingKey>(db: H3lixDatabase, key: K): Promise<Settings[K]> {
  const record = await db.settings.get(key);
  return readSetting(key, record);
}

/** All known settings at once (one read), for startup. */
export async function getSettings(db: H3lixDatabase): Promise<Settings> {
  const keys = Object.keys(SETTING_DEFINITIONS) as SettingKey[];
  const records = await db.settings.bulkGet(keys);
  const entries = keys.map((key, i) => [key, readSetting(key, records[i])] as const);
  return Object.fromEntries(entries) as Settings;
}

export async function setSetting<K extends SettingKey>(db: H3lixDatabase, key: K, value: Settings[K]): Promise<void> {
  // Types already guarantee this in TypeScript callers; the check keeps a bad
  // value out of storage when it comes from somewhere less typed.
  const checked = SETTING_DEFINITIONS[key].schema.parse(value);
  await write(() => db.settings.put({ key, value: checked }));
}

function readSetting<K extends SettingKey>(key: K, record: SettingRecord | undefined): Settings[K] {
  // TypeScript cannot correlate the key with its own definition's type.
  const definition = SETTING_DEFINITIONS[key] as unknown as SettingDefinition<Settings[K]>;
  if (!record) return definition.fallback;
  const parsed = definition.schema.safeParse(record.value);
  return parsed.success ? parsed.data : definition.fallback;
}

// ---------------------------------------------------------------------------
// Conversations

export interface NewConversation {
  title?: string;
  systemPrompt?: string;
}

export const DEFAULT_CONVERSATION_TITLE = 'New conversation';

/** Most recently active first. */
export async function listConversations(db: H3lixDatabase): Promise<Conversation[]> {
  return db.conversations.orderBy('updatedAt').reverse().toArray();
}

export async function getConversation(db: H3lixDatabase, id: string): Promise<Conversation | undefined> {
  return db.conversations.get(id);
}

export async function createConversation(
  db: H3lixDatabase,
  init: NewConversation,
  { now, newId }: RecordMakers,
): Promise<Conversation> {
  const title = init.title ?? DEFAULT_CONVERSATION_TITLE;
  const systemPrompt = init.systemPrompt ?? '';
  checkLength('title', title, EXPORT_LIMITS.titleChars);
  checkLength('system prompt', systemPrompt, EXPORT_LIMITS.systemPromptChars);
  const at = stamp(now);
  const conversation: Conversation = { id: newId(), title, systemPrompt, createdAt: at, updatedAt: at };
  await write(() => db.conversations.add(conversation));
  return conversation;
}

export async function renameConversation(db: H3lixDatabase, id: string, title: string, now: () => number): Promise<void> {
  checkLength('title', title, EXPORT_LIMITS.titleChars);
  await updateConversation(db, id, { title }, now);
}

export async function setSystemPrompt(
  db: H3lixDatabase,
  id: string,
  systemPrompt: string,
  now: () => number,
): Promise<void> {
  checkLength('system prompt', systemPrompt, EXPORT_LIMITS.systemPromptChars);
  await updateConversation(db, id, { systemPrompt }, now);
}

async function updateConversation(
  db: H3lixDatabase,
  id: string,
  changes: Partial<Pick<Conversation, 'title' | 'systemPrompt'>>,
  now: () => number,
): Promise<void> {
  await write(() =>
    db.transaction('rw', db.conversations, async () => {
      // Read first: Dexie's update() counts 0 both for "missing" and for
      // "nothing changed", and only the first is an error.
      const conversation = await db.conversations.get(id);
      if (!conversation) throw new RecordNotFoundError('conversation', id);
      await db.conversations.put({ ...conversation, ...changes, updatedAt: Math.max(conversation.updatedAt, stamp(now)) });
    }),
  );
}

/** Deletes a conversation and all its messages, atomically. Deleting a missing one does nothing. */
export async function deleteConversation(db: H3lixDatabase, id: string): Promise<void> {
  await write(() =>
    db.transaction('rw', db.conversations, db.messages, async () => {
      await messagesOf(db, id).delete();
      await db.conversations.delete(id);
    }),
  );
}

// ---------------------------------------------------------------------------
// Messages

/** What the caller provides for a new message; the rest has defaults. */
export type NewMessage = Pick<Message, 'conversationId' | 'role' | 'content'> &
  Partial<Pick<Message, 'status' | 'modelId' | 'stats' | 'error'>>;

/** What may change after a message is written (not its id, conversation, role or place). */
export type MessagePatch = Partial<Pick<Message, 'content' | 'status' | 'modelId' | 'stats' | 'error'>>;

/** A conversation's messages, oldest first. */
export async function listMessages(db: H3lixDatabase, conversationId: string): Promise<Message[]> {
  return messagesOf(db, conversationId).toArray();
}

/**
 * Appends a message to a conversation and marks the conversation active.
 * Its `createdAt` is `now()`, or 1 ms after the conversation's last message
 * if the clock has not moved on (or went backwards), so order is strict.
 */
export async function addMessage(db: H3lixDatabase, init: NewMessage, { now, newId }: RecordMakers): Promise<Message> {
  checkMessageLengths(init);
  return write(() =>
    db.transaction('rw', db.conversations, db.messages, async () => {
      const conversation = await db.conversations.get(init.conversationId);
      if (!conversation) throw new RecordNotFoundError('conversation', init.conversationId);
      const last = await messagesOf(db, init.conversationId).last();
      const createdAt = Math.max(stamp(now), last ? last.createdAt + 1 : 0);
      const message: Message = {
        id: newId(),
        conversationId: init.conversationId,
        role: init.role,
        content: init.content,
        createdAt,
        status: init.status ?? 'complete',
        modelId: init.modelId ?? null,
        stats: init.stats ? cleanStats(init.stats) : null,
        error: init.error ?? null,
      };
      await db.messages.add(message);
      await db.conversations.put({ ...conversation, updatedAt: Math.max(conversation.updatedAt, createdAt) });
      return message;
    }),
  );
}

/** Changes a message (typically: the reply finished, stopped or failed). */
export async function updateMessage(db: H3lixDatabase, id: string, patch: MessagePatch): Promise<void> {
  checkMessageLengths(patch);
  // Copy only the fields a patch may carry: callers' objects may hold more.
  const changes: MessagePatch = {};
  if (patch.content !== undefined) changes.content = patch.content;
  if (patch.status !== undefined) changes.status = patch.status;
  if (patch.modelId !== undefined) changes.modelId = patch.modelId;
  if (patch.stats !== undefined) changes.stats = patch.stats ? cleanStats(patch.stats) : null;
  if (patch.error !== undefined) changes.error = patch.error;
  await write(() =>
    db.transaction('rw', db.messages, async () => {
      const message = await db.messages.get(id);
      if (!message) throw new RecordNotFoundError('message', id);
      await db.messages.put({ ...message, ...changes });
    }),
  );
}

/**
 * Saves the text of a reply while it is being written (called a few times a
 * second): one read and one write in one small transaction, on the message
 * only. It writes only while the message is still 'streaming', so a late
 * save cannot overwrite a reply that was since finished, stopped or marked
 * interrupted. A missing message is ignored (its conversation was deleted
 * mid-reply).
 */
export async function saveStreamingProgress(
  db: H3lixDatabase,
  id: string,
  content: string,
  stats?: MessageStats | null,
): Promise<void> {
  checkLength('message', content, EXPORT_LIMITS.contentChars);
  await write(() =>
    db.transaction('rw', db.messages, async () => {
      const message = await db.messages.get(id);
      if (!message || message.status !== 'streaming') return;
      await db.messages.put(
        stats === undefined ? { ...message, content } : { ...message, content, stats: stats ? cleanStats(stats) : null },
      );
    }),
  );
}

/** Deletes the given messages (e.g. the reply being regenerated). Missing ids are ignored. */
export async function deleteMessages(db: H3lixDatabase, ids: readonly string[]): Promise<void> {
  await write(() => db.messages.bulkDelete([...ids]));
}

/**
 * Deletes every message of a conversation created strictly after `createdAt`
 * (regenerate: keep the prompt at `createdAt`, drop the reply and anything
 * after it). Returns how many were deleted.
 */
export async function deleteMessagesAfter(db: H3lixDatabase, conversationId: string, createdAt: number): Promise<number> {
  return write(() =>
    db.messages
      .where('[conversationId+createdAt]')
      .between([conversationId, createdAt], [conversationId, Infinity], false, true)
      .delete(),
  );
}

/**
 * At startup: replies left 'streaming' belonged to a tab that closed or
 * crashed mid-reply. They become 'interrupted', keeping what was written.
 * Returns how many. (Run it before this tab starts streaming; another tab
 * that is streaming right now would see its reply marked too, and stop
 * saving progress to it, see saveStreamingProgress.)
 */
export async function recoverInterrupted(db: H3lixDatabase): Promise<number> {
  return write(() => db.messages.where('status').equals('streaming').modify({ status: 'interrupted' }));
}

// ---------------------------------------------------------------------------

/** Messages of one conversation in createdAt order, through the compound index. */
function messagesOf(db: H3lixDatabase, conversationId: string) {
  return db.messages
    .where('[conversationId+createdAt]')
    .between([conversationId, -Infinity], [conversationId, Infinity], true, true);
}

/** Timestamps are whole milliseconds (the export format insists). */
function stamp(now: () => number): number {
  return Math.floor(now());
}

/**
 * Stats come from timing arithmetic: a zero duration makes a rate Infinity or
 * NaN, which IndexedDB would keep but no JSON file can carry. Store 0 instead
 * of a number that cannot be exported.
 */
function cleanStats(stats: MessageStats): MessageStats {
  const measure = (value: number) =>
    Number.isFinite(value) && value > 0 ? Math.min(value, EXPORT_LIMITS.maxMeasure) : 0;
  return {
    tokens: Math.round(measure(stats.tokens)),
    tokensPerSecond: measure(stats.tokensPerSecond),
    ttftMs: measure(stats.ttftMs),
    totalMs: measure(stats.totalMs),
  };
}

function checkMessageLengths(fields: Partial<Pick<Message, 'content' | 'modelId' | 'error'>>): void {
  if (fields.content !== undefined) checkLength('message', fields.content, EXPORT_LIMITS.contentChars);
  if (fields.modelId) checkLength('model id', fields.modelId, EXPORT_LIMITS.modelIdChars);
  if (fields.error) checkLength('error text', fields.error, EXPORT_LIMITS.errorChars);
}

function checkLength(field: string, value: string, limit: number): void {
  if (value.length > limit) throw new FieldTooLongError(field, value.length, limit);
}

/** Runs a write, turning a full disk into StorageQuotaError. */
async function write<T>(operation: () => PromiseLike<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toWriteError(error);
  }
}
