/**
 * Verifiers: outcome signals for answers that can be checked mechanically
 * (issue 4, item 1; DESIGN.md 2.3). A rollout's answer to a task with a
 * verifier gets a score without asking anyone: a number within a tolerance,
 * JSON of a given shape, or JavaScript that passes unit tests.
 *
 * Everything checked here comes from a model and is untrusted: inputs are
 * capped before any work, nothing is evaluated here (code goes to a
 * `CodeRunner`, in the browser a fresh sandboxed worker, see
 * src/services/code-sandbox.ts), and garbage never throws: it yields a failed
 * result with the reason. The one exception is cancellation: when the caller's
 * signal aborts, `runVerifier` rejects with the signal's reason, because a
 * cancelled check has no outcome to report.
 *
 * Pure: zod only, no DOM.
 */
import { z } from 'zod';
import { balancedEnd } from './json-scan';

/*
 * Limits.
 */

/** Longest answer looked at; a longer one is not a checkable answer (and scanning it would cost). */
export const MAX_VERIFIED_ANSWER_CHARS = 100_000;
/** Longest code block sent to a runner. */
export const MAX_CODE_CHARS = 20_000;
/** Longest test source a code verifier may hold. */
export const MAX_TESTS_CHARS = 20_000;
/** Deepest shape (and deepest example `shapeOf` describes; deeper parts become 'any'). */
export const MAX_SHAPE_DEPTH = 16;
/** Most nodes in a shape (each type description counts one). */
export const MAX_SHAPE_NODES = 1_000;
/** Most keys one object shape may describe. */
export const MAX_SHAPE_KEYS = 200;
/** Longest key name in a shape. */
export const MAX_SHAPE_KEY_LENGTH = 200;
/** How long a code run may take unless the caller says otherwise. */
export const DEFAULT_CODE_TIMEOUT_MS = 2_000;
/** Longest `detail` of a result. */
export const MAX_DETAIL_CHARS = 500;
/** Largest |expected| or tolerance a number verifier accepts (beyond it doubles lose integer precision). */
export const MAX_VERIFIER_NUMBER = 1e15;

/*
 * The shape language.
 */

export const PRIMITIVE_SHAPE_TYPES = ['string', 'number', 'integer', 'boolean', 'null', 'any'] as const;
export type PrimitiveShapeType = (typeof PRIMITIVE_SHAPE_TYPES)[number];

/**
 * A JSON shape:
 * - a primitive: 'string', 'number' (any JSON number), 'integer', 'boolean',
 *   'null', or 'any' (anything at all);
 * - an array whose every element has the `items` shape (optionally at least
 *   `minItems` of them);
 * - an object: `properties` gives the shape of each key where present,
 *   `required` the keys that must be present; other keys are allowed unless
 *   `additionalProperties` is false.
 * `nullable: true` also admits null in place of the value.
 */
export type Shape =
  | { type: PrimitiveShapeType; nullable?: boolean }
  | { type: 'array'; items: Shape; minItems?: number; nullable?: boolean }
  | { type: 'object'; properties: Record<string, Shape>; required: string[]; additionalProperties?: boolean; nullable?: boolean };

const keySchema = z
  .string()
  .min(1)
  .max(MAX_SHAPE_KEY_LENGTH)
  // An own "__proto__" key would set the prototype of the object zod builds.
  .refine((k) => k !== '__proto__', 'the key "__proto__" is not allowed in a shape');

const primitiveShapeSchema = z.strictObject({ type: z.enum(PRIMITIVE_SHAPE_TYPES), nullable: z.boolean().optional() });

export const shapeSchema: z.ZodType<Shape> = z.lazy(() =>
  z.union([
    primitiveShapeSchema,
    z.strictObject({
      type: z.literal('array'),
      items: shapeSchema,
      minItems: z.int().min(0).max(1_000_000).optional(),
      nullable: z.boolean().optional(),
    }),
    z
      .strictObject({
        type: z.literal('object'),
        properties: z.record(keySchema, shapeSchema),
        required: z.array(keySchema).max(MAX_SHAPE_KEYS),
        additionalProperties: z.boolean().optional(),
        nullable: z.boolean().optional(),
      })
      .superRefine((s, ctx) => {
        if (Object.keys(s.properties).length > MAX_SHAPE_KEYS) {
          ctx.addIssue({ code: 'custom', path: ['properties'], message: `more than ${MAX_SHAPE_KEYS} keys` });
        }
        if (new Set(s.required).size !== s.required.length) ctx.addIssue({ code: 'custom', path: ['required'], message: 'required keys repeat' });
      }),
  ]),
);

