/**
 * The execution layer at run time: every action goes through `decide`
 * (src/lib/governance/policy.ts), asks the person where the policy says so,
 * runs, and lands in the audit log, whatever happens. Only this module runs
 * actions, and nothing in the chat path calls it with text: the UI calls it
 * from a click, with origin 'person'.
 */
import { decide, type ActionRequest, type Origin, type PolicyOverrides } from '../lib/governance/policy';
import { buildAuditEntry, type AuditEntry, type AuditOutcome } from '../lib/governance/audit';
import type { AnyActionDefinition, ValidatedRequest } from '../lib/governance/actions';

export interface ActionRunners {
  /** Each returns a short result line for the person and the audit log. */
  run(request: ValidatedRequest): Promise<string>;
}

export interface ExecutorDeps {
  policies: () => PolicyOverrides;
  /** Shows the confirmation dialog; resolves true only when the person confirms. */
  confirm: (action: AnyActionDefinition, request: ValidatedRequest) => Promise<boolean>;
  runners: ActionRunners;
  audit: (entry: AuditEntry) => Promise<void>;
  now: () => number;
  newId: () => string;
}

export type ActionResult =
  | { outcome: 'done'; result: string }
  | { outcome: Exclude<AuditOutcome, 'done'>; message: string };

export async function performAction(request: ActionRequest, origin: Origin, deps: ExecutorDeps): Promise<ActionResult> {
  const decision = decide(request, deps.policies(), origin);
  const record = (outcome: AuditOutcome, extra: { result?: string; error?: unknown } = {}) =>
    deps.audit(buildAuditEntry({ id: deps.newId(), at: deps.now(), request, origin, decision, outcome, ...extra }));

  if (decision.kind === 'refuse') {
    await record('refused');
    return { outcome: 'refused', message: decision.message };
  }
  if (decision.kind === 'confirm' && !(await deps.confirm(decision.action, decision.request))) {
    await record('cancelled');
    return { outcome: 'cancelled', message: `${decision.action.label} was cancelled.` };
  }
  try {
    const result = await deps.runners.run(decision.request);
    await record('done', { result });
    return { outcome: 'done', result };
  } catch (error) {
    await record('failed', { error });
    return { outcome: 'failed', message: error instanceof Error ? error.message : String(error) };
  }
}
