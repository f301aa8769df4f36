/**
 * Self-training (roadmap phase IV): practice on checkable synthetic tasks in
 * the domains where the network, or this node, is weak, so that the rollout
 * pipeline (pipeline.ts) has episodes to learn from even when the person gives
 * no feedback.
 *
 * One run:
 * 1. Weak domains. The field's curriculum (improvement-signal.ts, weakest
 *    first) names them; only domains with task templates here can be
 *    practised (the others are reported as skipped). When the curriculum names
 *    none that can, the fallback is this node's own episodes: the domains
 *    where their answers fail their checks most (`ownWeakDomains`; up to
 *    MAX_EPISODE_CHECKS stored answers are re-checked, episodes without a
 *    check count by the person's judgement; synthetic episodes never count,
 *    or practice would feed on itself). At most MAX_DOMAINS_PER_RUN domains.
 * 2. Tasks. Per domain, `tasksPerDomain` tasks drawn from the domain's
 *    templates with the random source passed in (numbers, names, words), each
 *    with a Verifier (verifiers.ts): a number for math, units, reasoning and
 *    planning; a JSON shape for plans and extraction; unit tests for small
 *    JavaScript functions. Every template also writes a reference answer that
 *    passes its own verifier (the tests prove it for every seed); it is never
 *    shown to the model.
 * 3. Solve each task twice, greedily (temperature 0, so the two answers differ
 *    by the experiences and not by sampling luck): without experiences, and
 *    with the experiences block built exactly as the rollout pipeline builds
 *    it (selectExperiences on the task, `renderExperienceBlock` under the
 *    system prompt). When no experience is relevant both prompts are the same
 *    and the task is solved once.
 * 4. Check both answers with the injected `runCheck` (runVerifier in the app).
 * 5. Episodes. A task whose answer *with* the experiences failed its check is
 *    something to learn from; it becomes an Episode (at most
 *    MAX_EPISODES_PER_RUN, spread over the domains) carrying the task, that
 *    answer, the verifier and the experiences that were in the prompt. The
 *    caller stores them and queues rollouts (src/services/background-jobs.ts).
 *    Tasks that passed with the experiences teach a rollout nothing and cost
 *    a whole group of generations, so they stay in the summary only.
 *
 * How an episode is marked synthetic: the Episode schema (episode.ts) has no
 * origin or source field and is strict, so there is no honest place for a
 * flag. The closest honest representation is its conversation: a synthetic
 * episode belongs to no conversation, so its `conversationId` is
 * SELF_TRAINING_CONVERSATION_ID (a name no conversation id has: those are
 * generated ids), its `messageId` is SELF_TRAINING_MESSAGE_PREFIX + its id
 * (no message has it, so `getEpisodeOfMessage` never confuses the two), and
 * its `stateReason` starts with SELF_TRAINING_REASON_PREFIX.
 * `isSyntheticEpisode` is the test. A real origin field needs a schema change
 * (see the module's report).
 *
 * Cancellation: the signal is checked before and after every generation and
 * check and passed into both; an answer cut short by an abort is never
 * checked. Nothing is returned from an aborted run (it rejects), so an abort
 * leaves nothing behind.
 *
 * Pure: the engine, checks, clock, ids and randomness are passed in. In the
 * app the random source may be Math.random or crypto-based (tasks are not
 * secret: they only need to vary); tests pass random/seeded.ts.
 */
import type { ChatTurn, GenerateOptions } from '../engine/contract';
import { ARTIFACT_DOMAINS, type ArtifactDomain } from '../artifacts/schema';
import type { CurriculumEntry } from '../ccf/improvement-signal';
import { selectExperiences } from './conditioning';
import { createEpisode, episodeSchema, MAX_USED_EXPERIENCES, shownAnswerScore, type Episode } from './episode';
import type { Experience } from './experience';
import { DEFAULT_CONDITIONING_BUDGET, type VerifyAnswer } from './pipeline';
import type { Shape, Verifier } from './verifiers';

/*
 * Bounds.
 */

/**
 * Domains practised per run. Curricula come weakest first; three domains of
 * DEFAULT_TASKS_PER_DOMAIN tasks are 24 greedy generations at most, minutes on
 * a laptop GPU, and the next run (the job is re-queued while the curriculum
 * still names weak domains) takes the rest.
 */
export const MAX_DOMAINS_PER_RUN = 3;
/** Tasks per domain by default: enough to see a difference with and without experiences, few enough for a phone. */
export const DEFAULT_TASKS_PER_DOMAIN = 4;
/** Most tasks per domain a caller may ask for. */
export const MAX_TASKS_PER_DOMAIN = 12;
/** Most tasks per run, whatever the options: two generations each, so at most 72 generations. */
export const MAX_TASKS_PER_RUN = MAX_DOMAINS_PER_RUN * MAX_TASKS_PER_DOMAIN;
/**
 * Episodes a run hands to the rollout pipeline. Each costs a rollout job (a
 * group of APP_GROUP_SIZE = 4 samples, their checks and a contrast, about five
 * generations), so eight rollouts cost about as much as the run itself.
 */
export const MAX_EPISODES_PER_RUN = 8;
/** Stored answers re-checked to find this node's own weak domains (code checks take up to two seconds each). */
export const MAX_EPISODE_CHECKS = 32;
/** Judged episodes a domain needs before its failure rate says anything. */
export const MIN_JUDGED_EPISODES = 3;
/** A domain whose own answers fail at least this often is weak. */
export const MIN_FAILURE_RATE = 0.25;
/** Draws per wanted task before giving up on finding distinct prompts (a template space can be small). */
const DRAWS_PER_TASK = 8;

