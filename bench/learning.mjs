// `npm run bench:learning`: the evaluation harness of issue "Synthetic
// learning layer" (item 9). Does learning experiences on a train split, with
// no change to the model's weights, raise accuracy on a held-out test split?
//
// A/B on one engine in one run (bench/learning/harness.mjs): baseline = the
// test tasks answered with no experiences; with_experiences = the same tasks
// answered with the experiences that learnFromEpisode (src/lib/learning/
// pipeline.ts) learned from episodes of the train tasks, selected into the
// system prompt as the app does. 56 checkable tasks in 4 domains (math and
// unit conversions with a number verifier, JSON with a json-shape verifier,
// JavaScript functions with unit tests run in a worker thread); see
// bench/learning/tasks.mjs for the fixed split and the strategy each domain
// rewards.
//
// The engine is transformers.js in Node (bench/learning/node-engine.mjs),
// loading local files only. With the default model, the random-weight
// fixture, every number is meaningless (it writes gibberish); the run then
// shows that the harness and the pipeline work end to end and how fast
// extraction is. Point BENCH_MODEL_PATH at a real transformers.js chat model
// for numbers that mean something.
//
// Progress goes to stdout; the LAST line is one JSON object (bench/README.md).
// Environment (defaults): BENCH_MODEL (fixtures/random-smollm2-chat),
// BENCH_MODEL_PATH (unset), BENCH_MODELS_ROOT (public/models), BENCH_DTYPE
// (q8), BENCH_DEVICE (cpu), BENCH_G (4), BENCH_EPOCHS (1),
// BENCH_MAX_NEW_TOKENS (128), BENCH_ADVANTAGE_TOKENS (256), BENCH_TEMPERATURE
// (0.9), BENCH_BUDGET (300), BENCH_CORRECTIONS (1), BENCH_DOMAINS
// (math,units,json,code), BENCH_TRAIN_PER_DOMAIN (6), BENCH_TEST_PER_DOMAIN
// (8), BENCH_SYSTEM_PROMPT (''), BENCH_CODE_TIMEOUT_MS (2000),
// BENCH_TIMEOUT_S (600).
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const NOTE_FIXTURE =
  'model is the random-weight test fixture: it writes gibberish, so both accuracies and the uplift are meaningless; the run only shows that the harness and the pipeline work end to end and how fast extraction is on this machine';
const NOTE_REAL = 'uplift = with_experiences_acc - baseline_acc on the fixed test split, greedy answers; one run, no confidence interval: rerun to see the spread of the learning phase (sampled rollouts)';

let modelId = null;
let finished = false;
const fail = (error) => {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify({ bench: 'learning', model: modelId, error: String(error?.message ?? error) }));
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// ts-source.mjs imports registerHooks, which an older Node lacks: check first, so even then the last line is JSON.
{
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 18)) fail(`needs Node >= 22.18 (type stripping), this is ${process.version}; run it with npm run bench:learning`);
}
const { enableTypeScriptSources } = await import('./ts-source.mjs');
enableTypeScriptSources('learning');

