/**
 * The chat operations over a real (fake-indexeddb) database: ordering,
 * cascade delete, regenerate, streaming saves, startup recovery, settings.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import {
  DEFAULT_CONVERSATION_TITLE,
  FieldTooLongError,
  RecordNotFoundError,
  addMessage,
  createConversation,
  deleteConversation,
  deleteMessages,
  deleteMessagesAfter,
  getConversation,
  getSetting,
  getSettings,
  listConversations,
  listMessages,
  recoverInterrupted,
  renameConversation,
  saveStreamingProgress,
  setSetting,
  setSystemPrompt,
  updateMessage,
  type RecordMakers,
} from '../../src/services/chat-repository';
import { EXPORT_LIMITS } from '../../src/lib/data/export-format';
import type { Message } from '../../src/lib/chat/types';

/** A clock the test moves by hand, and ids that say their order. */
function makers(start = 1_000): RecordMakers & { set(t: number): void; tick(ms?: number): void } {
  let time = start;
  let counter = 0;
  return {
    now: () => time,
    newId: () => `id-${String(++counter).padStart(4, '0')}`,
    set(t) {
      time = t;
    },
    tick(ms = 1) {
      time += ms;
    },
  };
}

let db: H3lixDatabase;
let m: ReturnType<typeof makers>;