/**
 * Greedy and short: the comparison is with and without experiences, so
 * sampling noise must not decide it; 256 tokens hold a worked answer.
 */
export const SOLVE_OPTIONS: GenerateOptions = { maxNewTokens: 256, temperature: 0, topP: 1 };
/** Code answers need room for a function in a fenced block. */
export const CODE_SOLVE_OPTIONS: GenerateOptions = { maxNewTokens: 384, temperature: 0, topP: 1 };

/** The conversation id of every synthetic episode (see the module comment). */
export const SELF_TRAINING_CONVERSATION_ID = 'h3lix:self-training';
/** The message id of a synthetic episode is this prefix and the episode id. */
export const SELF_TRAINING_MESSAGE_PREFIX = 'h3lix:self-training:';
/** The start of a synthetic episode's stateReason while it waits for its rollout. */
export const SELF_TRAINING_REASON_PREFIX = 'Self-training practice task (synthetic)';

export function isSyntheticEpisode(episode: Pick<Episode, 'conversationId'>): boolean {
  return episode.conversationId === SELF_TRAINING_CONVERSATION_ID;
}

/*
 * Random draws.
 */

export type Random = () => number;

function draw(random: Random): number {
  const x = random();
  if (!(x >= 0 && x < 1)) throw new RangeError(`the random source returned ${x}, not a number in [0, 1)`);
  return x;
}

/** A whole number in [lo, hi]. */
function int(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(draw(random) * (hi - lo + 1));
}

function pick<T>(random: Random, list: readonly T[]): T {
  return list[int(random, 0, list.length - 1)] as T;
}

/** `n` distinct elements of `list` in random order. */
function sample<T>(random: Random, list: readonly T[], n: number): T[] {
  const pool = [...list];
  for (let i = 0; i < n; i++) {
    const j = int(random, i, pool.length - 1);
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, n);
}

/*
 * Tasks.
 */

export interface SyntheticTask {
  domain: ArtifactDomain;
  /** Which template drew it ('math/percentage'). */
  template: string;
  /** The question as the model reads it, ending with how to answer. */
  prompt: string;
  verifier: Verifier;
  /** An answer that passes `verifier`; never shown to the model. */
  reference: string;
}

type Drawn = Omit<SyntheticTask, 'domain' | 'template'>;
interface Template {
  name: string;
  draw: (random: Random) => Drawn;
}

const NUMBER_ONLY = 'Answer with the number only.';
const NAMES = ['Ada', 'Ben', 'Chloe', 'Dev', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Leo', 'Maya', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tara'];
const CITIES = ['Lisbon', 'Oslo', 'Nairobi', 'Lima', 'Hanoi', 'Dublin', 'Porto', 'Quito', 'Tunis', 'Riga', 'Accra', 'Kyoto'];
const THINGS = ['apples', 'pencils', 'stickers', 'marbles', 'cookies', 'books', 'stamps', 'shells', 'cards', 'buttons'];
const ITEMS = ['jacket', 'lamp', 'backpack', 'kettle', 'chair', 'bicycle helmet', 'pair of boots', 'desk'];
const WORDS = ['apple', 'bridge', 'cloud', 'desk', 'engine', 'forest', 'garden', 'harbor', 'island', 'jacket', 'kettle', 'lemon', 'mirror', 'needle', 'orange', 'pillow', 'quartz', 'river', 'saddle', 'tunnel', 'umbrella', 'violin', 'window', 'yogurt', 'zebra'];
const LONG_WORDS = ['strawberry', 'bookkeeper', 'mississippi', 'committee', 'balloon', 'assessment', 'banana', 'possession', 'parallel', 'coffee', 'success', 'tomorrow', 'occurrence', 'referee'];
const GROCERIES: ReadonlyArray<readonly [string, number]> = [
  ['notebooks', 250],
  ['pens', 120],
  ['apples', 45],
  ['loaves of bread', 310],
  ['bottles of water', 95],
  ['candles', 375],
  ['batteries', 180],
];
const GOALS = ['moving to a new flat', 'preparing a birthday party', 'learning to swim', 'writing a short report', 'planting a vegetable garden', 'organising a team meeting', 'cleaning out the garage'];

const numberTask = (prompt: string, value: number, tolerance = 0, reference = formatNumber(value)): Drawn => ({
  prompt,
  verifier: { kind: 'number', expected: value, tolerance },
  reference,
});

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(12)));
}

const round = (x: number, decimals: number): number => Math.round(x * 10 ** decimals) / 10 ** decimals;

const codeTask = (description: string, example: string, tests: readonly string[], solution: string): Drawn => ({
  prompt: `Write a JavaScript function ${description} For example, ${example}. Answer with the code in one \`\`\`javascript block.`,
  verifier: { kind: 'code', language: 'javascript', tests: tests.join('\n') },
  reference: `\`\`\`javascript\n${solution}\n\`\`\``,
});

const testLine = (n: number, call: string, expected: unknown): string => `test('case ${n}', () => assertEqual(${call}, ${JSON.stringify(expected)}));`;
const lit = (v: unknown): string => JSON.stringify(v);

function intList(random: Random, minLength: number, maxLength: number, lo: number, hi: number): number[] {
  return Array.from({ length: int(random, minLength, maxLength) }, () => int(random, lo, hi));
}

