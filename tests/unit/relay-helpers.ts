/**
 * Test helpers for the relay tests: a Node libp2p client speaking to the
 * relay the way browser nodes do (WebSockets + circuit relay transport,
 * noise, yamux, identify), and small wait/fetch utilities.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Stream } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p, type Libp2p } from 'libp2p';

export const ECHO = '/h3lix-test/echo/1.0.0';

export async function createClient(opts: { listenOn?: string } = {}): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: opts.listenOn ? [`${opts.listenOn}/p2p-circuit`] : [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Tests dial loopback addresses, which a default gater may refuse.
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  });
  await node.handle(
    ECHO,
    async (stream: Stream) => {
      try {
        for await (const chunk of stream) {
          if (!stream.send(chunk)) await new Promise((r) => stream.addEventListener('drain', r, { once: true }));
        }
        await stream.close();
      } catch {
        // aborted by the relay's limits: the test on the other side sees it
      }
    },
    { runOnLimitedConnection: true },
  );
  return node;
}

export function circuitAddrs(node: Libp2p): string[] {
  return node
    .getMultiaddrs()
    .map((m) => m.toString())
    .filter((a) => a.includes('/p2p-circuit'));
}

export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5_000): Promise<Exclude<T, false | null | undefined>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, false | null | undefined>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends `payload` over a fresh echo stream and collects what comes back. */
export async function echo(stream: Stream, payload: Uint8Array): Promise<Uint8Array> {
  const received: Uint8Array[] = [];
  const reading = (async () => {
    for await (const chunk of stream) received.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
  })();
  const chunk = 16 * 1024;
  for (let i = 0; i < payload.length; i += chunk) {
    if (!stream.send(payload.subarray(i, i + chunk))) {
      await new Promise((r) => stream.addEventListener('drain', r, { once: true }));
    }
  }
  await stream.close();
  await reading;
  const out = new Uint8Array(received.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of received) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads one sample from Prometheus text (first line matching name and labels). */
export function metricValue(text: string, name: string, labels = ''): number {
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`metric ${prefix.trim()} not found`);
  return Number(line.slice(prefix.length));
}

export async function getMetrics(httpUrl: string): Promise<string> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
