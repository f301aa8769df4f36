/**
 * Self-training (src/lib/learning/self-training.ts) with a scripted engine
 * double: tasks are checkable (every template's reference answer passes its
 * own verifier, for any seed; code tasks run in the real harness under
 * node:vm), answers with and without the experiences are compared, an abort
 * leaves nothing, and every count is bounded.
 */
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ChatTurn, GenerateOptions } from '../../src/lib/engine/contract';
import type { CurriculumEntry } from '../../src/lib/ccf/improvement-signal';
import type { ArtifactDomain } from '../../src/lib/artifacts/schema';
import { buildHarnessSource, HARNESS_DONE_PARAM, parseHarnessReport, prepareSources } from '../../src/lib/learning/code-harness';
import { selectExperiences } from '../../src/lib/learning/conditioning';
import { createEpisode, episodeSchema, worthLearning, type Episode } from '../../src/lib/learning/episode';
import { createExperience, type Experience } from '../../src/lib/learning/experience';
import { DEFAULT_CONDITIONING_BUDGET } from '../../src/lib/learning/pipeline';
import {
  chooseDomains,
  generateTasks,
  isSyntheticEpisode,
  MAX_DOMAINS_PER_RUN,
  MAX_EPISODES_PER_RUN,
  MAX_TASKS_PER_DOMAIN,
  MAX_TASKS_PER_RUN,
  ownWeakDomains,
  runSelfTraining,
  SELF_TRAINING_CONVERSATION_ID,
  SELF_TRAINING_DOMAINS,
  SELF_TRAINING_REASON_PREFIX,
  templateNames,
  type SelfTrainingDeps,
  type SyntheticTask,
} from '../../src/lib/learning/self-training';
import { parseVerifier, runVerifier, type CodeRunner, type Verifier } from '../../src/lib/learning/verifiers';
import { seededRandom } from '../../src/lib/random/seeded';

const NOW = 1_760_000_000_000;
const NONCE = '0123456789abcdef0123456789abcdef';

/** The code sandbox's double: the real harness in a fresh vm context (as tests/unit/learning-code-harness.test.ts). */
const vmRunner: CodeRunner = {
  run: async (code, tests) => {
    const sources = prepareSources(code, tests);
    if (!sources.ok) return { passed: 0, failed: 0, total: 0, error: sources.reason, timedOut: false };
    const context = vm.createContext({}, { microtaskMode: 'afterEvaluate' });
    let raw: unknown;
    (context as Record<string, unknown>).__done = (r: unknown) => (raw = structuredClone(r));
    vm.runInContext(`(function (${HARNESS_DONE_PARAM}) {${buildHarnessSource(sources.code, tests, NONCE)}\n})(__done)`, context, { timeout: 1000 });
    const report = parseHarnessReport(raw);
    if (!report) return { passed: 0, failed: 0, total: 0, error: 'no report', timedOut: false };
    return { passed: report.passed, failed: report.failed, total: report.total, timedOut: false, failures: report.failures, ...(report.error ? { error: report.error } : {}) };
  },
};

const check = (verifier: Verifier, answer: string, signal?: AbortSignal) => runVerifier(verifier, answer, vmRunner, signal);

const curriculum = (domain: ArtifactDomain): CurriculumEntry => ({ domain, accepted: 1, rejected: 5, pending: 0, acceptanceRate: 1 / 6, reason: 'only 1 of 6 decided artifacts were accepted' });

function exp(id: string, text: string, domain: ArtifactDomain = 'math'): Experience {
  return createExperience({ id, text, domain, confidence: 0.8, episodeIds: [], now: NOW - 1000 });
}

/** The prompts the run will draw with this seed: the run draws every task first, domain by domain. */
function tasksOf(seed: number, domains: readonly ArtifactDomain[], perDomain: number): SyntheticTask[] {
  const random = seededRandom(seed);
  return domains.flatMap((d) => generateTasks(d, random, perDomain));
}

interface EngineCall {
  turns: ChatTurn[];
  options: GenerateOptions;
}

/**
 * Scripted engine: knows the reference answer of every task, gives it when
 * the prompt has an experiences block and `solvesWith`, without one when
 * `solvesWithout`, otherwise a wrong answer.
 */