const TEMPLATES: Readonly<Partial<Record<ArtifactDomain, readonly Template[]>>> = {
  math: [
    {
      name: 'percentage',
      draw: (r) => {
        const price = 20 * int(r, 2, 40);
        const rate = pick(r, [10, 15, 20, 25, 30, 40, 50]);
        return numberTask(`A ${pick(r, ITEMS)} costs ${price} euros. In a sale its price is reduced by ${rate}%. What is the sale price in euros? ${NUMBER_ONLY}`, (price * (100 - rate)) / 100);
      },
    },
    {
      name: 'multi-step',
      draw: (r) => {
        const name = pick(r, NAMES);
        const things = pick(r, THINGS);
        const a = int(r, 3, 12);
        const b = int(r, 3, 12);
        const c = int(r, 1, a * b - 1);
        return numberTask(`${name} puts ${a} ${things} into each of ${b} boxes, then gives away ${c} of them. How many ${things} does ${name} have left? ${NUMBER_ONLY}`, a * b - c);
      },
    },
    {
      name: 'average',
      draw: (r) => {
        const values = intList(r, 4, 6, 10, 99);
        const mean = round(values.reduce((a, b) => a + b, 0) / values.length, 2);
        return numberTask(`What is the average of these numbers, rounded to two decimal places: ${values.join(', ')}? ${NUMBER_ONLY}`, mean, 0.005, mean.toFixed(2));
      },
    },
    {
      name: 'linear-equation',
      draw: (r) => {
        const x = int(r, -20, 20);
        const a = int(r, 2, 12);
        const b = int(r, 1, 50) * (draw(r) < 0.5 ? -1 : 1);
        const c = a * x + b;
        return numberTask(`Solve for x: ${a}x ${b < 0 ? '-' : '+'} ${Math.abs(b)} = ${c}. Answer with the value of x only.`, x);
      },
    },
  ],
  units: [
    {
      name: 'metric',
      draw: (r) => {
        const [large, small, factor] = pick(r, [
          ['metres', 'centimetres', 100],
          ['kilometres', 'metres', 1000],
          ['kilograms', 'grams', 1000],
          ['litres', 'millilitres', 1000],
          ['hours', 'minutes', 60],
          ['days', 'hours', 24],
        ] as const);
        const q = int(r, 2, 40);
        const extra = int(r, 1, factor - 1);
        return numberTask(`How many ${small} are in ${q} ${large} and ${extra} ${small}? ${NUMBER_ONLY}`, q * factor + extra);
      },
    },
    {
      name: 'temperature',
      draw: (r) => {
        const c = 5 * int(r, -8, 20);
        return numberTask(`Convert ${c} degrees Celsius to degrees Fahrenheit. ${NUMBER_ONLY}`, (c * 9) / 5 + 32);
      },
    },
    {
      name: 'speed',
      draw: (r) => {
        const kmh = 18 * int(r, 1, 8);
        return numberTask(`A cyclist rides at ${kmh} kilometres per hour. What is that speed in metres per second? ${NUMBER_ONLY}`, (kmh * 1000) / 3600);
      },
    },
    {
      name: 'miles',
      draw: (r) => {
        const miles = int(r, 2, 50);
        const km = round(miles * 1.609344, 1);
        return numberTask(`How many kilometres are ${miles} miles, rounded to one decimal place? (One mile is 1.609344 kilometres.) ${NUMBER_ONLY}`, km, 0.05, km.toFixed(1));
      },
    },
  ],
  coding: [
    {
      name: 'sum-of-evens',
      draw: (r) => {
        const f = (xs: number[]): number => xs.filter((n) => n % 2 === 0).reduce((a, b) => a + b, 0);
        const cases = [[], ...Array.from({ length: 3 }, () => intList(r, 1, 7, -20, 20))];
        const ex = intList(r, 3, 5, 1, 12);
        return codeTask(
          '`sumOfEvens(numbers)` that returns the sum of the even numbers in the array `numbers` (0 when there are none).',
          `sumOfEvens(${lit(ex)}) is ${f(ex)}`,
          cases.map((c, i) => testLine(i + 1, `sumOfEvens(${lit(c)})`, f(c))),
          'function sumOfEvens(numbers) {\n  return numbers.filter((n) => n % 2 === 0).reduce((a, b) => a + b, 0);\n}',
        );
      },
    },
    {
      name: 'count-vowels',
      draw: (r) => {
        const f = (s: string): number => [...s.toLowerCase()].filter((c) => 'aeiou'.includes(c)).length;
        const phrase = (): string => sample(r, WORDS, int(r, 1, 4)).map((w) => (draw(r) < 0.3 ? w.toUpperCase() : w)).join(' ');
        const cases = ['', ...Array.from({ length: 3 }, phrase)];
        const ex = pick(r, WORDS);
        return codeTask(
          '`countVowels(text)` that returns how many of the letters a, e, i, o and u (upper or lower case) the string `text` contains.',
          `countVowels(${lit(ex)}) is ${f(ex)}`,
          cases.map((c, i) => testLine(i + 1, `countVowels(${lit(c)})`, f(c))),
          "function countVowels(text) {\n  return [...text.toLowerCase()].filter((c) => 'aeiou'.includes(c)).length;\n}",
        );
      },
    },
    {
      name: 'clamp',
      draw: (r) => {
        const f = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
        const lo = int(r, -10, 10);
        const hi = lo + int(r, 1, 20);
        const cases: [number, number, number][] = [[lo - int(r, 1, 9), lo, hi], [hi + int(r, 1, 9), lo, hi], [int(r, lo, hi), lo, hi], [lo, lo, hi]];
        return codeTask(
          '`clamp(value, min, max)` that returns `value` limited to the range from `min` to `max` (min ≤ max).',
          `clamp(${hi + 3}, ${lo}, ${hi}) is ${hi}`,
          cases.map((c, i) => testLine(i + 1, `clamp(${c.join(', ')})`, f(...c))),
          'function clamp(value, min, max) {\n  return Math.min(Math.max(value, min), max);\n}',
        );
      },
    },
    {
      name: 'second-largest',
      draw: (r) => {
        const f = (xs: number[]): number => [...xs].sort((a, b) => b - a)[1] as number;
        const pool = Array.from({ length: 199 }, (_, i) => i - 99);
        const cases = Array.from({ length: 4 }, () => sample(r, pool, int(r, 2, 7)));
        const ex = sample(r, pool, 4);
        return codeTask(
          '`secondLargest(numbers)` that returns the second largest number of the array `numbers` (it holds at least two different numbers and no repeats).',
          `secondLargest(${lit(ex)}) is ${f(ex)}`,
          cases.map((c, i) => testLine(i + 1, `secondLargest(${lit(c)})`, f(c))),
          'function secondLargest(numbers) {\n  return [...numbers].sort((a, b) => b - a)[1];\n}',
        );
      },
    },
    {
      name: 'reverse-words',
      draw: (r) => {
        const f = (s: string): string => s.split(' ').reverse().join(' ');
        const cases = Array.from({ length: 4 }, (_, i) => sample(r, WORDS, i === 0 ? 1 : int(r, 2, 6)).join(' '));
        const ex = sample(r, WORDS, 3).join(' ');
        return codeTask(
          '`reverseWords(sentence)` that returns the words of `sentence` (separated by single spaces) in reverse order, separated by single spaces.',
          `reverseWords(${lit(ex)}) is ${lit(f(ex))}`,
          cases.map((c, i) => testLine(i + 1, `reverseWords(${lit(c)})`, f(c))),
          "function reverseWords(sentence) {\n  return sentence.split(' ').reverse().join(' ');\n}",
        );
      },
    },
  ],
  reasoning: [
    {
      name: 'sequence',
      draw: (r) => {
        if (draw(r) < 0.5) {
          const start = int(r, 1, 30);
          const step = int(r, 2, 12) * (draw(r) < 0.25 ? -1 : 1);
          const terms = Array.from({ length: 5 }, (_, i) => start + i * step);
          return numberTask(`What number comes next in the sequence ${terms.join(', ')}, …? ${NUMBER_ONLY}`, start + 5 * step);
        }
        const start = int(r, 1, 5);
        const ratio = int(r, 2, 3);
        const terms = Array.from({ length: 5 }, (_, i) => start * ratio ** i);
        return numberTask(`What number comes next in the sequence ${terms.join(', ')}, …? ${NUMBER_ONLY}`, start * ratio ** 5);
      },
    },
    {
      name: 'ranking',
      draw: (r) => {
        const people = sample(r, NAMES, int(r, 4, 5));
        // people is tallest first; the clues compare neighbours, in shuffled order.
        const clues = sample(
          r,
          people.slice(1).map((p, i) => `${people[i] as string} is taller than ${p}.`),
          people.length - 1,
        );
        const target = int(r, 0, people.length - 1);
        return numberTask(`${clues.join(' ')} How many of these ${people.length} people are taller than ${people[target] as string}? ${NUMBER_ONLY}`, target);
      },
    },
    {
      name: 'ages',
      draw: (r) => {
        const [a, b, c] = sample(r, NAMES, 3) as [string, string, string];
        const youngest = int(r, 3, 12);
        const factor = int(r, 2, 3);
        const diff = int(r, 1, 9);
        return numberTask(`${a} is ${diff} years older than ${b}. ${b} is ${factor} times as old as ${c}. ${c} is ${youngest} years old. How old is ${a}? ${NUMBER_ONLY}`, youngest * factor + diff);
      },
    },
    {
      name: 'word-count',
      draw: (r) => {
        const words = sample(r, WORDS, 5);
        const target = words[0] as string;
        const times = int(r, 1, 4);
        const items = [...Array.from({ length: times }, () => target), ...Array.from({ length: int(r, 2, 6) }, () => pick(r, words.slice(1)))];
        const list = sample(r, items, items.length);
        return numberTask(`How many times does the word "${target}" appear in this list: ${list.join(', ')}? ${NUMBER_ONLY}`, times);
      },
    },
  ],
  planning: [
    {
      name: 'two-workers',
      draw: (r) => {
        const durations = Array.from({ length: int(r, 4, 5) }, () => 5 * int(r, 2, 12));
        let best = Number.POSITIVE_INFINITY;
        for (let mask = 0; mask < 1 << durations.length; mask++) {
          let a = 0;
          let b = 0;
          durations.forEach((d, i) => (mask & (1 << i) ? (a += d) : (b += d)));
          best = Math.min(best, Math.max(a, b));
        }
        return numberTask(
          `Two people share ${durations.length} tasks that take ${durations.join(', ')} minutes. Each task is done by one person, start to finish, and each person does one task at a time. They start together. What is the fewest minutes until every task is done? ${NUMBER_ONLY}`,
          best,
        );
      },
    },
    {
      name: 'schedule',
      draw: (r) => {
        const durations = Array.from({ length: int(r, 3, 5) }, () => 5 * int(r, 2, 18));
        const pause = 5 * int(r, 1, 3);
        const total = durations.reduce((x, y) => x + y, 0) + pause * (durations.length - 1);
        return numberTask(
          `You start at 9:00 and do ${durations.length} tasks one after another, taking ${durations.join(', ')} minutes, with a ${pause}-minute break between two tasks (none before the first or after the last). How many minutes after 9:00 do you finish? ${NUMBER_ONLY}`,
          total,
        );
      },
    },
    {
      name: 'json-plan',
      draw: (r) => {
        const goal = pick(r, GOALS);
        const steps = int(r, 3, 6);
        const shape: Shape = {
          type: 'object',
          properties: {
            goal: { type: 'string' },
            steps: {
              type: 'array',
              minItems: steps,
              items: { type: 'object', properties: { title: { type: 'string' }, minutes: { type: 'number' } }, required: ['title', 'minutes'] },
            },
          },
          required: ['goal', 'steps'],
        };
        const reference = JSON.stringify({ goal, steps: Array.from({ length: steps }, (_, i) => ({ title: `Step ${i + 1}`, minutes: 15 * (i + 1) })) });
        return {
          prompt: `Make a plan for ${goal} with at least ${steps} steps. Answer with JSON only: an object with "goal" (a string) and "steps" (an array of objects, each with "title", a string, and "minutes", a number).`,
          verifier: { kind: 'json-shape', shape },
          reference,
        };
      },
    },
  ],
  language: [
    {
      name: 'letter-count',
      draw: (r) => {
        const word = pick(r, LONG_WORDS);
        const letter = pick(r, [...new Set(word)]);
        const count = [...word].filter((c) => c === letter).length;
        return numberTask(`How many times does the letter "${letter}" appear in the word "${word}"? ${NUMBER_ONLY}`, count);
      },
    },
    {
      name: 'word-length',
      draw: (r) => {
        const word = pick(r, [...LONG_WORDS, ...WORDS]);
        return numberTask(`How many letters does the word "${word}" have? ${NUMBER_ONLY}`, word.length);
      },
    },
    {
      name: 'sentence-words',
      draw: (r) => {
        const name = pick(r, NAMES);
        const words = sample(r, WORDS, int(r, 2, 6));
        const sentence = `${name} packed the ${words.join(' and the ')} before leaving.`;
        return numberTask(`How many words are in this sentence: "${sentence}"? ${NUMBER_ONLY}`, sentence.split(' ').length);
      },
    },
  ],
  other: [
    {
      name: 'extract-person',
      draw: (r) => {
        const name = pick(r, NAMES);
        const age = int(r, 18, 90);
        const city = pick(r, CITIES);
        const text = pick(r, [`${name}, ${age}, moved to ${city} last year.`, `Last spring ${name} (aged ${age}) opened a small bakery in ${city}.`, `Our new neighbour is ${name}, who is ${age} and grew up in ${city}.`]);
        return {
          prompt: `Extract the person's name, age and city from this text as a JSON object with exactly the keys "name" (a string), "age" (an integer) and "city" (a string). Text: "${text}" Answer with the JSON only.`,
          verifier: {
            kind: 'json-shape',
            shape: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' }, city: { type: 'string' } }, required: ['name', 'age', 'city'], additionalProperties: false },
          },
          reference: JSON.stringify({ name, age, city }),
        };
      },
    },
    {
      name: 'extract-list',
      draw: (r) => {
        const lines = sample(r, GROCERIES, int(r, 2, 4)).map(([item]) => ({ item, quantity: int(r, 2, 9) }));
        return {
          prompt: `List every item and its quantity from this shopping note as a JSON array of objects, each with "item" (a string) and "quantity" (an integer). Note: "${lines.map((l) => `${l.quantity} ${l.item}`).join(', ')}". Answer with the JSON only.`,
          verifier: {
            kind: 'json-shape',
            shape: { type: 'array', minItems: lines.length, items: { type: 'object', properties: { item: { type: 'string' }, quantity: { type: 'integer' } }, required: ['item', 'quantity'] } },
          },
          reference: JSON.stringify(lines),
        };
      },
    },
    {
      name: 'order-total',
      draw: (r) => {
        const lines = sample(r, GROCERIES, int(r, 2, 3)).map(([item, cents]) => ({ item, cents, quantity: int(r, 2, 6) }));
        const total = lines.reduce((sum, l) => sum + l.cents * l.quantity, 0) / 100;
        return numberTask(
          `An order lists ${lines.map((l) => `${l.quantity} ${l.item} at ${(l.cents / 100).toFixed(2)} euros each`).join(', ')}. What is the total in euros? ${NUMBER_ONLY}`,
          total,
          0.005,
          total.toFixed(2),
        );
      },
    },
  ],
};

