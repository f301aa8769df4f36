/**
 * Reactive chat state: the conversation list, the open conversation and its
 * messages, and the reply being streamed. Every change is written to
 * IndexedDB as it happens; a streaming reply is saved several times a second,
 * so closing the tab keeps it as far as it got.
 */
import type { Conversation, Message, MessageStats } from '../lib/chat/types';
import type { ChatTurn, GenerateOptions } from '../lib/engine/contract';
import { assemblePrompt, type AssembledPrompt, type RetrievedItem } from '../lib/governance/prompt-assembly';
import { applyMark, createEvidenceRecord, type ClaimTarget, type ClaimMark, type EvidenceRecord } from '../lib/governance/evidence';
import { titleFromMessage, UNTITLED } from '../lib/chat/title';
import { profileInstructions, type ProfileFields } from '../lib/governance/profile';
import type { EngineState } from './engine.svelte';

/** What the chat state needs from storage (implemented over Dexie in services/). */
export interface ChatStore {
  listConversations(): Promise<Conversation[]>;
  createConversation(init: { title: string; systemPrompt: string }): Promise<Conversation>;
  renameConversation(id: string, title: string): Promise<void>;
  setSystemPrompt(id: string, systemPrompt: string): Promise<void>;
  deleteConversation(id: string): Promise<void>;
  listMessages(conversationId: string): Promise<Message[]>;
  addMessage(message: Omit<Message, 'id' | 'createdAt'>): Promise<Message>;
  updateMessage(id: string, patch: Partial<Omit<Message, 'id' | 'conversationId'>>): Promise<void>;
  saveStreamingProgress(id: string, content: string): Promise<void>;
  deleteMessages(ids: string[]): Promise<void>;
  recoverInterrupted(): Promise<number>;
  getEvidence(messageIds: string[]): Promise<EvidenceRecord[]>;
  putEvidence(record: EvidenceRecord): Promise<void>;
}

/** Finds what the assistant knows that bears on a question (memories, documents; later network artifacts). */
export interface Retriever {
  retrieve(question: string, signal: AbortSignal): Promise<RetrievedItem[]>;
}

/** Share of the context window that retrieved material may take. */
const CONTEXT_SHARE = 0.35;

/** Save the growing reply at most this often (ms): cheap, and little is lost on close. */
const SAVE_EVERY_MS = 250;

export const DEFAULT_GENERATION: GenerateOptions = { maxNewTokens: 512, temperature: 0.7, topP: 0.95 };

export class ChatState {
  conversations = $state.raw<Conversation[]>([]);
  activeId = $state<string | null>(null);
  messages = $state<Message[]>([]);
  /** Id of the assistant message being written, if any. */
  streamingId = $state<string | null>(null);
  error = $state<string | null>(null);
  /** Evidence of the open conversation's answers, by message id. */
  evidence = $state.raw<ReadonlyMap<string, EvidenceRecord>>(new Map());
  generation = $state<GenerateOptions>({ ...DEFAULT_GENERATION });

  active: Conversation | null = $derived(this.conversations.find((c) => c.id === this.activeId) ?? null);
  /** Between sending and the first token: retrieving memories and documents, assembling the prompt. */
  preparing = $state(false);
  busy = $derived(this.streamingId !== null || this.preparing);

  #store: ChatStore;
  #engine: EngineState;
  #abort: AbortController | null = null;
  #pendingSave: { id: string; content: string } | null = null;
  #saveTimer: ReturnType<typeof setTimeout> | null = null;

  #standing: () => ProfileFields;
  #retriever: Retriever | null;
  #now: () => number;

  /**
   * @param standing the person's profile, read at each reply (identity layer)
   * @param retriever memory and document retrieval; null where none is set up
   */
  #onPersonMessage: (text: string, conversationId: string) => Promise<void>;

  /**
   * @param onPersonMessage sees each message the person sends (memory: "remember that …");
   *   never the model's text
   */
  constructor(
    store: ChatStore,
    engine: EngineState,
    standing: () => ProfileFields,
    retriever: Retriever | null,
    now: () => number,
    onPersonMessage: (text: string, conversationId: string) => Promise<void> = async () => {},
  ) {
    this.#store = store;
    this.#engine = engine;
    this.#standing = standing;
    this.#retriever = retriever;
    this.#now = now;
    this.#onPersonMessage = onPersonMessage;
  }

  setRetriever(retriever: Retriever | null): void {
    this.#retriever = retriever;
  }