function scriptedEngine(tasks: readonly SyntheticTask[], behaviour: { solvesWith: boolean; solvesWithout: boolean }) {
  const byPrompt = new Map(tasks.map((t) => [t.prompt, t.reference]));
  const calls: EngineCall[] = [];
  const generate: SelfTrainingDeps['generate'] = async (turns, options) => {
    calls.push({ turns, options });
    const user = turns.at(-1)?.content ?? '';
    const conditioned = turns.some((t) => t.role === 'system' && t.content.includes('<experiences>'));
    const solves = conditioned ? behaviour.solvesWith : behaviour.solvesWithout;
    return solves ? (byPrompt.get(user) ?? 'unknown task') : 'I am not sure.';
  };
  return { generate, calls };
}

function deps(seed: number, generate: SelfTrainingDeps['generate'], over: Partial<SelfTrainingDeps> = {}): SelfTrainingDeps {
  let n = 0;
  return { generate, runCheck: check, random: seededRandom(seed), now: () => NOW, newId: () => `ep-${++n}`, ...over };
}

/** A wrong answer in the right form: the number off by one, JSON missing a part, a function that returns nothing. */
function nearMiss(task: SyntheticTask): string {
  switch (task.verifier.kind) {
    case 'number':
      return String(task.verifier.expected + 1);
    case 'json-shape':
      return task.verifier.shape.type === 'array' ? '[]' : '{"goal": "x"}';
    case 'code': {
      const name = /function (\w+)/.exec(task.reference)?.[1] ?? 'f';
      return `\`\`\`javascript\nfunction ${name}() { return undefined; }\n\`\`\``;
    }
  }
}

