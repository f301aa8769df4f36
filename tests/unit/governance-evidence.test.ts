import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyMark,
  createEvidenceRecord,
  itemMark,
  type ClaimMark,
  type EvidenceRef,
  type MarkEvent,
} from '../../src/lib/governance/evidence';
import { assemblePrompt } from '../../src/lib/governance/prompt-assembly';

const memory: EvidenceRef = {
  kind: 'memory',
  id: 'm1',
  title: 'Trip',
  snippet: 'The trip is to Porto.',
  score: 0.9,
  truncated: false,
  provenance: { kind: 'memory', createdAt: 1, conversationId: null },
};
const artifact: EvidenceRef = {
  kind: 'artifact',
  id: 'a1',
  title: 'Porto weather',
  snippet: 'Mild in May.',
  score: 0.4,
  truncated: false,
  provenance: { kind: 'artifact', artifactId: 'a1', author: 'peer-7', acceptance: 0.7, endorsers: ['peer-2', 'peer-3'] },
};

const mark = (target: MarkEvent['target'], m: ClaimMark, at = 100): MarkEvent => ({ type: 'mark', target, mark: m, at });

describe('evidence records', () => {
  it('start unmarked, holding a copy of the items', () => {
    const items = [memory, artifact];
    const r = createEvidenceRecord('msg-1', items, 50);
    items.pop();
    expect(r).toEqual({ messageId: 'msg-1', items: [memory, artifact], createdAt: 50, mark: null, markedAt: null, itemMarks: [] });
  });

  it('are built from exactly what prompt assembly used', () => {
    const assembled = assemblePrompt({
      systemPrompt: '',
      standingInstructions: '',
      items: [
        { kind: 'memory', id: 'm1', title: 'Trip', text: 'The trip is to Porto.', score: 0.9, provenance: memory.provenance },
        { kind: 'artifact', id: 'a1', title: 'Porto weather', text: 'Mild in May.', score: 0.4, provenance: artifact.provenance },
      ],
      history: [],
      question: 'Where am I going?',
      contextWindow: 2048,
      reserveForReply: 256,
      contextBudget: 512,
    });
    expect(createEvidenceRecord('msg-1', assembled.used, 50).items).toEqual([memory, artifact]);
  });

  it('mark the answer, and unmark it', () => {
    const r0 = createEvidenceRecord('msg-1', [memory], 50);
    const r1 = applyMark(r0, mark({ type: 'answer' }, 'verified', 60));
    expect(r1.mark).toBe('verified');
    expect(r1.markedAt).toBe(60);
    expect(r0.mark).toBe(null);
    const r2 = applyMark(r1, mark({ type: 'answer' }, 'disputed', 70));
    expect([r2.mark, r2.markedAt]).toEqual(['disputed', 70]);
    const r3 = applyMark(r2, mark({ type: 'answer' }, null, 80));
    expect([r3.mark, r3.markedAt]).toEqual([null, null]);
  });

  it('mark single items the answer used, sorted by kind then id', () => {
    let r = createEvidenceRecord('msg-1', [artifact, memory], 50);
    r = applyMark(r, mark({ type: 'item', kind: 'artifact', id: 'a1' }, 'disputed', 61));
    r = applyMark(r, mark({ type: 'item', kind: 'memory', id: 'm1' }, 'verified', 62));
    expect(r.itemMarks).toEqual([
      { kind: 'memory', id: 'm1', mark: 'verified', at: 62 },
      { kind: 'artifact', id: 'a1', mark: 'disputed', at: 61 },
    ]);
    expect(itemMark(r, 'artifact', 'a1')).toBe('disputed');
    r = applyMark(r, mark({ type: 'item', kind: 'artifact', id: 'a1' }, null));
    expect(itemMark(r, 'artifact', 'a1')).toBe(null);
    expect(r.itemMarks).toHaveLength(1);
  });

  it('return the same record when nothing changes', () => {
    const r = applyMark(createEvidenceRecord('msg-1', [memory], 50), mark({ type: 'answer' }, 'verified'));
    expect(applyMark(r, mark({ type: 'answer' }, 'verified', 999))).toBe(r);
    expect(applyMark(r, mark({ type: 'item', kind: 'memory', id: 'nope' }, 'verified'))).toBe(r);
    expect(applyMark(r, mark({ type: 'item', kind: 'document', id: 'm1' }, 'verified'))).toBe(r);
    expect(applyMark(r, mark({ type: 'item', kind: 'memory', id: 'm1' }, null))).toBe(r);
    expect(applyMark(r, mark({ type: 'answer' }, 'true' as ClaimMark))).toBe(r);
  });

  it('keep one mark per item whatever the sequence of events (property)', () => {
    const targetArb = fc.oneof(
      fc.constant<MarkEvent['target']>({ type: 'answer' }),
      fc.constantFrom<MarkEvent['target']>(
        { type: 'item', kind: 'memory', id: 'm1' },
        { type: 'item', kind: 'artifact', id: 'a1' },
        { type: 'item', kind: 'document', id: 'x' },
      ),
    );
    const eventArb = fc.record({ target: targetArb, mark: fc.constantFrom<ClaimMark>('verified', 'disputed', null), at: fc.nat() });
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        const r = events.reduce((acc, e) => applyMark(acc, { type: 'mark', ...e }), createEvidenceRecord('m', [memory, artifact], 0));
        const keys = r.itemMarks.map((m) => `${m.kind}:${m.id}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.every((k) => k === 'memory:m1' || k === 'artifact:a1')).toBe(true);
        for (const t of ['memory:m1', 'artifact:a1']) {
          const [kind, id] = t.split(':') as ['memory' | 'artifact', string];
          const last = [...events].reverse().find((e) => e.target.type === 'item' && e.target.kind === kind && e.target.id === id);
          expect(itemMark(r, kind, id)).toBe(last?.mark ?? null);
        }
        const lastAnswer = [...events].reverse().find((e) => e.target.type === 'answer');
        expect(r.mark).toBe(lastAnswer?.mark ?? null);
      }),
    );
  });
});
