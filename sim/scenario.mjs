// One simulation run: N real nodes, a fraction of them adversaries, over
// PUBLISH_ROUNDS rounds of publishing plus OPEN_ROUNDS to let the last
// artifacts be judged. Adversary strategies (assigned in turn, so every
// strategy is present from 10 % on):
// - booster: publishes a poisoned artifact each round; endorses every
//   adversarial artifact with confidence 1; votes truthfully on honest
//   artifacts to keep its reputation (the smart version of collusion);
// - sybil: every round creates SYBILS_PER_ROUND fresh identities (they pass
//   calibration like anyone: worst case), each publishes a poisoned artifact
//   and, for SYBIL_LIFETIME_ROUNDS rounds, endorses every adversarial
//   artifact and rejects every honest one;
// - flipper: checks like an honest node and votes the opposite on everything;
// - slow: behaves honestly (useful artifacts, truthful votes) until
//   SLOW_TURN_ROUND, then publishes poisoned artifacts, endorses adversarial
//   and rejects honest ones, spending the reputation it earned;
// - spam: floods SPAM_PER_ROUND near-copies of an off-topic junk artifact per
//   round and endorses adversarial artifacts.
// Adversaries know the ground truth and each other; they need no judging of
// their own, so they are driven from the world directly and hold no core.
import { NodeCore, OPEN_ROUNDS } from './node.mjs';
import { Network } from './network.mjs';
import { CHECK_PROBABILITY, World, hexId, rng } from './world.mjs';

export const STRATEGIES = ['booster', 'sybil', 'flipper', 'slow', 'spam'];
export const PUBLISH_ROUNDS = 24;
export const HONEST_PUBLISH_P = 0.6;
export const SYBILS_PER_ROUND = 3;
export const SYBIL_LIFETIME_ROUNDS = 3;
export const SLOW_TURN_ROUND = 10;
export const SPAM_PER_ROUND = 8;
const HOUR = 3_600_000;
const TICK_MS = HOUR / 2;

