import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CalculatorError,
  evaluateExpression,
  formatCalculatorResult,
  MAX_DEPTH,
  MAX_EXPRESSION_LENGTH,
  type CalculatorErrorCode,
} from '../../src/lib/governance/calculator';

function errorOf(input: string): CalculatorError {
  try {
    evaluateExpression(input);
  } catch (e) {
    if (e instanceof CalculatorError) return e;
    throw new Error(`threw a non-CalculatorError: ${String(e)}`);
  }
  throw new Error(`"${input}" evaluated without error`);
}

describe('evaluateExpression', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 - 4 - 3', 3],
    ['64 / 4 / 2', 8],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['10 % 3', 1],
    ['-7 % 3', -1],
    ['--3', 3],
    ['+4', 4],
    ['2 * -3', -6],
    ['.5 + 0.25', 0.75],
    ['1.5e3', 1500],
    ['1E-3 * 1000', 1],
    ['2.5e+2', 250],
    ['sqrt(16) + abs(-3)', 7],
    ['round(2.5) + floor(2.7) + ceil(2.1)', 3 + 2 + 3],
    ['min(3, 1, 2) + max(3, 1, 2)', 4],
    ['log(1000)', 3],
    ['log(8, 2)', 3],
    ['ln(e)', 1],
    ['exp(0)', 1],
    ['sin(0) + cos(0) + tan(0)', 1],
    ['Sqrt(4) * PI / pi', 2],
    ['3 × 4 ÷ 2 − 1', 5],
    ['  1\n+\t2  ', 3],
    ['0 * -1', 0],
  ])('%s = %d', (input, expected) => {
    expect(evaluateExpression(input)).toBeCloseTo(expected, 12);
  });

  it('never returns negative zero', () => {
    expect(Object.is(evaluateExpression('0 * -1'), 0)).toBe(true);
    expect(Object.is(evaluateExpression('-0'), 0)).toBe(true);
  });

  it.each<[string, CalculatorErrorCode, number]>([
    ['1 / 0', 'division-by-zero', 2],
    ['5 % (2 - 2)', 'division-by-zero', 2],
    ['sqrt(-1)', 'not-finite', 0],
    ['ln(0)', 'not-finite', 0],
    ['10 ^ 400', 'not-finite', 3],
    ['1e999', 'not-finite', 0],
    ['', 'empty', 0],
    ['   ', 'empty', 0],
    ['1 + $', 'unexpected-character', 4],
    ['1 2', 'unexpected-token', 2],
    ['(1 + 2', 'unexpected-end', 6],
    ['1 + 2)', 'unexpected-token', 5],
    ['1 +', 'unexpected-end', 3],
    ['2e', 'unexpected-token', 1],
    ['foo(1)', 'unknown-name', 0],
    ['sqrt(1, 2)', 'wrong-arity', 0],
    ['log(1, 2, 3)', 'wrong-arity', 0],
    ['sqrt 4', 'unexpected-token', 5],
    ['1..2', 'unexpected-token', 2],
  ])('%s fails with %s at %d', (input, code, position) => {
    const e = errorOf(input);
    expect(e.code).toBe(code);
    expect(e.position).toBe(position);
    expect(e.name).toBe('CalculatorError');
    expect(e.message.length).toBeGreaterThan(0);
  });

  it('bounds length, tokens and nesting', () => {
    expect(errorOf('1'.repeat(MAX_EXPRESSION_LENGTH + 1)).code).toBe('too-long');
    expect(errorOf('1+'.repeat(300) + '1').code).toBe('too-many-tokens');
    expect(errorOf('('.repeat(100) + '1' + ')'.repeat(100)).code).toBe('too-deep');
    expect(errorOf('-'.repeat(MAX_DEPTH + 5) + '1').code).toBe('too-deep');
    expect(errorOf('2^'.repeat(MAX_DEPTH + 5) + '1').code).toBe('too-deep');
    expect(evaluateExpression('('.repeat(30) + '1' + ')'.repeat(30))).toBe(1);
    // Far past the limits: still a CalculatorError, never a stack overflow.
    expect(errorOf('('.repeat(100_000)).code).toBe('too-long');
  });

  it.each([
    'constructor',
    '__proto__',
    'constructor.constructor("alert(1)")()',
    'alert(1)',
    'process.exit()',
    'process',
    '`${1+1}`',
    'this',
    'globalThis',
    'window',
    'Math.PI',
    'toString()',
    'valueOf(1)',
    'hasOwnProperty(1)',
    '__defineGetter__',
    'eval("1")',
    'Function("return 1")()',
    'new Date()',
    'import("x")',
    '1; 2',
    'x = 1',
    '[1]',
    '{}',
    '"1"',
    "'1'",
    '1 && 2',
    '0x10',
    '1_000',
  ])('rejects %s', (input) => {
    expect(() => evaluateExpression(input)).toThrow(CalculatorError);
  });

  it('rejects input that is not a string', () => {
    expect(errorOf(42 as unknown as string).code).toBe('invalid-input');
  });

  it('formats results without binary noise', () => {
    expect(formatCalculatorResult(evaluateExpression('0.1 + 0.2'))).toBe('0.3');
    expect(formatCalculatorResult(1e21)).toBe('1e+21');
    expect(formatCalculatorResult(-2.5)).toBe('-2.5');
  });
});