describe('synthetic tasks', () => {
  it('has templates for the checkable domains and none for writing, facts or safety', () => {
    expect(SELF_TRAINING_DOMAINS).toEqual(['math', 'units', 'coding', 'planning', 'reasoning', 'language', 'other']);
    for (const d of SELF_TRAINING_DOMAINS) expect(templateNames(d).length).toBeGreaterThanOrEqual(3);
    for (const d of ['writing', 'facts', 'safety'] as const) expect(generateTasks(d, seededRandom(1), 4)).toEqual([]);
  });

  it('every task of every weak domain is checkable: a valid verifier that its reference answer passes and a non-answer fails (property over seeds)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.constantFrom(...SELF_TRAINING_DOMAINS), fc.integer({ min: 1, max: 6 }), async (seed, domain, count) => {
        const tasks = generateTasks(domain, seededRandom(seed), count);
        expect(tasks.length).toBe(count);
        expect(new Set(tasks.map((t) => t.prompt)).size).toBe(tasks.length);
        for (const task of tasks) {
          expect(task.domain).toBe(domain);
          expect(parseVerifier(task.verifier)).toEqual({ ok: true, verifier: task.verifier });
          expect(task.prompt.length).toBeLessThan(1000);
          const good = await check(task.verifier, task.reference);
          expect(good, `${task.template}: ${task.prompt} / ${task.reference}`).toMatchObject({ passed: true, score: 1 });
          const bad = await check(task.verifier, 'I am not sure.');
          expect(bad.passed).toBe(false);
          // A near miss fails too: the checks tell answers apart, not only answers from silence.
          const miss = nearMiss(task);
          expect((await check(task.verifier, miss)).passed, `${task.template}: ${miss}`).toBe(false);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('also with the reference answer written the way models write it (in prose, in a fence)', async () => {
    for (const domain of SELF_TRAINING_DOMAINS) {
      for (const task of generateTasks(domain, seededRandom(7), 6)) {
        const answer = task.verifier.kind === 'number' ? `Let me work it out.\n\nThe answer is ${task.reference}.` : task.verifier.kind === 'json-shape' ? `Here it is:\n\`\`\`json\n${task.reference}\n\`\`\`` : `Sure:\n\n${task.reference}\n`;
        expect((await check(task.verifier, answer)).passed, `${task.template}: ${answer}`).toBe(true);
      }
    }
  });

  it('is deterministic for a seed and varies across seeds', () => {
    expect(generateTasks('math', seededRandom(3), 5)).toEqual(generateTasks('math', seededRandom(3), 5));
    expect(generateTasks('coding', seededRandom(3), 5)).not.toEqual(generateTasks('coding', seededRandom(4), 5));
  });

  it('refuses a random source outside [0, 1)', () => {
    expect(() => generateTasks('math', () => 1, 1)).toThrow(RangeError);
  });
});

describe('weak domains', () => {
  const episode = (id: string, domain: ArtifactDomain, over: Partial<Episode> = {}): Episode => ({
    ...createEpisode({ id, conversationId: 'c1', messageId: `m-${id}`, task: 'q', answer: 'a', domain, now: NOW }),
    ...over,
  });

  it('takes the curriculum in its order, skips domains without checkable tasks, caps the count', () => {
    const all = (['writing', 'math', 'facts', 'coding', 'units', 'reasoning', 'other'] as const).map(curriculum);
    const { chosen, skipped } = chooseDomains(all, []);
    expect(chosen.map((c) => c.domain)).toEqual(['math', 'coding', 'units']);
    expect(chosen.every((c) => c.source === 'curriculum')).toBe(true);
    expect(chosen.length).toBe(MAX_DOMAINS_PER_RUN);
    expect(skipped.map((s) => s.domain)).toEqual(['writing', 'facts', 'reasoning', 'other']);
    expect(skipped[0]?.reason).toMatch(/no checkable tasks/);
  });

  it('falls back to the own episodes that fail most, ignoring synthetic ones and unjudged ones', () => {
    const episodes = [
      ...[1, 2, 3].map((i) => episode(`m${i}`, 'math', { feedback: 'down' })),
      episode('m4', 'math', { feedback: 'up' }),
      ...[1, 2, 3].map((i) => episode(`u${i}`, 'units', { feedback: i === 1 ? 'down' : 'up' })),
      ...[1, 2, 3].map((i) => episode(`k${i}`, 'coding')), // checked below
      ...[1, 2, 3, 4].map((i) => episode(`s${i}`, 'language', { feedback: 'down', conversationId: SELF_TRAINING_CONVERSATION_ID })),
      ...[1, 2, 3].map((i) => episode(`r${i}`, 'reasoning', { regenerations: 2 })),
    ];
    const checks = new Map([
      ['k1', false],
      ['k2', false],
      ['k3', false],
    ]);
    const weak = ownWeakDomains(episodes, checks);
    expect(weak.map((w) => [w.domain, w.failed, w.judged])).toEqual([
      ['coding', 3, 3],
      ['math', 3, 4],
      ['units', 1, 3],
    ]);
    expect(chooseDomains([], weak).chosen.map((c) => [c.domain, c.source])).toEqual([
      ['coding', 'own-episodes'],
      ['math', 'own-episodes'],
      ['units', 'own-episodes'],
    ]);
  });

  it('the run re-checks stored answers when the curriculum names nothing it can practise', async () => {
    const verifier: Verifier = { kind: 'number', expected: 12, tolerance: 0 };
    const episodes = [1, 2, 3].map((i) => episode(`u${i}`, 'units', { verifier, answer: i === 1 ? '12' : '13' }));
    const tasks = tasksOf(5, ['units'], 2);
    const engine = scriptedEngine(tasks, { solvesWith: true, solvesWithout: true });
    const result = await runSelfTraining({ curricula: [curriculum('writing')], episodes, library: [], options: { tasksPerDomain: 2 } }, deps(5, engine.generate));
    expect(result.domains.map((d) => [d.domain, d.source, d.tasks])).toEqual([['units', 'own-episodes', 2]]);
    expect(result.skipped).toEqual([{ domain: 'writing', reason: expect.stringMatching(/no checkable tasks/) }]);
  });

  it('with no weak domain anywhere, does nothing and says so', async () => {
    const engine = scriptedEngine([], { solvesWith: true, solvesWithout: true });
    const result = await runSelfTraining({ curricula: [], episodes: [], library: [] }, deps(1, engine.generate));
    expect(result).toMatchObject({ domains: [], tasks: [], episodes: [] });
    expect(result.summary).toMatch(/nothing to practise/);
    expect(engine.calls).toEqual([]);
  });
});

describe('solving with and without the experiences', () => {
  const library = [
    exp('x-sale', 'When a price is reduced in a sale, multiply the price by one minus the rate'),
    exp('x-code', 'When writing a JavaScript function, handle the empty array first', 'coding'),
  ];

  it('compares both answers per task, builds the block as the rollout pipeline does, and reports per domain', async () => {
    const seed = 11;
    const tasks = tasksOf(seed, ['math'], 8);
    const engine = scriptedEngine(tasks, { solvesWith: true, solvesWithout: false });
    const progress: number[] = [];
    const result = await runSelfTraining(
      { curricula: [curriculum('math')], episodes: [], library, options: { tasksPerDomain: 8 } },
      deps(seed, engine.generate, { onProgress: (p) => progress.push(p.done / p.total) }),
    );
    const conditioned = tasks.filter((t) => selectExperiences(library, [t.prompt], DEFAULT_CONDITIONING_BUDGET).experiences.length > 0);
    expect(conditioned.length).toBeGreaterThan(0);
    expect(conditioned.length).toBeLessThan(tasks.length);
    expect(conditioned.every((t) => t.template === 'math/percentage')).toBe(true);

    // One generation per task, a second one where an experience applies.
    expect(engine.calls.length).toBe(tasks.length + conditioned.length);
    for (const call of engine.calls) expect(call.options).toMatchObject({ temperature: 0 });
    const withCalls = engine.calls.filter((c) => c.turns.length === 2);
    expect(withCalls.length).toBe(conditioned.length);
    for (const call of withCalls) {
      const prompt = call.turns[1]?.content ?? '';
      expect(call.turns[0]).toEqual({ role: 'system', content: selectExperiences(library, [prompt], DEFAULT_CONDITIONING_BUDGET).block.trim() });
    }

    expect(result.domains).toEqual([
      {
        domain: 'math',
        source: 'curriculum',
        reason: expect.stringContaining('only 1 of 6'),
        tasks: 8,
        conditioned: conditioned.length,
        passedWithout: 0,
        passedWith: conditioned.length,
        episodes: 8 - conditioned.length,
      },
    ]);
    for (const t of result.tasks) {
      expect(t.passedWithout).toBe(false);
      expect(t.passedWith).toBe(t.usedExperienceIds.length > 0);
      if (t.passedWith) expect(t.usedExperienceIds).toEqual(['x-sale']);
    }
    expect(result.summary).toMatch(new RegExp(`math 0→${conditioned.length}/8`));
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, i) => i === 0 || p >= (progress[i - 1] as number))).toBe(true);
  });

  it('makes synthetic episodes of the tasks that failed with the experiences, ready for a rollout', async () => {
    const seed = 12;
    const tasks = tasksOf(seed, ['math', 'coding'], 3);
    const engine = scriptedEngine(tasks, { solvesWith: false, solvesWithout: true });
    const result = await runSelfTraining({ curricula: [curriculum('math'), curriculum('coding')], episodes: [], library, options: { tasksPerDomain: 3 } }, deps(seed, engine.generate));
    expect(result.episodes.length).toBe(result.tasks.filter((t) => !t.passedWith).length);
    expect(result.episodes.length).toBeGreaterThan(0);
    for (const e of result.episodes) {
      expect(episodeSchema.parse(e)).toEqual(e);
      expect(isSyntheticEpisode(e)).toBe(true);
      expect(e.messageId).toBe(`h3lix:self-training:${e.id}`);
      expect(e.stateReason.startsWith(SELF_TRAINING_REASON_PREFIX)).toBe(true);
      expect(e).toMatchObject({ state: 'open', feedback: null, correction: null, createdAt: NOW });
      expect(worthLearning(e)).toBe(true);
      const task = tasks.find((t) => t.prompt === e.task) as SyntheticTask;
      expect(e.verifier).toEqual(task.verifier);
      expect(e.domain).toBe(task.domain);
      const outcome = result.tasks.find((t) => t.episodeId === e.id);
      expect(e.usedExperienceIds).toEqual(outcome?.usedExperienceIds);
      // The answer is the one given with the experiences (here: wrong where they applied).
      expect(e.answer).toBe(e.usedExperienceIds.length > 0 ? 'I am not sure.' : task.reference);
    }
    expect(result.domains.map((d) => [d.domain, d.passedWithout, d.tasks])).toEqual([
      ['math', 3, 3],
      ['coding', 3, 3],
    ]);
  });

  it('a task that passes with the experiences makes no episode', async () => {
    const tasks = tasksOf(13, ['units'], 4);
    const engine = scriptedEngine(tasks, { solvesWith: true, solvesWithout: true });
    const result = await runSelfTraining({ curricula: [curriculum('units')], episodes: [], library }, deps(13, engine.generate));
    expect(result.episodes).toEqual([]);
    expect(result.domains[0]).toMatchObject({ tasks: 4, passedWithout: 4, passedWith: 4, episodes: 0 });
  });
});

