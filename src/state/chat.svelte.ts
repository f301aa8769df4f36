/**
 * Reactive chat state: the conversation list, the open conversation and its
 * messages, and the reply being streamed. Every change is written to
 * IndexedDB as it happens; a streaming reply is saved several times a second,
 * so closing the tab keeps it as far as it got.
 */
import type { Conversation, Message, MessageStats } from '../lib/chat/types';
import type { CatalogueEntry, ChatTurn, GenerateOptions } from '../lib/engine/contract';
import { assemblePrompt, type AssembledPrompt, type RetrievedItem } from '../lib/governance/prompt-assembly';
import { applyMark, createEvidenceRecord, type ClaimTarget, type ClaimMark, type EvidenceRecord, type EvidenceRef } from '../lib/governance/evidence';
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

/** Finds what the assistant knows that bears on a question (memories, documents, accepted network artifacts). */
export interface Retriever {
  /** `contextWindow`: of the model that will answer, in tokens (budgets are shares of it). */
  retrieve(question: string, signal: AbortSignal, contextWindow: number): Promise<RetrievedItem[]>;
}

/**
 * What replies need from the learning layer (LearningState implements it).
 * Optional: without it replies are written without experiences.
 */
export interface ReplyConditioning {
  /** Background work using the engine stops first: the person's reply is never deferred. */
  yieldEngine(): Promise<void>;
  /** The experience block for this question within a budget, and the evidence refs of what is in it. */
  select(question: string, budgetTokens: number): { block: string; refs: EvidenceRef[] };
  /** The reply is written: count the use of the experiences it had. */
  used(ids: readonly string[]): Promise<void>;
  /** The person asked for another answer: the replaced one was not good enough. */
  regenerating(replaced: Message): Promise<void>;
}

/** Share of the context window that learned experiences may take. */
const EXPERIENCE_SHARE = 0.1;

