/**
 * The execution layer's catalogue: every action the assistant can take, with
 * its risk level and the exact shape of its parameters.
 *
 * An action that is not in the registry does not exist: lookups go through a
 * `Map` and reject unknown ids (including `__proto__`, `constructor`), and
 * parameters are checked against a strict zod schema (unknown keys rejected)
 * before any policy is consulted. The risk level, not the action's name,
 * decides how much confirmation an action needs (see policy.ts).
 *
 * Risk levels, lowest to highest:
 * - local-read:   reads or computes, changes nothing (calculate).
 * - local-write:  writes the person's own data on this device (save a
 *                 conversation as Markdown: a download of their own data).
 * - outward:      has an effect outside the app: something leaves the
 *                 instance or reaches the person outside it (a notification,
 *                 asking the network, sharing an artifact).
 * - irreversible: cannot be undone (none built in yet; reserved for actions
 *                 such as permanent deletion).
 *
 * `remind` is outward: nothing leaves the device, but the notification is
 * shown by the operating system, later, outside the app: on a lock screen
 * others may read, possibly mirrored to paired devices, and it cannot be
 * taken back once shown. Classifying it higher costs one confirmation at
 * creation time; classifying it lower would let it through unseen.
 */
import { z } from 'zod';
import { MAX_EXPRESSION_LENGTH } from './calculator';

export type RiskLevel = 'local-read' | 'local-write' | 'outward' | 'irreversible';

/** Lowest to highest. */
export const RISK_LEVELS: readonly RiskLevel[] = ['local-read', 'local-write', 'outward', 'irreversible'];

export function riskRank(risk: RiskLevel): number {
  return RISK_LEVELS.indexOf(risk);
}

export const ACTION_IDS = ['calculate', 'save-conversation-markdown', 'remind', 'share-artifact', 'ask-network'] as const;

export type ActionId = (typeof ACTION_IDS)[number];

export const REMINDER_TEXT_MAX = 200;
export const NETWORK_QUESTION_MAX = 2000;
const ID_MAX = 128;

export const calculateParams = z.strictObject({
  expression: z.string().min(1).max(MAX_EXPRESSION_LENGTH),
});

export const saveConversationMarkdownParams = z.strictObject({
  conversationId: z.string().min(1).max(ID_MAX),
});

export const remindParams = z.strictObject({
  text: z.string().trim().min(1).max(REMINDER_TEXT_MAX),
  /** When to show it, ms since the epoch. Whether it is in the future is the executor's check: it has the clock. */
  at: z.number().int().nonnegative(),
});

export const shareArtifactParams = z.strictObject({
  artifactId: z.string().min(1).max(ID_MAX),
});

export const askNetworkParams = z.strictObject({
  question: z.string().trim().min(1).max(NETWORK_QUESTION_MAX),
});

/** The validated parameters of each action. */
export interface ActionParamsById {
  calculate: z.infer<typeof calculateParams>;
  'save-conversation-markdown': z.infer<typeof saveConversationMarkdownParams>;
  remind: z.infer<typeof remindParams>;
  'share-artifact': z.infer<typeof shareArtifactParams>;
  'ask-network': z.infer<typeof askNetworkParams>;
}

/** A request whose action exists and whose parameters passed their schema. */
export type ValidatedRequest = { [K in ActionId]: { actionId: K; params: ActionParamsById[K] } }[ActionId];

export interface ActionDefinition<K extends ActionId = ActionId> {
  id: K;
  /** Short name for buttons, the confirmation dialog and the audit log. */
  label: string;
  /** One sentence on what it does, shown when the person is asked to confirm or edits its policy. */
  description: string;
  risk: RiskLevel;
  paramsSchema: z.ZodType<ActionParamsById[K]>;
  /** false: defined so policies and the audit log know it, but not implemented yet. */
  available: boolean;
  /**
   * The person may set this outward action to 'allow' (run without asking,
   * including automatically, origin 'policy'): their standing consent. Only
   * for actions whose every run is itself checked before anything leaves
   * (sharing: validation and the privacy projection). Setting it is asked
   * for separately in the UI.
   */
  standingConsent?: boolean;
}

