// The A/B run of `npm run bench:learning`, engine-agnostic: it takes any
// TextGenerator (src/lib/learning/pipeline.ts) and a verify function, so the
// same code runs in Node over transformers.js (bench/learning.mjs) or in a
// browser page over the app's EngineClient (WebLLM or transformers.js; see
// bench/README.md). It imports only the learning domain (pure TypeScript, no
// Node API): in Node, enable bench/ts-source.mjs before importing this file.
//
// 1. baseline: answer every test task with no experiences;
// 2. learning: for each train task, answer it as the app would (conditioned
//    on the library so far), attach the task's verifier (and, where the
//    answer failed and corrections are on, the reference answer as the
//    person's correction), and run learnFromEpisode on that episode; a
//    'learned' outcome replaces the library, anything else leaves it;
// 3. with_experiences: answer every test task again, with the learned
//    library's selected experiences in the system prompt, exactly as the
//    pipeline's rollouts are conditioned.
// Answers are greedy (temperature 0), so the only difference between 1 and 3
// is the experience block. The library is frozen during 3 (no usage or
// confidence updates), so every test task sees the same library.
import { selectExperiences } from '../../src/lib/learning/conditioning.ts';
import { applySignal, createEpisode } from '../../src/lib/learning/episode.ts';
import { learnFromEpisode } from '../../src/lib/learning/pipeline.ts';

/** The conditioned turns, as pipeline.ts builds a rollout's prompt (its rolloutTurns). */
export function conditionedTurns(task, library, budgetTokens, systemPrompt) {
  const selection = selectExperiences(library, [task], budgetTokens);
  const system = [systemPrompt.trim(), selection.block.trim()].filter(Boolean).join('\n\n');
  return {
    turns: [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: task }],
    used: selection.experiences.map((e) => e.id),
  };
}