/*
 * Verifiers.
 */

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const verifierSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('number'),
    expected: finite.refine((n) => Math.abs(n) <= MAX_VERIFIER_NUMBER, `|expected| must be at most ${MAX_VERIFIER_NUMBER}`),
    /** Absolute: |answer - expected| ≤ tolerance passes. */
    tolerance: finite.refine((n) => n >= 0 && n <= MAX_VERIFIER_NUMBER, `tolerance must be in 0..${MAX_VERIFIER_NUMBER}`),
  }),
  z.strictObject({ kind: z.literal('json-shape'), shape: shapeSchema }),
  z.strictObject({
    kind: z.literal('code'),
    language: z.literal('javascript'),
    tests: z.string().min(1).max(MAX_TESTS_CHARS),
  }),
]);

export type Verifier = z.infer<typeof verifierSchema>;
export type VerifierKind = Verifier['kind'];

/** Depth and node count of a JSON-like value, without recursion (a hostile value may be deeply nested). */
function measure(value: unknown, maxNodes: number): { depth: number; nodes: number; protoKey: boolean } {
  let depth = 0;
  let nodes = 0;
  let protoKey = false;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 1 }];
  while (stack.length > 0) {
    const top = stack.pop();
    if (!top) break;
    nodes++;
    if (nodes > maxNodes) return { depth, nodes, protoKey };
    depth = Math.max(depth, top.d);
    if (typeof top.v === 'object' && top.v !== null) {
      if (Object.hasOwn(top.v, '__proto__')) protoKey = true;
      for (const child of Object.values(top.v)) stack.push({ v: child, d: top.d + 1 });
    }
  }
  return { depth, nodes, protoKey };
}

export type ParsedVerifier = { ok: true; verifier: Verifier } | { ok: false; reason: string };

/** Validates a verifier from storage or a task file. Never throws. */
export function parseVerifier(raw: unknown): ParsedVerifier {
  // A shape nests about 3 JSON levels per shape level (shape → properties → key → shape).
  const { depth, nodes, protoKey } = measure(raw, MAX_SHAPE_NODES * 6);
  if (protoKey) return { ok: false, reason: 'invalid verifier: the key "__proto__" is not allowed' };
  if (depth > MAX_SHAPE_DEPTH * 3 + 4) return { ok: false, reason: `verifier is nested deeper than a shape may be (${MAX_SHAPE_DEPTH} levels)` };
  if (nodes > MAX_SHAPE_NODES * 6) return { ok: false, reason: `verifier is larger than ${MAX_SHAPE_NODES} shape nodes` };
  const parsed = verifierSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    return { ok: false, reason: `invalid verifier: ${where}${issue?.message ?? 'unknown problem'}` };
  }
  if (parsed.data.kind === 'json-shape') {
    const count = countShapeNodes(parsed.data.shape);
    if (count.depth > MAX_SHAPE_DEPTH) return { ok: false, reason: `shape is deeper than ${MAX_SHAPE_DEPTH} levels` };
    if (count.nodes > MAX_SHAPE_NODES) return { ok: false, reason: `shape has more than ${MAX_SHAPE_NODES} nodes` };
  }
  return { ok: true, verifier: parsed.data };
}

function countShapeNodes(shape: Shape): { depth: number; nodes: number } {
  let nodes = 0;
  let depth = 0;
  const stack: { s: Shape; d: number }[] = [{ s: shape, d: 1 }];
  while (stack.length > 0) {
    const top = stack.pop();
    if (!top) break;
    nodes++;
    depth = Math.max(depth, top.d);
    if (top.s.type === 'array') stack.push({ s: top.s.items, d: top.d + 1 });
    else if (top.s.type === 'object') for (const child of Object.values(top.s.properties)) stack.push({ s: child, d: top.d + 1 });
  }
  return { depth, nodes };
}

/*
 * Reading answers.
 */

const THINK_BLOCK = /<think>[\s\S]*?(?:<\/think>|$)/gi;

/** Reasoning models think aloud first; numbers and brackets in the thoughts are not the answer. */
function withoutThoughts(answer: string): string {
  return answer.replace(THINK_BLOCK, ' ');
}

