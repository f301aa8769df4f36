// The task suite of `npm run bench:learning`: 56 tasks in 4 domains, each
// with a verifier from src/lib/learning/verifiers.ts and a reference answer
// (what a person's correction would say; checked against the verifier at
// start-up). The split is fixed: 6 train and 8 test tasks per domain, listed
// below in that order, never shuffled.
//
// The prompts deliberately say nothing about the answer's form: that is the
// learnable part. Each domain has a strategy that changes the score under
// its verifier and that an experience "When <condition>, <strategy>" can
// carry from the train tasks to the test tasks:
//
// - math (number verifier, exact): the verifier reads the first number after
//   the last "answer"/"final answer" marker, else the last number of the
//   reply. Explanations that end by restating other quantities ("… so each
//   of the 4 friends pays $16") are scored on the wrong number. Strategy:
//   work it out step by step, then end with a line "Answer: <number>" holding
//   only the number.
// - units (number verifier, exact or ±0.5 % for non-integers): the same
//   reading, and multi-step conversions (speeds, areas, days to seconds)
//   where one-hop guesses go wrong. Strategy: convert to base units (m, s,
//   kg, m², m³) first, then to the unit asked, and end with "Answer:
//   <number>" in the unit asked.
// - json (json-shape verifier; no extra keys, exact types): the verifier
//   finds the first JSON value anywhere in the reply, so prose around it is
//   harmless, but quoted numbers ("34"), "yes"/"no" for booleans,
//   comma-separated strings for lists, renamed or extra keys fail.
//   Strategy: output one JSON object with exactly the keys asked for,
//   numbers as JSON numbers, lists as arrays, yes/no as true/false.
// - code (code verifier, unit tests in a worker): the verifier runs the
//   first ```javascript (or unlabelled) fenced block. Prose-only code, a
//   ```typescript block, another function name, printing instead of
//   returning all fail. Strategy: reply with the whole function in one
//   ```javascript block, plain JavaScript, exactly the name and parameters
//   asked for, returning the result.

/** @typedef {'math' | 'units' | 'json' | 'code'} SuiteDomain */
/** @typedef {{ id: string, domain: SuiteDomain, experienceDomain: string, split: 'train' | 'test', task: string, verifier: object, reference: string }} SuiteTask */

export const STRATEGIES = {
  math: 'work it out step by step, then end with a line "Answer: <number>" holding only the number',
  units: 'convert to base units first, then to the unit asked, and end with "Answer: <number>" in the unit asked',
  json: 'output one JSON object with exactly the keys asked for, numbers as JSON numbers, lists as arrays, yes/no as true/false',
  code: 'reply with the whole function in one ```javascript block, plain JavaScript, exactly the name asked for, returning the result',
};

const num = (expected, tolerance = 0) => ({ kind: 'number', expected, tolerance });
const S = { type: 'string' };
const N = { type: 'number' };
const I = { type: 'integer' };
const B = { type: 'boolean' };
const arr = (items, minItems = 1) => ({ type: 'array', items, minItems });
const obj = (properties) => ({ type: 'object', properties, required: Object.keys(properties), additionalProperties: false });
const shape = (s) => ({ kind: 'json-shape', shape: s });
const code = (tests) => ({ kind: 'code', language: 'javascript', tests });
const js = (source) => `\`\`\`javascript\n${source}\n\`\`\``;

// [task, expected] — the reference is "…\nAnswer: <expected>".
const MATH = {
  train: [
    ['A baker makes 24 muffins and packs them in boxes of 6. Each box sells for $4.50. How much money does she make if she sells all the boxes?', 18],
    ['Tom reads 15 pages a day. His book has 240 pages. How many days does he need to finish it?', 16],
    ['A train travels 180 km in 2.5 hours. What is its average speed in km per hour?', 72],
    ['Three friends share a $45 pizza bill equally and each adds a $2 tip. How much does each friend pay in total?', 17],
    ['A rectangle is 12 cm long and 7 cm wide. What is its perimeter in cm?', 38],
    ['Sara has 3 times as many stickers as Ben. Together they have 64 stickers. How many stickers does Sara have?', 48],
  ],
  test: [
    ['A school orders 7 boxes of pencils with 36 pencils per box and hands out 150 pencils. How many pencils are left?', 102],
    ['A shirt costs $40 and is on sale for 25% off. What is the sale price in dollars?', 30],
    ['Maria already has $30 and saves $12 each week. How many weeks does she need to reach $150?', 10],
    ['A car uses 6 litres of fuel per 100 km. How many litres does it need for a 350 km trip?', 21],
    ['The sum of two consecutive even numbers is 46. What is the larger number?', 24],
    ['A garden is 9 m by 14 m. Fencing costs $3 per metre. How much does it cost to fence the whole perimeter?', 138],
    ['A class of 28 students goes on a trip in vans that hold 8 students each. How many vans are needed?', 4],
    ['Four friends split a $58 dinner bill and a $6 tip equally. How much does each friend pay in dollars?', 16],
  ],
};

