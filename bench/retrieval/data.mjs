// Seeded synthetic "sentence embeddings" for the retrieval benchmark.
//
// Uniform random unit vectors are the wrong test: in 384 dims they are all
// nearly orthogonal, nearest neighbours barely beat the rest, and no index
// (sign codes included) can be judged on them. Real all-MiniLM-L6-v2 output
// has structure, which this imitates:
// - a shared mean direction in every vector (real embeddings are not centred:
//   two unrelated sentences still have a cosine around 0.1);
// - topics: TOPICS cluster centres, with Zipf-like sizes (a few big topics, a
//   long tail), each vector belonging to one;
// - anisotropic spread inside a topic: each topic varies mostly along its own
//   few directions (SPREAD_RANK, decaying strengths), like paraphrases and
//   sub-topics, plus a small isotropic residue whose strength differs per
//   dimension (real embedding dimensions do not all carry the same variance);
// - every vector L2-normalised, as the embedder's output is.
// Resulting cosines (printed by the bench): unrelated ~0.1, same topic ~0.4,
// a query's nearest stored neighbour ~0.7.
//
// Everything comes from one seed; queries are fresh draws from the same
// mixture, never copies of stored vectors.

export const DATA_PARAMS = {
  topics: 300,
  zipf: 0.7,
  meanWeight: 0.3,
  topicWeight: 0.55,
  spreadRank: 16,
  spreadVariance: 0.3,
  spreadDecay: 0.85,
  isoVariance: 0.35,
};

/** mulberry32: small, fast, good enough for test data; returns [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller, both halves used). */
export function gaussian(random) {
  let spare = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = random();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

function unitGaussian(dim, normal) {
  const v = new Float64Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = normal();
    norm += v[i] * v[i];
  }
  const s = 1 / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) v[i] *= s;
  return v;
}

/**
 * A generator of embedding-like unit vectors. `next(out)` writes one into
 * `out` (a Float32Array of `dim`) and returns its topic.
 */
export function embeddingMixture(dim, seed, params = DATA_PARAMS) {
  const random = rng(seed);
  const normal = gaussian(random);
  const mean = unitGaussian(dim, normal);
  const centres = Array.from({ length: params.topics }, () => unitGaussian(dim, normal));

  // Topic directions of spread: rank SPREAD_RANK, strengths decaying
  // geometrically and scaled so they add up to spreadVariance.
  const strengths = Array.from({ length: params.spreadRank }, (_, m) => params.spreadDecay ** m);
  const strengthSum = strengths.reduce((a, b) => a + b * b, 0);
  const spreadStd = strengths.map((s) => s * Math.sqrt(params.spreadVariance / strengthSum));
  const spreads = centres.map(() => {
    const basis = new Float64Array(params.spreadRank * dim);
    for (let m = 0; m < params.spreadRank; m++) basis.set(unitGaussian(dim, normal), m * dim);
    return basis;
  });

  // Per-dimension isotropic residue: log-normal strengths, average variance
  // isoVariance / dim per dimension.
  const isoStd = new Float64Array(dim);
  let isoSum = 0;
  for (let i = 0; i < dim; i++) {
    isoStd[i] = Math.exp(0.4 * normal());
    isoSum += isoStd[i] * isoStd[i];
  }
  for (let i = 0; i < dim; i++) isoStd[i] *= Math.sqrt(params.isoVariance / isoSum);

  // Zipf-like topic sizes, sampled through the cumulative distribution.
  const cumulative = new Float64Array(params.topics);
  let total = 0;
  for (let t = 0; t < params.topics; t++) cumulative[t] = total += 1 / (t + 1) ** params.zipf;
  const pickTopic = () => {
    const x = random() * total;
    let lo = 0;
    let hi = params.topics - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const work = new Float64Array(dim);
  const coefficients = new Float64Array(params.spreadRank);
  return {
    next(out) {
      const topic = pickTopic();
      const centre = centres[topic];
      const basis = spreads[topic];
      for (let m = 0; m < params.spreadRank; m++) coefficients[m] = normal() * spreadStd[m];
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        let x = params.meanWeight * mean[i] + params.topicWeight * centre[i] + isoStd[i] * normal();
        for (let m = 0, b = i; m < params.spreadRank; m++, b += dim) x += coefficients[m] * basis[b];
        work[i] = x;
        norm += x * x;
      }
      const s = 1 / Math.sqrt(norm);
      for (let i = 0; i < dim; i++) out[i] = work[i] * s;
      return topic;
    },
  };
}
