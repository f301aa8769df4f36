import { describe, expect, it } from 'vitest';
import { conversationToMarkdown, markdownFileName } from '../../src/lib/chat/markdown-export';
import type { Conversation, Message } from '../../src/lib/chat/types';

const c: Conversation = { id: 'c', title: 'Trip to Lyon / 2026!', systemPrompt: 'Be brief.\nUse km.', createdAt: 0, updatedAt: 0 };
const m = (role: 'user' | 'assistant', content: string, status: Message['status'] = 'complete', createdAt = 0): Message => ({
  id: content, conversationId: 'c', role, content, createdAt, status, modelId: null, stats: null, error: null,
});

describe('conversationToMarkdown', () => {
  it('writes title, system prompt and every message in order', () => {
    const md = conversationToMarkdown(c, [m('user', 'How far?'), m('assistant', '**470 km**', 'stopped', 60_000)]);
    expect(md.startsWith('# Trip to Lyon / 2026!\n')).toBe(true);
    expect(md).toContain('> **System prompt:** Be brief.\n> Use km.');
    expect(md.indexOf('## You')).toBeLessThan(md.indexOf('## Assistant'));
    expect(md).toContain('## Assistant — 1 Jan 1970, 00:01 (stopped)');
    expect(md).toContain('**470 km**');
  });
  it('makes a safe file name', () => {
    expect(markdownFileName(c)).toBe('trip-to-lyon-2026.md');
    expect(markdownFileName({ ...c, title: '../../etc/passwd' })).toBe('etc-passwd.md');
    expect(markdownFileName({ ...c, title: '***' })).toBe('conversation.md');
  });
});