  async init(): Promise<void> {
    await this.#store.recoverInterrupted();
    this.conversations = await this.#store.listConversations();
    const first = this.conversations[0];
    if (first) await this.open(first.id);
  }

  async reload(): Promise<void> {
    this.conversations = await this.#store.listConversations();
    if (this.activeId && this.conversations.some((c) => c.id === this.activeId)) {
      this.messages = await this.#store.listMessages(this.activeId);
      await this.#loadEvidence();
    } else {
      this.activeId = null;
      this.messages = [];
      const first = this.conversations[0];
      if (first) await this.open(first.id);
    }
  }

  async open(id: string): Promise<void> {
    if (this.busy) this.stop();
    this.activeId = id;
    this.messages = await this.#store.listMessages(id);
    await this.#loadEvidence();
  }

  async #loadEvidence(): Promise<void> {
    const ids = this.messages.filter((m) => m.role === 'assistant').map((m) => m.id);
    const records = ids.length ? await this.#store.getEvidence(ids) : [];
    this.evidence = new Map(records.map((r) => [r.messageId, r]));
  }

  /** The person marks an answer, or one item it used, as verified or disputed. */
  async mark(messageId: string, target: ClaimTarget, mark: ClaimMark): Promise<void> {
    const record = this.evidence.get(messageId);
    if (!record) return;
    const next = applyMark(record, { type: 'mark', target, mark, at: this.#now() });
    if (next === record) return;
    await this.#store.putEvidence(next);
    this.evidence = new Map(this.evidence).set(messageId, next);
  }

  /** Starts an empty conversation; it is only stored once something is said in it. */
  newConversation(): void {
    if (this.busy) this.stop();
    this.activeId = null;
    this.messages = [];
    this.evidence = new Map();
  }

  async rename(id: string, title: string): Promise<void> {
    const clean = title.replace(/\s+/g, ' ').trim().slice(0, 200) || UNTITLED;
    await this.#store.renameConversation(id, clean);
    this.conversations = await this.#store.listConversations();
  }

  async remove(id: string): Promise<void> {
    if (this.activeId === id && this.busy) this.stop();
    await this.#store.deleteConversation(id);
    this.conversations = await this.#store.listConversations();
    if (this.activeId === id) {
      this.activeId = null;
      this.messages = [];
    }
  }

  async setSystemPrompt(text: string): Promise<void> {
    const id = this.activeId ?? (await this.#ensureConversation(UNTITLED, text)).id;
    await this.#store.setSystemPrompt(id, text.slice(0, 20_000));
    this.conversations = await this.#store.listConversations();
  }

  async send(text: string): Promise<void> {
    const content = text.trim();
    if (!content || this.busy) return;
    this.error = null;
    this.preparing = true;
    try {
      const conversation = await this.#ensureConversation(titleFromMessage(content), '');
      const user = await this.#store.addMessage({
        conversationId: conversation.id,
        role: 'user',
        content,
        status: 'complete',
        modelId: null,
        stats: null,
        error: null,
      });
      this.messages.push(user);
      // Stored before the reply, so a fact just given can already be used for it.
      try {
        await this.#onPersonMessage(content, conversation.id);
      } catch (err) {
        console.warn('Could not look at the message for memory', err);
      }
      await this.#reply(conversation);
    } finally {
      this.preparing = false;
    }
  }

  /** Writes a new answer to the last question, replacing the answer after it. */
  async regenerate(): Promise<void> {
    const conversation = this.active;
    if (!conversation || this.busy) return;
    const lastUser = this.messages.findLastIndex((m) => m.role === 'user');
    if (lastUser < 0) return;
    const after = this.messages.slice(lastUser + 1);
    await this.#store.deleteMessages(after.map((m) => m.id));
    this.messages.splice(lastUser + 1);
    await this.#reply(conversation);
  }

  stop(): void {
    this.#abort?.abort();
  }

  async #ensureConversation(title: string, systemPrompt: string): Promise<Conversation> {
    if (this.active) return this.active;
    const c = await this.#store.createConversation({ title, systemPrompt });
    this.conversations = await this.#store.listConversations();
    this.activeId = c.id;
    return c;
  }

  async #reply(conversation: Conversation): Promise<void> {
    const engine = this.#engine;
    const entry = engine.loaded?.entry;
    if (!entry) {
      this.error = 'No model is loaded. Open Settings to choose and load one.';
      return;
    }
    const usable: ChatTurn[] = this.messages
      .filter((m) => m.content.trim() && m.status !== 'error')
      .map((m) => ({ role: m.role, content: m.content }));
    const last = usable.at(-1);
    if (!last || last.role !== 'user') return;
    const abort = new AbortController();
    this.#abort = abort;
    let prepared: { assembled: AssembledPrompt; draft: Message };
    try {
      prepared = await this.#prepare(conversation, entry, usable, last.content, abort.signal);
    } catch (err) {
      if (this.#abort === abort) this.#abort = null;
      throw err;
    }
    const { assembled, draft } = prepared;
    const turns = assembled.turns;
    this.messages.push(draft);
    const index = this.messages.length - 1;
    this.streamingId = draft.id;
    this.preparing = false;
    if (assembled.used.length > 0) {
      const record = createEvidenceRecord(draft.id, assembled.used, this.#now());
      await this.#store.putEvidence(record);
      this.evidence = new Map(this.evidence).set(draft.id, record);
    }

    try {
      const result = await engine.generate(
        turns,
        $state.snapshot(this.generation),
        (chunk) => {
          const m = this.messages[index];
          if (!m || m.id !== draft.id) return;
          m.content += chunk.text;
          this.#scheduleSave(draft.id, m.content);
        },
        abort.signal,
      );
      const stats: MessageStats = {
        tokens: result.tokens,
        tokensPerSecond: result.tokensPerSecond,
        ttftMs: result.ttftMs,
        totalMs: result.totalMs,
      };
      const status = result.finishReason === 'stop' ? 'stopped' : 'complete';
      this.#cancelSave();
      // The engine's full text is authoritative (chunks may split characters).
      const content = result.text || (this.messages[index]?.content ?? '');
      await this.#store.updateMessage(draft.id, { content, status, stats });
      this.#patchLocal(draft.id, { content, status, stats });
    } catch (err) {
      this.#cancelSave();
      const message = err instanceof Error ? err.message : String(err);
      const hint = (err as { hint?: unknown })?.hint;
      const text = typeof hint === 'string' && hint ? `${message} ${hint}` : message;
      const partial = this.messages[index]?.content ?? '';
      const status = partial ? 'interrupted' : 'error';
      await this.#store.updateMessage(draft.id, { content: partial, status, error: text });
      this.#patchLocal(draft.id, { content: partial, status, error: text });
      this.error = text;
    } finally {
      if (this.#abort === abort) this.#abort = null;
      this.streamingId = null;
      this.preparing = false;
    }
  }

  /**
   * Everything between the question and the first token: retrieval, prompt
   * assembly, and the empty reply that will stream in.
   */
  async #prepare(
    conversation: Conversation,
    entry: { id: string; contextWindow: number },
    usable: ChatTurn[],
    question: string,
    signal: AbortSignal,
  ): Promise<{ assembled: AssembledPrompt; draft: Message }> {
    const fresh = this.conversations.find((c) => c.id === conversation.id) ?? conversation;
    // Retrieval failing (no embedder yet, storage trouble) must not cost the answer.
    let items: RetrievedItem[] = [];
    try {
      items = this.#retriever ? await this.#retriever.retrieve(question, signal) : [];
    } catch (err) {
      console.warn('Retrieval failed; answering without memories and documents', err);
    }
    const assembled = assemblePrompt({
      systemPrompt: fresh.systemPrompt,
      standingInstructions: profileInstructions(this.#standing()),
      items,
      history: usable.slice(0, -1),
      question,
      contextWindow: entry.contextWindow,
      reserveForReply: this.generation.maxNewTokens,
      contextBudget: Math.floor(entry.contextWindow * CONTEXT_SHARE),
    });
    const draft = await this.#store.addMessage({
      conversationId: conversation.id,
      role: 'assistant',
      content: '',
      status: 'streaming',
      modelId: entry.id,
      stats: null,
      error: null,
    });
    return { assembled, draft };
  }

  #patchLocal(id: string, patch: Partial<Message>): void {
    const m = this.messages.find((x) => x.id === id);
    if (m) Object.assign(m, patch);
  }

  #scheduleSave(id: string, content: string): void {
    this.#pendingSave = { id, content };
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      this.flush();
    }, SAVE_EVERY_MS);
  }

  #cancelSave(): void {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    this.#pendingSave = null;
  }

  /** Writes the growing reply now (also called when the page is hidden or closed). */
  flush(): void {
    const pending = this.#pendingSave;
    this.#pendingSave = null;
    if (pending) void this.#store.saveStreamingProgress(pending.id, pending.content);
  }
}
