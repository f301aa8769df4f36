// A child process of `npm run bench:network` that hosts a few members
// (NetworkService, the app's member code) on its own event loop. The bench
// forks several of these (child_process.fork, IPC) so that the members' CPU
// work (WebRTC handshakes, noise, gossipsub, Ed25519 checks, fake IndexedDB)
// is not serialised on one loop. Requests come as { id, cmd, ...args } and are
// answered with { id, ok, value | error }; receipts are pushed unasked as
// { type: 'arrival', itemId, name, t } with t = performance.timeOrigin +
// performance.now() (ms on this machine's clock, comparable across the
// bench's processes).
import { countStrayErrors } from './stray.mjs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { enableTypeScriptSources } from '../ts-source.mjs';
import { enableFolderIndexes } from './resolve-index.mjs';

const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wall = () => performance.timeOrigin + performance.now();
const send = (msg) => { if (process.connected) process.send(msg); };

// Stray errors (the upstream yamux race, see bench/network.mjs): counted, not fatal.
const stray = countStrayErrors();

enableTypeScriptSources('network');
enableFolderIndexes();
const [benchDb, dbSchema, identityMod, network, p2p, experienceMod, sharing, canonical, codec, gossipStream, topicsMod] = await Promise.all([
  import('./db.mjs'),
  import('../../src/services/db-schema.ts'),
  import('../../src/services/identity.ts'),
  import('../../src/services/network.ts'),
  import('../../src/services/p2p/index.ts'),
  import('../../src/lib/learning/experience.ts'),
  import('../../src/lib/learning/sharing.ts'),
  import('../../src/lib/artifacts/canonical.ts'),
  import('../../src/lib/artifacts/embedding-codec.ts'),
  import(pathToFileURL(join(ROOT, 'node_modules/@libp2p/gossipsub/dist/src/stream.js')).href),
  import('../../src/lib/network/topics.ts'),
]);

/** Set by 'init': relay address, nodeOptions (timing, reconnect, limits, rtcConfiguration). */
let config = null;
let artifactsTopic = null;
const members = new Map(); // name -> member

// Gossip counting (see bench/network.mjs): RPC bytes handed to gossipsub's
// outbound streams while an RPC carrying an artifacts-topic message is sent.
const gossipCount = { copies: 0, bytes: 0 };
let tagging = 0;
{
  const proto = gossipStream.OutboundStream.prototype;
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
  if (!pubsub || pubsub.__benchCounted) return;
  pubsub.__benchCounted = true;
  for (const name of ['sendRpc', 'sendRpcInBatch']) {
    const original = pubsub[name];
    if (typeof original !== 'function') continue;
    pubsub[name] = function (target, rpc) {
      const n = artifactMessagesIn(rpc);
      tagging += n;
      try {
        return original.call(this, target, rpc);
      } finally {
        tagging -= n;
      }
    };
  }
}

async function makeMember(name) {
  const db = await benchDb.openBenchDatabase(`bench-net-${name}-${crypto.randomUUID()}`, dbSchema.SCHEMA_VERSIONS);
  const identity = await identityMod.loadOrCreateIdentity(db, Date.now);
  const m = { name, db, node: null, net: null, published: [], seen: new Set() };
  m.net = new network.NetworkService({
    db: () => db,
    identity: async () => identity,
    displayName: () => name,
    now: Date.now,
    defaultRelays: () => [config.relay],
    onChange: () => {},
    onItem: (item) => {
      if (m.seen.has(item.itemId)) return;
      m.seen.add(item.itemId);
      send({ type: 'arrival', itemId: item.itemId, name, t: wall() });
    },
    allowLoopback: true,
    nodeOptions: config.nodeOptions,
    createNode: (options) => {
      const node = p2p.createP2PNode(options);
      const publish = node.publish;
      node.publish = async (topic, bytes) => {
        if (topic === artifactsTopic) m.published.push(bytes.length);
        return publish(topic, bytes);
      };
      m.node = node;
      return node;
    },
  });
  members.set(name, m);
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
  const experience = experienceMod.createExperience({ id: `bench${artifactSeq}`, text, domain: 'math', confidence: 0.5 + Math.random() * 0.5, episodeIds: [], now: Date.now() });
  const built = sharing.buildShareableArtifact(
    { experience, kind: 'strategy', evidence: { groupSize: 4 + Math.floor(Math.random() * 13), rewardSpread: Math.random() }, embedderId: 'Xenova/all-MiniLM-L6-v2', embedding: codec.compressEmbedding(vector) },
    () => ({ ok: true }),
    { privateVocabulary: [], now: Date.now(), random: Math.random },
  );
  if (!built.ok) throw new Error(`building an artifact failed: ${built.reason} ${built.detail}`);
  return built.artifact;
}

