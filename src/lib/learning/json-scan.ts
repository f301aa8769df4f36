/**
 * Finding JSON in a model's prose: the end of a balanced [...] or {...}.
 * Shared by the operation parser (semantic-advantage.ts) and the verifiers.
 */

/** End (exclusive) of the balanced [...] or {...} starting at `start`, or -1 when it never closes. Strings are skipped. */
export function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') stack.push(c === '[' ? ']' : '}');
    else if (c === ']' || c === '}') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}
