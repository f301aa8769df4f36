/**
 * The audit log's entries: every action request, whatever became of it,
 * lands here, including the refused ones (a refusal of an injected request
 * is exactly what the person may want to see).
 *
 * Entries are built by a pure function from the request, the policy's
 * decision and the outcome, so what the log says cannot drift from what the
 * gate decided; impossible pairs (a refused request that "ran") are
 * programming errors and throw. Parameters are shown through `redactParams`:
 * bounded in length, depth and breadth, stripped of control and bidi
 * characters (a filename must not be able to reorder the log line), with
 * secret-looking keys hidden. A hostile object (cycles, throwing getters,
 * proxies) yields a placeholder, never an exception.
 */
import type { RiskLevel } from './actions';
import { TEXT_ORIGINS, type ActionRequest, type Decision, type DecisionKind, type Origin, type RefusalReason } from './policy';
import { sanitizeUntrustedText, truncateAtWord } from './prompt-assembly';

export type AuditOutcome = 'done' | 'failed' | 'cancelled' | 'refused';

/** A request's origin as recorded; 'unknown' when the value was not an `Origin` at all. */
export type AuditOrigin = Origin | 'unknown';

export interface AuditEntry {
  id: string;
  /** ms since the epoch */
  at: number;
  /** The action asked for (bounded; may name no real action when it was refused as unknown). */
  actionId: string;
  /** null when the action is unknown. */
  risk: RiskLevel | null;
  origin: AuditOrigin;
  decision: DecisionKind;
  outcome: AuditOutcome;
  /** One line for the log view: the action, its (redacted) parameters and what came of it. */
  summary: string;
  /** Why it was refused. */
  reason?: RefusalReason;
  /** What went wrong, when it failed. */
  error?: string;
}

export interface AuditInput {
  id: string;
  at: number;
  request: ActionRequest;
  origin: Origin;
  decision: Decision;
  outcome: AuditOutcome;
  /** What came of it, e.g. "= 4" or "saved chat.md" (bounded). */
  result?: string;
  /** The failure, when outcome is 'failed'. */
  error?: unknown;
}

export const SUMMARY_MAX = 300;
export const ERROR_MAX = 300;
const ACTION_ID_MAX = 64;

const OUTCOMES_BY_DECISION: Readonly<Record<DecisionKind, readonly AuditOutcome[]>> = {
  run: ['done', 'failed'],
  confirm: ['done', 'failed', 'cancelled'],
  refuse: ['refused'],
};

export interface RedactionLimits {
  /** Length of the whole rendering. */
  maxLength: number;
  /** Length of any one string value. */
  maxStringLength: number;
  /** Nesting shown before `{…}`. */
  maxDepth: number;
  /** Keys or array items shown per level. */
  maxEntries: number;
}

export const DEFAULT_REDACTION: RedactionLimits = { maxLength: 200, maxStringLength: 60, maxDepth: 3, maxEntries: 8 };

const SECRET_KEY = /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|credential|auth/i;

/** One line of plain text, no control or invisible characters. */
function oneLine(text: string): string {
  return sanitizeUntrustedText(text).replace(/\s+/g, ' ').trim();
}

function renderValue(value: unknown, depth: number, limits: RedactionLimits): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(truncateAtWord(oneLine(value), limits.maxStringLength));
    case 'number':
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${truncateAtWord(String(value), 20)}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'symbol';
    case 'function':
      return 'function';
  }
  if (value === null) return 'null';
  const array = Array.isArray(value);
  if (depth >= limits.maxDepth) return array ? '[…]' : '{…}';
  const parts: string[] = [];
  let more = false;
  if (array) {
    const items = value as unknown[];
    for (let i = 0; i < Math.min(items.length, limits.maxEntries); i++) parts.push(renderField(() => items[i], depth, limits));
    more = items.length > limits.maxEntries;
  } else {
    // for..in stops early on huge objects, where Object.keys would list them all.
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (parts.length >= limits.maxEntries) {
        more = true;
        break;
      }
      const shownKey = truncateAtWord(oneLine(key), 24);
      const shown = SECRET_KEY.test(key) ? '[redacted]' : renderField(() => (value as Record<string, unknown>)[key], depth, limits);
      parts.push(`${shownKey}: ${shown}`);
    }
  }
  if (more) parts.push('…');
  return array ? `[${parts.join(', ')}]` : `{${parts.join(', ')}}`;
}

function renderField(read: () => unknown, depth: number, limits: RedactionLimits): string {
  try {
    return renderValue(read(), depth + 1, limits);
  } catch {
    return '[unreadable]';
  }
}

/** Parameters as one bounded line for the audit log. Never throws. */
export function redactParams(params: unknown, limits: RedactionLimits = DEFAULT_REDACTION): string {
  let text: string;
  try {
    text = renderValue(params, 0, limits);
  } catch {
    text = '[unreadable]';
  }
  return truncateAtWord(text, limits.maxLength);
}

/** An error as one bounded line. Never throws. */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    text = 'Unknown error';
  }
  return truncateAtWord(oneLine(text), ERROR_MAX);
}

function isOrigin(value: unknown): value is Origin {
  return value === 'person' || value === 'policy' || (TEXT_ORIGINS as readonly unknown[]).includes(value);
}

function read(request: ActionRequest, key: keyof ActionRequest): unknown {
  try {
    return (request as ActionRequest | null)?.[key];
  } catch {
    return undefined;
  }
}

export function buildAuditEntry(input: AuditInput): AuditEntry {
  const { decision, outcome } = input;
  if (!OUTCOMES_BY_DECISION[decision.kind].includes(outcome)) {
    throw new RangeError(`A "${decision.kind}" decision cannot end "${outcome}".`);
  }
  const action = decision.action;
  const rawId = read(input.request, 'actionId');
  const actionId = action?.id ?? (typeof rawId === 'string' ? truncateAtWord(oneLine(rawId), ACTION_ID_MAX) : `(${typeof rawId})`);
  const params = decision.kind === 'refuse' ? read(input.request, 'params') : decision.request.params;
  const what = `${action?.label ?? 'Unknown action'} ${redactParams(params)}`;
  let end: string;
  switch (outcome) {
    case 'done':
      end = input.result === undefined ? 'done' : `done: ${oneLine(input.result)}`;
      break;
    case 'failed':
      end = 'failed';
      break;
    case 'cancelled':
      end = 'cancelled by you';
      break;
    case 'refused':
      end = `refused: ${decision.kind === 'refuse' ? decision.message : ''}`;
      break;
  }
  const entry: AuditEntry = {
    id: input.id,
    at: input.at,
    actionId,
    risk: action?.risk ?? null,
    origin: isOrigin(input.origin) ? input.origin : 'unknown',
    decision: decision.kind,
    outcome,
    summary: truncateAtWord(`${what} — ${end}`, SUMMARY_MAX),
  };
  if (decision.kind === 'refuse') entry.reason = decision.reason;
  if (outcome === 'failed') entry.error = describeError(input.error ?? 'Unknown error');
  return entry;
}

export const AUDIT_LOG_MAX = 1000;

/** Adds an entry, newest last, keeping at most `max` (the oldest go first). */
export function appendAuditEntry(log: readonly AuditEntry[], entry: AuditEntry, max: number = AUDIT_LOG_MAX): AuditEntry[] {
  const next = [...log, entry];
  return next.length > max ? next.slice(next.length - Math.max(0, max)) : next;
}
