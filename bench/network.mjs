// `npm run bench:network`: the network benchmark of issue 5 ("Network:
// relay, invite links and peer-to-peer artifact exchange").
//
// - Propagation: N Node members (NetworkService, the member code the browser
//   runs: libp2p with WebRTC via node-datachannel, circuit relay, gossipsub,
//   sealed envelopes, fake-indexeddb storage) join one network by invite link
//   through the real relay; A shares artifacts; time from A's shareArtifact()
//   call to each other member's onItem (the item is verified and stored).
//   The group grows 5 → 10 → 25 → 50 (BENCH_N), a warm-up before each size.
// - Relay memory: the relay runs as its own process (relay/src/main.ts);
//   process_resident_memory_bytes from its /metrics, idle and with N members
//   connected, divided by its open connections.
// - Bytes: the envelope A publishes (sealEnvelope output, counted at the
//   transport's publish()) against the artifact's canonical bytes; gossip
//   copies of each artifact message sent by all members (gossipsub RPCs
//   counted at its outbound streams).
//
// Progress goes to stdout; the LAST line is one JSON object. See
// bench/README.md. Environment: BENCH_N ("5,10,25,50"), BENCH_REPEATS (12),
// BENCH_WARMUP (2), BENCH_TIMEOUT_S (1500), BENCH_FORM_S (per size, 30 + 3·N),
// BENCH_ARTIFACT_TIMEOUT_S (20), BENCH_GAP_MS (300), BENCH_JOIN_BATCH (5),
// BENCH_MAX_PEERS (the app's 40), BENCH_TIMING ("app" or "fast").
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { enableTypeScriptSources } from './ts-source.mjs';
import { enableFolderIndexes } from './network/resolve-index.mjs';
import { startRelayProcess } from './network/relay-process.mjs';

const BENCH = 'network';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();
const say = (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// ---------------------------------------------------------------------------
// Stray errors. libp2p's yamux can throw "StreamStateError: Cannot write to a
// stream that is closed" from a timer after a stream closed under it (an
// upstream race); in one process with 50 nodes one such error must not end
// the run. Every uncaught exception / unhandled rejection is counted and
// reported; none is fatal (the watchdog bounds the run).
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
let SIZES, REPEATS, WARMUP, TIMEOUT_S, FORM_S, ARTIFACT_TIMEOUT_S, GAP_MS, JOIN_BATCH, MAX_PEERS, TIMING;
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
    MAX_PEERS = process.env.BENCH_MAX_PEERS ? envInt('BENCH_MAX_PEERS', 40, 1) : null;
    TIMING = process.env.BENCH_TIMING ?? 'app';
    if (TIMING !== 'app' && TIMING !== 'fast') throw new Error(`BENCH_TIMING must be app or fast, got ${TIMING}`);
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
  max_peers: null,
  timing: TIMING,
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
const members = [];
let finished = false;

function finalLine(error) {
  const out = {
    ...result,
    ...extras,
    seconds: round((performance.now() - t0) / 1000, 1),
    ...(error ? { error: String(error?.message ?? error) } : {}),
  };
  return JSON.stringify(out);
}

async function cleanup() {
  const stopping = members.map((m) => withTimeout(m.net.stop(), 10_000, `stop ${m.name}`).catch(() => undefined));
  await withTimeout(Promise.all(stopping), 30_000, 'stopping members').catch(() => undefined);
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
  void finish(Object.keys(result.p50_ms).length === 0 ? new Error('timed out before any size was measured') : null);
  setTimeout(() => {
    console.log(finalLine(new Error('cleanup did not finish')));
    if (relay?.pid) try { process.kill(relay.pid, 'SIGKILL'); } catch {}
    process.exit(1);
  }, 45_000).unref();
}, (TIMEOUT_S ?? 1500) * 1000 + 60_000);
hardStop.unref();

// ---------------------------------------------------------------------------
// Sources.
if (settingsError) {
  console.log(JSON.stringify({ bench: BENCH, error: settingsError.message }));
  process.exit(1);
}
enableTypeScriptSources(BENCH);
enableFolderIndexes();