const need = (name) => {
  const m = members.get(name);
  if (!m) throw new Error(`no member ${name} in this host`);
  return m;
};

const handlers = {
  init({ relay, nodeOptions, topic }) {
    config = { relay, nodeOptions };
    if (topic) artifactsTopic = topic;
    return { pid: process.pid };
  },
  setTopic({ topic }) {
    artifactsTopic = topic;
    for (const m of members.values()) instrumentGossip(m.node?.libp2p?.services.pubsub);
    return true;
  },
  /** Creates the network with member `name` as its first member; returns the topic. */
  async create({ name }) {
    const m = await makeMember(name);
    const membership = await m.net.create('Bench network');
    artifactsTopic = topicsMod.topicForType(membership.networkId, 'artifact');
    instrumentGossip(m.node.libp2p.services.pubsub);
    return { topic: artifactsTopic, peerId: m.node.peerId };
  },
  async invite({ name }) {
    const m = need(name);
    const link = await m.net.inviteLink('https://h3lix.example/');
    const read = await m.net.readInvite(link);
    if (!read.ok) throw new Error(`the invite link of ${name} does not read back: ${JSON.stringify(read)}`);
    return link;
  },
  async join({ names, link }) {
    await Promise.all(names.map(async (name) => {
      const m = await makeMember(name);
      const r = await m.net.readInvite(link);
      if (!r.ok) throw new Error(`${name} cannot read the invite: ${JSON.stringify(r)}`);
      await m.net.join(r.invite);
      instrumentGossip(m.node.libp2p.services.pubsub);
    }));
    return names.map((n) => need(n).node.peerId);
  },
  async stats() {
    const out = [];
    for (const m of members.values()) {
      const held = (await m.db.table('netItems').toArray()).filter((i) => i.kind === 'artifact').length;
      out.push({
        name: m.name,
        peerId: m.node?.peerId ?? null,
        status: m.node?.status ?? 'offline',
        peers: (m.node?.peers() ?? []).map((p) => ({ peerId: p.peerId, kind: p.kind })),
        subs: artifactsTopic ? (m.node?.subscribers(artifactsTopic) ?? []) : [],
        mesh: artifactsTopic ? [...(m.node?.libp2p?.services.pubsub.mesh?.get(artifactsTopic) ?? [])] : [],
        // gossipsub's lowest peer score among our peers (below -80: graylisted)
        scoreMin: (() => {
          const ps = m.node?.libp2p?.services.pubsub;
          const scores = (m.node?.peers() ?? []).map((p) => ps?.score?.score?.(p.peerId)).filter((x) => typeof x === 'number');
          return scores.length ? Math.min(...scores) : null;
        })(),
        held,
      });
    }
    const delay = { p50_ms: loopDelay.percentile(50) / 1e6, max_ms: loopDelay.max / 1e6 };
    loopDelay.reset();
    return { members: out, gossip: { ...gossipCount }, stray, rss: process.memoryUsage().rss, delay, cpu: process.cpuUsage() };
  },
  counters() {
    return { ...gossipCount };
  },
  /** A shares one new artifact; t = just before shareArtifact(). */
  async share({ name }) {
    const m = need(name);
    const artifact = makeArtifact();
    const payload = canonical.canonicalBytes(artifact).byteLength;
    const publishedBefore = m.published.length;
    const t = wall();
    const { itemId, sent } = await m.net.shareArtifact(artifact);
    return { itemId, sent, t, payload, publishedBefore };
  },
  published({ name, from }) {
    return need(name).published.slice(from);
  },
  async stop() {
    await Promise.all([...members.values()].map((m) => Promise.race([m.net.stop(), new Promise((r) => setTimeout(r, 10_000))]).catch(() => undefined)));
    return true;
  },
};

let stopping = false;
process.on('message', async (msg) => {
  if (!msg || typeof msg.cmd !== 'string') return;
  const h = handlers[msg.cmd];
  try {
    if (!h) throw new Error(`unknown command ${msg.cmd}`);
    const value = await h(msg);
    send({ id: msg.id, ok: true, value });
  } catch (err) {
    send({ id: msg.id, ok: false, error: String(err?.stack ?? err?.message ?? err).slice(0, 1000) });
  }
  if (msg.cmd === 'stop') {
    stopping = true;
    setTimeout(() => process.exit(0), 200);
  }
});
// The bench went away (crash, SIGKILL): stop the members and leave.
process.on('disconnect', () => {
  if (stopping) return;
  stopping = true;
  void handlers.stop().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 15_000).unref();
});
send({ type: 'ready', pid: process.pid });