const UNITS = {
  train: [
    ['Convert 2.5 km to centimetres.', 250000],
    ['How many seconds are in 3 hours and 20 minutes?', 12000],
    ['Convert 90 km/h to metres per second.', 25],
    ['A jug holds 2.4 litres. How many millilitres is that?', 2400],
    ['Convert 5 square metres to square centimetres.', 50000],
    ['How many grams are in 3.2 kg?', 3200],
  ],
  test: [
    ['Convert 54 km/h to metres per second.', 15],
    ['How many minutes are in 2.75 days?', 3960],
    ['Convert 0.35 km to millimetres.', 350000],
    ['Convert 15 metres per second to kilometres per hour.', 54],
    ['How many seconds are in 1.5 days?', 129600],
    ['Convert 2 square kilometres to square metres.', 2000000],
    ['A tank holds 0.6 cubic metres of water. How many litres is that?', 600],
    ['Convert 7500 milligrams to kilograms.', 0.0075],
  ],
};

// [task, shape, reference JSON]
const JSON_TASKS = {
  train: [
    ['Give me a JSON record for this person: Alice Martin, 34 years old, lives in Lyon. Use the keys name, age and city.', obj({ name: S, age: I, city: S }), { name: 'Alice Martin', age: 34, city: 'Lyon' }],
    ["Turn this into JSON with the keys title, year and genres: 'Alien' (1979), a science-fiction horror film.", obj({ title: S, year: I, genres: arr(S, 2) }), { title: 'Alien', year: 1979, genres: ['science fiction', 'horror'] }],
    ['Make a JSON object for a product: a blue mug, price 8.50 euros, in stock. Keys: item, price, in_stock.', obj({ item: S, price: N, in_stock: B }), { item: 'blue mug', price: 8.5, in_stock: true }],
    ['Represent this shopping list as JSON with a key items holding a list of objects with name and quantity: 3 apples, 2 lemons, 1 bread.', obj({ items: arr(obj({ name: S, quantity: I }), 3) }), { items: [{ name: 'apples', quantity: 3 }, { name: 'lemons', quantity: 2 }, { name: 'bread', quantity: 1 }] }],
    ['Give the point x = 3, y = -2 as JSON with the keys x and y.', obj({ x: N, y: N }), { x: 3, y: -2 }],
    ['Describe this meeting as JSON with the keys topic, duration_minutes and attendees: budget review, one hour, with Ana and Lee.', obj({ topic: S, duration_minutes: I, attendees: arr(S, 2) }), { topic: 'budget review', duration_minutes: 60, attendees: ['Ana', 'Lee'] }],
  ],
  test: [
    ["Give me a JSON record for this book: 'Dune' by Frank Herbert, published in 1965, 412 pages. Keys: title, author, year, pages.", obj({ title: S, author: S, year: I, pages: I }), { title: 'Dune', author: 'Frank Herbert', year: 1965, pages: 412 }],
    ['Make a JSON object for this city: Oslo, population 709000, capital: yes. Keys: name, population, is_capital.', obj({ name: S, population: I, is_capital: B }), { name: 'Oslo', population: 709000, is_capital: true }],
    ['Turn this recipe into JSON with the keys dish, servings and ingredients: pancakes for 4 people with flour, milk and eggs.', obj({ dish: S, servings: I, ingredients: arr(S, 3) }), { dish: 'pancakes', servings: 4, ingredients: ['flour', 'milk', 'eggs'] }],
    ['Give this temperature reading as JSON with the keys sensor, celsius and ok: sensor T1 reads 21.5 degrees and works fine.', obj({ sensor: S, celsius: N, ok: B }), { sensor: 'T1', celsius: 21.5, ok: true }],
    ['Represent these tasks as JSON with a key tasks holding a list of objects with title and done: write report (done), call Sam (not done).', obj({ tasks: arr(obj({ title: S, done: B }), 2) }), { tasks: [{ title: 'write report', done: true }, { title: 'call Sam', done: false }] }],
    ['Give the size of a 30 by 20 by 15 cm box as JSON with the keys width, height and depth, in centimetres.', obj({ width: N, height: N, depth: N }), { width: 30, height: 20, depth: 15 }],
    ['Make a JSON object for this employee: Priya Shah, id 1042, teams design and research. Keys: name, id, teams.', obj({ name: S, id: I, teams: arr(S, 2) }), { name: 'Priya Shah', id: 1042, teams: ['design', 'research'] }],
    ['Give this flight as JSON with the keys from, to and stops: from Paris to Tokyo with one stop.', obj({ from: S, to: S, stops: I }), { from: 'Paris', to: 'Tokyo', stops: 1 }],
  ],
};