let mods;
try {
  const [benchDb, dbSchema, identity, network, p2p, experience, sharing, canonical, codec, gossipStream] = await Promise.all([
    import('./network/db.mjs'),
    import('../src/services/db-schema.ts'),
    import('../src/services/identity.ts'),
    import('../src/services/network.ts'),
    import('../src/services/p2p/index.ts'),
    import('../src/lib/learning/experience.ts'),
    import('../src/lib/learning/sharing.ts'),
    import('../src/lib/artifacts/canonical.ts'),
    import('../src/lib/artifacts/embedding-codec.ts'),
    // The class behind gossipsub's outbound streams (same module instance as the package's).
    import(pathToFileURL(join(ROOT, 'node_modules/@libp2p/gossipsub/dist/src/stream.js')).href),
  ]);
  mods = { benchDb, dbSchema, identity, network, p2p, experience, sharing, canonical, codec, gossipStream };
} catch (err) {
  console.log(JSON.stringify({ bench: BENCH, error: `loading the sources failed: ${err?.message ?? err}` }));
  process.exit(1);
}
const { DEFAULT_LIMITS, DEFAULT_TIMING } = mods.p2p;
extras.max_peers = MAX_PEERS ?? DEFAULT_LIMITS.maxPeers;

// ---------------------------------------------------------------------------
// Gossip counting: every RPC a member's gossipsub sends goes through
// sendRpc / sendRpcInBatch and then OutboundStream.pushPrefixed (the
// length-prefixed protobuf handed to the stream muxer). While an RPC carrying
// a message on the artifacts topic is being sent, its bytes are counted.
const gossipCount = { copies: 0, bytes: 0 };
let artifactsTopic = null;
let tagging = 0;
{
  const proto = mods.gossipStream.OutboundStream.prototype;
  const original = proto.pushPrefixed;
  proto.pushPrefixed = function (data) {
    if (tagging > 0) {
      gossipCount.copies += tagging;
      gossipCount.bytes += data.byteLength;
    }
    return original.call(this, data);
  };
}
const artifactMessagesIn = (rpc) => (artifactsTopic === null ? 0 : (rpc?.messages ?? []).filter((m) => m.topic === artifactsTopic).length);
function instrumentGossip(pubsub) {
  if (pubsub.__benchCounted) return;
  pubsub.__benchCounted = true;
  const sendRpc = pubsub.sendRpc;
  pubsub.sendRpc = function (id, rpc) {
    const n = artifactMessagesIn(rpc);
    tagging += n;
    try {
      return sendRpc.call(this, id, rpc);
    } finally {
      tagging -= n;
    }
  };
  const sendRpcInBatch = pubsub.sendRpcInBatch;
  if (typeof sendRpcInBatch === 'function') {
    pubsub.sendRpcInBatch = function (tosend, rpc) {
      const n = artifactMessagesIn(rpc);
      tagging += n;
      try {
        return sendRpcInBatch.call(this, tosend, rpc);
      } finally {
        tagging -= n;
      }
    };
  }
}

// ---------------------------------------------------------------------------
// Members.
const FAST_TIMING = { announceIntervalMs: 1_000, pingIntervalMs: 1_000, tickMs: 200, dialTimeoutMs: 5_000, directRetryMs: 3_000, reservationGraceMs: 3_000, maxPingFailures: 2 };
const nodeOptions = {
  rtcConfiguration: { iceServers: [] },
  ...(TIMING === 'fast' ? { timing: FAST_TIMING, reconnect: { initialMs: 200, maxMs: 1_000, factor: 2, jitter: 0.5 } } : {}),
  ...(MAX_PEERS ? { limits: { maxPeers: MAX_PEERS } } : {}),
};

