/**
 * The network member end to end in Node: the real relay, real libp2p peers
 * (src/services/p2p), the real protocol (src/lib/network) and real
 * (fake-indexeddb) storage. A creates a network and an invite; B and C join
 * from the link; an artifact shared by A reaches both; C goes offline, A
 * shares more, C comes back and catches up by reconciliation; a hostile
 * envelope (the wrong network key) is dropped and counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { loadOrCreateIdentity } from '../../src/services/identity';
import { NetworkService } from '../../src/services/network';
import { sealEnvelope } from '../../src/lib/network/envelope';
import { createNetworkKey, deriveEnvelopeKey } from '../../src/lib/network/network-key';
import { signArtifact } from '../../src/lib/network/signed-item';
import { topicForType } from '../../src/lib/network/topics';
import { startTestRelay, testNode, waitFor, type TestRelay } from './p2p-helpers';
import { testArtifact as artifact } from './test-artifact';

const FAST = {
  rtcConfiguration: { iceServers: [] },
  timing: { announceIntervalMs: 1_000, pingIntervalMs: 1_000, tickMs: 200, dialTimeoutMs: 5_000, directRetryMs: 3_000, reservationGraceMs: 3_000, maxPingFailures: 2 },
  reconnect: { initialMs: 200, maxMs: 1_000, factor: 2, jitter: 0.5 },
};

interface Member {
  name: string;
  db: H3lixDatabase;
  net: NetworkService;
}

async function member(name: string, relay: TestRelay): Promise<Member> {
  const db = await openDatabase(`net-${name}-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  const identity = await loadOrCreateIdentity(db, Date.now);
  const net = new NetworkService({
    db: () => db,
    identity: async () => identity,
    displayName: () => name,
    now: Date.now,
    defaultRelays: () => [relay.addr],
    onChange: () => {},
    allowLoopback: true,
    nodeOptions: FAST,
  });
  return { name, db, net };
}


const artifactsOf = async (m: Member) => (await m.net.snapshot()).items.artifacts;

describe('network member', () => {
  let relay: TestRelay;
  let a: Member, b: Member, c: Member;

  beforeAll(async () => {
    relay = await startTestRelay();
    [a, b, c] = await Promise.all([member('Ana', relay), member('Bo', relay), member('Cy', relay)]);
  });

  afterAll(async () => {
    await Promise.all([a, b, c].map((m) => m?.net.stop()));
    await relay?.stop();
  });

  it('creates a network, joins by invite link, shares, catches up after being offline, and drops hostile envelopes', async () => {
    await a.net.create('Study group');
    const link = await a.net.inviteLink('https://h3lix.example/');
    expect(link).toMatch(/^https:\/\/h3lix\.example\/#join=/);

    for (const m of [b, c]) {
      const read = await m.net.readInvite(link);
      expect(read.ok).toBe(true);
      if (!read.ok) return;
      expect(read.invite.networkName).toBe('Study group');
      expect(read.invite.inviter.displayName).toBe('Ana');
      await m.net.join(read.invite);
    }
    // A tampered link is refused.
    const tampered = await b.net.readInvite(link.slice(0, -3) + (link.endsWith('A') ? 'BBB' : 'AAA'));
    expect(tampered.ok).toBe(false);

    // All see each other, by name.
    for (const m of [a, b, c]) {
      await waitFor(async () => (await m.net.snapshot()).peers.filter((p) => p.nodeId).length >= 2, `${m.name} sees both others`, 30_000).catch(async (e) => { for (const x of [a, b, c]) console.log(x.name, JSON.stringify(await x.net.snapshot())); throw e; });
    }
    const names = (await a.net.snapshot()).peers.map((p) => p.displayName).sort();
    expect(names).toEqual(['Bo', 'Cy']);

    // A shares: B and C receive it.
    const first = await a.net.shareArtifact(artifact('When adding fractions, find a common denominator first'));
    expect(first.sent).toBe(true);
    await waitFor(async () => (await artifactsOf(b)) === 1 && (await artifactsOf(c)) === 1, 'B and C hold the artifact', 20_000);

    // B votes on it: the signed vote reaches A and C.
    await b.net.castVote({ schemaVersion: 1, artifactId: first.contentId!, voter: (await loadOrCreateIdentity(b.db, Date.now)).nodeId, value: 'endorse', confidence: 0.8, at: Date.now() });
    await waitFor(async () => (await a.net.snapshot()).items.votes === 1 && (await c.net.snapshot()).items.votes === 1, 'A and C hold the vote', 20_000);

    // C goes offline; A shares two more; C comes back and catches up.
    await c.net.stop();
    await a.net.shareArtifact(artifact('When multiplying by 5, multiply by 10 and halve the result'));
    await a.net.shareArtifact(artifact('When subtracting near a round number, round first and then correct'));
    await waitFor(async () => (await artifactsOf(b)) === 3, 'B holds all three', 20_000);
    expect(await artifactsOf(c)).toBe(1);
    await c.net.start();
    await waitFor(async () => (await artifactsOf(c)) === 3, 'C caught up', 40_000);

    // A hostile sender with the wrong network key: dropped and counted, honest traffic still flows.
    const m = a.net.membership!;
    const stranger = await loadOrCreateIdentity(await openDatabase(`stranger-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange }), Date.now);
    const wrongKey = await deriveEnvelopeKey(crypto.subtle, createNetworkKey((n) => crypto.getRandomValues(new Uint8Array(n))), m.networkId, m.epoch);
    const signed = await signArtifact(m.networkId, artifact('When estimating, round to one significant figure'), stranger);
    const hostile = () =>
      sealEnvelope(
        { type: 'artifact', item: signed.item as never },
        { networkId: m.networkId, epoch: m.epoch, key: wrongKey, identity: stranger, now: Date.now, randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)), subtle: crypto.subtle },
      );
    // A hostile Node peer on the same relay dials B directly and publishes it on the artifacts topic.
    const bPeer = (await a.net.snapshot()).peers.find((p) => p.displayName === 'Bo')!.peerId;
    const hostileNode = testNode(relay, { topics: [topicForType(m.networkId, 'artifact')], discovery: { topic: 'h3lix/elsewhere/v1/discovery' } });
    await hostileNode.start();
    try {
      hostileNode.dialPeer(bPeer);
      await waitFor(() => hostileNode.subscribers(topicForType(m.networkId, 'artifact')).includes(bPeer), 'the hostile peer reaches B', 20_000);
      // Gossip is at-most-once and a fresh link may not carry it yet: publish until B has seen it.
      await waitFor(
        async () => {
          await hostileNode.publish(topicForType(m.networkId, 'artifact'), await hostile());
          await new Promise((r) => setTimeout(r, 300));
          return (await b.net.snapshot()).dropped['decrypt-failed'] >= 1;
        },
        'B counted the hostile envelope',
        20_000,
      );
    } finally {
      await hostileNode.stop();
    }
    expect(await artifactsOf(b)).toBe(3);
    await a.net.shareArtifact(artifact('When dividing by 4, halve twice'));
    await waitFor(async () => (await artifactsOf(b)) === 4, 'honest traffic still flows', 20_000);
  }, 180_000);
});