/** Share of the context window that retrieved material may take. */
const CONTEXT_SHARE = 0.35;

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const hint = (err as { hint?: unknown }).hint;
  return typeof hint === 'string' && hint ? `${err.message} ${hint}` : err.message;
}

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
  /** Resolves when the reply in progress (if any) has ended and been stored. */
  #settled: Promise<void> = Promise.resolve();
  #markSettled: () => void = () => {};
  /** The conversation whose reply is being prepared or written. */
  #replyConversationId: string | null = null;
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

  #conditioning: ReplyConditioning | null = null;

  setConditioning(conditioning: ReplyConditioning | null): void {
    this.#conditioning = conditioning;
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
    // Tapping the open conversation (e.g. to close the sidebar on a phone) changes nothing.
    if (id === this.activeId) return;
    this.error = null;
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
    this.error = null;
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
    if (this.#replyConversationId === id) this.stop();
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

  /**
   * Sends the person's message and streams the reply. Resolves false when the
   * message could not be stored (the composer then gives the text back).
   */
  async send(text: string): Promise<boolean> {
    const content = text.trim();
    if (!content || this.busy) return false;
    this.error = null;
    const abort = this.#begin();
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
      if (this.activeId === conversation.id) this.messages.push(user);
      // Stored before the reply, so a fact just given can already be used for it.
      try {
        await this.#onPersonMessage(content, conversation.id);
      } catch (err) {
        console.warn('Could not look at the message for memory', err);
      }
      await this.#reply(conversation, abort);
      return true;
    } catch (err) {
      this.error = `Your message could not be sent: ${describe(err)}`;
      return false;
    } finally {
      this.#end(abort);
    }
  }

  /** Writes a new answer to the last question, replacing the answer after it. */
  async regenerate(): Promise<void> {
    const conversation = this.active;
    if (!conversation || this.busy) return;
    const lastUser = this.messages.findLastIndex((m) => m.role === 'user');
    if (lastUser < 0) return;
    this.error = null;
    const abort = this.#begin();
    try {
      const after = this.messages.slice(lastUser + 1);
      const replaced = after.findLast((m) => m.role === 'assistant' && m.content.trim() !== '');
      if (replaced && this.#conditioning) {
        // Feedback must never cost the person their new answer.
        await this.#conditioning.regenerating($state.snapshot(replaced) as Message).catch((err: unknown) => console.warn('Could not record the regeneration', err));
      }
      await this.#store.deleteMessages(after.map((m) => m.id));
      if (this.activeId === conversation.id) this.messages.splice(lastUser + 1);
      await this.#reply(conversation, abort);
    } catch (err) {
      this.error = `Could not write a new answer: ${describe(err)}`;
    } finally {
      this.#end(abort);
    }
  }

  /** Stops the reply being prepared or written. */
  stop(): void {
    this.#abort?.abort();
  }

  /** Stops any reply and waits until it has been stored (before an import or "delete everything"). */
  async stopAndSettle(): Promise<void> {
    this.stop();
    await this.#settled;
  }

  /** The chat is busy from the click until the reply ends: one reply at a time. */
  #begin(): AbortController {
    const abort = new AbortController();
    this.#abort = abort;
    this.preparing = true;
    this.#settled = new Promise((resolve) => (this.#markSettled = resolve));
    return abort;
  }

  #end(abort: AbortController): void {
    if (this.#abort === abort) this.#abort = null;
    this.preparing = false;
    this.#markSettled();
  }

  async #ensureConversation(title: string, systemPrompt: string): Promise<Conversation> {
    if (this.active) return this.active;
    const c = await this.#store.createConversation({ title, systemPrompt });
    this.conversations = await this.#store.listConversations();
    this.activeId = c.id;
    return c;
  }

  /**
   * Prepares and streams the reply to the last question of `conversation`.
   * Works from storage, not from what is on screen, so switching
   * conversations meanwhile can neither mix histories nor lose the reply.
   */
  async #reply(conversation: Conversation, abort: AbortController): Promise<void> {
    const engine = this.#engine;
    const entry = engine.loaded?.entry;
    if (!entry) {
      this.error = 'No model is loaded. Open Settings to choose and load one.';
      return;
    }
    if (abort.signal.aborted) return;
    // The person comes first: background learning gives the engine back.
    await this.#conditioning?.yieldEngine().catch((err: unknown) => console.warn('Background work did not stop cleanly', err));
    this.#replyConversationId = conversation.id;
    try {
      await this.#streamReply(conversation, entry, abort);
    } finally {
      this.#replyConversationId = null;
    }
  }

  async #streamReply(conversation: Conversation, entry: CatalogueEntry, abort: AbortController): Promise<void> {
    const engine = this.#engine;
    const stored = await this.#store.listMessages(conversation.id);
    const usable: ChatTurn[] = stored
      .filter((m) => m.content.trim() && m.status !== 'error')
      .map((m) => ({ role: m.role, content: m.content }));
    const last = usable.at(-1);
    if (!last || last.role !== 'user' || abort.signal.aborted) return;

    const { assembled, draft, experienceRefs } = await this.#prepare(conversation, entry, usable, last.content, abort.signal);
    const onScreen = () => this.activeId === conversation.id;
    if (onScreen()) this.messages.push(draft);
    this.streamingId = draft.id;
    this.preparing = false;
    // What has streamed so far, kept here: the on-screen copy may be gone if the person switched conversations.
    let streamed = '';

    try {
      const evidenceItems = [...assembled.used, ...experienceRefs];
      if (evidenceItems.length > 0) {
        const record = createEvidenceRecord(draft.id, evidenceItems, this.#now());
        await this.#store.putEvidence(record);
        if (onScreen()) this.evidence = new Map(this.evidence).set(draft.id, record);
      }
      const result = await engine.generate(
        assembled.turns,
        $state.snapshot(this.generation),
        (chunk) => {
          streamed += chunk.text;
          const m = this.messages.find((x) => x.id === draft.id);
          if (m) m.content = streamed;
          this.#scheduleSave(draft.id, streamed);
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
      const content = result.text || streamed;
      await this.#store.updateMessage(draft.id, { content, status, stats });
      this.#patchLocal(draft.id, { content, status, stats });
      if (experienceRefs.length > 0) {
        await this.#conditioning?.used(experienceRefs.map((r) => r.id)).catch((err: unknown) => console.warn('Could not count the use of experiences', err));
      }
    } catch (err) {
      this.#cancelSave();
      const text = describe(err);
      const status = streamed ? 'interrupted' : 'error';
      try {
        await this.#store.updateMessage(draft.id, { content: streamed, status, error: text });
      } catch (storeErr) {
        console.warn('Could not store the failed reply', storeErr);
      }
      this.#patchLocal(draft.id, { content: streamed, status, error: text });
      this.error = text;
    } finally {
      this.streamingId = null;
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
  ): Promise<{ assembled: AssembledPrompt; draft: Message; experienceRefs: EvidenceRef[] }> {
    const fresh = this.conversations.find((c) => c.id === conversation.id) ?? conversation;
    // Retrieval failing (no embedder yet, storage trouble) must not cost the answer.
    let items: RetrievedItem[] = [];
    try {
      items = this.#retriever ? await this.#retriever.retrieve(question, signal, entry.contextWindow) : [];
    } catch (err) {
      console.warn('Retrieval failed; answering without memories and documents', err);
    }
    let experiences: { block: string; refs: EvidenceRef[] } = { block: '', refs: [] };
    try {
      experiences = this.#conditioning?.select(question, Math.floor(entry.contextWindow * EXPERIENCE_SHARE)) ?? experiences;
    } catch (err) {
      console.warn('Could not select experiences; answering without them', err);
    }
    const assembled = assemblePrompt({
      systemPrompt: fresh.systemPrompt,
      experienceBlock: experiences.block,
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
    return { assembled, draft, experienceRefs: experiences.refs };
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
