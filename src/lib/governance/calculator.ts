/**
 * The calculator action: a sandboxed arithmetic evaluator.
 *
 * The expression may come from anywhere the person pastes from, so it is
 * never handed to `eval` or `Function`. It has its own tokenizer and a
 * recursive-descent parser over a closed grammar: numbers, + - * / % ^,
 * unary signs, parentheses, and an allow-list of functions and constants
 * looked up in a `Map` (so `constructor`, `__proto__` and friends are
 * simply unknown names). Input length, token count and nesting depth are
 * bounded, so no input can exhaust the stack or the CPU. Every failure is a
 * `CalculatorError` with a code and the position it refers to; the result is
 * always a finite number.
 *
 * Grammar (lowest to highest precedence):
 *   expression := term (('+' | '-') term)*
 *   term       := unary (('*' | '/' | '%') unary)*
 *   unary      := ('+' | '-') unary | power
 *   power      := primary ('^' unary)?          (right-associative: 2^3^2 = 2^9)
 *   primary    := number | constant | name '(' expression (',' expression)* ')' | '(' expression ')'
 * As in mathematics, -2^2 is -(2^2) = -4, and 2^-1 is 0.5.
 */

export const MAX_EXPRESSION_LENGTH = 1000;
export const MAX_TOKENS = 400;
export const MAX_DEPTH = 64;

export type CalculatorErrorCode =
  | 'invalid-input'
  | 'empty'
  | 'too-long'
  | 'too-many-tokens'
  | 'too-deep'
  | 'unexpected-character'
  | 'unexpected-token'
  | 'unexpected-end'
  | 'unknown-name'
  | 'wrong-arity'
  | 'division-by-zero'
  | 'not-finite';

export class CalculatorError extends Error {
  override name = 'CalculatorError';
  readonly code: CalculatorErrorCode;
  /** Index (UTF-16 code units) in the input the error refers to. */
  readonly position: number;

  constructor(code: CalculatorErrorCode, message: string, position: number) {
    super(message);
    this.code = code;
    this.position = position;
  }
}

type TokenType = 'number' | 'name' | 'op' | 'lparen' | 'rparen' | 'comma' | 'end';

interface Token {
  type: TokenType;
  text: string;
  value: number;
  position: number;
}

/** Typographic signs people paste from documents, read as their ASCII forms. */
const SIGN_ALIASES: ReadonlyMap<string, string> = new Map([
  ['\u00d7', '*'], // ×
  ['\u00f7', '/'], // ÷
  ['\u2212', '-'], // − (minus sign)
]);