beforeEach(async () => {
  db = await openDatabase(`repo-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  m = makers();
});

afterEach(async () => {
  await db.delete();
});

const user = (conversationId: string, content: string) => ({ conversationId, role: 'user' as const, content });
const streamingReply = (conversationId: string) => ({
  conversationId,
  role: 'assistant' as const,
  content: '',
  status: 'streaming' as const,
  modelId: 'model-a',
});

describe('conversations', () => {
  it('creates with defaults and reads back', async () => {
    const c = await createConversation(db, {}, m);
    expect(c).toEqual({ id: 'id-0001', title: DEFAULT_CONVERSATION_TITLE, systemPrompt: '', createdAt: 1000, updatedAt: 1000 });
    expect(await getConversation(db, c.id)).toEqual(c);
    expect(await getConversation(db, 'nope')).toBeUndefined();
  });

  it('lists the most recently active first', async () => {
    const a = await createConversation(db, { title: 'a' }, m);
    m.tick();
    const b = await createConversation(db, { title: 'b' }, m);
    m.tick();
    const c = await createConversation(db, { title: 'c' }, m);
    expect((await listConversations(db)).map((x) => x.title)).toEqual(['c', 'b', 'a']);

    m.tick();
    await addMessage(db, user(a.id, 'hello'), m); // activity moves a to the top
    expect((await listConversations(db)).map((x) => x.id)).toEqual([a.id, c.id, b.id]);
  });

  it('renames and sets the system prompt, moving updatedAt', async () => {
    const c = await createConversation(db, { title: 'old', systemPrompt: 'be brief' }, m);
    m.set(2000);
    await renameConversation(db, c.id, 'new', m.now);
    m.set(3000);
    await setSystemPrompt(db, c.id, 'be thorough', m.now);
    expect(await getConversation(db, c.id)).toMatchObject({
      title: 'new',
      systemPrompt: 'be thorough',
      createdAt: 1000,
      updatedAt: 3000,
    });
    // Renaming to the same title is not "missing".
    await renameConversation(db, c.id, 'new', m.now);
  });

  it('refuses to rename a conversation that does not exist', async () => {
    await expect(renameConversation(db, 'ghost', 'x', m.now)).rejects.toBeInstanceOf(RecordNotFoundError);
    await expect(setSystemPrompt(db, 'ghost', 'x', m.now)).rejects.toMatchObject({
      name: 'RecordNotFoundError',
      kind: 'conversation',
      id: 'ghost',
    });
    expect(await db.conversations.count()).toBe(0);
  });

  it('deletes a conversation with all its messages, and nothing else', async () => {
    const a = await createConversation(db, {}, m);
    const b = await createConversation(db, {}, m);
    for (let i = 0; i < 5; i++) await addMessage(db, user(a.id, `a${i}`), m);
    await addMessage(db, user(b.id, 'b0'), m);
    await db.settings.put({ key: 'modelId', value: 'x' });

    await deleteConversation(db, a.id);
    expect(await getConversation(db, a.id)).toBeUndefined();
    expect(await listMessages(db, a.id)).toEqual([]);
    expect(await db.messages.where('[conversationId+createdAt]').between([a.id, -Infinity], [a.id, Infinity]).count()).toBe(0);
    expect((await listMessages(db, b.id)).map((x) => x.content)).toEqual(['b0']);
    expect(await db.conversations.count()).toBe(1);
    expect(await db.settings.count()).toBe(1);
    await deleteConversation(db, a.id); // again: nothing to do, no error
  });

  it('keeps strings within what an export can carry', async () => {
    const long = 'x'.repeat(EXPORT_LIMITS.titleChars + 1);
    await expect(createConversation(db, { title: long }, m)).rejects.toBeInstanceOf(FieldTooLongError);
    const c = await createConversation(db, {}, m);
    await expect(renameConversation(db, c.id, long, m.now)).rejects.toMatchObject({ name: 'FieldTooLongError', field: 'title' });
  });
});

describe('messages', () => {
  it('lists a conversation’s messages oldest first, only that conversation', async () => {
    const a = await createConversation(db, {}, m);
    const b = await createConversation(db, {}, m);
    m.set(5000);
    await addMessage(db, user(a.id, 'second'), m);
    m.set(7000);
    await addMessage(db, user(b.id, 'other'), m);
    m.set(9000);
    await addMessage(db, user(a.id, 'third'), m);
    expect((await listMessages(db, a.id)).map((x) => x.content)).toEqual(['second', 'third']);
  });

  it('keeps order strict when the clock stands still or goes back', async () => {
    const c = await createConversation(db, {}, m);
    m.set(5000);
    const first = await addMessage(db, user(c.id, 'q'), m);
    const draft = await addMessage(db, streamingReply(c.id), m); // same millisecond
    m.set(100); // clock went backwards (NTP, manual change)
    const third = await addMessage(db, user(c.id, 'again'), m);
    expect([first.createdAt, draft.createdAt, third.createdAt]).toEqual([5000, 5001, 5002]);
    expect((await listMessages(db, c.id)).map((x) => x.id)).toEqual([first.id, draft.id, third.id]);
  });

  it('fills defaults and returns the stored message', async () => {
    const c = await createConversation(db, {}, m);
    const msg = await addMessage(db, user(c.id, 'hi'), m);
    expect(msg).toEqual({
      id: expect.any(String),
      conversationId: c.id,
      role: 'user',
      content: 'hi',
      createdAt: 1000,
      status: 'complete',
      modelId: null,
      stats: null,
      error: null,
    } satisfies Message);
    expect(await db.messages.get(msg.id)).toEqual(msg);
  });

  it('refuses a message for a missing conversation, writing nothing', async () => {
    await expect(addMessage(db, user('ghost', 'hi'), m)).rejects.toBeInstanceOf(RecordNotFoundError);
    expect(await db.messages.count()).toBe(0);
  });

  it('updates only the fields a patch may change', async () => {
    const c = await createConversation(db, {}, m);
    const draft = await addMessage(db, streamingReply(c.id), m);
    const stats = { tokens: 12, tokensPerSecond: 30.5, ttftMs: 120, totalMs: 400 };
    // A caller's object may carry more than a patch (here a different role and id).
    const patch = { content: 'done', status: 'complete' as const, stats, role: 'user', id: 'other' };
    await updateMessage(db, draft.id, patch);
    expect(await db.messages.get(draft.id)).toEqual({ ...draft, content: 'done', status: 'complete', stats });
    await expect(updateMessage(db, 'ghost', { content: 'x' })).rejects.toBeInstanceOf(RecordNotFoundError);
  });

  it('stores non-finite timing stats as 0 (JSON cannot carry them)', async () => {
    const c = await createConversation(db, {}, m);
    const draft = await addMessage(db, streamingReply(c.id), m);
    await updateMessage(db, draft.id, {
      status: 'complete',
      stats: { tokens: 3, tokensPerSecond: Infinity, ttftMs: Number.NaN, totalMs: 0 },
    });
    expect((await db.messages.get(draft.id))?.stats).toEqual({ tokens: 3, tokensPerSecond: 0, ttftMs: 0, totalMs: 0 });
  });

  it('saves streaming progress only while the reply is streaming', async () => {
    const c = await createConversation(db, {}, m);
    const draft = await addMessage(db, streamingReply(c.id), m);
    await saveStreamingProgress(db, draft.id, 'Hel');
    await saveStreamingProgress(db, draft.id, 'Hello, wor', { tokens: 3, tokensPerSecond: 10, ttftMs: 50, totalMs: 300 });
    expect(await db.messages.get(draft.id)).toMatchObject({ content: 'Hello, wor', status: 'streaming', stats: { tokens: 3 } });

    await updateMessage(db, draft.id, { content: 'Hello, world!', status: 'complete' });
    await saveStreamingProgress(db, draft.id, 'Hello, wor'); // a late save from the throttle timer
    expect(await db.messages.get(draft.id)).toMatchObject({ content: 'Hello, world!', status: 'complete' });

    await saveStreamingProgress(db, 'deleted-meanwhile', 'x'); // no error, nothing written
    expect(await db.messages.count()).toBe(1);
  });

  it('does not touch the conversation while streaming (one cheap write)', async () => {
    const c = await createConversation(db, {}, m);
    const draft = await addMessage(db, streamingReply(c.id), m);
    const before = await getConversation(db, c.id);
    m.set(99_999);
    await saveStreamingProgress(db, draft.id, 'more');
    expect(await getConversation(db, c.id)).toEqual(before);
  });

  it('deleteMessagesAfter keeps the prompt and drops the reply and everything later', async () => {
    const c = await createConversation(db, {}, m);
    const other = await createConversation(db, {}, m);
    const q1 = await addMessage(db, user(c.id, 'q1'), m);
    const a1 = await addMessage(db, { ...streamingReply(c.id), status: 'complete', content: 'a1' }, m);
    const q2 = await addMessage(db, user(c.id, 'q2'), m);
    await addMessage(db, { ...streamingReply(c.id), status: 'complete', content: 'a2' }, m);
    await addMessage(db, user(other.id, 'elsewhere'), m);

    expect(await deleteMessagesAfter(db, c.id, q2.createdAt)).toBe(1);
    expect((await listMessages(db, c.id)).map((x) => x.content)).toEqual(['q1', 'a1', 'q2']);
    expect(await deleteMessagesAfter(db, c.id, q1.createdAt)).toBe(2);
    expect((await listMessages(db, c.id)).map((x) => x.id)).toEqual([q1.id]);
    expect(await listMessages(db, other.id)).toHaveLength(1);
    expect(await db.messages.get(a1.id)).toBeUndefined();
  });

  it('deleteMessages removes exactly the given ids', async () => {
    const c = await createConversation(db, {}, m);
    const q = await addMessage(db, user(c.id, 'q'), m);
    const a = await addMessage(db, streamingReply(c.id), m);
    await deleteMessages(db, [a.id, 'not-there']);
    expect((await listMessages(db, c.id)).map((x) => x.id)).toEqual([q.id]);
  });

  it('recoverInterrupted marks every streaming reply interrupted, keeping its text', async () => {
    const a = await createConversation(db, {}, m);
    const b = await createConversation(db, {}, m);
    const doneMsg = await addMessage(db, user(a.id, 'q'), m);
    const cut1 = await addMessage(db, streamingReply(a.id), m);
    await saveStreamingProgress(db, cut1.id, 'half a rep');
    const cut2 = await addMessage(db, streamingReply(b.id), m);
    const stopped = await addMessage(db, { ...streamingReply(b.id), status: 'stopped', content: 'st' }, m);

    expect(await recoverInterrupted(db)).toBe(2);
    expect(await db.messages.get(cut1.id)).toMatchObject({ status: 'interrupted', content: 'half a rep' });
    expect(await db.messages.get(cut2.id)).toMatchObject({ status: 'interrupted', content: '' });
    expect(await db.messages.get(stopped.id)).toMatchObject({ status: 'stopped', content: 'st' });
    expect(await db.messages.get(doneMsg.id)).toMatchObject({ status: 'complete' });
    expect(await db.messages.where('status').equals('streaming').count()).toBe(0);
    expect(await recoverInterrupted(db)).toBe(0);
  });

  it('refuses a message longer than the limit', async () => {
    const c = await createConversation(db, {}, m);
    const huge = 'y'.repeat(EXPORT_LIMITS.contentChars + 1);
    await expect(addMessage(db, user(c.id, huge), m)).rejects.toBeInstanceOf(FieldTooLongError);
    const draft = await addMessage(db, streamingReply(c.id), m);
    await expect(saveStreamingProgress(db, draft.id, huge)).rejects.toBeInstanceOf(FieldTooLongError);
  });
});

describe('settings', () => {
  it('gives the default for a setting never set', async () => {
    expect(await getSetting(db, 'modelId')).toBeNull();
    expect(await getSettings(db)).toEqual({
      modelId: null,
      modelMirror: null,
      lastLoadedModelId: null,
      profileName: '',
      profileLanguage: '',
      standingInstructions: '',
      actionPolicies: {},
      learningPaused: false,
      lastSelfTrainingQueuedAt: null,
      reminders: [],
    });
  });

  it('stores and reads typed values', async () => {
    await setSetting(db, 'modelId', 'qwen-0.5b');
    await setSetting(db, 'modelMirror', 'https://mirror.example/models/');
    expect(await getSetting(db, 'modelId')).toBe('qwen-0.5b');
    expect(await getSettings(db)).toEqual({
      modelId: 'qwen-0.5b',
      modelMirror: 'https://mirror.example/models/',
      lastLoadedModelId: null,
      profileName: '',
      profileLanguage: '',
      standingInstructions: '',
      actionPolicies: {},
      learningPaused: false,
      lastSelfTrainingQueuedAt: null,
      reminders: [],
    });
    await setSetting(db, 'modelId', null);
    expect(await getSetting(db, 'modelId')).toBeNull();
  });

  it('falls back to the default when a stored value is unreadable (old or hand-edited import)', async () => {
    await db.settings.put({ key: 'modelId', value: { not: 'a string' } });
    expect(await getSetting(db, 'modelId')).toBeNull();
  });

  it('refuses a wrongly typed value from untyped code', async () => {
    await expect(setSetting(db, 'modelId', 42 as unknown as string)).rejects.toThrow();
    expect(await db.settings.count()).toBe(0);
  });
});