describe('cancellation', () => {
  it('an abort between generations rejects with its reason and returns nothing', async () => {
    const tasks = tasksOf(21, ['math'], 4);
    const engine = scriptedEngine(tasks, { solvesWith: false, solvesWithout: false });
    const controller = new AbortController();
    let calls = 0;
    const generate: SelfTrainingDeps['generate'] = async (turns, options, signal) => {
      if (++calls === 3) controller.abort(new Error('the person started a chat'));
      return engine.generate(turns, options, signal);
    };
    await expect(runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [] }, deps(21, generate, { signal: controller.signal }))).rejects.toThrow('the person started a chat');
    expect(calls).toBe(3);
  });

  it('an abort during a generation is passed into it and ends the run', async () => {
    const controller = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const generate: SelfTrainingDeps['generate'] = (_turns, _options, signal) => {
      seen.push(signal);
      return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
    };
    const run = runSelfTraining({ curricula: [curriculum('units')], episodes: [], library: [] }, deps(22, generate, { signal: controller.signal }));
    await Promise.resolve();
    controller.abort(new DOMException('stop', 'AbortError'));
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([controller.signal]);
  });

  it('an answer cut short by an abort is not checked', async () => {
    const controller = new AbortController();
    let checks = 0;
    const generate: SelfTrainingDeps['generate'] = async () => {
      controller.abort();
      return '42';
    };
    await expect(
      runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [] }, deps(23, generate, { signal: controller.signal, runCheck: async (v, a) => (checks++, check(v, a)) })),
    ).rejects.toBeDefined();
    expect(checks).toBe(0);
  });

  it('rests through `pace` before every generation, and a pace that rejects (the job was stopped) ends the run', async () => {
    const tasks = tasksOf(24, ['math'], 2);
    const engine = scriptedEngine(tasks, { solvesWith: false, solvesWithout: false });
    let paced = 0;
    await runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [], options: { tasksPerDomain: 2 } }, deps(24, engine.generate, { pace: async () => void paced++ }));
    expect(paced).toBe(engine.calls.length);
    const stopped = scriptedEngine(tasks, { solvesWith: false, solvesWithout: false });
    await expect(
      runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [] }, deps(24, stopped.generate, { pace: () => Promise.reject(new Error('paused')) })),
    ).rejects.toThrow('paused');
    expect(stopped.calls).toEqual([]);
  });

  it('an already aborted signal does no work', async () => {
    const engine = scriptedEngine([], { solvesWith: true, solvesWithout: true });
    await expect(runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [] }, deps(1, engine.generate, { signal: AbortSignal.abort() }))).rejects.toBeDefined();
    expect(engine.calls).toEqual([]);
  });
});

