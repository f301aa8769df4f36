/**
 * The execution layer's gate: whether a requested action runs, needs the
 * person's confirmation, or is refused.
 *
 * Two rules no setting can change:
 * 1. Only the person can start an action. A request whose origin is text
 *    (the model's output, a memory, a document, a peer's message) is refused
 *    before its content is even looked at; the model may at most produce a
 *    suggestion the person has to click, and that click is a new request
 *    with origin 'person'. Any origin value other than exactly 'person'
 *    (or 'policy', below) counts as text, so a malformed origin fails closed.
 * 2. Outward and irreversible actions always need confirmation: their policy
 *    is at least 'ask'. Setting them to 'allow' is rejected, stored settings
 *    that say so are clamped when read, and `decide` clamps again.
 *    The one exception is an action marked `standingConsent` (sharing a
 *    lesson, whose every run passes validation and the privacy projection):
 *    the person may set it to 'allow' (the UI asks them to confirm that
 *    choice), and only then may the app run it by itself, origin 'policy'.
 *
 * Defaults per risk: local-read 'allow' (nothing changes); local-write
 * 'allow' (the person's click on "save" is the intent, the data is their own
 * and stays on their device, and a dialog for every export would train
 * people to click through the dialogs that matter); outward and irreversible
 * 'ask'. The person may tighten any action to 'ask' or 'deny'.
 */
import { z } from 'zod';
import {
  ACTION_IDS,
  builtinActionRegistry,
  type ActionId,
  type ActionRegistry,
  type AnyActionDefinition,
  type RiskLevel,
  type ValidatedRequest,
} from './actions';

export type Policy = 'allow' | 'ask' | 'deny';

export const POLICIES: readonly Policy[] = ['allow', 'ask', 'deny'];

/**
 * Who asked: a click in the UI, some text, or 'policy': the app acting
 * automatically under a standing consent the person gave for that one
 * action (ActionDefinition.standingConsent), e.g. sharing set to automatic.
 */
export type Origin = 'person' | 'model' | 'memory' | 'document' | 'peer' | 'policy';

export const TEXT_ORIGINS: readonly Exclude<Origin, 'person'>[] = ['model', 'memory', 'document', 'peer'];

export const DEFAULT_POLICY_BY_RISK: Readonly<Record<RiskLevel, Policy>> = {
  'local-read': 'allow',
  'local-write': 'allow',
  outward: 'ask',
  irreversible: 'ask',
};

/** Risks whose actions always need the person's confirmation. */
export function requiresConfirmation(risk: RiskLevel): boolean {
  return risk === 'outward' || risk === 'irreversible';
}

/** The person's choices, per action; actions absent here use their risk's default. */
export type PolicyOverrides = Readonly<Partial<Record<ActionId, Policy>>>;

function isPolicy(value: unknown): value is Policy {
  return value === 'allow' || value === 'ask' || value === 'deny';
}

/** A policy as it may apply to a risk: 'allow' becomes 'ask' where confirmation is required. */
export function clampPolicy(risk: RiskLevel, policy: Policy, standingConsent = false): Policy {
  return policy === 'allow' && requiresConfirmation(risk) && !standingConsent ? 'ask' : policy;
}

export function effectivePolicy(action: Pick<AnyActionDefinition, 'id' | 'risk' | 'standingConsent'>, overrides: PolicyOverrides): Policy {
  const own = Object.hasOwn(overrides, action.id) ? overrides[action.id] : undefined;
  return clampPolicy(action.risk, isPolicy(own) ? own : DEFAULT_POLICY_BY_RISK[action.risk], action.standingConsent === true);
}

export type SetPolicyResult =
  | { ok: true; overrides: PolicyOverrides }
  | { ok: false; reason: 'needs-confirmation' | 'unknown-action' | 'invalid-policy'; message: string };

/**
 * The person edits one action's policy. Choosing the risk's default removes
 * the override, so a later change of defaults reaches them.
 */
export function setPolicy(
  overrides: PolicyOverrides,
  actionId: string,
  policy: Policy,
  registry: ActionRegistry = builtinActionRegistry,
): SetPolicyResult {
  const found = registry.lookup(actionId);
  if (!found.ok) return { ok: false, reason: 'unknown-action', message: found.message };
  const { action } = found;
  if (!isPolicy(policy)) return { ok: false, reason: 'invalid-policy', message: 'A policy is allow, ask or deny.' };
  if (clampPolicy(action.risk, policy, action.standingConsent === true) !== policy) {
    return {
      ok: false,
      reason: 'needs-confirmation',
      message: `${action.label} acts outside the app, so it always asks before it runs.`,
    };
  }
  const next: Partial<Record<ActionId, Policy>> = { ...overrides };
  if (policy === DEFAULT_POLICY_BY_RISK[action.risk]) delete next[action.id];
  else next[action.id] = policy;
  return { ok: true, overrides: next };
}

const storedOverrides = z.record(z.string(), z.unknown());

/**
 * Reads stored overrides (settings, an imported backup) defensively: unknown
 * actions and values are dropped, and 'allow' on an action that needs
 * confirmation is lowered to 'ask'.
 */