export function simulate({ nodes = 30, adversaries = 0.3, seed = 1, strategies = STRATEGIES } = {}) {
  const random = rng(seed);
  const T0 = Date.UTC(2025, 5, 1);
  const world = new World(seed * 7919 + 1, T0);
  const advCount = Math.round(nodes * adversaries);
  const honest = [];
  for (let i = 0; i < nodes - advCount; i++) honest.push(new NodeCore(hexId(random), rng(seed * 1000 + i)));
  const adv = [];
  for (let i = 0; i < advCount; i++) adv.push({ id: hexId(random), strategy: strategies[i % strategies.length], spamBase: world.vector(1), sybils: [] });
  const everyone = honest.map((_, i) => i);
  const net = new Network(rng(seed * 31 + 7));
  const T = (tick) => T0 + tick * TICK_MS + 1;
  // Every honest node knows itself.
  for (const n of honest) n.meet(n.id, T0);
  const published = []; // { id, tick, adversarial }
  const voted = new Set(); // adversary vote keys
  const truthful = (id) => (world.truth.get(id).quality >= 0.5 ? 'endorse' : 'reject');

  const publish = (tick, author, kind, round, spamBase) => {
    const { id, artifact } = world.make(kind, author, round, T(tick), spamBase);
    const message = { type: 'artifact', author, artifact, id };
    net.broadcast(tick, message, everyone);
    const self = honest.find((n) => n.id === author);
    if (self) self.receive(message, T(tick));
    published.push({ id, tick, author });
  };
  const vote = (tick, voter, artifactId, value, confidence) => {
    const message = { type: 'vote', vote: { schemaVersion: 1, artifactId, voter, value, confidence: Math.round(confidence * 1000) / 1000, at: T(tick) } };
    net.broadcast(tick, message, everyone);
    const self = honest.find((n) => n.id === voter);
    if (self) self.receive(message, T(tick));
  };

  const totalRounds = PUBLISH_ROUNDS + OPEN_ROUNDS;
  for (let round = 0; round < totalRounds; round++) {
    for (let half = 0; half < 2; half++) {
      const tick = round * 2 + half;
      const now = T(tick);
      if (half === 0 && round < PUBLISH_ROUNDS) {
        for (const n of honest) if (random() < HONEST_PUBLISH_P) publish(tick, n.id, 'honest', round);
        for (const a of adv) {
          if (a.strategy === 'booster') publish(tick, a.id, 'poisoned', round);
          if (a.strategy === 'slow') publish(tick, a.id, round < SLOW_TURN_ROUND ? 'honest-cover' : 'poisoned', round);
          if (a.strategy === 'spam') for (let k = 0; k < SPAM_PER_ROUND; k++) publish(tick, a.id, 'spam', round, a.spamBase);
          if (a.strategy === 'sybil') {
            for (let k = 0; k < SYBILS_PER_ROUND; k++) {
              const id = hexId(random);
              a.sybils.push({ id, until: round + SYBIL_LIFETIME_ROUNDS });
              publish(tick, id, 'poisoned', round);
            }
          }
        }
      }
      // Deliveries; honest nodes check a share of the new artifacts they receive.
      for (const [r, message] of net.due(tick)) {
        const node = honest[r];
        if (!node) continue;
        const fresh = node.receive(message, now);
        if (fresh && node.random() < CHECK_PROBABILITY) {
          const { value, confidence } = world.check(fresh, node.random);
          vote(tick, node.id, fresh, value, confidence);
        }
      }
      // Adversaries vote on what was published in the previous tick (they are fast and know everything);
      // identities alive at that moment vote, once.
      for (const p of published) {
        if (p.tick !== tick - 1) continue;
        const t = world.truth.get(p.id);
        for (const a of adv) {
          const voters = a.strategy === 'sybil' ? a.sybils.filter((s) => s.until >= round).map((s) => s.id) : [a.id];
          for (const voter of voters) {
            const key = `${voter}:${p.id}`;
            if (voted.has(key) || voter === p.author) continue;
            voted.add(key);
            let value = null;
            let confidence = 1;
            if (a.strategy === 'flipper') {
              const c = world.check(p.id, random);
              value = c.value === 'endorse' ? 'reject' : 'endorse';
              confidence = c.confidence;
            } else if (t.adversarial) value = 'endorse';
            else if (a.strategy === 'booster' || (a.strategy === 'slow' && round < SLOW_TURN_ROUND)) {
              value = truthful(p.id);
              confidence = 0.9;
            } else if (a.strategy === 'sybil' || a.strategy === 'slow') value = 'reject';
            if (a.strategy === 'slow' && round < SLOW_TURN_ROUND) {
              value = truthful(p.id);
              confidence = 0.9;
            }
            if (value) vote(tick, voter, p.id, value, confidence);
          }
        }
      }
      if (half === 1) {
        for (const n of honest) n.calibrate(now);
        for (const n of honest) n.endOfRound(round, now);
      }
    }
  }

  // Metrics over honest nodes' views.
  const targets = [...world.truth.entries()].filter(([, t]) => t.round < PUBLISH_ROUNDS);
  const bad = targets.filter(([, t]) => t.adversarial && t.quality < 0.5 && t.kind !== 'honest-cover');
  const good = targets.filter(([, t]) => t.kind === 'honest');
  const rate = (list) => {
    if (list.length === 0) return 0;
    let sum = 0;
    for (const n of honest) {
      let accepted = 0;
      for (const [id, t] of list) {
        const at = n.acceptedAt.get(id);
        if (at !== undefined && at - t.round <= OPEN_ROUNDS) accepted++;
      }
      sum += accepted / list.length;
    }
    return sum / honest.length;
  };
  const delays = [];
  for (const n of honest) {
    for (const [id, t] of good) {
      const at = n.acceptedAt.get(id);
      if (at !== undefined && at - t.round <= OPEN_ROUNDS) delays.push(at - t.round);
    }
  }
  delays.sort((a, b) => a - b);
  const median = delays.length ? (delays.length % 2 ? delays[delays.length >> 1] : (delays[delays.length / 2 - 1] + delays[delays.length / 2]) / 2) : null;
  // Quarantine outcome: adversarial identities vs honest ones quarantined, averaged over honest nodes.
  const advIds = new Set(adv.flatMap((a) => [a.id, ...a.sybils.map((s) => s.id)]));
  let qAdv = 0;
  let qHonest = 0;
  for (const n of honest) {
    for (const [node, e] of n.quarantine) {
      if (e.releasedAt !== null) continue;
      if (advIds.has(node)) qAdv++;
      else qHonest++;
    }
  }
  return {
    adversaries,
    nodes,
    adversary_nodes: advCount,
    poisoned_accepted: rate(bad),
    honest_accepted: rate(good),
    median_rounds_to_accept: median,
    poisoned_artifacts: bad.length,
    honest_artifacts: good.length,
    quarantined_adversaries_per_node: qAdv / honest.length,
    quarantined_honest_per_node: qHonest / honest.length,
    messages: net.sent,
  };
}