// [task, tests, reference code]
const CODE = {
  train: [
    ['Write a JavaScript function `sum(numbers)` that returns the sum of an array of numbers.',
      "test('small', () => assertEqual(sum([1, 2, 3]), 6));\ntest('empty', () => assertEqual(sum([]), 0));\ntest('signs', () => assertEqual(sum([-1, 1, 5]), 5));",
      'function sum(numbers) {\n  return numbers.reduce((a, b) => a + b, 0);\n}'],
    ['Write a JavaScript function `reverseString(s)` that returns the string s reversed.',
      "test('word', () => assertEqual(reverseString('abc'), 'cba'));\ntest('empty', () => assertEqual(reverseString(''), ''));\ntest('spaces', () => assertEqual(reverseString('a b'), 'b a'));",
      "function reverseString(s) {\n  return [...s].reverse().join('');\n}"],
    ['Write a JavaScript function `isEven(n)` that tells whether an integer is even.',
      "test('even', () => assertEqual(isEven(4), true));\ntest('odd', () => assertEqual(isEven(7), false));\ntest('zero', () => assertEqual(isEven(0), true));\ntest('negative', () => assertEqual(isEven(-3), false));",
      'function isEven(n) {\n  return n % 2 === 0;\n}'],
    ['Write a JavaScript function `maxOf(numbers)` that returns the largest number in a non-empty array.',
      "test('mixed', () => assertEqual(maxOf([3, 9, 2]), 9));\ntest('negative', () => assertEqual(maxOf([-5, -2, -9]), -2));\ntest('one', () => assertEqual(maxOf([7]), 7));",
      'function maxOf(numbers) {\n  return Math.max(...numbers);\n}'],
    ['Write a JavaScript function `capitalize(word)` that returns the word with its first letter in upper case.',
      "test('word', () => assertEqual(capitalize('hello'), 'Hello'));\ntest('already', () => assertEqual(capitalize('Yes'), 'Yes'));\ntest('empty', () => assertEqual(capitalize(''), ''));",
      'function capitalize(word) {\n  return word.charAt(0).toUpperCase() + word.slice(1);\n}'],
    ['Write a JavaScript function `countVowels(s)` that counts the vowels (a, e, i, o, u, in either case) in a string.',
      "test('word', () => assertEqual(countVowels('banana'), 3));\ntest('case', () => assertEqual(countVowels('AEIOU xyz'), 5));\ntest('none', () => assertEqual(countVowels('rhythm'), 0));",
      'function countVowels(s) {\n  return (s.match(/[aeiou]/gi) || []).length;\n}'],
  ],
  test: [
    ['Write a JavaScript function `factorial(n)` that returns n! for a whole number n ≥ 0.',
      "test('zero', () => assertEqual(factorial(0), 1));\ntest('five', () => assertEqual(factorial(5), 120));\ntest('ten', () => assertEqual(factorial(10), 3628800));",
      'function factorial(n) {\n  let r = 1;\n  for (let i = 2; i <= n; i++) r *= i;\n  return r;\n}'],
    ['Write a JavaScript function `isPalindrome(s)` that tells whether a string reads the same backwards (exactly, character by character).',
      "test('yes', () => assertEqual(isPalindrome('racecar'), true));\ntest('no', () => assertEqual(isPalindrome('hello'), false));\ntest('empty', () => assertEqual(isPalindrome(''), true));",
      "function isPalindrome(s) {\n  return s === [...s].reverse().join('');\n}"],
    ['Write a JavaScript function `average(numbers)` that returns the mean of a non-empty array of numbers.',
      "test('ints', () => assertEqual(average([1, 2, 3, 4]), 2.5));\ntest('one', () => assertEqual(average([7]), 7));\ntest('negative', () => assertEqual(average([-2, 2]), 0));",
      'function average(numbers) {\n  return numbers.reduce((a, b) => a + b, 0) / numbers.length;\n}'],
    ["Write a JavaScript function `fizzBuzz(n)` that returns 'FizzBuzz' when n is divisible by 15, 'Fizz' when by 3, 'Buzz' when by 5, and otherwise n as a string.",
      "test('fizz', () => assertEqual(fizzBuzz(9), 'Fizz'));\ntest('buzz', () => assertEqual(fizzBuzz(10), 'Buzz'));\ntest('both', () => assertEqual(fizzBuzz(30), 'FizzBuzz'));\ntest('plain', () => assertEqual(fizzBuzz(7), '7'));",
      "function fizzBuzz(n) {\n  if (n % 15 === 0) return 'FizzBuzz';\n  if (n % 3 === 0) return 'Fizz';\n  if (n % 5 === 0) return 'Buzz';\n  return String(n);\n}"],
    ['Write a JavaScript function `range(a, b)` that returns an array of the integers from a up to but not including b.',
      "test('small', () => assertEqual(range(2, 5), [2, 3, 4]));\ntest('empty', () => assertEqual(range(3, 3), []));\ntest('negative', () => assertEqual(range(-1, 2), [-1, 0, 1]));",
      'function range(a, b) {\n  const out = [];\n  for (let i = a; i < b; i++) out.push(i);\n  return out;\n}'],
    ['Write a JavaScript function `countWords(s)` that returns how many words (separated by whitespace) a string has.',
      "test('simple', () => assertEqual(countWords('the quick fox'), 3));\ntest('spaces', () => assertEqual(countWords('  a   b '), 2));\ntest('empty', () => assertEqual(countWords(''), 0));",
      'function countWords(s) {\n  return s.split(/\\s+/).filter(Boolean).length;\n}'],
    ['Write a JavaScript function `clamp(x, lo, hi)` that limits x to the range lo..hi.',
      "test('inside', () => assertEqual(clamp(5, 0, 10), 5));\ntest('low', () => assertEqual(clamp(-3, 0, 10), 0));\ntest('high', () => assertEqual(clamp(12, 0, 10), 10));",
      'function clamp(x, lo, hi) {\n  return Math.min(hi, Math.max(lo, x));\n}'],
    ['Write a JavaScript function `unique(items)` that returns the array without duplicates, keeping the first occurrence of each item in order.',
      "test('numbers', () => assertEqual(unique([1, 2, 1, 3, 2]), [1, 2, 3]));\ntest('strings', () => assertEqual(unique(['b', 'a', 'b']), ['b', 'a']));\ntest('empty', () => assertEqual(unique([]), []));",
      'function unique(items) {\n  return [...new Set(items)];\n}'],
  ],
};