/** Domains with task templates, in taxonomy order. */
export const SELF_TRAINING_DOMAINS: readonly ArtifactDomain[] = ARTIFACT_DOMAINS.filter((d) => (TEMPLATES[d]?.length ?? 0) > 0);

/** Why a domain cannot be practised (no mechanical check fits it). */
export const UNSUPPORTED_REASON: Readonly<Partial<Record<ArtifactDomain, string>>> = {
  writing: 'good prose has no mechanical check',
  facts: 'checking facts needs a source of truth this node does not have',
  safety: 'whether to decline is a judgement, not a check',
};

export function canPractise(domain: ArtifactDomain): boolean {
  return SELF_TRAINING_DOMAINS.includes(domain);
}

/** The names of a domain's templates ('math/percentage', …). */
export function templateNames(domain: ArtifactDomain): string[] {
  return (TEMPLATES[domain] ?? []).map((t) => `${domain}/${t.name}`);
}

/**
 * `count` tasks for `domain` with distinct prompts, templates taken in turn
 * from a random start (so a run sees several kinds of task). Fewer when the
 * templates cannot give that many distinct prompts; none for a domain without
 * templates.
 */
export function generateTasks(domain: ArtifactDomain, random: Random, count: number): SyntheticTask[] {
  const templates = TEMPLATES[domain] ?? [];
  const want = Math.max(0, Math.min(MAX_TASKS_PER_DOMAIN, Math.floor(count)));
  if (templates.length === 0 || want === 0) return [];
  const start = int(random, 0, templates.length - 1);
  const tasks: SyntheticTask[] = [];
  const seen = new Set<string>();
  for (let i = 0; tasks.length < want && i < want * DRAWS_PER_TASK; i++) {
    const template = templates[(start + i) % templates.length] as Template;
    const drawn = template.draw(random);
    if (seen.has(drawn.prompt)) continue;
    seen.add(drawn.prompt);
    tasks.push({ domain, template: `${domain}/${template.name}`, ...drawn });
  }
  return tasks;
}

