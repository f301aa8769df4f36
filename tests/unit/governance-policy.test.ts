import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ACTION_IDS,
  BUILTIN_ACTIONS,
  builtinActionRegistry,
  createActionRegistry,
  RISK_LEVELS,
  riskRank,
  type AnyActionDefinition,
  type RiskLevel,
} from '../../src/lib/governance/actions';
import {
  clampPolicy,
  decide,
  DEFAULT_POLICY_BY_RISK,
  effectivePolicy,
  parsePolicyOverrides,
  POLICIES,
  requiresConfirmation,
  setPolicy,
  TEXT_ORIGINS,
  type ActionRequest,
  type Origin,
  type Policy,
  type PolicyOverrides,
} from '../../src/lib/governance/policy';

const calc: ActionRequest = { actionId: 'calculate', params: { expression: '2 + 2' } };
const save: ActionRequest = { actionId: 'save-conversation-markdown', params: { conversationId: 'c1' } };
const remind: ActionRequest = { actionId: 'remind', params: { text: 'Call Ana', at: 1_900_000_000_000 } };

/** The built-ins with every risk represented: ask-network is re-registered as irreversible and available. */
const allRisks = createActionRegistry(
  BUILTIN_ACTIONS.map((a): AnyActionDefinition => (a.id === 'ask-network' ? { ...a, risk: 'irreversible', available: true } : a)),
);
const askNetwork: ActionRequest = { actionId: 'ask-network', params: { question: 'Is it going to rain?' } };

describe('action registry', () => {
  it('defines the built-in actions with their risk levels', () => {
    const risks = Object.fromEntries(builtinActionRegistry.list().map((a) => [a.id, a.risk]));
    expect(risks).toEqual({
      calculate: 'local-read',
      'save-conversation-markdown': 'local-write',
      remind: 'outward',
      'share-artifact': 'outward',
      'ask-network': 'outward',
    });
    expect(builtinActionRegistry.list().map((a) => a.id)).toEqual([...ACTION_IDS]);
    const available = builtinActionRegistry.list().filter((a) => a.available).map((a) => a.id);
    expect(available).toEqual(['calculate', 'save-conversation-markdown', 'remind', 'share-artifact']);
    // Standing consent (automatic runs) exists for sharing alone.
    expect(builtinActionRegistry.list().filter((a) => a.standingConsent).map((a) => a.id)).toEqual(['share-artifact']);
  });

  it('orders risk levels', () => {
    expect(RISK_LEVELS.map(riskRank)).toEqual([0, 1, 2, 3]);
  });

  it.each([
    'nope',
    'Calculate',
    ' calculate',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '',
    42,
    null,
    undefined,
    { toString: () => 'calculate' },
  ])('rejects the unknown id %s', (id) => {
    const found = builtinActionRegistry.lookup(id);
    expect(found.ok).toBe(false);
  });

  it('finds known ids', () => {
    const found = builtinActionRegistry.lookup('remind');
    expect(found.ok && found.action.label).toBe('Remind me');
  });

  it('refuses to build a registry with duplicate or foreign ids', () => {
    const first = BUILTIN_ACTIONS[0]!;
    expect(() => createActionRegistry([first, first])).toThrow(RangeError);
    expect(() => createActionRegistry([{ ...first, id: 'format-disk' } as unknown as AnyActionDefinition])).toThrow(RangeError);
    expect(() => createActionRegistry([{ ...first, risk: 'harmless' } as unknown as AnyActionDefinition])).toThrow(RangeError);
  });

  it('validates parameters strictly', () => {
    const found = builtinActionRegistry.lookup('remind');
    if (!found.ok) throw new Error('remind missing');
    const action = found.action;
    expect(builtinActionRegistry.checkParams(action, { text: 'x', at: 1 }).ok).toBe(true);
    expect(builtinActionRegistry.checkParams(action, { text: 'x', at: 1, extra: true }).ok).toBe(false);
    expect(builtinActionRegistry.checkParams(action, { text: '   ', at: 1 }).ok).toBe(false);
    expect(builtinActionRegistry.checkParams(action, { text: 'x'.repeat(201), at: 1 }).ok).toBe(false);
    expect(builtinActionRegistry.checkParams(action, { text: 'x', at: 1.5 }).ok).toBe(false);
    expect(builtinActionRegistry.checkParams(action, null).ok).toBe(false);
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    const r = builtinActionRegistry.checkParams(action, hostile);
    expect(r.ok).toBe(false);
  });
});

