import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { estimateTokens, fitContextWindow } from '../../src/lib/chat/context-window';
import { titleFromMessage, TITLE_MAX, UNTITLED } from '../../src/lib/chat/title';
import type { ChatTurn } from '../../src/lib/engine/contract';

const turn = (role: 'user' | 'assistant', content: string): ChatTurn => ({ role, content });

describe('fitContextWindow', () => {
  it('keeps everything when it fits, system prompt first', () => {
    const h = [turn('user', 'hi'), turn('assistant', 'hello'), turn('user', 'how are you?')];
    const r = fitContextWindow('Be brief.', h, 2048, 256);
    expect(r.turns[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(r.turns.slice(1)).toEqual(h);
    expect(r.dropped).toBe(0);
  });

  it('drops the oldest turns first and always keeps the newest question', () => {
    const long = 'x'.repeat(4000);
    const h = [turn('user', long), turn('assistant', long), turn('user', 'short question')];
    const r = fitContextWindow('', h, 600, 256);
    expect(r.turns.at(-1)).toEqual(turn('user', 'short question'));
    expect(r.turns).toHaveLength(1);
    expect(r.dropped).toBe(2);
  });

  it('never starts the kept history with an assistant turn', () => {
    const h = [turn('user', 'y'.repeat(2000)), turn('assistant', 'a'), turn('user', 'b')];
    const r = fitContextWindow('', h, 300, 100);
    expect(r.turns[0]!.role).toBe('user');
  });

  it('stays within budget whenever more than the newest turn is kept (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 400 })), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 64, max: 4096 }),
        (raw, ctx) => {
          const h = raw.map(([u, c]) => turn(u ? 'user' : 'assistant', c));
          h[h.length - 1] = turn('user', h.at(-1)!.content);
          const r = fitContextWindow('', h, ctx, 32);
          expect(r.turns.at(-1)).toEqual(h.at(-1));
          const used = r.turns.reduce((n, t) => n + estimateTokens(t.content), 0);
          if (r.turns.length > 1) expect(used).toBeLessThanOrEqual(ctx - 32);
          // kept turns are a suffix of the history, in order
          expect(h.slice(h.length - r.turns.length)).toEqual(r.turns);
        },
      ),
    );
  });
});

describe('titleFromMessage', () => {
  it('uses the first words on one line', () => {
    expect(titleFromMessage('  What is\nthe capital of France?  ')).toBe('What is the capital of France?');
  });
  it('cuts long text at a word boundary with an ellipsis', () => {
    const t = titleFromMessage('word '.repeat(40));
    expect(t.length).toBeLessThanOrEqual(TITLE_MAX + 1);
    expect(t.endsWith('…')).toBe(true);
    expect(t).not.toMatch(/ …$/);
  });
  it('falls back for empty text', () => {
    expect(titleFromMessage('   ')).toBe(UNTITLED);
  });
});
