// `npm run bench:network`: the network benchmark of issue 5 ("Network:
// relay, invite links and peer-to-peer artifact exchange").
//
// - Propagation: N Node members (NetworkService, the member code the browser
//   runs: libp2p with WebRTC via node-datachannel, circuit relay, gossipsub,
//   sealed envelopes, fake-indexeddb storage) join one network by invite link
//   through the real relay; A shares artifacts; time from A's shareArtifact()
//   call to each other member's onItem (the item is verified and stored).
//   The group grows 5 → 10 → 25 → 50 (BENCH_N), a warm-up before each size.
//   The members run in child processes (bench/network/member-host.mjs,
//   BENCH_PER_HOST members each) so that they do not all share one event
//   loop; each reports its receipt times over IPC on the machine's clock
//   (performance.timeOrigin + performance.now()).
// - Relay memory: the relay runs as its own process (relay/src/main.ts);
//   process_resident_memory_bytes from its /metrics, idle and with N members
//   connected; the slope of RSS against its open connections.
// - Bytes: the envelope A publishes (sealEnvelope output, counted at the
//   transport's publish()) against the artifact's canonical bytes; gossip
//   copies of each artifact message sent by all members (gossipsub RPCs
//   counted at its outbound streams).
//
// Progress goes to stdout; the LAST line is one JSON object. See
// bench/README.md. Environment: BENCH_N ("5,10,25,50"), BENCH_REPEATS (12),
// BENCH_WARMUP (2), BENCH_TIMEOUT_S (1500), BENCH_FORM_S (per size, 60 + 4·N),
// BENCH_ARTIFACT_TIMEOUT_S (20), BENCH_GAP_MS (300), BENCH_JOIN_BATCH (5),
// BENCH_PER_HOST (5), BENCH_MAX_PEERS (6), BENCH_TIMING ("bench" or "app").
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRelayProcess } from './network/relay-process.mjs';

const BENCH = 'network';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// ---------------------------------------------------------------------------
// Stray errors in this process (the members' are counted in their hosts and
// summed into extras.stray_errors). None is fatal; the watchdog bounds the run.
const stray = { yamux_stream_closed: 0, other: 0, other_samples: [] };
const onStray = (err) => {
  const msg = String(err?.message ?? err);
  if (err?.name === 'StreamStateError' || /Cannot write to a stream that is closed/.test(msg)) stray.yamux_stream_closed++;
  else {
    stray.other++;
    if (stray.other_samples.length < 5) stray.other_samples.push(`${err?.name ?? 'Error'}: ${msg}`.slice(0, 200));
  }
};
process.on('uncaughtException', onStray);
process.on('unhandledRejection', onStray);

// ---------------------------------------------------------------------------
// Settings.
const envInt = (name, dflt, min = 0) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return n;
};
let SIZES, REPEATS, WARMUP, TIMEOUT_S, FORM_S, ARTIFACT_TIMEOUT_S, GAP_MS, JOIN_BATCH, PER_HOST, MAX_PEERS, TIMING;
const settingsError = (() => {
  try {
    SIZES = (process.env.BENCH_N ?? '5,10,25,50').split(',').map((s) => Number(s.trim()));
    if (SIZES.some((n) => !Number.isInteger(n) || n < 2)) throw new Error(`BENCH_N must list integers >= 2, got ${process.env.BENCH_N}`);
    SIZES = [...new Set(SIZES)].sort((a, b) => a - b);
    REPEATS = envInt('BENCH_REPEATS', 12, 1);
    WARMUP = envInt('BENCH_WARMUP', 2, 0);
    TIMEOUT_S = envInt('BENCH_TIMEOUT_S', 1500, 10);
    FORM_S = process.env.BENCH_FORM_S ? envInt('BENCH_FORM_S', 0, 1) : null;
    ARTIFACT_TIMEOUT_S = envInt('BENCH_ARTIFACT_TIMEOUT_S', 20, 1);
    GAP_MS = envInt('BENCH_GAP_MS', 300, 0);
    JOIN_BATCH = envInt('BENCH_JOIN_BATCH', 5, 1);
    PER_HOST = envInt('BENCH_PER_HOST', 5, 1);
    MAX_PEERS = envInt('BENCH_MAX_PEERS', 6, 1);
    TIMING = process.env.BENCH_TIMING ?? 'bench';
    if (TIMING !== 'app' && TIMING !== 'bench') throw new Error(`BENCH_TIMING must be bench or app, got ${TIMING}`);
    return null;
  } catch (err) {
    return err;
  }
})();