const OPERATORS = new Set(['+', '-', '*', '/', '%', '^']);

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isNameStart = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_');
const isNamePart = (c: string | undefined): boolean => isNameStart(c) || isDigit(c);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const push = (token: Token): void => {
    // Counting the end marker too keeps the limit simple to state.
    if (tokens.length >= MAX_TOKENS) {
      throw new CalculatorError('too-many-tokens', `The expression has more than ${MAX_TOKENS} parts.`, token.position);
    }
    tokens.push(token);
  };
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === '.' && isDigit(input[i + 1]))) {
      while (isDigit(input[i])) i++;
      if (input[i] === '.') {
        i++;
        while (isDigit(input[i])) i++;
      }
      // An exponent only when digits follow, so "2e" stays 2 followed by the constant e.
      if (input[i] === 'e' || input[i] === 'E') {
        let j = i + 1;
        if (input[j] === '+' || input[j] === '-') j++;
        if (isDigit(input[j])) {
          while (isDigit(input[j])) j++;
          i = j;
        }
      }
      const text = input.slice(start, i);
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw new CalculatorError('not-finite', `The number ${text} is too large.`, start);
      }
      push({ type: 'number', text, value, position: start });
      continue;
    }
    if (isNameStart(c)) {
      while (isNamePart(input[i])) i++;
      push({ type: 'name', text: input.slice(start, i), value: 0, position: start });
      continue;
    }
    const op = SIGN_ALIASES.get(c) ?? c;
    if (OPERATORS.has(op)) push({ type: 'op', text: op, value: 0, position: start });
    else if (c === '(') push({ type: 'lparen', text: c, value: 0, position: start });
    else if (c === ')') push({ type: 'rparen', text: c, value: 0, position: start });
    else if (c === ',') push({ type: 'comma', text: c, value: 0, position: start });
    else {
      const cp = input.codePointAt(i) ?? 0;
      const shown = cp < 0x20 || cp === 0x7f ? `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `"${String.fromCodePoint(cp)}"`;
      throw new CalculatorError('unexpected-character', `Unexpected character ${shown} at position ${start + 1}.`, start);
    }
    i++;
  }
  push({ type: 'end', text: '', value: 0, position: input.length });
  return tokens;
}

type Node =
  | { type: 'number'; value: number; position: number }
  | { type: 'unary'; op: '-' | '+'; operand: Node; position: number }
  | { type: 'binary'; op: string; left: Node; right: Node; position: number }
  | { type: 'call'; fn: CalcFunction; name: string; args: Node[]; position: number };

interface CalcFunction {
  /** Smallest and largest number of arguments. */
  minArgs: number;
  maxArgs: number;
  apply: (args: number[]) => number;
}

const unary = (f: (x: number) => number): CalcFunction => ({ minArgs: 1, maxArgs: 1, apply: (a) => f(a[0]!) });

/** Names are matched case-insensitively (Sqrt, PI). */
export const CALCULATOR_FUNCTIONS: ReadonlyMap<string, CalcFunction> = new Map<string, CalcFunction>([
  ['sqrt', unary(Math.sqrt)],
  ['abs', unary(Math.abs)],
  ['round', unary(Math.round)],
  ['floor', unary(Math.floor)],
  ['ceil', unary(Math.ceil)],
  // log(x) is base 10; log(x, b) is base b.
  ['log', { minArgs: 1, maxArgs: 2, apply: (a) => (a.length === 1 ? Math.log10(a[0]!) : Math.log(a[0]!) / Math.log(a[1]!)) }],
  ['ln', unary(Math.log)],
  ['exp', unary(Math.exp)],
  ['sin', unary(Math.sin)],
  ['cos', unary(Math.cos)],
  ['tan', unary(Math.tan)],
  ['min', { minArgs: 1, maxArgs: Infinity, apply: (a) => Math.min(...a) }],
  ['max', { minArgs: 1, maxArgs: Infinity, apply: (a) => Math.max(...a) }],
]);

export const CALCULATOR_CONSTANTS: ReadonlyMap<string, number> = new Map([
  ['pi', Math.PI],
  ['e', Math.E],
]);

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.expression();
    const rest = this.peek();
    if (rest.type !== 'end') {
      throw rest.type === 'rparen'
        ? new CalculatorError('unexpected-token', `Unmatched ")" at position ${rest.position + 1}.`, rest.position)
        : new CalculatorError('unexpected-token', `Expected an operator before "${rest.text}" at position ${rest.position + 1}.`, rest.position);
    }
    return node;
  }

  private peek(): Token {
    // The tokenizer always ends with an 'end' token and the parser never passes it.
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.index++;
    return token;
  }

  private expression(): Node {
    let left = this.term();
    for (let t = this.peek(); t.type === 'op' && (t.text === '+' || t.text === '-'); t = this.peek()) {
      this.next();
      left = { type: 'binary', op: t.text, left, right: this.term(), position: t.position };
    }
    return left;
  }

  private term(): Node {
    let left = this.unary();
    for (let t = this.peek(); t.type === 'op' && (t.text === '*' || t.text === '/' || t.text === '%'); t = this.peek()) {
      this.next();
      left = { type: 'binary', op: t.text, left, right: this.unary(), position: t.position };
    }
    return left;
  }

  /** Every recursion (parentheses, signs, exponents, arguments) passes here, so the depth limit is counted once. */
  private unary(): Node {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) {
      throw new CalculatorError('too-deep', `The expression is nested more than ${MAX_DEPTH} levels deep.`, t.position);
    }
    let node: Node;
    if (t.type === 'op' && (t.text === '-' || t.text === '+')) {
      this.next();
      node = { type: 'unary', op: t.text, operand: this.unary(), position: t.position };
    } else {
      node = this.power();
    }
    this.depth--;
    return node;
  }

  private power(): Node {
    const base = this.primary();
    const t = this.peek();
    if (t.type === 'op' && t.text === '^') {
      this.next();
      return { type: 'binary', op: '^', left: base, right: this.unary(), position: t.position };
    }
    return base;
  }

  private primary(): Node {
    const t = this.next();
    switch (t.type) {
      case 'number':
        return { type: 'number', value: t.value, position: t.position };
      case 'lparen': {
        const inner = this.expression();
        this.expect('rparen', '")"', t);
        return inner;
      }
      case 'name':
        return this.name(t);
      case 'end':
        throw new CalculatorError('unexpected-end', 'The expression ends too early.', t.position);
      default:
        throw new CalculatorError('unexpected-token', `Unexpected "${t.text}" at position ${t.position + 1}.`, t.position);
    }
  }

  private name(t: Token): Node {
    const key = t.text.toLowerCase();
    const constant = CALCULATOR_CONSTANTS.get(key);
    if (constant !== undefined) return { type: 'number', value: constant, position: t.position };
    const fn = CALCULATOR_FUNCTIONS.get(key);
    if (fn === undefined) {
      throw new CalculatorError('unknown-name', `Unknown name "${t.text.slice(0, 40)}" at position ${t.position + 1}.`, t.position);
    }
    this.expect('lparen', `"(" after ${key}`, t);
    const args: Node[] = [this.expression()];
    while (this.peek().type === 'comma') {
      this.next();
      args.push(this.expression());
    }
    this.expect('rparen', '")"', t);
    if (args.length < fn.minArgs || args.length > fn.maxArgs) {
      const wanted = fn.maxArgs === Infinity ? `at least ${fn.minArgs}` : fn.minArgs === fn.maxArgs ? `${fn.minArgs}` : `${fn.minArgs} or ${fn.maxArgs}`;
      throw new CalculatorError('wrong-arity', `${key} takes ${wanted} argument${wanted === '1' ? '' : 's'}, not ${args.length}.`, t.position);
    }
    return { type: 'call', fn, name: key, args, position: t.position };
  }

  private expect(type: TokenType, what: string, opener: Token): void {
    const t = this.next();
    if (t.type === type) return;
    if (t.type === 'end') {
      throw new CalculatorError('unexpected-end', `Expected ${what} for the one at position ${opener.position + 1}.`, t.position);
    }
    throw new CalculatorError('unexpected-token', `Expected ${what} at position ${t.position + 1}, found "${t.text}".`, t.position);
  }
}

function finite(value: number, position: number, what: string): number {
  if (!Number.isFinite(value)) {
    throw new CalculatorError('not-finite', `${what} at position ${position + 1} has no finite result.`, position);
  }
  return value;
}

function evaluateNode(node: Node): number {
  switch (node.type) {
    case 'number':
      return node.value;
    case 'unary': {
      const v = evaluateNode(node.operand);
      return node.op === '-' ? -v : v;
    }
    case 'call':
      return finite(node.fn.apply(node.args.map(evaluateNode)), node.position, node.name);
    case 'binary': {
      const a = evaluateNode(node.left);
      const b = evaluateNode(node.right);
      switch (node.op) {
        case '+':
          return finite(a + b, node.position, 'The sum');
        case '-':
          return finite(a - b, node.position, 'The difference');
        case '*':
          return finite(a * b, node.position, 'The product');
        case '/':
        case '%':
          if (b === 0) {
            throw new CalculatorError('division-by-zero', `Division by zero at position ${node.position + 1}.`, node.position);
          }
          return finite(node.op === '/' ? a / b : a % b, node.position, 'The division');
        default:
          return finite(a ** b, node.position, 'The power');
      }
    }
  }
}

/**
 * Evaluates an arithmetic expression. Throws `CalculatorError` (and nothing
 * else) when the input is not a valid expression or has no finite result.
 */
export function evaluateExpression(input: string): number {
  if (typeof input !== 'string') throw new CalculatorError('invalid-input', 'The expression must be text.', 0);
  if (input.length > MAX_EXPRESSION_LENGTH) {
    throw new CalculatorError('too-long', `The expression is longer than ${MAX_EXPRESSION_LENGTH} characters.`, MAX_EXPRESSION_LENGTH);
  }
  if (input.trim() === '') throw new CalculatorError('empty', 'The expression is empty.', 0);
  const value = evaluateNode(new Parser(tokenize(input)).parse());
  // -0 is an artefact of IEEE arithmetic, not something a person means.
  return value === 0 ? 0 : value;
}

/** A result for display: 15 significant digits hide binary rounding (0.1 + 0.2 shows as 0.3). */
export function formatCalculatorResult(value: number): string {
  return String(Number(value.toPrecision(15)));
}