export function parsePolicyOverrides(raw: unknown, registry: ActionRegistry = builtinActionRegistry): PolicyOverrides {
  const parsed = storedOverrides.safeParse(raw);
  if (!parsed.success) return {};
  const result: Partial<Record<ActionId, Policy>> = {};
  for (const id of ACTION_IDS) {
    if (!Object.hasOwn(parsed.data, id)) continue;
    const value = parsed.data[id];
    const found = registry.lookup(id);
    if (!found.ok || !isPolicy(value)) continue;
    const policy = clampPolicy(found.action.risk, value, found.action.standingConsent === true);
    if (policy !== DEFAULT_POLICY_BY_RISK[found.action.risk]) result[id] = policy;
  }
  return result;
}

/** What the UI or the model asks for. Untyped on purpose: it may come from anywhere. */
export interface ActionRequest {
  actionId: unknown;
  params: unknown;
}

export type RefusalReason = 'text-origin' | 'unknown-action' | 'not-available' | 'invalid-params' | 'denied';

/** A button the UI may show: clicking it makes a new request with origin 'person'. */
export interface ActionSuggestion {
  request: ValidatedRequest;
  label: string;
}

export type Decision =
  | { kind: 'run'; action: AnyActionDefinition; request: ValidatedRequest; policy: 'allow' }
  | { kind: 'confirm'; action: AnyActionDefinition; request: ValidatedRequest; policy: 'ask' }
  | {
      kind: 'refuse';
      reason: RefusalReason;
      message: string;
      /** The action, when the request named a known one (for the audit log). */
      action: AnyActionDefinition | null;
      /** Only for the model's own text, only when the person could run it. */
      suggestion: ActionSuggestion | null;
    };

export type DecisionKind = Decision['kind'];

type Checked =
  | { ok: true; action: AnyActionDefinition; request: ValidatedRequest; policy: Policy }
  | { ok: false; reason: Exclude<RefusalReason, 'text-origin'>; message: string; action: AnyActionDefinition | null };

/** The request's fields, read once; a throwing getter or a non-object reads as nothing. */
function readRequest(request: unknown): { actionId: unknown; params: unknown } {
  try {
    const r = request as ActionRequest | null | undefined;
    return { actionId: r?.actionId, params: r?.params };
  } catch {
    return { actionId: undefined, params: undefined };
  }
}

function check(request: unknown, overrides: PolicyOverrides, registry: ActionRegistry): Checked {
  const { actionId, params } = readRequest(request);
  const found = registry.lookup(actionId);
  if (!found.ok) return { ok: false, reason: 'unknown-action', message: found.message, action: null };
  const { action } = found;
  if (!action.available) {
    return { ok: false, reason: 'not-available', message: `${action.label} is not available yet.`, action };
  }
  const checked = registry.checkParams(action, params);
  if (!checked.ok) return { ok: false, reason: 'invalid-params', message: checked.message, action };
  return { ok: true, action, request: checked.request, policy: effectivePolicy(action, overrides) };
}

/**
 * Decides what happens to a request. Never throws: anything malformed is a
 * refusal with a reason.
 */
export function decide(
  request: ActionRequest,
  overrides: PolicyOverrides,
  origin: Origin,
  registry: ActionRegistry = builtinActionRegistry,
): Decision {
  if (origin === 'policy') {
    // Automatic work (sharing set to automatic) runs only where the person
    // gave standing consent to exactly this action; otherwise it waits for them.
    const checked = check(request, overrides, registry);
    if (!checked.ok) {
      return { kind: 'refuse', reason: checked.reason, message: checked.message, action: checked.action, suggestion: null };
    }
    if (checked.action.standingConsent === true && checked.policy === 'allow') {
      return { kind: 'run', action: checked.action, request: checked.request, policy: 'allow' };
    }
    return {
      kind: 'refuse',
      reason: 'denied',
      message: `${checked.action.label} runs by itself only when you set it to run automatically.`,
      action: checked.action,
      suggestion: null,
    };
  }
  if (origin !== 'person') {
    // Refused before the content is examined; the content only names the action for the
    // audit log and, for the model's own text, shapes a suggestion.
    const found = registry.lookup(readRequest(request).actionId);
    const checked = origin === 'model' ? check(request, overrides, registry) : null;
    const suggestion =
      checked?.ok && checked.policy !== 'deny' ? { request: checked.request, label: checked.action.label } : null;
    return {
      kind: 'refuse',
      reason: 'text-origin',
      message: `Actions only run when you start them; this request came from ${describeOrigin(origin)}.`,
      action: found.ok ? found.action : null,
      suggestion,
    };
  }
  const checked = check(request, overrides, registry);
  if (!checked.ok) {
    return { kind: 'refuse', reason: checked.reason, message: checked.message, action: checked.action, suggestion: null };
  }
  const { action } = checked;
  switch (checked.policy) {
    case 'deny':
      return {
        kind: 'refuse',
        reason: 'denied',
        message: `${action.label} is turned off in your settings.`,
        action,
        suggestion: null,
      };
    case 'ask':
      return { kind: 'confirm', action, request: checked.request, policy: 'ask' };
    case 'allow':
      // effectivePolicy already clamps; checked again so this branch alone upholds rule 2.
      return requiresConfirmation(action.risk) && action.standingConsent !== true
        ? { kind: 'confirm', action, request: checked.request, policy: 'ask' }
        : { kind: 'run', action, request: checked.request, policy: 'allow' };
  }
}

function describeOrigin(origin: unknown): string {
  switch (origin) {
    case 'model':
      return "the assistant's own text";
    case 'memory':
      return 'a stored memory';
    case 'document':
      return 'a document';
    case 'peer':
      return 'a peer on the network';
    default:
      return 'an unknown source';
  }
}