/** A number as written in text, with where it was. */
export interface NumberToken {
  value: number;
  start: number;
  end: number;
  /** The digits as written (sign included), e.g. "-1,234.5". */
  text: string;
  /** Digits after the decimal separator as written (0 for integers and fractions). */
  decimals: number;
  /** Written as a fraction ("3/4"). */
  fraction: boolean;
}

/*
 * One number as people and models write it. Alternatives, tried in order:
 * 1. English thousands groups: 1,234 / 1,234,567.89
 * 2. Continental thousands groups with a decimal comma: 1.234,5
 * 3. a decimal comma: 3,5 (a comma followed by other than exactly three digits)
 * 4. plain digits, optional decimal point and exponent: 42, 3.14, 1.5e-3
 * 5. a leading decimal point: .5
 * A number never starts inside a word or right after a digit or a point
 * ("H2O", "v1.2", "COVID-19" give no number or a positive one), and never
 * runs into a following digit. A minus (ASCII hyphen or U+2212) counts only
 * when it is not glued to a word; there may be no space between sign and
 * digits (a Markdown bullet "- 3" is not negative).
 */
const NUMBER =
  /(?<![\p{L}\p{N}_.])((?<![\p{L}\p{N}_)\]])[-\u2212])?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+,\d+|\d+,(?!\d{3}(?!\d))\d+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)(?![\p{N}])/gu;

function parseNumberText(body: string): { value: number; decimals: number } | null {
  let normalized: string;
  let decimals = 0;
  if (/^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(body)) normalized = body.replace(/,/g, '');
  else if (/^\d{1,3}(?:\.\d{3})+,\d+$/.test(body)) normalized = body.replace(/\./g, '').replace(',', '.');
  else if (/^\d+,\d+$/.test(body)) normalized = body.replace(',', '.');
  else normalized = body;
  const point = normalized.indexOf('.');
  if (point >= 0) decimals = normalized.slice(point + 1).replace(/[eE].*$/, '').length;
  const value = Number(normalized);
  return Number.isFinite(value) ? { value, decimals } : null;
}

/**
 * Every number in a text, in order: thousands separators, decimal commas,
 * signs, exponents and simple fractions ("3/4" is 0.75; a chain such as a date
 * "12/25/2024" is left as separate numbers). Percent signs, currency and
 * approximation marks around a number are ignored ("42%" is 42, "≈ 7" is 7).
 * Capped at MAX_VERIFIED_ANSWER_CHARS of input.
 */
