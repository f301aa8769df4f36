// `npm run bench:artifacts`: the artifact benchmark of issue "Synthetic
// learning layer" (item 8, postulate U1).
//
// How small is what H3LIX nodes exchange? Builds BENCH_N (200) realistic
// strategy artifacts from one seed ("When <condition>, <strategy>…", text
// lengths uniform over 60..400 characters, words from the lists below; each
// with the 52-byte sign code of an embedding-like 384-dim vector from
// bench/retrieval/data.mjs), serialises each canonically (src/lib/artifacts),
// and compares the median size on the wire with a rank-8 LoRA update of a
// 1B-parameter model, computed parameter by parameter below.
//
// "On the wire" = the canonical UTF-8 JSON bytes, before signing/encryption:
// what `parseArtifact` accepts and what the content id hashes. The signed
// estimate adds a JSON envelope with a 32-byte Ed25519 public key and a
// 64-byte signature (both base64url); docs/PROTOCOL.md will fix the real one.
//
// The TypeScript sources run as they are: Node 22.18+ strips types, and the
// resolve hook in bench/ts-source.mjs adds the `.ts` our extensionless imports
// leave out.
// Progress goes to stdout; the LAST line is one JSON object.
// Environment: BENCH_N (200), BENCH_SEED (20240607).
import { enableTypeScriptSources } from './ts-source.mjs';