async function makeMember(name) {
  const db = await mods.benchDb.openBenchDatabase(`bench-net-${name}-${crypto.randomUUID()}`, mods.dbSchema.SCHEMA_VERSIONS);
  const identity = await mods.identity.loadOrCreateIdentity(db, Date.now);
  const m = { name, db, node: null, arrivals: new Map(), net: null, publishedArtifactBytes: [] };
  m.net = new mods.network.NetworkService({
    db: () => db,
    identity: async () => identity,
    displayName: () => name,
    now: Date.now,
    defaultRelays: () => [relay.addr],
    onChange: () => {},
    onItem: (item) => {
      if (!m.arrivals.has(item.itemId)) m.arrivals.set(item.itemId, performance.now());
    },
    allowLoopback: true,
    nodeOptions,
    // The real transport; kept so the bench can read it and count what A publishes.
    createNode: (options) => {
      const node = mods.p2p.createP2PNode(options);
      const publish = node.publish;
      node.publish = async (topic, bytes) => {
        if (topic === artifactsTopic) m.publishedArtifactBytes.push(bytes.length);
        return publish(topic, bytes);
      };
      m.node = node;
      return node;
    },
  });
  members.push(m);
  return m;
}

// Artifacts like the app's: "When <condition>, <strategy>" text (60..400
// characters), a sign-code embedding, built by the app's sharing path.
const CONDITIONS = ['adding fractions with unlike denominators', 'converting kilometres per hour to metres per second', 'a JSON record needs a list of tags', 'estimating a product of two large numbers', 'a function must return rather than print', 'subtracting near a round number', 'dividing by a power of two', 'the question asks for an area in square metres'];
const STRATEGIES = ['find a common denominator first and simplify at the end', 'convert to base units first, then to the unit asked', 'emit one JSON object with exactly the keys asked for and lists as arrays', 'round each factor to one significant figure and multiply', 'put the whole function in one fenced block with the exact name', 'round first and then correct the difference', 'halve repeatedly instead of dividing', 'state the formula, substitute the values, and check the units'];
const MORE = ['check the result against a quick estimate', 'write the intermediate values down', 'keep the units next to every number', 'end with a line giving only the answer', 'reread the question before answering'];
let artifactSeq = 0;
function makeArtifact() {
  artifactSeq++;
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  const target = 60 + Math.floor(Math.random() * 341);
  let text = `When ${pick(CONDITIONS)}, ${pick(STRATEGIES)}`;
  while (text.length < target - 20) {
    const next = `${text}, then ${pick(MORE)}`;
    if (next.length > 400) break;
    text = next;
  }
  text = `${text} (#${artifactSeq})`;
  const vector = Array.from({ length: 384 }, () => Math.random() * 2 - 1);
  const experience = mods.experience.createExperience({ id: `bench${artifactSeq}`, text, domain: 'math', confidence: 0.5 + Math.random() * 0.5, episodeIds: [], now: Date.now() });
  const built = mods.sharing.buildShareableArtifact(
    { experience, kind: 'strategy', evidence: { groupSize: 4 + Math.floor(Math.random() * 13), rewardSpread: Math.random() }, embedderId: 'Xenova/all-MiniLM-L6-v2', embedding: mods.codec.compressEmbedding(vector) },
    () => ({ ok: true }),
    { privateVocabulary: [], now: Date.now(), random: Math.random },
  );
  if (!built.ok) throw new Error(`building an artifact failed: ${built.reason} ${built.detail}`);
  return built.artifact;
}

const heldArtifacts = async (m) => (await m.net.snapshot()).items.artifacts;