/*
 * Weak domains.
 */

export interface DomainFailures {
  domain: ArtifactDomain;
  /** Episodes with a check outcome or a judgement of the person. */
  judged: number;
  failed: number;
  /** failed / judged. */
  rate: number;
}

/**
 * This node's own weak domains: per domain, how often its answers failed, by
 * their check outcome (`checks`: episode id → passed) where there is one, else
 * by the person's judgement (thumbs down or a correction fail, thumbs up
 * passes; a regeneration alone or nothing is not a judgement). Synthetic
 * episodes are left out. Weak: at least MIN_JUDGED_EPISODES judged and a
 * failure rate of at least MIN_FAILURE_RATE. Worst first (rate, then
 * failures, then taxonomy order).
 */
export function ownWeakDomains(episodes: readonly Episode[], checks: ReadonlyMap<string, boolean> = new Map()): DomainFailures[] {
  const counts = new Map<ArtifactDomain, { judged: number; failed: number }>();
  const seen = new Set<string>();
  for (const e of episodes) {
    if (isSyntheticEpisode(e) || seen.has(e.id)) continue;
    seen.add(e.id);
    let passed: boolean | null = checks.has(e.id) ? (checks.get(e.id) as boolean) : null;
    if (passed === null) {
      const score = shownAnswerScore(e);
      passed = score === 0 ? false : score === 1 ? true : null;
    }
    if (passed === null) continue;
    const c = counts.get(e.domain) ?? { judged: 0, failed: 0 };
    c.judged++;
    if (!passed) c.failed++;
    counts.set(e.domain, c);
  }
  const out: DomainFailures[] = [];
  for (const domain of ARTIFACT_DOMAINS) {
    const c = counts.get(domain);
    if (!c || c.judged < MIN_JUDGED_EPISODES) continue;
    const rate = c.failed / c.judged;
    if (rate >= MIN_FAILURE_RATE) out.push({ domain, judged: c.judged, failed: c.failed, rate });
  }
  return out.sort((a, b) => b.rate - a.rate || b.failed - a.failed || ARTIFACT_DOMAINS.indexOf(a.domain) - ARTIFACT_DOMAINS.indexOf(b.domain));
}