describe('policies', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_POLICY_BY_RISK).toEqual({
      'local-read': 'allow',
      'local-write': 'allow',
      outward: 'ask',
      irreversible: 'ask',
    });
  });

  it('never lets outward or irreversible actions be allowed', () => {
    for (const risk of RISK_LEVELS) {
      for (const policy of POLICIES) {
        const clamped = clampPolicy(risk, policy);
        if (requiresConfirmation(risk)) expect(clamped).not.toBe('allow');
        else expect(clamped).toBe(policy);
      }
    }
    const r = setPolicy({}, 'remind', 'allow');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('needs-confirmation');
    expect(setPolicy({}, 'ask-network', 'allow', allRisks).ok).toBe(false);
  });

  it('clamps hand-made and stored overrides that allow outward actions', () => {
    const forged = { remind: 'allow' } as PolicyOverrides;
    expect(effectivePolicy({ id: 'remind', risk: 'outward' }, forged)).toBe('ask');
    expect(parsePolicyOverrides({ remind: 'allow', calculate: 'deny' })).toEqual({ calculate: 'deny' });
    expect(decide(remind, forged, 'person').kind).toBe('confirm');
  });

  it('edits and resets overrides', () => {
    let o: PolicyOverrides = {};
    const set = (id: string, p: Policy): void => {
      const r = setPolicy(o, id, p);
      if (!r.ok) throw new Error(r.message);
      o = r.overrides;
    };
    set('calculate', 'deny');
    set('remind', 'deny');
    expect(o).toEqual({ calculate: 'deny', remind: 'deny' });
    set('remind', 'ask');
    expect(o).toEqual({ calculate: 'deny' });
    expect(setPolicy(o, 'format-disk', 'deny').ok).toBe(false);
    expect(setPolicy(o, 'calculate', 'maybe' as Policy).ok).toBe(false);
  });

  it('reads stored overrides defensively', () => {
    expect(parsePolicyOverrides(null)).toEqual({});
    expect(parsePolicyOverrides('allow')).toEqual({});
    expect(parsePolicyOverrides([])).toEqual({});
    expect(parsePolicyOverrides({ nope: 'deny', calculate: 'sometimes', remind: 'deny', 'save-conversation-markdown': 'ask' })).toEqual({
      remind: 'deny',
      'save-conversation-markdown': 'ask',
    });
    const polluted = JSON.parse('{"__proto__": {"calculate": "deny"}, "constructor": "deny"}') as unknown;
    expect(parsePolicyOverrides(polluted)).toEqual({});
  });

  it('parsed overrides never allow an action that needs confirmation (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...ACTION_IDS, 'x', '__proto__'), fc.constantFrom<unknown>(...POLICIES, 'x', 1, null)), (raw) => {
        const o = parsePolicyOverrides(raw, allRisks);
        for (const action of allRisks.list()) {
          if (requiresConfirmation(action.risk) && !action.standingConsent) expect(effectivePolicy(action, o)).not.toBe('allow');
        }
      }),
    );
  });

  it('lets the person give standing consent to sharing, and to nothing else outward', () => {
    const share = setPolicy({}, 'share-artifact', 'allow');
    expect(share).toEqual({ ok: true, overrides: { 'share-artifact': 'allow' } });
    expect(setPolicy({}, 'remind', 'allow')).toMatchObject({ ok: false, reason: 'needs-confirmation' });
    expect(parsePolicyOverrides({ 'share-artifact': 'allow', remind: 'allow' })).toEqual({ 'share-artifact': 'allow' });
  });
});