/** Any one action's definition, with its id and schema paired. */
export type AnyActionDefinition = { [K in ActionId]: ActionDefinition<K> }[ActionId];

export const BUILTIN_ACTIONS: readonly AnyActionDefinition[] = [
  {
    id: 'calculate',
    label: 'Calculate',
    description: 'Works out an arithmetic expression on this device.',
    risk: 'local-read',
    paramsSchema: calculateParams,
    available: true,
  },
  {
    id: 'save-conversation-markdown',
    label: 'Save conversation as Markdown',
    description: 'Downloads this conversation as a Markdown file to your device.',
    risk: 'local-write',
    paramsSchema: saveConversationMarkdownParams,
    available: true,
  },
  {
    id: 'remind',
    label: 'Remind me',
    description: 'Shows a system notification with your text at the time you choose.',
    risk: 'outward',
    paramsSchema: remindParams,
    available: true,
  },
  {
    id: 'share-artifact',
    label: 'Share with the network',
    description: 'Offers one of your learned lessons, privacy-filtered, to your network (sent once you are connected to one).',
    risk: 'outward',
    paramsSchema: shareArtifactParams,
    available: true,
    standingConsent: true,
  },
  {
    id: 'ask-network',
    label: 'Ask the network',
    description: 'Sends your question to your peers and collects their answers.',
    risk: 'outward',
    paramsSchema: askNetworkParams,
    available: false,
  },
];

export type ActionLookup = { ok: true; action: AnyActionDefinition } | { ok: false; reason: 'unknown-action'; message: string };

export type ParamsCheck =
  | { ok: true; request: ValidatedRequest }
  | { ok: false; reason: 'invalid-params'; message: string };

export interface ActionRegistry {
  /** In definition order. */
  list(): readonly AnyActionDefinition[];
  /** Rejects anything that is not exactly a registered id. */
  lookup(id: unknown): ActionLookup;
  /** Validates parameters against the action's schema (never throws). */
  checkParams(action: AnyActionDefinition, params: unknown): ParamsCheck;
}

/** Rejects duplicate ids and ids outside `ActionId`, so a registry can never shadow an action. */
export function createActionRegistry(definitions: readonly AnyActionDefinition[]): ActionRegistry {
  const known = new Set<string>(ACTION_IDS);
  const byId = new Map<string, AnyActionDefinition>();
  for (const d of definitions) {
    if (!known.has(d.id)) throw new RangeError(`Unknown action id "${String(d.id)}".`);
    if (byId.has(d.id)) throw new RangeError(`Action "${d.id}" is defined twice.`);
    if (!RISK_LEVELS.includes(d.risk)) throw new RangeError(`Action "${d.id}" has an unknown risk level.`);
    byId.set(d.id, Object.freeze({ ...d }));
  }
  const list = Object.freeze([...byId.values()]);
  return {
    list: () => list,
    lookup(id) {
      const action = typeof id === 'string' ? byId.get(id) : undefined;
      if (action) return { ok: true, action };
      const shown = typeof id === 'string' ? `"${id.slice(0, 40)}"` : typeof id;
      return { ok: false, reason: 'unknown-action', message: `There is no action ${shown}.` };
    },
    checkParams(action, params) {
      let parsed: ReturnType<typeof action.paramsSchema.safeParse>;
      try {
        parsed = action.paramsSchema.safeParse(params);
      } catch {
        // A hostile object (a throwing getter or proxy) is just invalid input.
        return { ok: false, reason: 'invalid-params', message: `The parameters for ${action.label} could not be read.` };
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
        return {
          ok: false,
          reason: 'invalid-params',
          message: `Invalid parameters for ${action.label}: ${where}${issue?.message ?? 'invalid'}.`,
        };
      }
      // The schema is the one registered for action.id, so the pairing holds.
      return { ok: true, request: { actionId: action.id, params: parsed.data } as ValidatedRequest };
    },
  };
}

export const builtinActionRegistry: ActionRegistry = createActionRegistry(BUILTIN_ACTIONS);