function build() {
  /** @type {SuiteTask[]} */
  const tasks = [];
  for (const split of ['train', 'test']) {
    MATH[split].forEach(([task, expected], i) =>
      tasks.push({ id: `math-${split}-${i + 1}`, domain: 'math', experienceDomain: 'math', split, task, verifier: num(expected), reference: `Working it out step by step.\nAnswer: ${expected}` }),
    );
    UNITS[split].forEach(([task, expected], i) =>
      tasks.push({
        id: `units-${split}-${i + 1}`,
        domain: 'units',
        experienceDomain: 'units',
        split,
        task,
        verifier: num(expected, Number.isInteger(expected) ? 0 : Math.abs(expected) * 0.005),
        reference: `Convert to base units first, then to the unit asked.\nAnswer: ${expected}`,
      }),
    );
    JSON_TASKS[split].forEach(([task, s, example], i) =>
      tasks.push({ id: `json-${split}-${i + 1}`, domain: 'json', experienceDomain: 'coding', split, task, verifier: shape(s), reference: JSON.stringify(example) }),
    );
    CODE[split].forEach(([task, tests, source], i) =>
      tasks.push({ id: `code-${split}-${i + 1}`, domain: 'code', experienceDomain: 'coding', split, task, verifier: code(tests), reference: js(source) }),
    );
  }
  return tasks;
}

export const TASKS = Object.freeze(build());
export const DOMAINS = /** @type {const} */ (['math', 'units', 'json', 'code']);