// Whatever fails, the last line is still one JSON object.
const fail = (error) => {
  console.log(JSON.stringify({ bench: 'artifacts', error: String(error?.message ?? error) }));
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

enableTypeScriptSources('artifacts');

const { canonicalBytes, canonicalJson, contentId, parseArtifact } = await import('../src/lib/artifacts/canonical.ts');
const { compressEmbedding, embeddingFromJson, ENCODED_EMBEDDING_BYTES } = await import('../src/lib/artifacts/embedding-codec.ts');
const { ndSpread, sampledNdSpread, signCodesOf } = await import('../src/lib/artifacts/non-degeneracy.ts');
const { ARTIFACT_DOMAINS, coarsenTime } = await import('../src/lib/artifacts/schema.ts');
const { DEFAULT_EMBEDDER, EMBEDDING_DIMENSION } = await import('../src/lib/memory/types.ts');
const { embeddingMixture, rng } = await import('./retrieval/data.mjs');

const N = Number(process.env.BENCH_N ?? 200);
const SEED = Number(process.env.BENCH_SEED ?? 20240607);
if (!(Number.isInteger(N) && N >= 2)) fail(`BENCH_N must be an integer >= 2, got ${process.env.BENCH_N}`);
const MIN_CHARS = 60;
const MAX_CHARS = 400;
// A fixed "now" (2025-06-01T12:00Z) so the output does not depend on the clock; creation times spread over 30 days before it.
const NOW_MS = Date.UTC(2025, 5, 1, 12);

const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const round = (x, digits = 3) => Number(x.toFixed(digits));
const utf8Length = (s) => new TextEncoder().encode(s).length;

// ---------------------------------------------------------------------------
// 1. The rank-8 LoRA update it is compared with, computed.
//
// Llama-3.2-1B's shape (1.24 B parameters with tied embeddings): 16 layers,
// hidden 2048, MLP intermediate 8192, 32 query heads and 8 key/value heads of
// dimension 64 (grouped-query attention, so k and v project to 512). LoRA of
// rank r on a d_in x d_out matrix adds A (d_in x r) and B (r x d_out):
// r * (d_in + d_out) parameters. Adapted: q, k, v, o, gate, up, down in every
// layer (the usual "all linear layers" setting). Sent at fp16, 2 bytes each,
// with no container overhead (which only makes the real file larger).
const LORA = { model: 'Llama-3.2-1B shape', layers: 16, hidden: 2048, intermediate: 8192, heads: 32, kvHeads: 8, headDim: 64, rank: 8, bytesPerParam: 2 };
const loraMatrices = [
  ['q_proj', LORA.hidden, LORA.heads * LORA.headDim],
  ['k_proj', LORA.hidden, LORA.kvHeads * LORA.headDim],
  ['v_proj', LORA.hidden, LORA.kvHeads * LORA.headDim],
  ['o_proj', LORA.heads * LORA.headDim, LORA.hidden],
  ['gate_proj', LORA.hidden, LORA.intermediate],
  ['up_proj', LORA.hidden, LORA.intermediate],
  ['down_proj', LORA.intermediate, LORA.hidden],
].map(([name, dIn, dOut]) => ({ name, dIn, dOut, params: LORA.rank * (dIn + dOut) }));
const loraParamsPerLayer = loraMatrices.reduce((sum, m) => sum + m.params, 0);
const loraParams = loraParamsPerLayer * LORA.layers;
const loraBytes = loraParams * LORA.bytesPerParam;

say(`rank-${LORA.rank} LoRA of a ${LORA.model} model (${LORA.layers} layers, hidden ${LORA.hidden}, intermediate ${LORA.intermediate}, ${LORA.heads}/${LORA.kvHeads} heads x ${LORA.headDim}):`);
for (const m of loraMatrices) {
  say(`  ${m.name.padEnd(9)} ${String(m.dIn).padStart(4)} -> ${String(m.dOut).padEnd(4)}  r*(d_in+d_out) = ${LORA.rank}*${m.dIn + m.dOut} = ${m.params.toLocaleString('en')} params/layer`);
}
say(`  per layer ${loraParamsPerLayer.toLocaleString('en')} params x ${LORA.layers} layers = ${loraParams.toLocaleString('en')} params x ${LORA.bytesPerParam} bytes (fp16) = ${loraBytes.toLocaleString('en')} bytes (${(loraBytes / 2 ** 20).toFixed(2)} MiB)`);

// ---------------------------------------------------------------------------
// 2. The artifacts.
//
// Text: "When <condition>, <strategy>" and then further "; <strategy>",
// ", then <strategy>", … clauses, whole clauses only, stopping nearest to a
// target length drawn uniformly from MIN_CHARS..MAX_CHARS (so lengths are
// spread over 60..400 with the clauses' granularity), ending with '.'. Plain
// English ASCII, as most strategies distilled from English rollouts will be
// (non-ASCII text would be a few bytes longer per character).
const CONDITIONS = [
  'a word problem mixes units',
  'the question asks for a percentage change',
  'a function returns undefined for some inputs',
  'the user asks for a summary of a long document',
  'two sources disagree about a date',
  'a plan has more than five steps',
  'the answer depends on the current year',
  'a proof needs a case split',
  'a request could reveal personal data',
  'the user writes in a second language',
  'a regular expression must match nested brackets',
  'an estimate spans several orders of magnitude',
  'a SQL query is slow on a large table',
  'a recipe has to be scaled for more people',
  'the prompt is ambiguous about the audience',
  'a loop accumulates floating point error',
  'the user asks for a translation of an idiom',
  'a schedule has overlapping meetings',
  'a puzzle gives more constraints than unknowns',
  'a claim cites no source',
];
const STRATEGIES = [
  'convert every quantity to SI units before doing any arithmetic',
  'write the base value and the new value down before dividing',
  'check each branch for a missing return statement',
  'list the main claims first and only then compress them',
  'say which source each date comes from and prefer the primary one',
  'group the steps into phases and give each phase a goal',
  'ask for or state the reference date explicitly',
  'name the cases and show that together they cover everything',
  'answer in general terms and leave out names and addresses',
  'keep sentences short and avoid idioms in the reply',
  'use a small parser instead of a single expression',
  'work in powers of ten and round only at the end',
  'look at the query plan and add an index on the filtered column',
  'scale by a single factor and round spoons and pinches sensibly',
  'state the assumed audience in one line before answering',
  'sum with compensation or use integers for money',
  'explain the meaning first and then offer a natural equivalent',
  'sort by start time and merge intervals that overlap',
  'write the constraints as equations and eliminate one unknown at a time',
  'say that the claim is unverified and suggest how to check it',
  'double-check the result against a rough estimate',
  'show the intermediate results so that a mistake is easy to spot',
];
const JOINERS = ['; ', ', then ', ', and ', '; if that fails, '];

function makeText(random) {
  const pick = (list) => list[Math.floor(random() * list.length)];
  const target = MIN_CHARS + Math.floor(random() * (MAX_CHARS - MIN_CHARS + 1));
  let text = `When ${pick(CONDITIONS)}, ${pick(STRATEGIES)}`;
  // Whole clauses only: stop at whichever length (before or after the next clause) is nearer the target, within bounds.
  for (;;) {
    const longer = `${text}${pick(JOINERS)}${pick(STRATEGIES)}`;
    const fits = longer.length + 1 <= MAX_CHARS;
    if (!fits || (text.length + 1 >= MIN_CHARS && Math.abs(text.length + 1 - target) <= Math.abs(longer.length + 1 - target))) break;
    text = longer;
  }
  return `${text}.`;
}

say(`building ${N} strategy artifacts (seed ${SEED})`);
const random = rng(SEED);
const mixture = embeddingMixture(EMBEDDING_DIMENSION, SEED ^ 0x5eed);
const vector = new Float32Array(EMBEDDING_DIMENSION);
const artifacts = [];
const topics = [];
const ids = [];
for (let i = 0; i < N; i++) {
  topics.push(mixture.next(vector));
  const artifact = {
    schemaVersion: 1,
    kind: 'strategy',
    text: makeText(random),
    domain: ARTIFACT_DOMAINS[Math.floor(random() * ARTIFACT_DOMAINS.length)],
    // Full double precision, as a mean of rewards would be: the pessimistic case for size.
    confidence: 0.5 + 0.5 * random(),
    evidence: { groupSize: 4 + Math.floor(random() * 13), rewardSpread: 0.05 + 0.4 * random() },
    createdAt: coarsenTime(NOW_MS - Math.floor(random() * 30 * 86_400_000)),
    embedderId: DEFAULT_EMBEDDER,
    embedding: compressEmbedding(vector),
  };
  // About one in ten updates an earlier artifact.
  if (i > 0 && random() < 0.1) artifact.parent = ids[Math.floor(random() * i)];
  artifacts.push(artifact);
  ids.push(contentId(artifact));
}

// Every artifact must come back through the receiver's path unchanged, under the same id.
const sizes = [];
for (const [i, artifact] of artifacts.entries()) {
  const bytes = canonicalBytes(artifact);
  const parsed = parseArtifact(bytes);
  if (parsed.id !== ids[i]) throw new Error(`artifact ${i}: id changed on parsing`);
  sizes.push(bytes.length);
}
if (new Set(ids).size !== N) throw new Error('duplicate content ids');

const textLengths = artifacts.map((a) => a.text.length);
const embeddingBytes = artifacts.map((a) => utf8Length(`,"embedding":${canonicalJson(a.embedding)}`));
const withoutEmbedding = artifacts.map((a) => {
  const { embedding: _embedding, ...rest } = a;
  return canonicalBytes(rest).length;
});
// The same artifacts if they carried the float32 vector (1,536 bytes) as base64url: 2,048 characters instead of 64.
const floatEmbedding = sizes.map((size) => size + (Math.ceil((EMBEDDING_DIMENSION * 4 * 8) / 6) - 64));
// Signed envelope estimate: {"artifact":…,"author":<32-byte key>,"sig":<64-byte signature>,"v":1}.
const envelopeOverhead =
  utf8Length(canonicalJson({ artifact: {}, author: 'A'.repeat(43), sig: 'A'.repeat(86), v: 1 })) - utf8Length('{}');
const signed = sizes.map((size) => size + envelopeOverhead);

const medianBytes = median(sizes);
say(`text length: median ${median(textLengths)} chars (min ${Math.min(...textLengths)}, max ${Math.max(...textLengths)})`);
say(`canonical wire size: median ${medianBytes} bytes, p10 ${quantile(sizes, 0.1)}, p90 ${quantile(sizes, 0.9)}, min ${Math.min(...sizes)}, max ${Math.max(...sizes)}`);
say(`  of which the embedding (binary ${ENCODED_EMBEDDING_BYTES} bytes) takes ${median(embeddingBytes)} bytes of JSON; without it the median is ${median(withoutEmbedding)}`);
say(`  with a float32 embedding in base64url instead: median ${median(floatEmbedding)} bytes`);
say(`  signed, in a JSON envelope with an Ed25519 key and signature (+${envelopeOverhead} bytes): median ${median(signed)} bytes`);
if (process.env.BENCH_SHOW_TEXTS) for (const a of artifacts.slice(0, 12)) say(`  ${a.text.length} ${a.text}`);
const example = artifacts[sizes.indexOf(quantile(sizes, 0.5))] ?? artifacts[0];
say(`  an artifact of median size: ${canonicalJson(example)}`);

// ND spread of the set, exact and sampled (seeded), and inside its largest topic for comparison.
const codes = signCodesOf(artifacts.map((a) => embeddingFromJson(a.embedding)));
const spread = ndSpread(codes);
const sampled = sampledNdSpread(codes, 2000, rng(SEED + 1));
const topicCounts = new Map();
for (const t of topics) topicCounts.set(t, (topicCounts.get(t) ?? 0) + 1);
const [bigTopic, bigCount] = [...topicCounts].sort((a, b) => b[1] - a[1])[0];
const topicSpread = ndSpread(codes.filter((_, i) => topics[i] === bigTopic));
say(`ND spread (mean normalised Hamming distance): ${spread.toFixed(4)} exact, ${sampled.spread.toFixed(4)} ± ${sampled.standardError.toFixed(4)} from 2,000 sampled pairs; inside the largest topic (${bigCount} artifacts): ${topicSpread?.toFixed(4) ?? 'n/a'}`);

const loraRatio = loraBytes / medianBytes;
say(`LoRA update / median artifact = ${loraBytes.toLocaleString('en')} / ${medianBytes} = ${Math.round(loraRatio).toLocaleString('en')}x`);

console.log(
  JSON.stringify({
    bench: 'artifacts',
    median_bytes: medianBytes,
    lora_ratio: round(loraRatio, 1),
    lora_bytes: loraBytes,
    lora_params: loraParams,
    lora: { ...LORA, adapted: loraMatrices.map((m) => m.name), params_per_layer: loraParamsPerLayer },
    n: N,
    seed: SEED,
    p10_bytes: quantile(sizes, 0.1),
    p90_bytes: quantile(sizes, 0.9),
    min_bytes: Math.min(...sizes),
    max_bytes: Math.max(...sizes),
    median_text_chars: median(textLengths),
    embedding_binary_bytes: ENCODED_EMBEDDING_BYTES,
    embedding_json_bytes: median(embeddingBytes),
    median_bytes_without_embedding: median(withoutEmbedding),
    median_bytes_float_embedding: median(floatEmbedding),
    median_signed_bytes_estimate: median(signed),
    envelope_overhead_bytes: envelopeOverhead,
    signed_lora_ratio: round(loraBytes / median(signed), 1),
    nd_spread: round(spread, 4),
    nd_spread_sampled: round(sampled.spread, 4),
    nd_spread_largest_topic: topicSpread === null ? null : round(topicSpread, 4),
  }),
);