describe('decide', () => {
  it('runs local actions the person starts, by default', () => {
    const d = decide(calc, {}, 'person');
    expect(d.kind).toBe('run');
    expect(d.kind === 'run' && d.request).toEqual({ actionId: 'calculate', params: { expression: '2 + 2' } });
    expect(decide(save, {}, 'person').kind).toBe('run');
  });

  it('asks before outward and irreversible actions', () => {
    expect(decide(remind, {}, 'person').kind).toBe('confirm');
    expect(decide(askNetwork, {}, 'person', allRisks).kind).toBe('confirm');
  });

  it('follows the person’s overrides', () => {
    expect(decide(calc, { calculate: 'ask' }, 'person').kind).toBe('confirm');
    const denied = decide(save, { 'save-conversation-markdown': 'deny' }, 'person');
    expect(denied.kind === 'refuse' && denied.reason).toBe('denied');
    const remindDenied = decide(remind, { remind: 'deny' }, 'person');
    expect(remindDenied.kind === 'refuse' && remindDenied.reason).toBe('denied');
  });

  it('refuses unknown, unavailable and malformed requests', () => {
    const reason = (r: ActionRequest): string | false => {
      const d = decide(r, {}, 'person');
      return d.kind === 'refuse' && d.reason;
    };
    expect(reason({ actionId: 'format-disk', params: {} })).toBe('unknown-action');
    expect(reason({ actionId: '__proto__', params: {} })).toBe('unknown-action');
    expect(reason({ actionId: 'ask-network', params: { question: 'a' } })).toBe('not-available');
    expect(reason({ actionId: 'calculate', params: { expression: 42 } })).toBe('invalid-params');
    expect(reason({ actionId: 'calculate', params: { expression: '1', run: 'alert(1)' } })).toBe('invalid-params');
    expect(reason(null as unknown as ActionRequest)).toBe('unknown-action');
    const getterBomb = Object.defineProperty({}, 'actionId', {
      get() {
        throw new Error('boom');
      },
    }) as ActionRequest;
    expect(reason(getterBomb)).toBe('unknown-action');
  });

  it.each(TEXT_ORIGINS)('refuses every request from %s text, whatever it asks', (origin) => {
    for (const r of [calc, save, remind]) {
      const d = decide(r, {}, origin);
      expect(d.kind).toBe('refuse');
      expect(d.kind === 'refuse' && d.reason).toBe('text-origin');
    }
  });

  it('fails closed on origins that are not exactly "person"', () => {
    for (const origin of ['Person', 'person ', 'user', 'system', '', undefined, null, { toString: () => 'person' }]) {
      const d = decide(calc, {}, origin as Origin);
      expect(d.kind === 'refuse' && d.reason).toBe('text-origin');
      expect(d.kind === 'refuse' && d.suggestion).toBe(null);
    }
  });

  it('lets only the model’s text become a suggestion, and only for what the person could run', () => {
    const fromModel = decide(remind, {}, 'model');
    expect(fromModel.kind === 'refuse' && fromModel.suggestion).toEqual({
      label: 'Remind me',
      request: { actionId: 'remind', params: { text: 'Call Ana', at: 1_900_000_000_000 } },
    });
    for (const origin of ['memory', 'document', 'peer'] as const) {
      const d = decide(remind, {}, origin);
      expect(d.kind === 'refuse' && d.suggestion).toBe(null);
    }
    const denied = decide(calc, { calculate: 'deny' }, 'model');
    expect(denied.kind === 'refuse' && denied.suggestion).toBe(null);
    const invalid = decide({ actionId: 'remind', params: { text: 'x' } }, {}, 'model');
    expect(invalid.kind === 'refuse' && invalid.suggestion).toBe(null);
    const reserved = decide({ actionId: 'ask-network', params: { question: 'a' } }, {}, 'model');
    expect(reserved.kind === 'refuse' && reserved.suggestion).toBe(null);
  });

  it("runs automatic work (origin 'policy') only for an action with standing consent set to allow", () => {
    const share = { actionId: 'share-artifact', params: { artifactId: 'x1' } };
    expect(decide(share, { 'share-artifact': 'allow' }, 'policy').kind).toBe('run');
    for (const overrides of [{}, { 'share-artifact': 'ask' as const }, { 'share-artifact': 'deny' as const }]) {
      const d = decide(share, overrides, 'policy');
      expect(d.kind === 'refuse' && d.reason).toBe('denied');
    }
    // Other actions never run by themselves, whatever the settings say.
    for (const r of [calc, save, remind]) expect(decide(r, { calculate: 'allow', remind: 'allow' }, 'policy').kind).toBe('refuse');
    // With standing consent the person's own click runs without a dialog too; without it, sharing asks.
    expect(decide(share, { 'share-artifact': 'allow' }, 'person').kind).toBe('run');
    expect(decide(share, {}, 'person').kind).toBe('confirm');
  });

  const policyArb = fc.dictionary(fc.constantFrom(...ACTION_IDS), fc.constantFrom(...POLICIES)) as fc.Arbitrary<PolicyOverrides>;
  const requestArb: fc.Arbitrary<ActionRequest> = fc.record({
    actionId: fc.oneof(fc.constantFrom<unknown>(...ACTION_IDS), fc.string(), fc.anything()),
    params: fc.oneof(
      fc.record({ expression: fc.string({ minLength: 1, maxLength: 30 }) }),
      fc.record({ conversationId: fc.string({ minLength: 1, maxLength: 10 }) }),
      fc.record({ text: fc.string({ minLength: 1, maxLength: 30 }), at: fc.nat() }),
      fc.record({ question: fc.string({ minLength: 1, maxLength: 30 }) }),
      fc.anything(),
    ),
  });

  it('never runs anything for a text origin, under any policy (property)', () => {
    fc.assert(
      fc.property(requestArb, policyArb, fc.constantFrom(...TEXT_ORIGINS), (request, overrides, origin) => {
        const d = decide(request, overrides, origin, allRisks);
        expect(d.kind).toBe('refuse');
        expect(d.kind === 'refuse' && d.reason).toBe('text-origin');
      }),
      { numRuns: 500 },
    );
  });

  it('never runs an outward or irreversible action without confirmation, under any policy (property)', () => {
    fc.assert(
      fc.property(requestArb, policyArb, (request, overrides) => {
        const d = decide(request, overrides, 'person', allRisks);
        if (d.kind === 'run') {
          expect(requiresConfirmation(d.action.risk) && !d.action.standingConsent).toBe(false);
          expect(effectivePolicy(d.action, overrides)).toBe('allow');
        }
        if (d.kind !== 'refuse') expect(d.request.actionId).toBe(d.action.id);
      }),
      { numRuns: 500 },
    );
  });

  it('the decision follows the effective policy for valid requests (property)', () => {
    fc.assert(
      fc.property(policyArb, fc.constantFrom(calc, save, remind, askNetwork), (overrides, request) => {
        const d = decide(request, overrides, 'person', allRisks);
        const found = allRisks.lookup(request.actionId);
        if (!found.ok) throw new Error('missing');
        const expected: Record<Policy, string> = { allow: 'run', ask: 'confirm', deny: 'refuse' };
        expect(d.kind).toBe(expected[effectivePolicy(found.action, overrides)]);
        const risk: RiskLevel = found.action.risk;
        if (requiresConfirmation(risk) && !found.action.standingConsent) expect(d.kind).not.toBe('run');
      }),
    );
  });
});