/*
 * Property tests against an oracle: random expression trees, evaluated
 * directly, printed either fully parenthesised or with the fewest
 * parentheses the precedence rules allow.
 */

type BinOp = '+' | '-' | '*' | '/' | '%' | '^';
type Tree =
  | { t: 'num'; v: number }
  | { t: 'const'; name: 'pi' | 'e' }
  | { t: 'neg'; a: Tree }
  | { t: 'bin'; op: BinOp; a: Tree; b: Tree }
  | { t: 'fn'; name: string; args: Tree[] };

const FN_ARITY: Record<string, [number, number]> = {
  sqrt: [1, 1],
  abs: [1, 1],
  round: [1, 1],
  floor: [1, 1],
  ceil: [1, 1],
  log: [1, 2],
  ln: [1, 1],
  exp: [1, 1],
  sin: [1, 1],
  cos: [1, 1],
  tan: [1, 1],
  min: [1, 4],
  max: [1, 4],
};

const ORACLE_FN: Record<string, (a: number[]) => number> = {
  sqrt: (a) => Math.sqrt(a[0]!),
  abs: (a) => Math.abs(a[0]!),
  round: (a) => Math.round(a[0]!),
  floor: (a) => Math.floor(a[0]!),
  ceil: (a) => Math.ceil(a[0]!),
  log: (a) => (a.length === 1 ? Math.log10(a[0]!) : Math.log(a[0]!) / Math.log(a[1]!)),
  ln: (a) => Math.log(a[0]!),
  exp: (a) => Math.exp(a[0]!),
  sin: (a) => Math.sin(a[0]!),
  cos: (a) => Math.cos(a[0]!),
  tan: (a) => Math.tan(a[0]!),
  min: (a) => Math.min(...a),
  max: (a) => Math.max(...a),
};

class OracleError extends Error {
  constructor(readonly code: CalculatorErrorCode) {
    super(code);
  }
}

function finite(v: number): number {
  if (!Number.isFinite(v)) throw new OracleError('not-finite');
  return v;
}

function oracle(tree: Tree): number {
  switch (tree.t) {
    case 'num':
      return tree.v;
    case 'const':
      return tree.name === 'pi' ? Math.PI : Math.E;
    case 'neg':
      return -oracle(tree.a);
    case 'fn':
      return finite(ORACLE_FN[tree.name]!(tree.args.map(oracle)));
    case 'bin': {
      const a = oracle(tree.a);
      const b = oracle(tree.b);
      switch (tree.op) {
        case '+':
          return finite(a + b);
        case '-':
          return finite(a - b);
        case '*':
          return finite(a * b);
        case '/':
        case '%':
          if (b === 0) throw new OracleError('division-by-zero');
          return finite(tree.op === '/' ? a / b : a % b);
        case '^':
          return finite(a ** b);
      }
    }
  }
}