const DEADLINE = Date.now() + (TIMEOUT_S ?? 1500) * 1000;
const left = () => DEADLINE - Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(d)));
const quantile = (values, q) => {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]; // nearest rank
};
const median = (values) => quantile(values, 0.5);
const withTimeout = (p, ms, what) => {
  let timer;
  return Promise.race([p, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms); })]).finally(() => clearTimeout(timer));
};

// The transport settings of the members. `bench` (the default): the app's
// limits and code, but discovery, maintenance and pings on a faster clock so
// that a group forms in tens of seconds rather than minutes (announcements
// every 5 s instead of 30 s, the maintenance tick every 0.5 s; pings, dial
// timeouts and direct-path retries stay the app's: faster ones only add
// failing WebRTC attempts on a loaded machine), a lower maxPeers
// (BENCH_MAX_PEERS, 6) so 50 members on 2 cores do not each hold up to 40
// WebRTC associations (gossipsub needs D = 6 mesh peers), and a slower
// reconnect backoff start (a member at maxPeers closes a new connection at
// once and the dialer retries after backoff(0): with the app's 1 s that is a
// WebRTC handshake per refused pair per second). `app`: the app's
// DEFAULT_TIMING and backoff (only maxPeers from BENCH_MAX_PEERS).
const BENCH_TIMING = { announceIntervalMs: 5_000, tickMs: 500, reservationGraceMs: 5_000 };
const BENCH_RECONNECT = { initialMs: 2_000, maxMs: 15_000, factor: 2, jitter: 0.5 };
const nodeOptions = {
  rtcConfiguration: { iceServers: [] },
  limits: { maxPeers: MAX_PEERS },
  ...(TIMING === 'bench' ? { timing: BENCH_TIMING, reconnect: BENCH_RECONNECT } : {}),
};

// ---------------------------------------------------------------------------
// State shared with the final report (also printed by the watchdog).
const result = {
  bench: BENCH,
  p50_ms: {},
  p95_ms: {},
  relay_kb_per_conn: null,
  wire_overhead: null,
};
const extras = {
  sizes: SIZES,
  repeats: REPEATS,
  warmup: WARMUP,
  max_peers: MAX_PEERS,
  timing: TIMING,
  transport: TIMING === 'bench' ? { timing: BENCH_TIMING, reconnect: BENCH_RECONNECT } : 'app defaults',
  processes: { per_host: PER_HOST, hosts: 0 },
  mesh: {},
  peers_connected: {},
  direct_share: {},
  delivered: {},
  p50_all_ms: {},
  p95_all_ms: {},
  max_ms: {},
  formation_s: {},
  relay: { idle: null, by_n: {}, memory: 'rss', process: 'child (node relay/src/main.ts)' },
  relay_heap_kb_per_conn: null,
  bytes: null,
  gossip: {},
  failed: {},
  stray_errors: stray,
  notes: [],
};
let relay = null;
const hosts = [];
let finished = false;
const hostStray = new Map(); // host index -> its stray counters

function strayTotal() {
  const all = [stray, ...hostStray.values()];
  return {
    yamux_stream_closed: all.reduce((a, s) => a + s.yamux_stream_closed, 0),
    other: all.reduce((a, s) => a + s.other, 0),
    other_samples: all.flatMap((s) => s.other_samples).slice(0, 5),
  };
}

