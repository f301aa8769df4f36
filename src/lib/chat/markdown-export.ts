/**
 * A conversation as a Markdown file the person can keep: title, system
 * prompt, and each message under a heading with its time. The person's own
 * text is quoted as written; replies are already Markdown. Pure.
 */
import type { Conversation, Message } from './types';

export function conversationToMarkdown(conversation: Conversation, messages: readonly Message[], timeZone?: string): string {
  const when = (ms: number) =>
    new Date(ms).toLocaleString('en-GB', { timeZone: timeZone ?? 'UTC', dateStyle: 'medium', timeStyle: 'short' });
  const out: string[] = [`# ${conversation.title.replace(/\s+/g, ' ').trim() || 'Conversation'}`, ''];
  if (conversation.systemPrompt.trim()) {
    out.push('> **System prompt:** ' + conversation.systemPrompt.trim().replace(/\n/g, '\n> '), '');
  }
  for (const m of messages) {
    const who = m.role === 'user' ? 'You' : 'Assistant';
    const note = m.status === 'stopped' ? ' (stopped)' : m.status === 'interrupted' ? ' (interrupted)' : m.status === 'error' ? ' (failed)' : '';
    out.push(`## ${who} — ${when(m.createdAt)}${note}`, '', m.content.trim() || '_(empty)_', '');
  }
  return out.join('\n');
}

/** A safe file name from the title: letters, digits and dashes only. */
export function markdownFileName(conversation: Conversation): string {
  const slug = conversation.title
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .toLowerCase();
  return `${slug || 'conversation'}.md`;
}
