// `npm run bench:ccf`: the Collective Context Field benchmark (issue
// "Collective Context Field", Benchmark section).
//
// 1. Aggregation: a field of BENCH_ARTIFACTS (10,000) artifacts and
//    BENCH_VOTERS (50) voters, every voter voting on every artifact (500,000
//    current votes, 70 % endorse), reputation weights from a real ledger
//    (calibrated peers with different histories). Times `aggregateField`
//    over all artifacts (robust acceptance: weighted 2/3, weighted median
//    confidence, Sybil weight). Baseline in the same run: a plain unweighted
//    count of endorsements over the same votes (the cheapest possible
//    "majority"), so `aggregate_vs_plain_ratio` is what robustness costs.
// 2. Projection: BENCH_ACCEPTED (100,000) accepted artifacts in a
//    ProjectionIndex (embedding-like 384-dim vectors from
//    bench/retrieval/data.mjs), BENCH_QUERIES (100) held-out task
//    embeddings; times `projectField` (relevance with the sign-bit prefilter,
//    weighting, budgeted rendering, evidence) per prompt, against the same
//    call with an exact scan (`strategy: 'exact'`) measured back to back, and
//    reports how often both put the same priors in the prompt.
// Ids of the 100,000 projected artifacts are synthetic (the index does not
// hash; hashing 100,000 artifacts would only slow the setup). Progress on
// stdout; the LAST line is one JSON object. Ratios matter, not absolute
// times: the machines are shared 2-core ones.
// Environment: BENCH_ARTIFACTS, BENCH_VOTERS, BENCH_ACCEPTED, BENCH_QUERIES, BENCH_REPS (5), BENCH_SEED (7).
import { enableTypeScriptSources } from './ts-source.mjs';

