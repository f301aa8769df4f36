/**
 * The chat domain: conversations and their messages as stored and exported.
 * Pure types; ids are strings made by the caller (crypto.randomUUID in the app).
 */

export interface Conversation {
  id: string;
  title: string;
  /** Per-conversation system prompt ('' for none). */
  systemPrompt: string;
  /** ms since epoch */
  createdAt: number;
  updatedAt: number;
}

/**
 * - `streaming`: a reply being written right now (persisted as it grows);
 * - `complete`: the model finished;
 * - `stopped`: the person stopped it;
 * - `interrupted`: the tab closed or the worker died mid-reply; kept as far as it got;
 * - `error`: generation failed before producing anything useful (see `error`).
 */
export type MessageStatus = 'streaming' | 'complete' | 'stopped' | 'interrupted' | 'error';

export interface MessageStats {
  tokens: number;
  tokensPerSecond: number;
  ttftMs: number;
  totalMs: number;
}

export interface Message {
  id: string;
  conversationId: string;
  role: 'user' | 'assistant';
  content: string;
  createdAt: number;
  status: MessageStatus;
  /** Catalogue id of the model that wrote it (assistant messages). */
  modelId: string | null;
  stats: MessageStats | null;
  /** Failure text shown with the message (status 'error'). */
  error: string | null;
}

/** A settings record: a small key/value table. */
export interface SettingRecord {
  key: string;
  value: unknown;
}