const env = process.env;
const int = (name, fallback, min, max) => {
  const raw = env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be a whole number in ${min}..${max}, got ${raw}`);
  return n;
};
const real = (name, fallback, min, max) => {
  const raw = env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) fail(`${name} must be a number in ${min}..${max}, got ${raw}`);
  return n;
};

const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const MODELS_ROOT = env.BENCH_MODELS_ROOT || fileURLToPath(new URL('../public/models', import.meta.url));
const MODEL = env.BENCH_MODEL || (env.BENCH_MODEL_PATH ? undefined : 'fixtures/random-smollm2-chat');
const MODEL_PATH = env.BENCH_MODEL_PATH || undefined;
const DTYPE = env.BENCH_DTYPE || 'q8';
const DEVICE = env.BENCH_DEVICE || 'cpu';
const G = int('BENCH_G', 4, 2, 16);
const EPOCHS = int('BENCH_EPOCHS', 1, 1, 10);
const MAX_NEW = int('BENCH_MAX_NEW_TOKENS', 128, 1, 8192);
const ADVANTAGE_NEW = int('BENCH_ADVANTAGE_TOKENS', 256, 1, 8192);
const TEMPERATURE = real('BENCH_TEMPERATURE', 0.9, 0, 2);
const BUDGET = int('BENCH_BUDGET', 300, 0, 100_000);
const CORRECTIONS = env.BENCH_CORRECTIONS !== '0';
const TRAIN_PER_DOMAIN = int('BENCH_TRAIN_PER_DOMAIN', 6, 0, 6);
const TEST_PER_DOMAIN = int('BENCH_TEST_PER_DOMAIN', 8, 1, 8);
const CODE_TIMEOUT_MS = int('BENCH_CODE_TIMEOUT_MS', 2000, 100, 60_000);
const TIMEOUT_S = int('BENCH_TIMEOUT_S', 600, 10, 86_400);
const SYSTEM_PROMPT = env.BENCH_SYSTEM_PROMPT ?? '';

// Whatever happens, the process ends in bounded time with a JSON last line.
const watchdog = setTimeout(() => fail(`timed out after ${TIMEOUT_S} s (raise BENCH_TIMEOUT_S for a larger model)`), TIMEOUT_S * 1000);
watchdog.unref();

const { TASKS, DOMAINS, STRATEGIES } = await import('./learning/tasks.mjs');
const { runLearningBench } = await import('./learning/harness.mjs');
const { loadNodeGenerator } = await import('./learning/node-engine.mjs');
const { createNodeCodeRunner } = await import('./learning/code-runner.mjs');
const { runVerifier } = await import('../src/lib/learning/verifiers.ts');

const domains = (env.BENCH_DOMAINS || DOMAINS.join(',')).split(',').map((d) => d.trim()).filter(Boolean);
for (const d of domains) if (!DOMAINS.includes(d)) fail(`BENCH_DOMAINS: unknown domain ${d} (known: ${DOMAINS.join(', ')})`);
const perDomainIndex = new Map();
const tasks = TASKS.filter((t) => {
  if (!domains.includes(t.domain)) return false;
  const key = `${t.domain}/${t.split}`;
  const n = (perDomainIndex.get(key) ?? 0) + 1;
  perDomainIndex.set(key, n);
  return n <= (t.split === 'train' ? TRAIN_PER_DOMAIN : TEST_PER_DOMAIN);
});

// Validation as the learning layer defines it (src/lib/learning/validation.ts), adapted to the
// pipeline's CandidateValidator: an UPDATE is checked as the experience it would become, the group's
// answers are the episode's evidence, and the confidence is the one the merge would give it.
async function loadValidator() {
  const { validateCandidate } = await import('../src/lib/learning/validation.ts');
  const { initialConfidence } = await import('../src/lib/learning/library-merge.ts');
  return (op, { episode, library, answers, advantage }) => {
    const domain = op.op === 'ADD' ? op.domain : (op.domain ?? library.find((e) => e.id === op.id)?.domain ?? 'other');
    const result = validateCandidate(
      { ...(op.op === 'UPDATE' ? { id: op.id } : {}), text: op.text, domain, confidence: initialConfidence(advantage ?? 0) },
      { library, episode: { ...episode, answers: answers ?? [] }, preferredLanguage: 'en' },
    );
    return result.ok ? { ok: true } : { ok: false, reason: result.reason, detail: result.detail };
  };
}

const round = (x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

modelId = MODEL_PATH ? (MODEL ?? basename(MODEL_PATH)) : MODEL;
const codeRunner = createNodeCodeRunner();
const verify = (verifier, answer, signal) => runVerifier(verifier, answer, codeRunner, signal, { timeoutMs: CODE_TIMEOUT_MS });

say(`loading ${MODEL_PATH ? `${MODEL_PATH} (BENCH_MODEL_PATH)` : `${MODEL} from ${MODELS_ROOT}`}, dtype ${DTYPE}, device ${DEVICE}`);
const engine = await loadNodeGenerator({ modelId: MODEL, modelPath: MODEL_PATH, modelsRoot: MODELS_ROOT, dtype: DTYPE, device: DEVICE });
modelId = engine.id;
say(`loaded ${engine.id} from ${engine.dir}${engine.fixture ? ' — RANDOM-WEIGHT FIXTURE, numbers below are meaningless' : ''}; context ${engine.contextWindow} tokens`);
const validate = await loadValidator();
say('validation: validateCandidate (src/lib/learning/validation.ts), preferred language en');
say(`G=${G}, epochs=${EPOCHS}, answer/rollout max ${MAX_NEW} tokens, contrast max ${ADVANTAGE_NEW} tokens, rollout temperature ${TEMPERATURE}, budget ${BUDGET} tokens, corrections ${CORRECTIONS ? 'on' : 'off'}, domains ${domains.join(',')}`);
for (const d of domains) say(`  strategy to learn in ${d}: ${STRATEGIES[d]}`);

const report = await runLearningBench({
  generator: engine.generator,
  verify,
  validate,
  tasks,
  config: {
    groupSize: G,
    epochs: EPOCHS,
    corrections: CORRECTIONS,
    budgetTokens: BUDGET,
    systemPrompt: SYSTEM_PROMPT,
    answer: { maxNewTokens: MAX_NEW, temperature: 0, topP: 1 },
    rollout: { maxNewTokens: MAX_NEW, temperature: TEMPERATURE, topP: 0.95 },
    advantage: { maxNewTokens: ADVANTAGE_NEW, temperature: 0.2, topP: 0.9 },
  },
  log: say,
});
await engine.dispose();

const trainEpisodes = report.episodes.length;
const msPerEpisode = trainEpisodes > 0 ? report.learnMs / trainEpisodes : null;

console.log('');
console.log(`Model: ${engine.id}${engine.fixture ? ' (random-weight fixture: meaningless numbers)' : ''}`);
console.log(`Test tasks: ${report.testTasks}   train episodes: ${trainEpisodes} (${report.trainTasks} tasks x ${EPOCHS} epoch(s))`);
console.log('domain   tasks  baseline  with experiences');
for (const [d, r] of Object.entries(report.perDomain)) {
  console.log(`${d.padEnd(8)} ${String(r.tasks).padStart(5)}  ${r.baseline_acc.toFixed(3).padStart(8)}  ${r.with_experiences_acc.toFixed(3).padStart(16)}`);
}
console.log(`${'all'.padEnd(8)} ${String(report.testTasks).padStart(5)}  ${report.baselineAcc.toFixed(3).padStart(8)}  ${report.withExperiencesAcc.toFixed(3).padStart(16)}   uplift ${(report.withExperiencesAcc - report.baselineAcc).toFixed(3)}`);
console.log(`Episodes: ${Object.entries(report.statuses).map(([k, v]) => `${k} ${v}`).join(', ')}; candidates rejected by validation ${report.rejectedCandidates}`);
if (Object.keys(report.rejectionReasons).length > 0) {
  console.log('Why proposals were rejected:');
  for (const [reason, n] of Object.entries(report.rejectionReasons)) console.log(`  ${String(n).padStart(3)} x ${reason}`);
}
console.log(`Library after training (${report.library.length}):`);
for (const e of report.library) console.log(`  ${e.id} [${e.domain}, ${e.confidence.toFixed(2)}] ${e.text}`);
console.log(
  `Extraction: ${msPerEpisode === null ? 'n/a' : `${(msPerEpisode / 1000).toFixed(2)} s per episode`}; generation ${engine.stats.calls} calls, ${engine.stats.newTokens} new tokens in ${(engine.stats.ms / 1000).toFixed(1)} s (${(engine.stats.newTokens / (engine.stats.ms / 1000 || 1)).toFixed(0)} tokens/s)`,
);
say('done');

finished = true;
console.log(
  JSON.stringify({
    bench: 'learning',
    model: engine.id,
    tasks: report.testTasks,
    baseline_acc: round(report.baselineAcc),
    with_experiences_acc: round(report.withExperiencesAcc),
    uplift: round(report.withExperiencesAcc - report.baselineAcc),
    train_episodes: trainEpisodes,
    experiences_learned: report.library.length,
    rejected_proposals: report.statuses.rejected,
    extraction_ms_per_episode: round(msPerEpisode, 1),
    episodes_per_min: msPerEpisode ? round(60_000 / msPerEpisode, 2) : null,
    note: engine.fixture ? NOTE_FIXTURE : NOTE_REAL,
    fixture: engine.fixture,
    model_dir: engine.dir,
    baseline_score: round(report.baselineScore),
    with_experiences_score: round(report.withExperiencesScore),
    per_domain: Object.fromEntries(Object.entries(report.perDomain).map(([d, r]) => [d, { tasks: r.tasks, baseline_acc: round(r.baseline_acc), with_experiences_acc: round(r.with_experiences_acc) }])),
    outcomes: report.statuses,
    rejected_candidates: report.rejectedCandidates,
    deferred_ops: report.deferredOps,
    group_size: G,
    epochs: EPOCHS,
    max_new_tokens: MAX_NEW,
    advantage_tokens: ADVANTAGE_NEW,
    corrections: CORRECTIONS,
    domains,
    generated_tokens: engine.stats.newTokens,
    seconds: round((performance.now() - t0) / 1000, 1),
  }),
);
process.exit(0);