export interface ChosenDomain {
  domain: ArtifactDomain;
  source: 'curriculum' | 'own-episodes';
  reason: string;
}

export interface SkippedDomain {
  domain: ArtifactDomain;
  reason: string;
}

/**
 * The domains to practise: the curriculum's that can be practised, in its
 * order (weakest first), else this node's own weak domains; at most `max`.
 */
export function chooseDomains(
  curricula: readonly CurriculumEntry[],
  own: readonly DomainFailures[],
  max = MAX_DOMAINS_PER_RUN,
): { chosen: ChosenDomain[]; skipped: SkippedDomain[] } {
  const limit = Math.max(0, Math.min(MAX_DOMAINS_PER_RUN, Math.floor(max)));
  const skipped: SkippedDomain[] = [];
  const fromCurriculum: ChosenDomain[] = [];
  const seen = new Set<ArtifactDomain>();
  for (const c of curricula) {
    if (!ARTIFACT_DOMAINS.includes(c.domain) || seen.has(c.domain)) continue;
    seen.add(c.domain);
    if (!canPractise(c.domain)) skipped.push({ domain: c.domain, reason: `no checkable tasks: ${UNSUPPORTED_REASON[c.domain] ?? 'no templates'}` });
    else fromCurriculum.push({ domain: c.domain, source: 'curriculum', reason: `the network is weak here: ${c.reason}` });
  }
  let chosen = fromCurriculum;
  if (chosen.length === 0) {
    chosen = [];
    for (const d of own) {
      if (!canPractise(d.domain)) {
        skipped.push({ domain: d.domain, reason: `no checkable tasks: ${UNSUPPORTED_REASON[d.domain] ?? 'no templates'}` });
        continue;
      }
      chosen.push({ domain: d.domain, source: 'own-episodes', reason: `${d.failed} of ${d.judged} of this node's answers failed` });
    }
  }
  for (const c of chosen.slice(limit)) skipped.push({ domain: c.domain, reason: 'over this run\'s limit of domains (next run)' });
  return { chosen: chosen.slice(0, limit), skipped };
}

/*
 * The run.
 */