const mean = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const isAbort = (e) => e instanceof Error && e.name === 'AbortError';
const oneLine = (text, max = 100) => {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/**
 * @param {{
 *   generator: { generate(turns: object[], options: object, signal?: AbortSignal): Promise<string> },
 *   verify: (verifier: object, answer: string, signal?: AbortSignal) => Promise<{ passed: boolean, score: number, detail: string }>,
 *   validate?: Function,
 *   tasks: readonly object[],
 *   config: { groupSize: number, epochs: number, corrections: boolean, budgetTokens: number, systemPrompt: string,
 *             answer: object, rollout: object, advantage: object },
 *   log?: (line: string) => void,
 *   signal?: AbortSignal,
 *   now?: () => number,
 * }} input
 */
export async function runLearningBench(input) {
  const { generator, verify, validate, tasks, config, signal } = input;
  const log = input.log ?? (() => {});
  const clock = input.now ?? (() => Date.now());
  const train = tasks.filter((t) => t.split === 'train');
  const test = tasks.filter((t) => t.split === 'test');
  if (test.length === 0) throw new Error('no test tasks selected');

  // Every reference answer must pass its own verifier, or the suite (or the verifier) is wrong.
  for (const t of tasks) {
    const r = await verify(t.verifier, t.reference, signal);
    if (!r.passed) throw new Error(`reference answer of ${t.id} fails its verifier: ${r.detail}`);
  }
  log(`suite: ${train.length} train and ${test.length} test tasks; every reference answer passes its verifier`);

  async function answerAll(label, library) {
    const results = [];
    for (const [i, t] of test.entries()) {
      signal?.throwIfAborted();
      const { turns, used } = conditionedTurns(t.task, library, config.budgetTokens, config.systemPrompt);
      const answer = await generator.generate(turns, config.answer, signal);
      const v = await verify(t.verifier, answer, signal);
      results.push({ id: t.id, domain: t.domain, passed: v.passed, score: v.score, used: used.length });
      log(`${label} ${String(i + 1).padStart(2)}/${test.length} ${t.id.padEnd(13)} ${v.passed ? 'PASS' : 'fail'} (${used.length} exp) ${oneLine(v.detail, 70)} | ${oneLine(answer, 60)}`);
    }
    return results;
  }

  // 1. Baseline.
  const started = performance.now();
  const baseline = await answerAll('baseline', []);

  // 2. Learning on the train split.
  let library = [];
  let nextId = 0;
  const newId = () => `exp-${++nextId}`;
  const episodes = [];
  const statuses = { learned: 0, 'nothing-to-learn': 0, rejected: 0, failed: 0 };
  let rejectedCandidates = 0;
  let deferredOps = 0;
  const rejectionReasons = new Map();
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    for (const [i, t] of train.entries()) {
      signal?.throwIfAborted();
      const { turns, used } = conditionedTurns(t.task, library, config.budgetTokens, config.systemPrompt);
      const shown = await generator.generate(turns, config.answer, signal);
      const shownCheck = await verify(t.verifier, shown, signal);
      const now = clock();
      let episode = createEpisode({
        id: `ep-${t.id}-e${epoch}`,
        conversationId: 'bench-learning',
        messageId: `msg-${t.id}-e${epoch}`,
        task: t.task,
        answer: shown,
        domain: t.experienceDomain,
        usedExperienceIds: used,
        now,
      });
      episode = applySignal(episode, { type: 'verifier', verifier: t.verifier }, now);
      const corrected = config.corrections && !shownCheck.passed;
      if (corrected) episode = applySignal(episode, { type: 'correction', text: t.reference }, now);

      const t0 = performance.now();
      let status;
      let note;
      try {
        const outcome = await learnFromEpisode(
          episode,
          library,
          { generator, now: clock, newId, verify, ...(validate ? { validate } : {}), signal },
          {
            groupSize: config.groupSize,
            conditioningBudgetTokens: config.budgetTokens,
            systemPrompt: config.systemPrompt,
            rollout: config.rollout,
            advantage: config.advantage,
          },
        );
        status = outcome.status;
        rejectedCandidates += outcome.rejected.length;
        if (outcome.status === 'learned') {
          library = outcome.merge.library;
          deferredOps += outcome.merge.deferred.reduce((n, b) => n + b.ops.length, 0);
          note = outcome.merge.log.map((l) => `${l.op} ${l.id}: ${oneLine(l.after?.text ?? l.before?.text ?? '', 80)}`).join('; ');
        } else {
          note = outcome.reason;
          if (outcome.status === 'rejected') {
            const key = oneLine(outcome.reasons[0] ?? outcome.reason, 60);
            rejectionReasons.set(key, (rejectionReasons.get(key) ?? 0) + 1);
          }
        }
        note = `spread ${outcome.advantage.spread.toFixed(2)}; ${note}`;
      } catch (e) {
        if (isAbort(e)) throw e;
        status = 'failed';
        note = e instanceof Error ? e.message : String(e);
      }
      const ms = performance.now() - t0;
      statuses[status]++;
      episodes.push({ id: episode.id, status, ms, corrected });
      log(
        `learn e${epoch} ${String(i + 1).padStart(2)}/${train.length} ${t.id.padEnd(13)} shown ${shownCheck.passed ? 'PASS' : 'fail'}${corrected ? ' +correction' : ''} → ${status} in ${(ms / 1000).toFixed(1)} s (library ${library.length}) ${oneLine(note, 140)}`,
      );
    }
  }

  // 3. With the learned experiences.
  const withExperiences = await answerAll('with-exp', library);

  const learnMs = episodes.reduce((a, e) => a + e.ms, 0);
  const acc = (rs) => mean(rs.map((r) => (r.passed ? 1 : 0)));
  const perDomain = {};
  for (const d of [...new Set(test.map((t) => t.domain))]) {
    const b = baseline.filter((r) => r.domain === d);
    const w = withExperiences.filter((r) => r.domain === d);
    perDomain[d] = { tasks: b.length, baseline_acc: acc(b), with_experiences_acc: acc(w) };
  }
  return {
    testTasks: test.length,
    trainTasks: train.length,
    baseline,
    withExperiences,
    baselineAcc: acc(baseline),
    withExperiencesAcc: acc(withExperiences),
    baselineScore: mean(baseline.map((r) => r.score)),
    withExperiencesScore: mean(withExperiences.map((r) => r.score)),
    perDomain,
    library,
    episodes,
    statuses,
    rejectedCandidates,
    deferredOps,
    rejectionReasons: Object.fromEntries([...rejectionReasons].sort((a, b) => b[1] - a[1])),
    learnMs,
    totalMs: performance.now() - started,
  };
}
