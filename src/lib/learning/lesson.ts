/**
 * A lesson drafted from a correction, for the person to review: when they
 * correct an answer, the Learning panel offers "When <condition>, <strategy>"
 * prefilled from the question and their correction, which they edit and
 * save (or discard). Deterministic and model-free, so it works with any
 * engine, including one too small to propose anything itself; the model's
 * own proposals come from the rollout job (pipeline.ts).
 */
import { MAX_CONDITION_LENGTH, MAX_STRATEGY_LENGTH, parseExperienceText } from './experience';
import { contentTokens } from './experience';

/** Content words of the question shown in the condition. */
export const LESSON_CONDITION_WORDS = 8;
const STRATEGY_CHARS = Math.min(MAX_STRATEGY_LENGTH, 240);

function firstSentence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/[.!?](\s|$)/);
  return end > 0 ? flat.slice(0, end + 1) : flat;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const at = text.lastIndexOf(' ', max - 1);
  return `${text.slice(0, at > max / 2 ? at : max - 1)}…`;
}

/**
 * The draft, always a valid experience text (parseExperienceText accepts it),
 * or null when the question or the correction has no words to build on.
 */
export function draftLesson(task: string, correction: string): string | null {
  const words = [...contentTokens(task)].slice(0, LESSON_CONDITION_WORDS);
  const gist = firstSentence(correction);
  if (words.length === 0 || gist === '') return null;
  // A condition may not hold a comma: the first comma ends it.
  const condition = cut(`asked about ${words.join(' ')}`, MAX_CONDITION_LENGTH);
  const strategy = cut(`answer as the person corrected it: ${gist}`, STRATEGY_CHARS);
  const parsed = parseExperienceText(`When ${condition}, ${strategy}`);
  return parsed.ok ? parsed.text : null;
}