export interface SelfTrainingProgress {
  /** Generations and checks done of `total` (two per task: without and with experiences). */
  done: number;
  total: number;
  domain: ArtifactDomain | null;
  /** One line for the person. */
  text: string;
}

export interface SelfTrainingDeps {
  /** A whole reply (the engine client); must honour the signal. */
  generate(turns: ChatTurn[], options: GenerateOptions, signal?: AbortSignal): Promise<string>;
  /** Checks an answer (runVerifier with the code sandbox in the app); passed means score 1. */
  runCheck: VerifyAnswer;
  random: Random;
  now: () => number;
  /** Episode ids (EXPERIENCE_ID_PATTERN). */
  newId: () => string;
  signal?: AbortSignal;
  onProgress?: (progress: SelfTrainingProgress) => void;
  /**
   * Called before every generation: the job runner's `context.pace()`, which
   * rests in a bad energy window and rejects when the job is stopped.
   */
  pace?: () => Promise<void>;
}

export interface SelfTrainingOptions {
  /** Default DEFAULT_TASKS_PER_DOMAIN, at most MAX_TASKS_PER_DOMAIN. */
  tasksPerDomain?: number;
  /** Default and at most MAX_DOMAINS_PER_RUN. */
  maxDomains?: number;
  /** Tokens of experiences in the prompt; default the rollout pipeline's DEFAULT_CONDITIONING_BUDGET. */
  conditioningBudgetTokens?: number;
  systemPrompt?: string;
  solve?: GenerateOptions;
  codeSolve?: GenerateOptions;
  /** Default MAX_EPISODES_PER_RUN (and never more). */
  maxEpisodes?: number;
}

export interface SelfTrainingInput {
  /** The field's curricula (improvement-signal.ts), weakest first. */
  curricula: readonly CurriculumEntry[];
  /** This node's episodes: the fallback when the curriculum names nothing to practise. */
  episodes: readonly Episode[];
  library: readonly Experience[];
  options?: SelfTrainingOptions;
}

export interface TaskOutcome {
  domain: ArtifactDomain;
  template: string;
  /** Experiences that were in the "with" prompt (none: both prompts were the same). */
  usedExperienceIds: string[];
  passedWithout: boolean;
  passedWith: boolean;
  detailWithout: string;
  detailWith: string;
  /** The episode made from it, or null. */
  episodeId: string | null;
}

export interface DomainSummary {
  domain: ArtifactDomain;
  source: ChosenDomain['source'];
  reason: string;
  tasks: number;
  /** Tasks that had at least one experience in the "with" prompt. */
  conditioned: number;
  passedWithout: number;
  passedWith: number;
  episodes: number;
}

export interface SelfTrainingResult {
  domains: DomainSummary[];
  skipped: SkippedDomain[];
  tasks: TaskOutcome[];
  /** Synthetic episodes to store and queue rollouts for (state 'open'). */
  episodes: Episode[];
  /** One line for the person. */
  summary: string;
}

const clampInt = (value: number | undefined, fallback: number, lo: number, hi: number): number =>
  value === undefined || !Number.isFinite(value) ? fallback : Math.max(lo, Math.min(hi, Math.floor(value)));

function turnsFor(task: string, system: string): ChatTurn[] {
  return [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: task }];
}

/** The answer to a checkable task passed (verifiers give 1 for a pass). */
const passes = (score: number): boolean => score >= 1;

function describeDomains(domains: readonly DomainSummary[]): string {
  return domains.map((d) => `${d.domain} ${d.passedWithout}→${d.passedWith}/${d.tasks}`).join(', ');
}

/**
 * Finds the weak domains, draws tasks, solves each without and with the
 * experiences, checks both and returns the synthetic episodes to learn from.
 * Rejects with the signal's reason when aborted (nothing is returned then)
 * and with the engine's error when a generation fails.
 */
