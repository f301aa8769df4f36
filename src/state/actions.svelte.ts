/**
 * The execution layer in the UI: the actions, the person's policy for each,
 * the confirmation dialog (one at a time), the audit log, and the result of
 * the last action. Actions start only from the person's clicks.
 */
import { builtinActionRegistry, type ActionId, type AnyActionDefinition, type ValidatedRequest } from '../lib/governance/actions';
import { effectivePolicy, parsePolicyOverrides, setPolicy, type Policy, type PolicyOverrides } from '../lib/governance/policy';
import type { AuditEntry } from '../lib/governance/audit';
import { performAction, type ActionResult, type ActionRunners } from '../services/action-executor';

export interface ActionsStore {
  loadPolicies(): Promise<unknown>;
  savePolicies(overrides: PolicyOverrides): Promise<void>;
  loadAudit(limit: number): Promise<AuditEntry[]>;
  appendAudit(entry: AuditEntry): Promise<void>;
}

interface PendingConfirmation {
  action: AnyActionDefinition;
  request: ValidatedRequest;
  resolve: (ok: boolean) => void;
}

export class ActionsState {
  policies = $state.raw<PolicyOverrides>({});
  audit = $state.raw<AuditEntry[]>([]);
  pending = $state.raw<PendingConfirmation | null>(null);
  /** The last action's outcome, for a status line. */
  lastMessage = $state('');

  readonly actions = builtinActionRegistry.list();

  #store: ActionsStore;
  #runners: ActionRunners;
  #now: () => number;
  #newId: () => string;

  constructor(store: ActionsStore, runners: ActionRunners, now: () => number, newId: () => string) {
    this.#store = store;
    this.#runners = runners;
    this.#now = now;
    this.#newId = newId;
  }

  async load(): Promise<void> {
    this.policies = parsePolicyOverrides(await this.#store.loadPolicies());
    this.audit = await this.#store.loadAudit(200);
  }

  policyOf(action: AnyActionDefinition): Policy {
    return effectivePolicy(action, this.policies);
  }

  async setPolicy(actionId: ActionId, policy: Policy): Promise<string | null> {
    const result = setPolicy(this.policies, actionId, policy);
    if (!result.ok) return result.message;
    this.policies = result.overrides;
    await this.#store.savePolicies(result.overrides);
    return null;
  }

  /** Runs an action the person asked for (a click), through policy, confirmation and audit. */
  async run(actionId: ActionId, params: unknown): Promise<ActionResult> {
    return this.#perform(actionId, params, 'person');
  }

  /**
   * Runs an action by itself under the person's standing consent (origin
   * 'policy'): the gate refuses unless that action allows it and is set to
   * allow. Audited like any other.
   */
  async runAutomatically(actionId: ActionId, params: unknown): Promise<ActionResult> {
    return this.#perform(actionId, params, 'policy');
  }

  async #perform(actionId: ActionId, params: unknown, origin: 'person' | 'policy'): Promise<ActionResult> {
    const result = await performAction({ actionId, params }, origin, {
      policies: () => this.policies,
      confirm: (action, request) =>
        new Promise<boolean>((resolve) => {
          // A second confirmation never stacks on the first: the first is declined.
          this.pending?.resolve(false);
          this.pending = { action, request, resolve };
        }),
      runners: this.#runners,
      audit: async (entry) => {
        await this.#store.appendAudit(entry);
        this.audit = [entry, ...this.audit].slice(0, 200);
      },
      now: this.#now,
      newId: this.#newId,
    });
    this.lastMessage = result.outcome === 'done' ? result.result : result.message;
    return result;
  }

  answer(ok: boolean): void {
    const p = this.pending;
    this.pending = null;
    p?.resolve(ok);
  }
}
