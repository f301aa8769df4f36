import { describe, expect, it, vi } from 'vitest';
import { performAction, type ExecutorDeps } from '../../src/services/action-executor';
import type { AuditEntry } from '../../src/lib/governance/audit';
import type { Origin } from '../../src/lib/governance/policy';

function deps(over: Partial<ExecutorDeps> = {}) {
  const audit: AuditEntry[] = [];
  const run = vi.fn(async () => 'ok');
  const confirm = vi.fn(async () => true);
  let n = 0;
  const d: ExecutorDeps = {
    policies: () => ({}),
    confirm,
    runners: { run },
    audit: async (e) => void audit.push(e),
    now: () => 1000,
    newId: () => `a${n++}`,
    ...over,
  };
  return { d, audit, run, confirm };
}

describe('performAction', () => {
  it('runs an allowed action at once and audits it', async () => {
    const { d, audit, run, confirm } = deps();
    const r = await performAction({ actionId: 'calculate', params: { expression: '1+1' } }, 'person', d);
    expect(r).toEqual({ outcome: 'done', result: 'ok' });
    expect(run).toHaveBeenCalledOnce();
    expect(confirm).not.toHaveBeenCalled();
    expect(audit.map((e) => e.outcome)).toEqual(['done']);
  });

  it('asks before an outward action and does nothing when declined', async () => {
    const { d, audit, run } = deps({ confirm: async () => false });
    const r = await performAction({ actionId: 'remind', params: { text: 'x', at: 5000 } }, 'person', d);
    expect(r.outcome).toBe('cancelled');
    expect(run).not.toHaveBeenCalled();
    expect(audit.map((e) => e.outcome)).toEqual(['cancelled']);
  });

  it('never runs anything asked for by text, whatever it says', async () => {
    for (const origin of ['model', 'memory', 'document', 'peer', 'Person', '' as Origin] as Origin[]) {
      const { d, audit, run, confirm } = deps();
      const r = await performAction({ actionId: 'calculate', params: { expression: '6*7' } }, origin, d);
      expect(r.outcome).toBe('refused');
      expect(run).not.toHaveBeenCalled();
      expect(confirm).not.toHaveBeenCalled();
      expect(audit).toHaveLength(1);
    }
  });

  it('records a failing action as failed with its reason', async () => {
    const { d, audit } = deps({ runners: { run: async () => { throw new Error('disk full'); } } });
    const r = await performAction({ actionId: 'calculate', params: { expression: '1' } }, 'person', d);
    expect(r).toEqual({ outcome: 'failed', message: 'disk full' });
    expect(audit[0]?.error).toContain('disk full');
  });
});
