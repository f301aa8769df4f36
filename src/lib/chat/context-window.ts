/**
 * Which turns of a conversation fit the model's context window.
 *
 * The system prompt and the newest user turn always go in; older turns are
 * added newest-first while they fit, so a long conversation keeps its recent
 * context instead of failing. Token counts are estimated (about four
 * characters a token for English text, rounded up per turn), with room kept
 * for the reply: exact counts would need the tokenizer on the main thread.
 */
import type { ChatTurn } from '../engine/contract';

export const CHARS_PER_TOKEN = 4;
/** Tokens a chat template adds around each turn (role markers, separators). */
export const TOKENS_PER_TURN_OVERHEAD = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN) + TOKENS_PER_TURN_OVERHEAD;
}

export interface WindowResult {
  turns: ChatTurn[];
  /** How many older turns were left out to fit. */
  dropped: number;
}

/**
 * @param systemPrompt '' for none
 * @param history earlier turns, oldest first, ending with the newest user turn
 */
export function fitContextWindow(
  systemPrompt: string,
  history: ChatTurn[],
  contextWindow: number,
  reserveForReply: number,
): WindowResult {
  const system: ChatTurn[] = systemPrompt.trim() ? [{ role: 'system', content: systemPrompt }] : [];
  let budget = contextWindow - reserveForReply - system.reduce((n, t) => n + estimateTokens(t.content), 0);
  const kept: ChatTurn[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const turn = history[i]!;
    const cost = estimateTokens(turn.content);
    // The newest turn is the question being asked: it always goes in.
    if (kept.length > 0 && cost > budget) break;
    kept.unshift(turn);
    budget -= cost;
  }
  // A reply must follow a user turn in every chat template we use; an
  // assistant turn left first after trimming would confuse some templates.
  while (kept.length > 1 && kept[0]!.role === 'assistant') kept.shift();
  return { turns: [...system, ...kept], dropped: history.length - kept.length };
}