function finalLine(error) {
  const out = {
    ...result,
    ...extras,
    stray_errors: strayTotal(),
    seconds: round((performance.now() - t0) / 1000, 1),
    ...(error ? { error: String(error?.message ?? error) } : {}),
  };
  return JSON.stringify(out);
}

function killHosts() {
  for (const h of hosts) if (!h.exited) try { h.child.kill('SIGKILL'); } catch {}
}

async function cleanup() {
  await withTimeout(Promise.all(hosts.map((h) => (h.exited ? undefined : h.call('stop', {}, 20_000).catch(() => undefined)))), 25_000, 'stopping members').catch(() => undefined);
  await withTimeout(Promise.all(hosts.map((h) => h.exitedPromise)), 5_000, 'hosts exiting').catch(() => undefined);
  killHosts();
  if (relay) await withTimeout(relay.stop(), 10_000, 'stopping relay').catch(() => undefined);
}

async function finish(error) {
  if (finished) return;
  finished = true;
  say('cleaning up');
  await cleanup();
  console.log(finalLine(error));
  process.exit(error ? 1 : 0);
}
process.on('exit', () => {
  killHosts();
  if (relay?.pid && !relay.exited) try { process.kill(relay.pid, 'SIGKILL'); } catch {}
});

// Ctrl-C / SIGTERM: stop measuring, clean up, print the line with what was measured.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    extras.notes.push(`stopped by ${sig}`);
    void finish(Object.values(result.p50_ms).some((v) => v !== null) ? null : new Error(`stopped by ${sig} before any size was measured`));
  });
}

// The watchdog: at the deadline the run stops measuring (the loops check
// left()); if it is stuck in an await, this ends it with what it has.
const hardStop = setTimeout(() => {
  extras.notes.push('hard watchdog fired: the run was stuck past BENCH_TIMEOUT_S + 60 s');
  void finish(Object.values(result.p50_ms).some((v) => v !== null) ? null : new Error('timed out before any size was measured'));
  setTimeout(() => {
    console.log(finalLine(new Error('cleanup did not finish')));
    killHosts();
    if (relay?.pid) try { process.kill(relay.pid, 'SIGKILL'); } catch {}
    process.exit(1);
  }, 45_000).unref();
}, (TIMEOUT_S ?? 1500) * 1000 + 60_000);
hardStop.unref();

if (settingsError) {
  console.log(JSON.stringify({ bench: BENCH, error: settingsError.message }));
  process.exit(1);
}
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.log(JSON.stringify({ bench: BENCH, error: `needs Node >= 22.18 (type stripping), this is ${process.version}; run it with npm run bench:${BENCH}` }));
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Member hosts: child processes with a few members each.
const arrivals = new Map(); // itemId -> Map(member name -> t)
let hostSeq = 0;
async function startHost() {
  const index = hostSeq++;
  const child = fork(join(ROOT, 'bench/network/member-host.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const h = { index, child, pid: child.pid, exited: false, members: [], pending: new Map(), seq: 0, logTail: [] };
  const keep = (s) => { for (const l of String(s).split('\n')) if (l.trim()) { h.logTail.push(l.slice(0, 300)); if (h.logTail.length > 20) h.logTail.shift(); } };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  h.exitedPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    h.exited = true;
    for (const p of h.pending.values()) p.reject(new Error(`host ${index} exited (${code ?? signal}): ${h.logTail.slice(-5).join(' | ')}`));
    h.pending.clear();
    resolve({ code, signal });
  }));
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  child.on('message', (msg) => {
    if (msg?.type === 'arrival') {
      let m = arrivals.get(msg.itemId);
      if (!m) arrivals.set(msg.itemId, (m = new Map()));
      if (!m.has(msg.name)) m.set(msg.name, msg.t);
    } else if (msg?.type === 'ready') readyResolve();
    else if (msg?.id !== undefined) {
      const p = h.pending.get(msg.id);
      if (!p) return;
      h.pending.delete(msg.id);
      msg.ok ? p.resolve(msg.value) : p.reject(new Error(`host ${index}: ${msg.error}`));
    }
  });
  h.call = (cmd, args = {}, timeoutMs = 60_000) => {
    if (h.exited) return Promise.reject(new Error(`host ${index} has exited`));
    const id = ++h.seq;
    const p = new Promise((resolve, reject) => h.pending.set(id, { resolve, reject }));
    child.send({ id, cmd, ...args });
    return withTimeout(p, timeoutMs, `host ${index} ${cmd}`).finally(() => h.pending.delete(id));
  };
  hosts.push(h);
  extras.processes.hosts = hosts.length;
  await withTimeout(Promise.race([ready, h.exitedPromise.then(() => { throw new Error(`host ${index} exited before it was ready: ${h.logTail.slice(-5).join(' | ')}`); })]), 120_000, `host ${index} start`);
  await h.call('init', { relay: relay.addr, nodeOptions, topic: artifactsTopic });
  return h;
}

