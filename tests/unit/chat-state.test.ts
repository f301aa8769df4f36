/**
 * The chat state's reply lifecycle, with an in-memory store and a scripted
 * engine (test doubles): one reply at a time, nothing mixed across
 * conversations, nothing left busy after a failure.
 */
import { describe, expect, it } from 'vitest';
import { ChatState, type ChatStore } from '../../src/state/chat.svelte';
import { EngineState } from '../../src/state/engine.svelte';
import { FIXTURE_CHAT_ID, findEntry } from '../../src/lib/engine/catalogue';
import type { Conversation, Message } from '../../src/lib/chat/types';
import type { Capabilities, Engine, GenerationChunk, GenerationResult } from '../../src/lib/engine/contract';
import type { EvidenceRecord } from '../../src/lib/governance/evidence';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function memoryStoreDouble(over: Partial<ChatStore> = {}) {
  const conversations = new Map<string, Conversation>();
  const messages = new Map<string, Message>();
  let n = 0;
  let t = 0;
  const store: ChatStore = {
    listConversations: async () => [...conversations.values()],
    createConversation: async ({ title, systemPrompt }) => {
      const c = { id: `c${n++}`, title, systemPrompt, createdAt: t, updatedAt: t };
      conversations.set(c.id, c);
      return c;
    },
    renameConversation: async () => {},
    setSystemPrompt: async () => {},
    deleteConversation: async (id) => void conversations.delete(id),
    listMessages: async (id) => [...messages.values()].filter((m) => m.conversationId === id).sort((a, b) => a.createdAt - b.createdAt),
    addMessage: async (m) => {
      const full = { ...m, id: `m${n++}`, createdAt: t++ } as Message;
      messages.set(full.id, full);
      return structuredClone(full);
    },
    updateMessage: async (id, patch) => {
      const m = messages.get(id);
      if (!m) throw new Error('gone');
      messages.set(id, { ...m, ...patch });
    },
    saveStreamingProgress: async (id, content) => {
      const m = messages.get(id);
      if (m) messages.set(id, { ...m, content });
    },
    deleteMessages: async (ids) => ids.forEach((id) => messages.delete(id)),
    recoverInterrupted: async () => 0,
    getEvidence: async () => [],
    putEvidence: async (_r: EvidenceRecord) => {},
    ...over,
  };
  return { store, messages };
}

/** A scripted engine: streams `words`, one every few ms, stops on abort. */
function engineDouble(words: string[]) {
  let generateCalls = 0;
  const engine: Engine = {
    capabilities: async () => ({}) as Capabilities,
    load: async ({ entry }) => ({ modelId: entry.id, backend: 'transformers', device: 'wasm', loadMs: 1, selfTestTokens: 1 }),
    unload: async () => {},
    async generate(_turns, _opts, call): Promise<GenerationResult> {
      generateCalls++;
      let text = '';
      for (const w of words) {
        if (call?.signal?.aborted) return { text, tokens: 1, ttftMs: 1, totalMs: 1, tokensPerSecond: 1, finishReason: 'stop' };
        await tick();
        text += w;
        call?.onProgress?.({ text: w, tokens: 1 } satisfies GenerationChunk);
      }
      return { text, tokens: words.length, ttftMs: 1, totalMs: 5, tokensPerSecond: 100, finishReason: 'end' };
    },
  };
  return { engine, calls: () => generateCalls };
}

async function setup(words: string[], over: Partial<ChatStore> = {}) {
  const { store, messages } = memoryStoreDouble(over);
  const { engine, calls } = engineDouble(words);
  const state = new EngineState(engine);
  await state.load(findEntry(FIXTURE_CHAT_ID)!);
  const profile = { profileName: '', profileLanguage: '', standingInstructions: '' };
  const chat = new ChatState(store, state, () => profile, null, () => 0);
  return { chat, messages, calls };
}

describe('ChatState', () => {
  it('keeps a reply in its own conversation when the person switches away mid-stream', async () => {
    const { chat, messages } = await setup(['one ', 'two ', 'three']);
    const first = chat.send('question A');
    await tick(8);
    const aId = chat.activeId!;
    chat.newConversation(); // the person moves on while A's reply is written
    await first;
    const replyA = [...messages.values()].find((m) => m.conversationId === aId && m.role === 'assistant');
    expect(replyA?.content).toBe('one two three');
    expect(replyA?.status).toBe('complete');
    expect(chat.messages).toEqual([]);
    expect(chat.busy).toBe(false);
  });

  it('is busy from the click, and a stop before the first token writes no reply', async () => {
    const { chat, messages, calls } = await setup(['x']);
    const sending = chat.send('hello');
    expect(chat.busy).toBe(true);
    chat.stop();
    expect(await sending).toBe(true);
    expect(calls()).toBe(0);
    expect([...messages.values()].filter((m) => m.role === 'assistant')).toHaveLength(0);
    expect(chat.busy).toBe(false);
  });

  it('regenerate is busy at once, so a second send is refused', async () => {
    const { chat } = await setup(['a ', 'b']);
    await chat.send('q');
    const again = chat.regenerate();
    expect(chat.busy).toBe(true);
    expect(await chat.send('another')).toBe(false);
    await again;
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('a storage failure while writing evidence does not leave the chat busy', async () => {
    const { chat } = await setup(['a'], {
      putEvidence: async () => {
        throw new Error('disk full');
      },
    });
    // Evidence is written only when items were used: give it one.
    chat.setRetriever({
      retrieve: async () => [
        { kind: 'memory', id: 'm', title: 't', text: 'fact', score: 0.9, provenance: { kind: 'memory', createdAt: 0, conversationId: null } },
      ],
    });
    await chat.send('q');
    expect(chat.busy).toBe(false);
    expect(chat.error).toContain('disk full');
  });

  it('a message that cannot be stored is reported and not lost', async () => {
    const { chat } = await setup(['a'], {
      addMessage: async () => {
        throw new Error('quota exceeded');
      },
    });
    expect(await chat.send('keep me')).toBe(false);
    expect(chat.error).toContain('quota exceeded');
    expect(chat.busy).toBe(false);
  });
});