const fail = (error) => {
  console.log(JSON.stringify({ bench: 'ccf', error: String(error?.message ?? error) }));
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

enableTypeScriptSources('ccf');

const { CollectiveField } = await import('../src/lib/ccf/field.ts');
const { aggregateField } = await import('../src/lib/ccf/aggregation.ts');
const { emptyLedger, meetPeer, recordCalibration, settleOutcomes, voteWeight, PROBATION_MS } = await import('../src/lib/ccf/reputation.ts');
const { ProjectionIndex, projectField } = await import('../src/lib/ccf/projection.ts');
const { contentId } = await import('../src/lib/artifacts/canonical.ts');
const { compressEmbedding } = await import('../src/lib/artifacts/embedding-codec.ts');
const { ARTIFACT_DOMAINS } = await import('../src/lib/artifacts/schema.ts');
const { DEFAULT_EMBEDDER, EMBEDDING_DIMENSION } = await import('../src/lib/memory/types.ts');
const { embeddingMixture, rng } = await import('./retrieval/data.mjs');

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const ARTIFACTS = env('BENCH_ARTIFACTS', 10_000);
const VOTERS = env('BENCH_VOTERS', 50);
const ACCEPTED = env('BENCH_ACCEPTED', 100_000);
const QUERIES = env('BENCH_QUERIES', 100);
const REPS = env('BENCH_REPS', 5);
const SEED = env('BENCH_SEED', 7);
const T0 = Date.UTC(2025, 5, 1);
const HOUR = 3_600_000;

const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r3 = (x) => Number(x.toFixed(3));
const random = rng(SEED);
const hex = (n) => n.toString(16).padStart(32, '0');

// ---------------------------------------------------------------- aggregation
say(`building a field of ${ARTIFACTS} artifacts and ${VOTERS} voters`);
const field = new CollectiveField();
const ids = [];
for (let i = 0; i < ARTIFACTS; i++) {
  const artifact = {
    schemaVersion: 1,
    kind: 'strategy',
    text: `When case ${i} comes up, check the edge cases first and state the assumption.`,
    domain: ARTIFACT_DOMAINS[i % ARTIFACT_DOMAINS.length],
    confidence: 0.8,
    evidence: { groupSize: 8, rewardSpread: 0.5 },
    createdAt: T0 + (i % 24) * HOUR,
    embedderId: DEFAULT_EMBEDDER,
  };
  const id = contentId(artifact);
  ids.push(id);
  field.addArtifact(hex(1_000_000 + (i % 200)), artifact, id);
}
const voters = Array.from({ length: VOTERS }, (_, i) => hex(i + 1));
for (const id of ids) {
  for (const voter of voters) {
    field.addVote({ schemaVersion: 1, artifactId: id, voter, value: random() < 0.7 ? 'endorse' : 'reject', confidence: Math.round(random() * 1000) / 1000, at: T0 + 24 * HOUR });
  }
}
// A ledger where voters have different standing: calibrated, then some settled history.
let ledger = emptyLedger(hex(0xfff));
for (const v of voters) {
  ledger = meetPeer(ledger, v, T0 - PROBATION_MS);
  for (let k = 0; k < 3; k++) ledger = recordCalibration(ledger, v, true, T0 - PROBATION_MS);
}
ledger = settleOutcomes(
  ledger,
  ids.slice(0, 200).map((id) => ({ artifactId: id, outcome: 'accepted', votes: field.votesOn(id).values(), authors: field.artifact(id).authors })),
  T0,
);
const NOW = T0 + 25 * HOUR;
const weightOf = (n) => voteWeight(ledger, n, NOW);
say(`${field.votes} current votes`);

const plainCount = () => {
  // Baseline: unweighted endorsements > 2/3 of votes, nothing else.
  let accepted = 0;
  for (const id of ids) {
    let e = 0;
    let n = 0;
    for (const v of field.votesOn(id).values()) {
      n++;
      if (v.value === 'endorse') e++;
    }
    if (3 * e >= 2 * n) accepted++;
  }
  return accepted;
};
const aggTimes = [];
const plainTimes = [];
let acceptedCount = 0;
aggregateField(field, { now: NOW, weightOf }); // warm-up
plainCount();
for (let rep = 0; rep < REPS; rep++) {
  let t = performance.now();
  const judgements = aggregateField(field, { now: NOW, weightOf });
  aggTimes.push(performance.now() - t);
  acceptedCount = [...judgements.values()].filter((j) => j.status === 'accepted').length;
  t = performance.now();
  plainCount();
  plainTimes.push(performance.now() - t);
}
const aggregateMs = median(aggTimes);
const plainMs = median(plainTimes);
say(`aggregate: ${aggregateMs.toFixed(1)} ms (plain count ${plainMs.toFixed(1)} ms), ${acceptedCount} accepted`);

// ---------------------------------------------------------------- projection
say(`building a projection index of ${ACCEPTED} accepted artifacts`);
const mixture = embeddingMixture(EMBEDDING_DIMENSION, SEED);
const index = new ProjectionIndex({ initialCapacity: ACCEPTED });
const vec = new Float32Array(EMBEDDING_DIMENSION);
const SELF = hex(0xfff);
for (let i = 0; i < ACCEPTED; i++) {
  mixture.next(vec);
  const artifact = {
    schemaVersion: 1,
    kind: 'strategy',
    text: `When situation ${i} arises, apply strategy ${i % 977} and check the result.`,
    domain: ARTIFACT_DOMAINS[i % ARTIFACT_DOMAINS.length],
    confidence: 0.8,
    evidence: { groupSize: 8, rewardSpread: 0.5 },
    createdAt: T0 - (i % 720) * HOUR,
    embedderId: DEFAULT_EMBEDDER,
    embedding: compressEmbedding(vec),
  };
  const id = `h3x1-bench${String(i).padStart(47, '0')}`;
  // Every 10th is this node's own, to exercise the exclusion.
  index.upsert({ id, artifact, authors: [i % 10 === 0 ? SELF : hex(2_000_000 + (i % 500))], acceptance: 0.67 + (i % 33) / 100, endorsers: [hex(1), hex(2), hex(3)] }, vec);
}
const queries = Array.from({ length: QUERIES }, () => {
  const q = new Float32Array(EMBEDDING_DIMENSION);
  mixture.next(q);
  return q;
});
const reputationOf = (n) => (parseInt(n.slice(-3), 16) % 100) / 100;
const ask = (q, strategy) => projectField(index, { self: SELF, text: 'task', embedding: q, now: T0, budgetTokens: 600, reputationOf, strategy });
for (const q of queries.slice(0, 5)) {
  ask(q, 'sign-prefilter');
  ask(q, 'exact');
}
const pre = [];
const exact = [];
let same = 0;
let priors = 0;
for (let rep = 0; rep < Math.max(1, Math.ceil(REPS / 2)); rep++) {
  for (const [i, q] of queries.entries()) {
    const order = (i + rep) % 2 === 0 ? ['sign-prefilter', 'exact'] : ['exact', 'sign-prefilter'];
    const results = {};
    for (const s of order) {
      const t = performance.now();
      results[s] = ask(q, s);
      (s === 'exact' ? exact : pre).push(performance.now() - t);
    }
    if (rep === 0) {
      priors += results['sign-prefilter'].priors.length;
      const a = results['sign-prefilter'].priors.map((p) => p.entry.id).join();
      const b = results.exact.priors.map((p) => p.entry.id).join();
      if (a === b) same++;
    }
  }
}
const projectionMs = median(pre);
const exactMs = median(exact);
say(`projection: ${projectionMs.toFixed(2)} ms per prompt with the prefilter, ${exactMs.toFixed(2)} ms exact; same priors in ${same}/${QUERIES}`);

console.log(
  JSON.stringify({
    bench: 'ccf',
    aggregate_ms: r3(aggregateMs),
    projection_ms: r3(projectionMs),
    aggregate_plain_count_ms: r3(plainMs),
    aggregate_vs_plain_ratio: r3(aggregateMs / plainMs),
    aggregate_us_per_vote: r3((aggregateMs * 1000) / field.votes),
    projection_exact_ms: r3(exactMs),
    projection_speedup: r3(exactMs / projectionMs),
    projection_same_priors: r3(same / QUERIES),
    priors_per_prompt: r3(priors / QUERIES),
    artifacts: ARTIFACTS,
    voters: VOTERS,
    votes: field.votes,
    accepted_in_aggregate: acceptedCount,
    projected_artifacts: ACCEPTED,
    queries: QUERIES,
    reps: REPS,
    seed: SEED,
  }),
);