const hostOf = new Map(); // member name -> host
let artifactsTopic = null;
/** Hosts for the next members: fills each host with PER_HOST members, starting new ones as needed. */
async function placeMembers(names) {
  const placed = new Map(); // host -> names
  for (const name of names) {
    let h = hosts.find((x) => !x.exited && x.members.length < PER_HOST);
    if (!h) h = await startHost();
    h.members.push(name);
    hostOf.set(name, h);
    if (!placed.has(h)) placed.set(h, []);
    placed.get(h).push(name);
  }
  return placed;
}

async function sampleMembers() {
  const answers = await Promise.all(hosts.filter((h) => !h.exited).map(async (h) => {
    const s = await h.call('stats', {}, 30_000);
    hostStray.set(h.index, s.stray);
    return s;
  }));
  return { members: answers.flatMap((s) => s.members), hostRss: answers.map((s) => s.rss), loopMaxMs: answers.map((s) => Math.round(s.delay.max_ms)), cpuS: answers.map((s) => Math.round((s.cpu.user + s.cpu.system) / 1e5) / 10) };
}

async function gossipTotals() {
  const answers = await Promise.all(hosts.filter((h) => !h.exited).map((h) => h.call('counters', {}, 30_000)));
  return answers.reduce((a, c) => ({ copies: a.copies + c.copies, bytes: a.bytes + c.bytes }), { copies: 0, bytes: 0 });
}

/**
 * The member graph: an edge where a member lists the other among its peers
 * (libp2p connections, direct or relayed) and as a subscriber of the
 * artifacts topic (gossip can flow). Components by breadth-first search.
 */
function meshOf(sample) {
  const byPeer = new Map(sample.members.map((m) => [m.peerId, m.name]));
  const adj = new Map(sample.members.map((m) => [m.name, new Set()]));
  let direct = 0;
  let relayed = 0;
  for (const m of sample.members) {
    const subs = new Set(m.subs);
    for (const p of m.peers) {
      p.kind === 'direct' ? direct++ : relayed++;
      const other = byPeer.get(p.peerId);
      if (other === undefined || !subs.has(p.peerId)) continue;
      adj.get(m.name).add(other);
      adj.get(other).add(m.name);
    }
  }
  const seen = new Set();
  let components = 0;
  let largest = 0;
  for (const start of adj.keys()) {
    if (seen.has(start)) continue;
    components++;
    let size = 0;
    const queue = [start];
    seen.add(start);
    while (queue.length) {
      const u = queue.pop();
      size++;
      for (const v of adj.get(u)) if (!seen.has(v)) { seen.add(v); queue.push(v); }
    }
    largest = Math.max(largest, size);
  }
  // gossipsub's own mesh for the artifacts topic (who forwards to whom)
  const meshAdj = new Map(sample.members.map((m) => [m.name, new Set()]));
  for (const m of sample.members) for (const pid of m.mesh ?? []) {
    const other = byPeer.get(pid);
    if (other !== undefined) { meshAdj.get(m.name).add(other); meshAdj.get(other).add(m.name); }
  }
  let meshComponents = 0;
  const meshSeen = new Set();
  for (const start of meshAdj.keys()) {
    if (meshSeen.has(start)) continue;
    meshComponents++;
    const queue = [start];
    meshSeen.add(start);
    while (queue.length) for (const v of meshAdj.get(queue.pop())) if (!meshSeen.has(v)) { meshSeen.add(v); queue.push(v); }
  }
  const meshSizes = sample.members.map((m) => (m.mesh ?? []).length);
  const degrees = [...adj.values()].map((s) => s.size);
  const peerCounts = sample.members.map((m) => m.peers.length);
  return {
    connected: components === 1,
    components,
    largest,
    degree_min: Math.min(...degrees),
    degree_mean: degrees.reduce((a, b) => a + b, 0) / degrees.length,
    peers_min: Math.min(...peerCounts),
    peers_mean: peerCounts.reduce((a, b) => a + b, 0) / peerCounts.length,
    direct,
    relayed,
    mesh_components: meshComponents,
    mesh_min: Math.min(...meshSizes),
    mesh_mean: meshSizes.reduce((a, b) => a + b, 0) / meshSizes.length,
  };
}

