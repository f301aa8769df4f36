/**
 * The P2P node's API without peers: configuration errors, errors before
 * start, an aborted start, status waits, and relay redials with backoff when
 * the relay cannot be reached.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createServer } from 'node:net';
import {
  createP2PNode,
  P2PAbortedError,
  P2PConfigError,
  P2PNotStartedError,
  P2PTimeoutError,
  type P2PNode,
  type P2PStatus,
} from '../../src/services/p2p';
import { DISCOVERY, waitFor } from './p2p-helpers';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function unreachableRelay(): Promise<string> {
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  return `/ip4/127.0.0.1/tcp/${await freePort()}/ws/p2p/${id}`;
}

function node(relay: string, extra: Partial<Parameters<typeof createP2PNode>[0]> = {}): P2PNode {
  const n = createP2PNode({
    relays: [relay],
    discovery: { topic: DISCOVERY },
    allowLoopback: true,
    reconnect: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 },
    ...extra,
  });
  cleanups.push(() => n.stop());
  return n;
}

describe('P2P node API', () => {
  it('refuses unusable options with P2PConfigError', async () => {
    const relay = await unreachableRelay();
    expect(() => createP2PNode({ relays: [], discovery: { topic: DISCOVERY } })).toThrow(P2PConfigError);
    expect(() => createP2PNode({ relays: ['not a multiaddr'], discovery: { topic: DISCOVERY } })).toThrow(P2PConfigError);
    expect(() => createP2PNode({ relays: ['/ip4/127.0.0.1/tcp/1/ws'], discovery: { topic: DISCOVERY } })).toThrow(/p2p/);
    expect(() => createP2PNode({ relays: [relay], discovery: { topic: '' } })).toThrow(P2PConfigError);
    expect(() => createP2PNode({ relays: [relay], discovery: { topic: DISCOVERY }, limits: { maxPeers: 0 } })).toThrow(/maxPeers/);
    expect(() => createP2PNode({ relays: [relay], discovery: { topic: DISCOVERY }, reconnect: { jitter: 3 } })).toThrow(/jitter/);
    const n = node(relay);
    expect(() => n.subscribe(DISCOVERY, () => {})).toThrow(P2PConfigError);
  });

  it('is offline before start, and publish needs a started node', async () => {
    const n = node(await unreachableRelay());
    expect(n.status).toBe('offline');
    expect(n.peerId).toBeNull();
    expect(n.peers()).toEqual([]);
    expect(n.traffic()).toEqual({ bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, dropped: { oversize: 0, invalid: 0, rejected: 0 } });
    await expect(n.publish('t', new Uint8Array(1))).rejects.toBeInstanceOf(P2PNotStartedError);
  });

  it('keeps the peer id of a given key, and of its own ephemeral key across restarts', async () => {
    const key = await generateKeyPair('Ed25519');
    const relay = await unreachableRelay();
    const withKey = node(relay, { privateKey: key });
    expect(withKey.peerId).toBe(peerIdFromPrivateKey(key).toString());
    const eph = node(relay);
    await eph.start();
    const id = eph.peerId;
    expect(id).toMatch(/^12D3KooW/);
    await eph.stop();
    await eph.start();
    expect(eph.peerId).toBe(id);
  });

  it('an aborted start throws P2PAbortedError and leaves the node offline', async () => {
    const n = node(await unreachableRelay());
    const ac = new AbortController();
    ac.abort();
    await expect(n.start({ signal: ac.signal })).rejects.toBeInstanceOf(P2PAbortedError);
    expect(n.status).toBe('offline');
    const late = new AbortController();
    const p = n.start({ signal: late.signal });
    late.abort();
    await expect(p).rejects.toBeInstanceOf(P2PAbortedError);
    expect(n.status).toBe('offline');
    expect(n.libp2p).toBeNull();
  });

  it('redials an unreachable relay with growing delays and reports it', async () => {
    const n = node(await unreachableRelay());
    const statuses: P2PStatus[] = [];
    n.addEventListener('status', (e) => statuses.push(e.detail.status));
    await n.start();
    expect(n.status).toBe('connecting');
    await expect(n.whenStatus('reserved', { timeoutMs: 300 })).rejects.toBeInstanceOf(P2PTimeoutError);
    const ac = new AbortController();
    const waiting = n.whenStatus('reserved', { signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(P2PAbortedError);
    await waitFor(() => n.relays()[0]!.failures >= 3, 'three failed relay dials', 10_000);
    const r = n.relays()[0]!;
    expect(r).toMatchObject({ connected: false, reserved: false });
    expect(r.lastError).toBeTruthy();
    expect(r.nextDialAt).not.toBeNull();
    await n.stop();
    expect(n.status).toBe('offline');
    expect(statuses).toEqual(['connecting', 'offline']);
    expect(n.relays()[0]!.nextDialAt).toBeNull();
  });
});