describe('bounds', () => {
  it('caps domains, tasks, generations and episodes however much is asked', async () => {
    const all = SELF_TRAINING_DOMAINS.map(curriculum);
    let calls = 0;
    const generate: SelfTrainingDeps['generate'] = async () => (calls++, 'I am not sure.');
    const result = await runSelfTraining({ curricula: all, episodes: [], library: [], options: { tasksPerDomain: 10_000, maxDomains: 50, maxEpisodes: 1_000 } }, deps(31, generate));
    expect(result.domains.length).toBe(MAX_DOMAINS_PER_RUN);
    for (const d of result.domains) expect(d.tasks).toBe(MAX_TASKS_PER_DOMAIN);
    expect(result.tasks.length).toBeLessThanOrEqual(MAX_TASKS_PER_RUN);
    expect(calls).toBeLessThanOrEqual(2 * MAX_TASKS_PER_RUN);
    expect(result.episodes.length).toBe(MAX_EPISODES_PER_RUN);
    // Spread over the domains in turn, not all from the first.
    const perDomain = result.domains.map((d) => result.episodes.filter((e) => e.domain === d.domain).length);
    expect(Math.max(...perDomain) - Math.min(...perDomain)).toBeLessThanOrEqual(1);
  });

  it('zero tasks per domain does no work', async () => {
    let calls = 0;
    const result = await runSelfTraining({ curricula: [curriculum('math')], episodes: [], library: [], options: { tasksPerDomain: 0 } }, deps(1, async () => (calls++, '')));
    expect(calls).toBe(0);
    expect(result.domains[0]).toMatchObject({ tasks: 0 });
  });
});