function printFull(tree: Tree): string {
  switch (tree.t) {
    case 'num':
      return String(tree.v);
    case 'const':
      return tree.name;
    case 'neg':
      return `(-${printFull(tree.a)})`;
    case 'fn':
      return `${tree.name}(${tree.args.map(printFull).join(', ')})`;
    case 'bin':
      return `(${printFull(tree.a)} ${tree.op} ${printFull(tree.b)})`;
  }
}

const PREC: Record<BinOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2, '%': 2, '^': 4 };
const prec = (tree: Tree): number => (tree.t === 'bin' ? PREC[tree.op] : tree.t === 'neg' ? 3 : 5);
const wrap = (s: string, yes: boolean): string => (yes ? `(${s})` : s);

function printMinimal(tree: Tree): string {
  switch (tree.t) {
    case 'num':
      return String(tree.v);
    case 'const':
      return tree.name;
    case 'neg':
      return `-${wrap(printMinimal(tree.a), prec(tree.a) < 3)}`;
    case 'fn':
      return `${tree.name}(${tree.args.map(printMinimal).join(', ')})`;
    case 'bin': {
      const p = PREC[tree.op];
      if (tree.op === '^') {
        // The base is a primary; the exponent may be a unary or another power (right-associative).
        return `${wrap(printMinimal(tree.a), prec(tree.a) < 5)} ^ ${wrap(printMinimal(tree.b), prec(tree.b) < 3)}`;
      }
      return `${wrap(printMinimal(tree.a), prec(tree.a) < p)} ${tree.op} ${wrap(printMinimal(tree.b), prec(tree.b) <= p)}`;
    }
  }
}

const numberArb = fc.oneof(
  fc.integer({ min: 0, max: 1000 }),
  fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 1, 2, 0.5, 1e21, 1e-7, 2.5e-3, 5e-324),
).map((v) => (v === 0 ? 0 : Math.abs(v)));

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { maxDepth: 5, depthSize: 'small', withCrossShrink: true },
    numberArb.map((v): Tree => ({ t: 'num', v })),
    fc.constantFrom<Tree>({ t: 'const', name: 'pi' }, { t: 'const', name: 'e' }),
    tie('tree').map((a): Tree => ({ t: 'neg', a })),
    fc
      .tuple(fc.constantFrom<BinOp>('+', '-', '*', '/', '%', '^'), tie('tree'), tie('tree'))
      .map(([op, a, b]): Tree => ({ t: 'bin', op, a, b })),
    fc
      .constantFrom(...Object.keys(FN_ARITY))
      .chain((name) => {
        const [min, max] = FN_ARITY[name]!;
        return fc.array(tie('tree'), { minLength: min, maxLength: max }).map((args): Tree => ({ t: 'fn', name, args }));
      }),
  ),
})).tree;

function expectAgreement(tree: Tree, text: string): void {
  let expected: number | OracleError;
  try {
    const v = oracle(tree);
    expected = v === 0 ? 0 : v;
  } catch (e) {
    if (!(e instanceof OracleError)) throw e;
    expected = e;
  }
  if (expected instanceof OracleError) {
    expect(errorOf(text).code).toBe(expected.code);
  } else {
    expect(evaluateExpression(text)).toBe(expected);
  }
}

describe('evaluateExpression (properties)', () => {
  it('agrees with the oracle on fully parenthesised trees', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const text = printFull(tree);
        fc.pre(text.length <= MAX_EXPRESSION_LENGTH);
        expectAgreement(tree, text);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the oracle when printed with the fewest parentheses (precedence and associativity)', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const text = printMinimal(tree);
        fc.pre(text.length <= MAX_EXPRESSION_LENGTH);
        expectAgreement(tree, text);
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but CalculatorError on arbitrary strings, and returns only finite numbers', () => {
    const calcChars = fc.constantFrom(...'0123456789.eE+-*/%^(), \n×÷−piqrtsbaxmlnogcfu_$`'.split(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({ unit: calcChars, maxLength: 120 }),
          fc.string({ unit: calcChars, minLength: 990, maxLength: 1100 }),
        ),
        (input) => {
          try {
            const v = evaluateExpression(input);
            expect(Number.isFinite(v)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(CalculatorError);
            const err = e as CalculatorError;
            expect(err.position).toBeGreaterThanOrEqual(0);
            expect(err.position).toBeLessThanOrEqual(input.length);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
