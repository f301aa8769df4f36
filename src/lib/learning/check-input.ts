/**
 * A check the person attaches to an answer, from what they type: an expected
 * number, an example of the JSON the answer should produce, or unit tests
 * for the JavaScript it should contain. Their text is parsed here, never
 * evaluated: unit tests run only in the code sandbox, against an answer.
 */
import { extractFinalNumber, parseVerifier, shapeOf, type Verifier } from './verifiers';

export const CHECK_KINDS = ['number', 'json-example', 'unit-tests'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

export type CheckInput = { ok: true; verifier: Verifier } | { ok: false; reason: string };

export function checkFromInput(kind: CheckKind, text: string): CheckInput {
  const input = text.trim();
  if (!input) return { ok: false, reason: 'Write the check first.' };
  let candidate: unknown;
  switch (kind) {
    case 'number': {
      const expected = extractFinalNumber(input);
      if (expected === null) return { ok: false, reason: 'That is not a number.' };
      // A tiny relative tolerance: 0.1 + 0.2 is 0.3, and so is a rounded answer to 9 digits.
      candidate = { kind: 'number', expected, tolerance: Math.abs(expected) * 1e-9 };
      break;
    }
    case 'json-example': {
      let example: unknown;
      try {
        example = JSON.parse(input);
      } catch {
        return { ok: false, reason: 'That is not valid JSON.' };
      }
      candidate = { kind: 'json-shape', shape: shapeOf(example) };
      break;
    }
    case 'unit-tests':
      candidate = { kind: 'code', language: 'javascript', tests: input };
      break;
  }
  const parsed = parseVerifier(candidate);
  return parsed.ok ? { ok: true, verifier: parsed.verifier } : { ok: false, reason: parsed.reason };
}
