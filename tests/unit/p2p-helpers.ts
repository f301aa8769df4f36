/**
 * Test helpers for the P2P transport tests: the real relay on free ports
 * (restartable on the same port with the same key), Node peers built with
 * createP2PNode() with test timings, and a polling wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, type RelayOptions, type RunningRelay } from '../../relay/src/relay';
import { createP2PNode, type P2PNode, type P2PNodeOptions } from '../../src/services/p2p';

export const TOPIC = 'h3lix/test-net/artifacts/1';
export const DISCOVERY = 'h3lix/test-net/discovery/1';

export interface TestRelay {
  current: RunningRelay;
  /** The WebSocket multiaddr, stable across restarts (same port, same key). */
  addr: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestRelay(options: RelayOptions = {}): Promise<TestRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'h3lix-p2p-relay-'));
  const base: RelayOptions = {
    port: 0,
    httpPort: 0,
    logLevel: 'silent',
    keyFile: join(dir, 'relay.key'),
    // Many peers on 127.0.0.1 and quick reconnections in tests.
    maxConnectionsPerIp: 64,
    connectionRatePerIp: 100,
    shutdownTimeoutMs: 2_000,
    ...options,
  };
  let current = await startRelay(base);
  const addr = current.multiaddrs[0]!;
  const port = Number(/\/tcp\/(\d+)\//.exec(addr)![1]);
  let stopped = false;
  const relay: TestRelay = {
    current,
    addr,
    async restart() {
      await current.stop();
      current = await startRelay({ ...base, port });
      relay.current = current;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return relay;
}

export function testNode(relay: TestRelay, extra: Partial<P2PNodeOptions> = {}): P2PNode {
  return createP2PNode({
    relays: [relay.addr],
    discovery: { topic: DISCOVERY },
    topics: [TOPIC],
    allowLoopback: true,
    rtcConfiguration: { iceServers: [] },
    timing: {
      announceIntervalMs: 1_000,
      pingIntervalMs: 1_000,
      tickMs: 200,
      dialTimeoutMs: 5_000,
      directRetryMs: 3_000,
      reservationGraceMs: 3_000,
      maxPingFailures: 2,
    },
    ...(process.env.P2P_DEBUG ? { logger: debugLogger() } : {}),
    reconnect: { initialMs: 200, maxMs: 1_000, factor: 2, jitter: 0.5 },
    ...extra,
  });
}

export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<Exclude<T, false | null | undefined>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, false | null | undefined>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when every node sees every other one as a connected peer. */
export function fullyConnected(nodes: P2PNode[]): boolean {
  return nodes.every((n) => {
    const ids = new Set(n.peers().map((p) => p.peerId));
    return nodes.every((o) => o === n || ids.has(o.peerId!));
  });
}

/** With P2P_DEBUG=1 in the environment, the nodes log to stderr. */
function debugLogger() {
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    console.error(`${new Date().toISOString().slice(11, 23)} ${level} ${msg} ${fields ? JSON.stringify(fields) : ''}`);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
