// `npm run sim`: the Collective Context Field under attack (issue
// "Collective Context Field", item 8). N node cores run the domain code of
// src/lib/ccf over an in-process network (sim/network.mjs); a fraction of the
// nodes are adversaries with the strategies of sim/scenario.mjs; honest nodes
// judge artifacts by a noisy check of their hidden quality (sim/world.mjs).
// Prints a table for adversary fractions 0, 10, 20, 30, 40 % and, as the LAST
// line, one JSON object {"bench":"sim","rows":[...]}.
// Environment: SIM_SEED (1), SIM_NODES (30), SIM_FRACTIONS (0,0.1,0.2,0.3,0.4).
import { enableTypeScriptSources } from '../bench/ts-source.mjs';

const fail = (error) => {
  console.log(JSON.stringify({ bench: 'sim', error: String(error?.stack ?? error?.message ?? error) }));
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

enableTypeScriptSources('sim');
const { simulate, STRATEGIES, PUBLISH_ROUNDS } = await import('./scenario.mjs');
const { CHECK_NOISE_SD, CHECK_PROBABILITY } = await import('./world.mjs');

const SEED = Number(process.env.SIM_SEED ?? 1);
const NODES = Number(process.env.SIM_NODES ?? 30);
const FRACTIONS = (process.env.SIM_FRACTIONS ?? '0,0.1,0.2,0.3,0.4').split(',').map(Number);
const t0 = performance.now();
console.log(`CCF simulation: ${NODES} nodes, ${PUBLISH_ROUNDS} publishing rounds, seed ${SEED}; honest check noise SD ${CHECK_NOISE_SD}, check probability ${CHECK_PROBABILITY}`);
console.log(`adversary strategies, in turn: ${STRATEGIES.join(', ')}`);
const rows = [];
const pct = (x) => `${(x * 100).toFixed(1)} %`.padStart(8);
console.log('');
console.log('adversaries  poisoned accepted  honest accepted  median rounds to accept  quarantined (adv / honest per node)');
for (const f of FRACTIONS) {
  const r = simulate({ nodes: NODES, adversaries: f, seed: SEED });
  rows.push(r);
  console.log(
    `${pct(f)}     ${pct(r.poisoned_accepted)}           ${pct(r.honest_accepted)}         ${String(r.median_rounds_to_accept).padStart(5)}                   ${r.quarantined_adversaries_per_node.toFixed(1)} / ${r.quarantined_honest_per_node.toFixed(1)}`,
  );
}
const goal = rows.find((r) => r.adversaries === 0.3);
if (goal) {
  const ok = goal.poisoned_accepted <= 0.01 && goal.honest_accepted >= 0.9;
  console.log(`\ngoal at 30 %: poisoned <= 1 %, honest >= 90 %: ${ok ? 'met' : 'NOT met'}`);
}
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
const round = (x) => (x === null ? null : Number(x.toFixed(4)));
console.log(
  JSON.stringify({
    bench: 'sim',
    seed: SEED,
    nodes: NODES,
    rows: rows.map((r) => ({
      adversaries: r.adversaries,
      poisoned_accepted: round(r.poisoned_accepted),
      honest_accepted: round(r.honest_accepted),
      median_rounds_to_accept: r.median_rounds_to_accept,
      poisoned_artifacts: r.poisoned_artifacts,
      honest_artifacts: r.honest_artifacts,
      quarantined_adversaries_per_node: round(r.quarantined_adversaries_per_node),
      quarantined_honest_per_node: round(r.quarantined_honest_per_node),
    })),
  }),
);