export async function runSelfTraining(input: SelfTrainingInput, deps: SelfTrainingDeps): Promise<SelfTrainingResult> {
  const { signal } = deps;
  const options = input.options ?? {};
  const perDomain = clampInt(options.tasksPerDomain, DEFAULT_TASKS_PER_DOMAIN, 0, MAX_TASKS_PER_DOMAIN);
  const maxEpisodes = clampInt(options.maxEpisodes, MAX_EPISODES_PER_RUN, 0, MAX_EPISODES_PER_RUN);
  const budget = options.conditioningBudgetTokens ?? DEFAULT_CONDITIONING_BUDGET;
  const systemPrompt = (options.systemPrompt ?? '').trim();
  const report = (p: SelfTrainingProgress): void => deps.onProgress?.(p);
  signal?.throwIfAborted();

  // 1. Weak domains: the curriculum, else this node's own failures (stored answers re-checked, bounded).
  let own: DomainFailures[] = [];
  if (!input.curricula.some((c) => canPractise(c.domain))) {
    const checks = new Map<string, boolean>();
    const checkable = [...input.episodes]
      .filter((e) => e.verifier !== null && !isSyntheticEpisode(e) && e.answer.trim() !== '')
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : 1))
      .slice(0, MAX_EPISODE_CHECKS);
    for (const [i, e] of checkable.entries()) {
      signal?.throwIfAborted();
      report({ done: i, total: checkable.length, domain: null, text: `Looking for weak domains (${i} of ${checkable.length} answers checked)` });
      const result = await deps.runCheck(e.verifier as Verifier, e.answer, signal);
      signal?.throwIfAborted();
      checks.set(e.id, passes(result.score));
    }
    own = ownWeakDomains(input.episodes, checks);
  }
  const { chosen, skipped } = chooseDomains(input.curricula, own, options.maxDomains ?? MAX_DOMAINS_PER_RUN);

  // 2. Tasks (all drawn before any generation, so a seed fixes them).
  const tasks = chosen.flatMap((c) => generateTasks(c.domain, deps.random, perDomain)).slice(0, MAX_TASKS_PER_RUN);
  const total = tasks.length * 2;
  let done = 0;

  // 3–4. Solve without and with, check both.
  const outcomes: (TaskOutcome & { answerWith: string; task: SyntheticTask })[] = [];
  for (const [i, task] of tasks.entries()) {
    const solveOptions = task.verifier.kind === 'code' ? (options.codeSolve ?? CODE_SOLVE_OPTIONS) : (options.solve ?? SOLVE_OPTIONS);
    const selection = selectExperiences(input.library, [task.prompt], budget);
    const withSystem = [systemPrompt, selection.block.trim()].filter(Boolean).join('\n\n');
    const solveAndCheck = async (system: string, label: string): Promise<{ answer: string; passed: boolean; detail: string }> => {
      signal?.throwIfAborted();
      await deps.pace?.();
      signal?.throwIfAborted();
      report({ done, total, domain: task.domain, text: `Practising ${task.domain}: task ${i + 1} of ${tasks.length}, ${label}` });
      const answer = await deps.generate(turnsFor(task.prompt, system), solveOptions, signal);
      // An engine may stop by returning what it had: a cut answer is not checked.
      signal?.throwIfAborted();
      const result = await deps.runCheck(task.verifier, answer, signal);
      signal?.throwIfAborted();
      return { answer, passed: passes(result.score), detail: result.detail };
    };
    const without = await solveAndCheck(systemPrompt, 'without experiences');
    done++;
    const conditioned = selection.experiences.length > 0;
    const withExperiences = conditioned ? await solveAndCheck(withSystem, `with ${selection.experiences.length} experience${selection.experiences.length === 1 ? '' : 's'}`) : without;
    done++;
    report({ done, total, domain: task.domain, text: `Practising ${task.domain}: task ${i + 1} of ${tasks.length} checked` });
    outcomes.push({
      task,
      domain: task.domain,
      template: task.template,
      usedExperienceIds: selection.experiences.map((e) => e.id).slice(0, MAX_USED_EXPERIENCES),
      passedWithout: without.passed,
      passedWith: withExperiences.passed,
      detailWithout: without.detail,
      detailWith: withExperiences.detail,
      episodeId: null,
      answerWith: withExperiences.answer,
    });
  }
  signal?.throwIfAborted();

  // 5. Episodes: failed with the experiences, spread over the domains in turn.
  const failing = new Map<ArtifactDomain, typeof outcomes>();
  for (const o of outcomes) if (!o.passedWith) failing.set(o.domain, [...(failing.get(o.domain) ?? []), o]);
  const picked: typeof outcomes = [];
  for (let round = 0; picked.length < maxEpisodes; round++) {
    let any = false;
    for (const c of chosen) {
      const o = failing.get(c.domain)?.[round];
      if (!o) continue;
      any = true;
      if (picked.length < maxEpisodes) picked.push(o);
    }
    if (!any) break;
  }
  const now = deps.now();
  const episodes: Episode[] = [];
  for (const o of picked) {
    const id = deps.newId();
    const created = createEpisode({
      id,
      conversationId: SELF_TRAINING_CONVERSATION_ID,
      messageId: `${SELF_TRAINING_MESSAGE_PREFIX}${id}`,
      task: o.task.prompt,
      answer: o.answerWith,
      domain: o.domain,
      usedExperienceIds: o.usedExperienceIds,
      now,
    });
    const reason = `${SELF_TRAINING_REASON_PREFIX}, ${o.template}: ${o.usedExperienceIds.length > 0 ? `with ${o.usedExperienceIds.length} experience(s) the answer failed its check` : 'the answer failed its check (no experience applied)'}${o.usedExperienceIds.length > 0 ? `; without them it ${o.passedWithout ? 'passed' : 'failed too'}` : ''}. ${o.detailWith}`;
    episodes.push(episodeSchema.parse({ ...created, verifier: o.task.verifier, stateReason: reason.slice(0, 2000) }));
    o.episodeId = id;
  }

  const domains: DomainSummary[] = chosen.map((c) => {
    const mine = outcomes.filter((o) => o.domain === c.domain);
    return {
      domain: c.domain,
      source: c.source,
      reason: c.reason,
      tasks: mine.length,
      conditioned: mine.filter((o) => o.usedExperienceIds.length > 0).length,
      passedWithout: mine.filter((o) => o.passedWithout).length,
      passedWith: mine.filter((o) => o.passedWith).length,
      episodes: mine.filter((o) => o.episodeId !== null).length,
    };
  });
  const summary =
    domains.length === 0
      ? `Self-training: nothing to practise${skipped.length > 0 ? ` (${skipped.map((s) => `${s.domain}: ${s.reason}`).join('; ')})` : ' (no weak domain named by the network or by this node\'s own answers)'}.`
      : `Self-training on ${tasks.length} task${tasks.length === 1 ? '' : 's'} (passed without → with experiences: ${describeDomains(domains)}); ${episodes.length} episode${episodes.length === 1 ? '' : 's'} to learn from.`;
  return {
    domains,
    skipped,
    tasks: outcomes.map(({ answerWith: _a, task: _t, ...rest }) => rest),
    episodes,
    summary: summary.slice(0, 2000),
  };
}