async function relaySample() {
  const m = await relay.metrics();
  return {
    rss_bytes: m.process_resident_memory_bytes ?? null,
    heap_used_bytes: m.nodejs_heap_size_used_bytes ?? null,
    connections: m.h3lix_relay_connections ?? null,
    reservations: m.h3lix_relay_reservations ?? null,
    circuits: m.h3lix_relay_circuits ?? null,
    bytes_in: m['h3lix_relay_bytes_total{direction="in"}'] ?? null,
    bytes_out: m['h3lix_relay_bytes_total{direction="out"}'] ?? null,
    relayed_bytes: m.h3lix_relay_relayed_bytes_total ?? null,
  };
}

// ---------------------------------------------------------------------------
// The run.
async function main() {
  say(`sizes ${SIZES.join(', ')}; ${REPEATS} artifacts per size after ${WARMUP} warm-up; timing ${TIMING}; maxPeers ${MAX_PEERS}; ${PER_HOST} members per process; deadline ${TIMEOUT_S} s`);
  relay = await startRelayProcess(ROOT, { maxConnections: Math.max(256, 4 * SIZES.at(-1) + 64) });
  say(`relay pid ${relay.pid} at ${relay.addr}, metrics ${relay.httpUrl}/metrics`);
  await sleep(3_000);
  const idle = await relaySample();
  extras.relay.idle = idle;
  say(`relay idle: rss ${(idle.rss_bytes / 2 ** 20).toFixed(1)} MiB, heap used ${(idle.heap_used_bytes / 2 ** 20).toFixed(1)} MiB, ${idle.connections} connections`);

  // A creates the network; everyone else joins by an invite link.
  const A = 'm00';
  await placeMembers([A]);
  const created = await hostOf.get(A).call('create', { name: A }, 120_000);
  artifactsTopic = created.topic;
  say(`network created by ${A} (host pid ${hostOf.get(A).pid})`);
  const names = [A];
  let latest = null; // the last member sample

  let shared = 0; // artifacts A has shared so far (every member should end up holding them all)
  const allArtifactBytes = [];
  const allEnvelopeBytes = [];

  for (const N of SIZES) {
    if (left() < 30_000) {
      extras.failed[N] = 'not run: global deadline (BENCH_TIMEOUT_S) reached';
      result.p50_ms[N] = result.p95_ms[N] = null;
      continue;
    }
    // Grow to N members, JOIN_BATCH at a time. Each batch joins by the invite
    // link of the member with the fewest peers (members invite others; a
    // member at maxPeers would refuse a newcomer's first connection, and a
    // newcomer learns of the others only through its first peer).
    const formStart = performance.now();
    while (names.length < N) {
      const batch = [];
      for (let i = 0; i < JOIN_BATCH && names.length + batch.length < N; i++) batch.push(`m${String(names.length + batch.length).padStart(2, '0')}`);
      let inviter = A;
      if (latest) {
        const ok = latest.members.filter((m) => m.status === 'reserved').sort((x, y) => x.peers.length - y.peers.length);
        if (ok.length) inviter = ok[0].name;
      }
      const link = await hostOf.get(inviter).call('invite', { name: inviter });
      const placed = await placeMembers(batch);
      await Promise.all([...placed].map(([h, ns]) => h.call('join', { names: ns, link }, 120_000)));
      names.push(...batch);
      say(`  ${names.length} members (joined ${batch.join(' ')} by ${inviter}'s invite; ${hosts.length} member processes)`);
      await sleep(1_000);
      latest = await sampleMembers();
    }
    // Formation: the member graph is connected (one component over links
    // that carry the artifacts topic, and one over gossipsub's own mesh for
    // that topic, the links that forward at once), every member holds its relay
    // reservation and what A shared before (reconciliation); twice in a row.
    const formBudget = Math.min(left() - 20_000, (FORM_S ?? 60 + 4 * N) * 1000);
    const formUntil = Date.now() + formBudget;
    let formed = false;
    let okRuns = 0;
    let mesh = null;
    let heldMin = 0;
    let reservedCount = 0;
    let lastLog = 0;
    while (Date.now() < formUntil) {
      latest = await sampleMembers();
      mesh = meshOf(latest);
      heldMin = Math.min(...latest.members.map((m) => m.held));
      reservedCount = latest.members.filter((m) => m.status === 'reserved').length;
      const ok = mesh.connected && mesh.mesh_components === 1 && heldMin >= shared && reservedCount === N;
      okRuns = ok ? okRuns + 1 : 0;
      if (okRuns >= 2) { formed = true; break; }
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        say(`    forming: ${mesh.components} component(s) (largest ${mesh.largest}), gossipsub mesh ${mesh.mesh_components} component(s) size min ${mesh.mesh_min} mean ${mesh.mesh_mean.toFixed(1)}, degree min ${mesh.degree_min} mean ${mesh.degree_mean.toFixed(1)}, reserved ${reservedCount}/${N}, backlog held min ${heldMin}/${shared}; event-loop max delay per process ${latest.loopMaxMs.join('/')} ms, cpu ${latest.cpuS.join('/')} s`);
      }
      await sleep(1_000);
    }
    extras.formation_s[N] = round((performance.now() - formStart) / 1000, 1);
    extras.mesh[N] = { connected: mesh.connected, components: mesh.components, largest: mesh.largest, degree_min: mesh.degree_min, degree_mean: round(mesh.degree_mean, 1), gossipsub_mesh_components: mesh.mesh_components, gossipsub_mesh_min: mesh.mesh_min, gossipsub_mesh_mean: round(mesh.mesh_mean, 1), formed };
    extras.peers_connected[N] = { mean: round(mesh.peers_mean, 1), min: mesh.peers_min, max_peers: MAX_PEERS };
    extras.direct_share[N] = round(mesh.direct / Math.max(1, mesh.direct + mesh.relayed), 3);
    say(`N=${N}: formation ${formed ? 'done' : 'TIMED OUT'} in ${extras.formation_s[N]} s; ${mesh.components} component(s), gossipsub mesh ${mesh.mesh_components} component(s) size min ${mesh.mesh_min} mean ${mesh.mesh_mean.toFixed(1)}, gossip degree min ${mesh.degree_min} mean ${mesh.degree_mean.toFixed(1)}; peers per member mean ${mesh.peers_mean.toFixed(1)} min ${mesh.peers_min}; links direct ${mesh.direct} relayed ${mesh.relayed}; reserved ${reservedCount}/${N}; backlog held min ${heldMin}/${shared}; member processes rss ${(latest.hostRss.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(0)} MiB`);
    if (!formed) {
      extras.failed[N] = `the member graph did not form in ${Math.round(formBudget / 1000)} s: ${mesh.components} component(s) (largest ${mesh.largest} of ${N}), gossipsub mesh ${mesh.mesh_components} component(s), reserved ${reservedCount}/${N}, backlog held min ${heldMin}/${shared}`;
      result.p50_ms[N] = result.p95_ms[N] = null;
      continue;
    }

    // Relay memory with N members connected (before the artifacts: the
    // connections, reservations and circuits, not traffic buffers).
    const sample = await relaySample();
    extras.relay.by_n[N] = {
      ...sample,
      kb_per_conn_rss: sample.connections > 0 ? round((sample.rss_bytes - idle.rss_bytes) / 1024 / sample.connections, 1) : null,
      kb_per_conn_heap: sample.connections > 0 ? round((sample.heap_used_bytes - idle.heap_used_bytes) / 1024 / sample.connections, 1) : null,
    };
    say(`  relay: rss ${(sample.rss_bytes / 2 ** 20).toFixed(1)} MiB, heap used ${(sample.heap_used_bytes / 2 ** 20).toFixed(1)} MiB, ${sample.connections} connections, ${sample.reservations} reservations, ${sample.circuits} circuits → ${extras.relay.by_n[N].kb_per_conn_rss} KiB/conn (rss)`);

    // Propagation.
    const others = names.filter((n) => n !== A);
    const delays = [];
    const perArtifactAll = [];
    let missed = 0;
    let measured = 0;
    const copiesPer = [];
    const gossipBytesPer = [];
    const relayBytesPer = [];
    for (let k = 0; k < WARMUP + REPEATS; k++) {
      if (left() < 15_000) { extras.notes.push(`N=${N}: stopped after ${measured} artifacts at the global deadline`); break; }
      const warm = k < WARMUP;
      const before = await gossipTotals();
      const relayBefore = await relaySample().catch(() => null);
      const s = await hostOf.get(A).call('share', { name: A }, 60_000);
      shared++;
      const until = Date.now() + ARTIFACT_TIMEOUT_S * 1000;
      const got = () => arrivals.get(s.itemId) ?? new Map();
      while (Date.now() < until && others.some((n) => !got().has(n))) await sleep(5);
      const times = others.filter((n) => got().has(n)).map((n) => got().get(n) - s.t);
      // Let late forwards and IDONTWANT/IHAVE settle before reading the counters.
      await sleep(GAP_MS);
      const after = await gossipTotals();
      const copies = after.copies - before.copies;
      const gbytes = after.bytes - before.bytes;
      const env = await hostOf.get(A).call('published', { name: A, from: s.publishedBefore });
      const relayAfter = await relaySample().catch(() => null);
      if (!warm) {
        measured++;
        delays.push(...times);
        missed += others.length - times.length;
        if (times.length === others.length) perArtifactAll.push(Math.max(...times));
        copiesPer.push(copies);
        gossipBytesPer.push(gbytes);
        if (relayBefore && relayAfter) relayBytesPer.push(relayAfter.bytes_in - relayBefore.bytes_in);
        // Pairs only where A published this artifact's envelope exactly once in the window.
        if (env.length === 1) { allArtifactBytes.push(s.payload); allEnvelopeBytes.push(env[0]); }
      }
      say(`  ${warm ? 'warm-up' : `#${k - WARMUP + 1}`}: ${s.payload} B artifact, envelope ${env.join('+') || '-'} B, sent ${s.sent}; ${times.length}/${others.length} in ${times.length ? `median ${median(times).toFixed(0)} max ${Math.max(...times).toFixed(0)}` : '-'} ms; gossip copies ${copies} (${gbytes} B)`);
    }
    if (delays.length === 0) {
      extras.failed[N] = `no artifact reached any member in ${ARTIFACT_TIMEOUT_S} s`;
      result.p50_ms[N] = result.p95_ms[N] = null;
      continue;
    }
    result.p50_ms[N] = round(median(delays), 1);
    result.p95_ms[N] = round(quantile(delays, 0.95), 1);
    extras.max_ms[N] = round(Math.max(...delays), 1);
    extras.p50_all_ms[N] = round(median(perArtifactAll), 1);
    extras.p95_all_ms[N] = round(quantile(perArtifactAll, 0.95), 1);
    extras.delivered[N] = { deliveries: delays.length, missed, artifacts: measured, receivers: others.length };
    extras.gossip[N] = {
      copies_per_artifact: round(median(copiesPer), 1),
      copies_per_receiver: round(median(copiesPer) / others.length, 2),
      rpc_bytes_per_artifact: round(median(gossipBytesPer), 0),
      rpc_bytes_per_copy: round(gossipBytesPer.reduce((x, y) => x + y, 0) / Math.max(1, copiesPer.reduce((x, y) => x + y, 0)), 0),
      relay_wire_bytes_in_per_artifact: round(median(relayBytesPer), 0),
    };
    say(`N=${N}: p50 ${result.p50_ms[N]} ms, p95 ${result.p95_ms[N]} ms over ${delays.length} deliveries (${missed} missed); all reached: p50 ${extras.p50_all_ms[N]} ms; gossip copies/artifact ${extras.gossip[N].copies_per_artifact}`);
    const after = meshOf(await sampleMembers());
    extras.direct_share[N] = round(after.direct / Math.max(1, after.direct + after.relayed), 3);
  }

  // Relay memory per connection. The first connections cost the relay a
  // one-off step (code compiled and buffers grown on first use), so the
  // headline is the slope of RSS against open connections over the sizes
  // measured (least squares, the idle point left out); with one size only,
  // (RSS at N - idle RSS) / connections. Both are kept per size.
  const points = Object.values(extras.relay.by_n).filter((p) => p.connections > 0 && p.rss_bytes !== null);
  const slope = (key) => {
    if (points.length < 2) return null;
    const xs = points.map((p) => p.connections);
    const ys = points.map((p) => p[key] / 1024);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return sxx > 0 ? xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx : null;
  };
  const largest = Object.keys(extras.relay.by_n).map(Number).sort((x, y) => x - y).at(-1);
  if (largest !== undefined) {
    const fitRss = slope('rss_bytes');
    const fitHeap = slope('heap_used_bytes');
    // A single size gives no slope: the headline stays null (the per-size
    // figure against idle is kept in relay.kb_per_conn_vs_idle).
    result.relay_kb_per_conn = fitRss !== null ? round(fitRss, 1) : null;
    extras.relay_heap_kb_per_conn = fitHeap !== null ? round(fitHeap, 1) : null;
    extras.relay.headline = fitRss !== null ? `slope of RSS over ${points.length} sizes (${points.map((p) => p.connections).join(', ')} connections)` : `null: a slope needs at least two measured sizes (${points.length} measured)`;
    extras.relay.kb_per_conn_vs_idle = extras.relay.by_n[largest].kb_per_conn_rss;
  }


  // Bytes on the wire per artifact against its payload.
  if (allEnvelopeBytes.length > 0) {
    const sumE = allEnvelopeBytes.reduce((x, y) => x + y, 0);
    const sumP = allArtifactBytes.reduce((x, y) => x + y, 0);
    result.wire_overhead = round(median(allEnvelopeBytes) / median(allArtifactBytes), 3);
    extras.bytes = {
      artifact_median: median(allArtifactBytes),
      envelope_median: median(allEnvelopeBytes),
      overhead_total_ratio: round(sumE / sumP, 3),
      envelope_minus_artifact_median: median(allEnvelopeBytes.map((e, i) => e - allArtifactBytes[i])),
      samples: allEnvelopeBytes.length,
    };
  }
}

try {
  await main();
  const measured = Object.values(result.p50_ms).some((v) => v !== null);
  await finish(measured ? null : new Error(`no size could be measured: ${JSON.stringify(extras.failed)}`));
} catch (err) {
  say(`failed: ${err?.stack ?? err}`);
  await finish(err);
}