export function extractNumbers(text: string): NumberToken[] {
  if (typeof text !== 'string') return [];
  const source = text.length > MAX_VERIFIED_ANSWER_CHARS ? text.slice(0, MAX_VERIFIED_ANSWER_CHARS) : text;
  const tokens: NumberToken[] = [];
  for (const m of source.matchAll(NUMBER)) {
    const sign = m[1] ? -1 : 1;
    const body = m[2] ?? '';
    const parsed = parseNumberText(body);
    if (!parsed) continue;
    const start = m.index;
    tokens.push({ value: sign * parsed.value, start, end: start + m[0].length, text: m[0].replace('\u2212', '-'), decimals: parsed.decimals, fraction: false });
  }
  // Simple fractions: two integers joined by a slash, not part of a longer chain.
  const out: NumberToken[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const a = tokens[i];
    const b = tokens[i + 1];
    if (!a) continue;
    if (b && isInteger(a) && isInteger(b) && !b.text.startsWith('-') && b.value !== 0) {
      const between = source.slice(a.end, b.start);
      const before = source.slice(Math.max(0, a.start - 3), a.start);
      const after = source.slice(b.end, b.end + 3);
      if (/^\s*\/\s*$/.test(between) && !/\/\s*$/.test(before) && !/^\s*\/\s*\d/.test(after)) {
        out.push({ value: a.value / b.value, start: a.start, end: b.end, text: source.slice(a.start, b.end), decimals: 0, fraction: true });
        i++;
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

function isInteger(t: NumberToken): boolean {
  return /^-?\d+$/.test(t.text);
}

const BOXED = /\\boxed\s*\{([^{}]*)\}/g;
const HASHES = /^\s*####\s*(.*)$/gm;
const ANSWER_MARKER = /\b(?:final\s+answer|answer)\b\s*(?:is|:|=|equals|would\s+be|will\s+be)?/gi;

/**
 * The final number of an answer: the last \boxed{…} if there is one, else the
 * last "#### …" line (GSM8K style), else the first number after the last
 * "answer"/"final answer" marker, else the last number in the answer. Words,
 * units and punctuation after it are ignored. Null when there is none (or the
 * answer is longer than MAX_VERIFIED_ANSWER_CHARS). Never throws.
 */
export function extractFinalNumber(answer: string): number | null {
  return finalNumberToken(answer)?.value ?? null;
}

function finalNumberToken(answer: unknown): NumberToken | null {
  if (typeof answer !== 'string' || answer.length > MAX_VERIFIED_ANSWER_CHARS) return null;
  const text = withoutThoughts(answer);
  const lastIn = (s: string): NumberToken | null => extractNumbers(s).at(-1) ?? null;
  const boxed = [...text.matchAll(BOXED)].at(-1);
  if (boxed) {
    const n = lastIn(boxed[1] ?? '');
    if (n) return n;
  }
  const hashes = [...text.matchAll(HASHES)].at(-1);
  if (hashes) {
    const n = extractNumbers(hashes[1] ?? '')[0];
    if (n) return n;
  }
  const marker = [...text.matchAll(ANSWER_MARKER)].at(-1);
  if (marker) {
    const n = extractNumbers(text.slice(marker.index + marker[0].length))[0];
    if (n) return n;
  }
  return lastIn(text);
}

const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`\n]*$/;

export interface CodeBlock {
  code: string;
  /** The fence's info word, lower case ('' when unlabelled). */
  language: string;
}

/** Fence labels read as JavaScript. TypeScript is not: its type syntax does not run. */
export const JAVASCRIPT_LABELS: readonly string[] = ['', 'javascript', 'js', 'mjs', 'cjs', 'jsx', 'node', 'es6', 'ecmascript'];

/** All fenced code blocks (``` or ~~~, CommonMark-style closing), in order; an unclosed fence ends nothing. */
export function codeBlocks(answer: string): CodeBlock[] {
  if (typeof answer !== 'string' || answer.length > MAX_VERIFIED_ANSWER_CHARS) return [];
  const lines = withoutThoughts(answer).split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_LINE.exec(lines[i] ?? '');
    if (!open) continue;
    const fence = open[1] ?? '```';
    const language = (open[2] ?? '').toLowerCase();
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*$`);
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j] ?? '')) j++;
    if (j >= lines.length) break; // unclosed: a reply cut off mid-block is not runnable code
    blocks.push({ code: lines.slice(i + 1, j).join('\n'), language });
    i = j;
  }
  return blocks;
}

/**
 * The first fenced block labelled JavaScript (or unlabelled): the code a code
 * verifier runs. Null when there is none.
 */
export function extractCodeBlock(answer: string): CodeBlock | null {
  return codeBlocks(answer).find((b) => JAVASCRIPT_LABELS.includes(b.language)) ?? null;
}

export type ExtractedJson = { ok: true; value: unknown } | { ok: false; reason: string };

/** Most bracket positions tried when looking for bare JSON in prose. */
const MAX_JSON_ATTEMPTS = 50;

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The first JSON value in an answer: the whole answer if it is JSON; else the
 * first fenced block labelled json (or unlabelled, or starting with a bracket)
 * that parses; else the first balanced [...] or {...} in the prose that
 * parses. Nothing is repaired. (semantic-advantage.ts has a stricter
 * relative for operation lists: there a broken first fence is an error, here
 * the search goes on, since an answer may show a wrong example before the
 * result.)
 */
export function extractJson(answer: string): ExtractedJson {
  if (typeof answer !== 'string') return { ok: false, reason: 'the answer is not text' };
  if (answer.length > MAX_VERIFIED_ANSWER_CHARS) return { ok: false, reason: `the answer is longer than ${MAX_VERIFIED_ANSWER_CHARS} characters` };
  const text = withoutThoughts(answer).trim();
  if (text === '') return { ok: false, reason: 'the answer is empty' };
  const whole = tryParse(text);
  if (whole.ok) return { ok: true, value: whole.value };
  let fenceError: string | null = null;
  for (const block of codeBlocks(text)) {
    const body = block.code.trim();
    if (!['json', 'jsonc', 'json5', ''].includes(block.language) && !/^[[{]/.test(body)) continue;
    const parsed = tryParse(body);
    if (parsed.ok) return { ok: true, value: parsed.value };
    fenceError ??= parsed.error;
  }
  let attempts = 0;
  for (let i = 0; i < text.length && attempts < MAX_JSON_ATTEMPTS; i++) {
    const c = text[i];
    if (c !== '[' && c !== '{') continue;
    attempts++;
    const end = balancedEnd(text, i);
    if (end < 0) continue;
    const parsed = tryParse(text.slice(i, end));
    if (parsed.ok) return { ok: true, value: parsed.value };
  }
  return { ok: false, reason: fenceError ? `malformed JSON in the code block: ${fenceError}` : 'no JSON value in the answer' };
}

/*
 * Shapes.
 */

function typeOfJson(value: unknown): 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isFinite(value) ? (Number.isInteger(value) ? 'integer' : 'number') : 'other';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    default:
      return 'other';
  }
}

/** The least shape admitting both (used for array elements). */
function unionShape(a: Shape, b: Shape): Shape {
  const nullable = a.nullable === true || b.nullable === true;
  const withNull = (s: Shape): Shape => (nullable ? { ...s, nullable: true } : s);
  if (a.type === 'any' || b.type === 'any') return { type: 'any' };
  if (a.type === 'null') return b.type === 'null' ? a : { ...b, nullable: true };
  if (b.type === 'null') return { ...a, nullable: true };
  if (a.type === 'array' && b.type === 'array') return withNull({ type: 'array', items: unionShape(a.items, b.items) });
  if (a.type === 'object' && b.type === 'object') {
    const properties: Record<string, Shape> = {};
    for (const [k, s] of Object.entries(a.properties)) properties[k] = s;
    for (const [k, s] of Object.entries(b.properties)) {
      const prev = Object.hasOwn(properties, k) ? properties[k] : undefined;
      properties[k] = prev ? unionShape(prev, s) : s;
    }
    const inB = new Set(b.required);
    return withNull({ type: 'object', properties, required: a.required.filter((k) => inB.has(k)) });
  }
  if ((a.type === 'number' || a.type === 'integer') && (b.type === 'number' || b.type === 'integer')) {
    // An example's integers describe numbers: 3 in one element, 2.5 in another are both "a number".
    return withNull({ type: 'number' });
  }
  if (a.type === b.type) return withNull(a.type === 'object' || a.type === 'array' ? a : { type: a.type });
  return { type: 'any' };
}

/**
 * The shape of an example JSON value (a parsed value, not text): every key of
 * an object is required and typed as in the example (other keys allowed);
 * an array's elements share the least shape that admits all of them (keys
 * present in every element are required; mixed types become 'any'; null
 * makes a shape nullable); an empty array admits anything. Numbers become
 * 'number' (an example's 3 does not mean "integers only"). Deeper than
 * MAX_SHAPE_DEPTH, more than MAX_SHAPE_KEYS keys, keys longer than
 * MAX_SHAPE_KEY_LENGTH or named "__proto__", and non-JSON values become 'any'
 * or are left out. Never throws.
 */
export function shapeOf(example: unknown): Shape {
  let budget = MAX_SHAPE_NODES;
  const walk = (value: unknown, depth: number): Shape => {
    budget--;
    if (depth >= MAX_SHAPE_DEPTH - 1 || budget <= 0) return { type: 'any' };
    const t = typeOfJson(value);
    switch (t) {
      case 'string':
      case 'boolean':
      case 'null':
        return { type: t };
      case 'number':
      case 'integer':
        return { type: 'number' };
      case 'array': {
        const items = value as unknown[];
        if (items.length === 0) return { type: 'array', items: { type: 'any' } };
        let shape = walk(items[0], depth + 1);
        for (let i = 1; i < items.length && budget > 0; i++) shape = unionShape(shape, walk(items[i], depth + 1));
        return { type: 'array', items: shape };
      }
      case 'object': {
        const properties: Record<string, Shape> = {};
        const required: string[] = [];
        for (const key of Object.keys(value as object).slice(0, MAX_SHAPE_KEYS)) {
          if (key === '' || key === '__proto__' || key.length > MAX_SHAPE_KEY_LENGTH) continue;
          properties[key] = walk((value as Record<string, unknown>)[key], depth + 1);
          required.push(key);
        }
        return { type: 'object', properties, required };
      }
      default:
        return { type: 'any' };
    }
  };
  return walk(example, 0);
}

/** Most problems one shape check reports. */
const MAX_SHAPE_PROBLEMS = 5;

/**
 * Where `value` departs from `shape`, as readable problems ("$.items[2].price:
 * expected number, got string"); empty when it fits. Walks the shape, not the
 * value, so a deeply nested value costs no more than its shape. Stops after
 * MAX_SHAPE_PROBLEMS.
 */
export function checkShape(shape: Shape, value: unknown): string[] {
  const problems: string[] = [];
  const walk = (s: Shape, v: unknown, path: string, depth: number): void => {
    if (problems.length >= MAX_SHAPE_PROBLEMS) return;
    if (depth > MAX_SHAPE_DEPTH) {
      problems.push(`${path}: the shape is nested too deeply`);
      return;
    }
    if (s.type === 'any') return;
    if (v === null && s.nullable === true) return;
    const t = typeOfJson(v);
    const got = t === 'integer' ? 'number' : t;
    switch (s.type) {
      case 'string':
      case 'boolean':
      case 'null':
        if (t !== s.type) problems.push(`${path}: expected ${s.type}, got ${got}`);
        return;
      case 'number':
        if (t !== 'number' && t !== 'integer') problems.push(`${path}: expected number, got ${got}`);
        return;
      case 'integer':
        if (t !== 'integer') problems.push(`${path}: expected integer, got ${t === 'number' ? 'a fraction' : got}`);
        return;
      case 'array': {
        if (t !== 'array') {
          problems.push(`${path}: expected array, got ${got}`);
          return;
        }
        const items = v as unknown[];
        if (s.minItems !== undefined && items.length < s.minItems) problems.push(`${path}: expected at least ${s.minItems} elements, got ${items.length}`);
        for (let i = 0; i < items.length && problems.length < MAX_SHAPE_PROBLEMS; i++) walk(s.items, items[i], `${path}[${i}]`, depth + 1);
        return;
      }
      case 'object': {
        if (t !== 'object') {
          problems.push(`${path}: expected object, got ${got}`);
          return;
        }
        const obj = v as Record<string, unknown>;
        for (const key of s.required) {
          if (!Object.hasOwn(obj, key)) problems.push(`${path}: missing key ${JSON.stringify(key)}`);
          if (problems.length >= MAX_SHAPE_PROBLEMS) return;
        }
        for (const [key, child] of Object.entries(s.properties)) {
          if (Object.hasOwn(obj, key)) walk(child, obj[key], `${path}.${key}`, depth + 1);
        }
        if (s.additionalProperties === false) {
          for (const key of Object.keys(obj)) {
            if (!Object.hasOwn(s.properties, key)) problems.push(`${path}: unexpected key ${JSON.stringify(key.slice(0, 40))}`);
            if (problems.length >= MAX_SHAPE_PROBLEMS) return;
          }
        }
        return;
      }
    }
  };
  walk(shape, value, '$', 0);
  return problems;
}

/*
 * Code runners.
 */

export interface CodeRunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface CodeRunResult {
  passed: number;
  failed: number;
  total: number;
  /** Why the code or the tests could not run to the end (syntax error, a throw outside a test, a sandbox problem). */
  error?: string;
  /** The run was stopped at its time limit. */
  timedOut: boolean;
  /** The first failing tests' messages ("name: message"), for the detail. */
  failures?: string[];
}

/**
 * Runs `code` and then `tests` (which call `test(name, fn)`, `assert`,
 * `assertEqual`, …) in isolation, counting tests. Rejects only when cancelled
 * (with the signal's reason or an abort error) or when no sandbox can run at
 * all; a run that fails or times out resolves with what happened.
 */
export interface CodeRunner {
  run(code: string, tests: string, options: CodeRunOptions): Promise<CodeRunResult>;
}

/*
 * Running a verifier.
 */

export interface VerifierResult {
  passed: boolean;
  /** 0..1: 1 or 0 for numbers and shapes; for code, the share of tests that passed. */
  score: number;
  /** What was checked and why it failed, for the log and the person. */
  detail: string;
}

export interface RunVerifierOptions {
  /** Default DEFAULT_CODE_TIMEOUT_MS. */
  timeoutMs?: number;
}

function clip(text: string, max = MAX_DETAIL_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const fail = (detail: string, score = 0): VerifierResult => ({ passed: false, score, detail: clip(detail) });

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

/** Passes when |actual − expected| ≤ tolerance (plus a hair for binary rounding: 0.1 + 0.2 is 0.3). */
export function numberMatches(actual: number, expected: number, tolerance: number): boolean {
  if (!Number.isFinite(actual)) return false;
  const slack = 1e-9 * Math.max(1, Math.abs(expected));
  return Math.abs(actual - expected) <= tolerance + slack;
}

function checkNumber(v: Extract<Verifier, { kind: 'number' }>, answer: string): VerifierResult {
  if (answer.length > MAX_VERIFIED_ANSWER_CHARS) return fail(`the answer is longer than ${MAX_VERIFIED_ANSWER_CHARS} characters`);
  const token = finalNumberToken(answer);
  const want = v.tolerance > 0 ? `${formatNumber(v.expected)} ± ${formatNumber(v.tolerance)}` : formatNumber(v.expected);
  if (!token) return fail(`no number in the answer (expected ${want})`);
  if (numberMatches(token.value, v.expected, v.tolerance)) return { passed: true, score: 1, detail: clip(`the answer's final number ${formatNumber(token.value)} matches ${want}`) };
  return fail(`the answer's final number ${formatNumber(token.value)} is not ${want}`);
}

function checkJson(v: Extract<Verifier, { kind: 'json-shape' }>, answer: string): VerifierResult {
  const extracted = extractJson(answer);
  if (!extracted.ok) return fail(extracted.reason);
  let problems: string[];
  try {
    problems = checkShape(v.shape, extracted.value);
  } catch (e) {
    // Not expected (the walk is bounded), but a verifier never throws on an answer.
    return fail(`the JSON could not be checked: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (problems.length === 0) return { passed: true, score: 1, detail: 'the JSON has the expected shape' };
  return fail(`the JSON does not have the expected shape: ${problems.join('; ')}`);
}

/** Non-negative whole numbers, or null: a runner's counts are checked, not believed. */
function count(n: unknown): number | null {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 1_000_000 ? n : null;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The check was cancelled.', 'AbortError');
}

async function checkCode(
  v: Extract<Verifier, { kind: 'code' }>,
  answer: string,
  runner: CodeRunner | undefined,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<VerifierResult> {
  if (answer.length > MAX_VERIFIED_ANSWER_CHARS) return fail(`the answer is longer than ${MAX_VERIFIED_ANSWER_CHARS} characters`);
  const block = extractCodeBlock(answer);
  if (!block) {
    const other = codeBlocks(answer)[0];
    return fail(other ? `no JavaScript code block in the answer (the first block is labelled ${JSON.stringify(other.language.slice(0, 20))})` : 'no fenced code block in the answer');
  }
  if (block.code.trim() === '') return fail('the code block is empty');
  if (block.code.length > MAX_CODE_CHARS) return fail(`the code block is longer than ${MAX_CODE_CHARS} characters`);
  if (!runner) return fail('no code runner is available to run the tests');
  let result: CodeRunResult;
  try {
    result = await runner.run(block.code, v.tests, signal ? { timeoutMs, signal } : { timeoutMs });
  } catch (e) {
    if (signal?.aborted) throw abortReason(signal);
    return fail(`the code could not be run: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  if (signal?.aborted) throw abortReason(signal);
  const passed = count(result?.passed);
  const failed = count(result?.failed);
  const total = count(result?.total);
  if (passed === null || failed === null || total === null || passed + failed !== total) return fail('the code runner returned inconsistent counts');
  const score = total > 0 ? passed / total : 0;
  const failures = Array.isArray(result.failures) ? result.failures.filter((f): f is string => typeof f === 'string').slice(0, 3) : [];
  if (result.timedOut === true) return fail(`the code ran past its time limit (${timeoutMs} ms)${total > 0 ? `; ${passed} of ${total} tests passed before` : ''}`, score);
  if (typeof result.error === 'string' && result.error !== '') {
    return fail(`${total > 0 ? `${passed} of ${total} tests passed; ` : ''}${result.error}`, score);
  }
  if (total === 0) return fail('no tests ran');
  if (failed > 0) return fail(`${passed} of ${total} tests passed${failures.length > 0 ? `: ${failures.join('; ')}` : ''}`, score);
  return { passed: true, score: 1, detail: `all ${total} tests passed` };
}

/**
 * Checks an answer. Resolves with passed/score/detail for any input, however
 * malformed (an invalid verifier, a missing runner, a runner that fails or
 * returns nonsense all yield a failed result with the reason); rejects only
 * when `signal` aborts.
 */
export async function runVerifier(
  verifier: Verifier,
  answer: string,
  codeRunner?: CodeRunner,
  signal?: AbortSignal,
  options: RunVerifierOptions = {},
): Promise<VerifierResult> {
  if (signal?.aborted) throw abortReason(signal);
  const parsed = parseVerifier(verifier);
  if (!parsed.ok) return fail(parsed.reason);
  if (typeof answer !== 'string') return fail('the answer is not text');
  const v = parsed.verifier;
  const timeoutMs = options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_CODE_TIMEOUT_MS;
  switch (v.kind) {
    case 'number':
      return checkNumber(v, answer);
    case 'json-shape':
      return checkJson(v, answer);
    case 'code':
      return checkCode(v, answer, codeRunner, signal, timeoutMs);
  }
}

/*
 * Verifiers from corrections.
 */

/** A correction that is only a number: optional ≈ ~ = and currency, a number, optional %, an optional full stop. */
const BARE_NUMBER = /^(≈|~|=)?\s*[$€£¥]?\s*([-\u2212]?(?:\d(?:[\d,./ ]*\d)?(?:[eE][-+]?\d+)?|\.\d+))\s*%?\s*\.?$/u;
/** Longest correction `inferVerifier` looks at. */
export const MAX_CORRECTION_CHARS = 20_000;

/**
 * The verifier a person's correction implies, or null:
 * - a correction that is just a number ("42", "-3.5", "1,234.50", "≈ 7",
 *   "12%", "3/4") gives a number verifier. The tolerance is half a unit of
 *   the last digit written ("3.14" accepts 3.135..3.145; an integer needs the
 *   exact value), 0.5 % of the value for a fraction, and with ≈ or ~ at least
 *   1 % of the value (and ±0.5 for an integer): the person said how precise
 *   the answer needs to be by how they wrote it;
 * - a correction that is a JSON object or array (bare or in one fenced block)
 *   gives a json-shape verifier with shapeOf(it): an answer passes when it
 *   has the same structure (values may differ);
 * - anything else (prose, code) gives null: there is nothing to check
 *   mechanically.
 */
export function inferVerifier(correction: string): Verifier | null {
  if (typeof correction !== 'string' || correction.length > MAX_CORRECTION_CHARS) return null;
  const text = correction.trim();
  if (text === '') return null;
  const bare = BARE_NUMBER.exec(text);
  if (bare) {
    const tokens = extractNumbers(bare[2] ?? '');
    const token = tokens[0];
    if (tokens.length === 1 && token && token.start === 0 && token.end === (bare[2] ?? '').length) {
      const approx = bare[1] === '≈' || bare[1] === '~';
      let tolerance = token.decimals > 0 ? 0.5 * 10 ** -token.decimals : 0;
      // "1/3" cannot be written exactly in decimals: 0.5 % of the value (0.333 passes, 0.33 does not).
      if (token.fraction) tolerance = 0.005 * Math.abs(token.value);
      if (approx) tolerance = Math.max(tolerance, 0.01 * Math.abs(token.value), token.decimals > 0 ? 0 : 0.5);
      const parsed = verifierSchema.safeParse({ kind: 'number', expected: token.value, tolerance: Number(tolerance.toPrecision(12)) });
      return parsed.success ? parsed.data : null;
    }
  }
  const fenced = codeBlocks(text);
  let jsonText: string | null = null;
  if (/^[[{]/.test(text)) jsonText = text;
  else if (fenced.length === 1 && /^ {0,3}(`{3,}|~{3,})/.test(text) && /(`{3,}|~{3,})\s*$/.test(text)) jsonText = (fenced[0]?.code ?? '').trim();
  if (jsonText === null) return null;
  const parsed = tryParse(jsonText);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return null;
  const verifier = parseVerifier({ kind: 'json-shape', shape: shapeOf(parsed.value) });
  return verifier.ok ? verifier.verifier : null;
}