function linkStats(group) {
  const counts = group.map((m) => m.node?.peers() ?? []);
  let direct = 0;
  let relayed = 0;
  for (const peers of counts) for (const p of peers) p.kind === 'direct' ? direct++ : relayed++;
  const per = counts.map((p) => p.length);
  return { min: Math.min(...per), mean: per.reduce((a, b) => a + b, 0) / per.length, direct, relayed };
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
  say(`sizes ${SIZES.join(', ')}; ${REPEATS} artifacts per size after ${WARMUP} warm-up; timing ${TIMING}; maxPeers ${extras.max_peers}; deadline ${TIMEOUT_S} s`);
  relay = await startRelayProcess(ROOT, { maxConnections: Math.max(256, 4 * SIZES.at(-1) + 64) });
  say(`relay pid ${relay.pid} at ${relay.addr}, metrics ${relay.httpUrl}/metrics`);
  await sleep(3_000);
  const idle = await relaySample();
  extras.relay.idle = idle;
  say(`relay idle: rss ${(idle.rss_bytes / 2 ** 20).toFixed(1)} MiB, heap used ${(idle.heap_used_bytes / 2 ** 20).toFixed(1)} MiB, ${idle.connections} connections`);

  // A creates the network; everyone else joins by A's invite link.
  const a = await makeMember('m00');
  const membership = await a.net.create('Bench network');
  const { topicForType } = await import('../src/lib/network/topics.ts');
  artifactsTopic = topicForType(membership.networkId, 'artifact');
  instrumentGossip(a.node.libp2p.services.pubsub);
  const link = await a.net.inviteLink('https://h3lix.example/');
  const read = await a.net.readInvite(link);
  if (!read.ok) throw new Error(`the invite link does not read back: ${JSON.stringify(read)}`);
  say(`network created by m00; invite link ${link.length} characters`);

  let shared = 0; // artifacts A has shared so far (every member should end up holding them all)
  const allArtifactBytes = [];
  const allEnvelopeBytes = [];
  let lastSample = idle;

  for (const N of SIZES) {
    if (left() < 30_000) {
      extras.failed[N] = 'not run: global deadline (BENCH_TIMEOUT_S) reached';
      result.p50_ms[N] = result.p95_ms[N] = null;
      continue;
    }
    // Grow to N members, JOIN_BATCH at a time.
    const formStart = performance.now();
    while (members.length < N) {
      const batch = [];
      for (let i = 0; i < JOIN_BATCH && members.length + batch.length < N; i++) batch.push(`m${String(members.length + batch.length).padStart(2, '0')}`);
      const joined = await Promise.all(batch.map(async (name) => {
        const m = await makeMember(name);
        const r = await m.net.readInvite(link);
        if (!r.ok) throw new Error(`${name} cannot read the invite`);
        await m.net.join(r.invite);
        instrumentGossip(m.node.libp2p.services.pubsub);
        return m;
      }));
      say(`  ${members.length} members (joined ${joined.map((m) => m.name).join(' ')})`);
      await sleep(500);
    }
    // Formation: wait until the links stop changing (or every member has
    // min(N - 1, maxPeers) peers) and every member holds what A shared before.
    const formBudget = Math.min(left() - 20_000, (FORM_S ?? 30 + 3 * N) * 1000);
    const formUntil = Date.now() + formBudget;
    const want = Math.min(N - 1, extras.max_peers);
    let stableSince = Date.now();
    let lastKey = '';
    let formed = false;
    let held = [];
    while (Date.now() < formUntil) {
      const s = linkStats(members);
      const key = `${s.direct}/${s.relayed}/${s.min}`;
      if (key !== lastKey) { lastKey = key; stableSince = Date.now(); }
      held = await Promise.all(members.map(heldArtifacts));
      const caughtUp = held.every((h) => h >= shared);
      const reserved = members.every((m) => m.node?.status === 'reserved');
      if (caughtUp && reserved && (s.min >= want || (s.min >= 1 && Date.now() - stableSince > 8_000))) { formed = true; break; }
      await sleep(500);
    }
    const s = linkStats(members);
    extras.formation_s[N] = round((performance.now() - formStart) / 1000, 1);
    extras.peers_connected[N] = { mean: round(s.mean, 1), min: s.min, want };
    extras.direct_share[N] = round(s.direct / Math.max(1, s.direct + s.relayed), 3);
    say(`N=${N}: formation ${formed ? 'done' : 'TIMED OUT'} in ${extras.formation_s[N]} s; peers per member mean ${s.mean.toFixed(1)} min ${s.min} (want ${want}); links direct ${s.direct} relayed ${s.relayed}; backlog held min ${Math.min(...held)}/${shared}`);
    if (!formed) extras.notes.push(`N=${N}: formation criteria not met in ${Math.round(formBudget / 1000)} s (min peers ${s.min}/${want}, backlog min ${Math.min(...held)}/${shared}); measured anyway`);
    if (s.min === 0) {
      extras.failed[N] = `a member has no peer after ${Math.round(formBudget / 1000)} s`;
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
    lastSample = sample;
    say(`  relay: rss ${(sample.rss_bytes / 2 ** 20).toFixed(1)} MiB, heap used ${(sample.heap_used_bytes / 2 ** 20).toFixed(1)} MiB, ${sample.connections} connections, ${sample.reservations} reservations, ${sample.circuits} circuits → ${extras.relay.by_n[N].kb_per_conn_rss} KiB/conn (rss)`);

    // Propagation.
    const others = members.filter((m) => m !== a);
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
      const artifact = makeArtifact();
      const payload = mods.canonical.canonicalBytes(artifact).byteLength;
      const before = { copies: gossipCount.copies, bytes: gossipCount.bytes, published: a.publishedArtifactBytes.length };
      const relayBefore = await relaySample().catch(() => null);
      const start = performance.now();
      const { itemId, sent } = await a.net.shareArtifact(artifact);
      shared++;
      const until = Date.now() + ARTIFACT_TIMEOUT_S * 1000;
      while (Date.now() < until && others.some((m) => !m.arrivals.has(itemId))) await sleep(5);
      const got = others.filter((m) => m.arrivals.has(itemId)).map((m) => m.arrivals.get(itemId) - start);
      // Let late forwards and IDONTWANT/IHAVE settle before reading the counters.
      await sleep(GAP_MS);
      const copies = gossipCount.copies - before.copies;
      const gbytes = gossipCount.bytes - before.bytes;
      const env = a.publishedArtifactBytes.slice(before.published);
      const relayAfter = await relaySample().catch(() => null);
      if (!warm) {
        measured++;
        delays.push(...got);
        missed += others.length - got.length;
        if (got.length === others.length) perArtifactAll.push(Math.max(...got));
        copiesPer.push(copies);
        gossipBytesPer.push(gbytes);
        if (relayBefore && relayAfter) relayBytesPer.push(relayAfter.bytes_in - relayBefore.bytes_in);
        // Pairs only where A published this artifact's envelope exactly once in the window.
        if (env.length === 1) { allArtifactBytes.push(payload); allEnvelopeBytes.push(env[0]); }
      }
      const aPeers = a.node?.peers() ?? [];
      const aState = `A ${a.node?.status ?? 'offline'}, ${aPeers.length} peers (${aPeers.filter((p) => p.kind === 'direct').length} direct), ${a.node?.subscribers(artifactsTopic).length ?? 0} on the topic`;
      say(`  ${warm ? 'warm-up' : `#${k - WARMUP + 1}`} [${aState}]: ${payload} B artifact, envelope ${env.join('+') || '-'} B, sent ${sent}; ${got.length}/${others.length} in ${got.length ? `median ${median(got).toFixed(0)} max ${Math.max(...got).toFixed(0)}` : '-'} ms; gossip copies ${copies} (${gbytes} B)`);
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
    const ls = linkStats(members);
    extras.direct_share[N] = round(ls.direct / Math.max(1, ls.direct + ls.relayed), 3);
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
    result.relay_kb_per_conn = fitRss !== null ? round(fitRss, 1) : extras.relay.by_n[largest].kb_per_conn_rss;
    extras.relay_heap_kb_per_conn = fitHeap !== null ? round(fitHeap, 1) : extras.relay.by_n[largest].kb_per_conn_heap;
    extras.relay.headline = fitRss !== null ? `slope of RSS over ${points.length} sizes (${points.map((p) => p.connections).join(', ')} connections)` : `(RSS at N=${largest} - idle) / connections`;
    extras.relay.kb_per_conn_vs_idle = extras.relay.by_n[largest].kb_per_conn_rss;
  }
  void lastSample;

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
