/**
 * The relay service (relay/): reservations, relayed connections between two
 * clients, limits, /healthz and /metrics, shutdown. Each test starts its own
 * relay on free ports with a quiet logger.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2p } from 'libp2p';
import { startRelay, type RelayOptions, type RunningRelay } from '../../relay/src/relay';
import type { LogRecord } from '../../relay/src/log';
import { ECHO, circuitAddrs, createClient, echo, getMetrics, metricValue, waitFor } from './relay-helpers';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function relayWith(options: RelayOptions = {}): Promise<RunningRelay & { logs: LogRecord[] }> {
  const logs: LogRecord[] = [];
  const relay = await startRelay({ port: 0, httpPort: 0, logLevel: 'debug', logSink: (r) => logs.push(r), ...options });
  cleanups.push(() => relay.stop());
  return { ...relay, logs };
}

async function client(listenOn?: string): Promise<Libp2p> {
  const node = await createClient(listenOn ? { listenOn } : {});
  cleanups.push(async () => node.stop());
  return node;
}

describe('relay service', () => {
  it('prints a /ws multiaddr with its peer id and answers /healthz', async () => {
    const relay = await relayWith();
    expect(relay.multiaddrs.length).toBeGreaterThan(0);
    expect(relay.multiaddrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/ws/p2p/${relay.peerId}$`));
    const res = await fetch(`${relay.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ ok: true, peerId: relay.peerId, multiaddrs: relay.multiaddrs, reservations: 0, connections: 0 });
    expect(typeof body.uptimeSeconds).toBe('number');
    expect((await fetch(`${relay.httpUrl}/nope`)).status).toBe(404);
    const text = await getMetrics(relay.httpUrl);
    expect(metricValue(text, 'h3lix_relay_reservations')).toBe(0);
    expect(metricValue(text, 'h3lix_relay_refusals_total', 'reason="reservation_limit"')).toBe(0);
    expect(text).toContain('process_resident_memory_bytes');
    expect(relay.logs.find((l) => l.msg === 'relay started')).toMatchObject({ peerId: relay.peerId });
  });

  it('gives a client a reservation and a /p2p-circuit address, released when it leaves', async () => {
    const relay = await relayWith();
    const a = await client(relay.multiaddrs[0]);
    const [addr] = await waitFor(() => circuitAddrs(a).length > 0 && circuitAddrs(a), 'a circuit address');
    expect(addr).toBe(`${relay.multiaddrs[0]}/p2p-circuit/p2p/${a.peerId.toString()}`);
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json();
    expect(health).toMatchObject({ reservations: 1, connections: 1 });
    const text = await getMetrics(relay.httpUrl);
    expect(metricValue(text, 'h3lix_relay_reservations')).toBe(1);
    expect(metricValue(text, 'libp2p_circuit_relay_server_reservations_total')).toBe(1);
    expect(metricValue(text, 'h3lix_relay_connections')).toBe(1);
    expect(metricValue(text, 'h3lix_relay_bytes_total', 'direction="in"')).toBeGreaterThan(0);
    expect(metricValue(text, 'h3lix_relay_bytes_total', 'direction="out"')).toBeGreaterThan(0);

    await a.stop();
    await waitFor(async () => (await (await fetch(`${relay.httpUrl}/healthz`)).json()).reservations === 0, 'the reservation to be released');
  });

  it('connects two clients through the relay and counts the relayed bytes', async () => {
    const relay = await relayWith();
    const a = await client(relay.multiaddrs[0]);
    const [aAddr] = await waitFor(() => circuitAddrs(a).length > 0 && circuitAddrs(a), 'a circuit address');
    const b = await client();
    const conn = await b.dial(multiaddr(aAddr!));
    expect(conn.remotePeer.equals(a.peerId)).toBe(true);
    expect(conn.remoteAddr.toString()).toContain('/p2p-circuit');
    expect(conn.limits).toBeDefined(); // a limited (relayed) connection

    const payload = new Uint8Array(20_000).map((_, i) => (i * 7) % 251);
    const stream = await conn.newStream(ECHO, { runOnLimitedConnection: true });
    const back = await echo(stream, payload);
    expect(back).toEqual(payload);

    const text = await getMetrics(relay.httpUrl);
    expect(metricValue(text, 'h3lix_relay_circuits_opened_total')).toBe(1);
    // Both directions pass through the relay: at least twice the payload.
    expect(metricValue(text, 'h3lix_relay_relayed_bytes_total')).toBeGreaterThanOrEqual(2 * payload.length);
    expect(metricValue(text, 'h3lix_relay_connections')).toBe(2);
  });

  it('cuts a circuit that goes over the data limit', async () => {
    const relay = await relayWith({ circuitDataLimit: 4096n });
    const a = await client(relay.multiaddrs[0]);
    const [aAddr] = await waitFor(() => circuitAddrs(a).length > 0 && circuitAddrs(a), 'a circuit address');
    const b = await client();
    const conn = await b.dial(multiaddr(aAddr!));
    // What is left of the circuit's budget (the stream handshake used some).
    expect(conn.limits?.bytes).toBeGreaterThan(0n);
    expect(conn.limits?.bytes).toBeLessThanOrEqual(4096n);
    const stream = await conn.newStream(ECHO, { runOnLimitedConnection: true });
    const payload = new Uint8Array(64 * 1024).fill(1);
    const outcome = await echo(stream, payload).then(
      (back) => back.length,
      () => 'cut',
    );
    expect(outcome === 'cut' || (typeof outcome === 'number' && outcome < payload.length)).toBe(true);
    expect(metricValue(await getMetrics(relay.httpUrl), 'h3lix_relay_relayed_bytes_total')).toBeLessThan(payload.length);
  });

  it('refuses reservations over maxReservations and counts the refusal', async () => {
    const relay = await relayWith({ maxReservations: 1 });
    const a = await client(relay.multiaddrs[0]);
    await waitFor(() => circuitAddrs(a).length > 0, 'the first reservation');
    // A client that insists on listening through this relay fails to start.
    await expect(client(relay.multiaddrs[0])).rejects.toThrow(/RESERVATION_REFUSED/);
    expect(metricValue(await getMetrics(relay.httpUrl), 'h3lix_relay_refusals_total', 'reason="reservation_limit"')).toBe(1);
    const health = await (await fetch(`${relay.httpUrl}/healthz`)).json();
    expect(health.reservations).toBe(1);
    expect(relay.logs.some((l) => l.msg === 'reservation refused' && l.reason === 'reservation_limit')).toBe(true);
  });

  it('refuses connections over the total limit and counts the refusal', async () => {
    const relay = await relayWith({ maxConnections: 1, maxConnectionsPerIp: 1 });
    const a = await client();
    await a.dial(multiaddr(relay.multiaddrs[0]!));
    const b = await client();
    await expect(b.dial(multiaddr(relay.multiaddrs[0]!))).rejects.toThrow();
    const text = await getMetrics(relay.httpUrl);
    expect(metricValue(text, 'h3lix_relay_refusals_total', 'reason="connection_limit"')).toBe(1);
    expect(metricValue(text, 'h3lix_relay_connections')).toBe(1);
  });

  it('refuses connections over the per-IP limit and logs no IP address', async () => {
    const relay = await relayWith({ maxConnections: 10, maxConnectionsPerIp: 2 });
    const nodes = [await client(), await client(), await client()];
    await nodes[0]!.dial(multiaddr(relay.multiaddrs[0]!));
    await nodes[1]!.dial(multiaddr(relay.multiaddrs[0]!));
    await expect(nodes[2]!.dial(multiaddr(relay.multiaddrs[0]!))).rejects.toThrow();
    const text = await getMetrics(relay.httpUrl);
    expect(metricValue(text, 'h3lix_relay_refusals_total', 'reason="connection_limit_per_ip"')).toBe(1);
    expect(metricValue(text, 'h3lix_relay_refusals_total', 'reason="connection_limit"')).toBe(0);
    const refusals = relay.logs.filter((l) => l.msg === 'connection refused');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.client).toMatch(/^[0-9a-f]{12}$/);
    const perConnectionLogs = relay.logs.filter((l) => l.msg !== 'relay started');
    expect(JSON.stringify(perConnectionLogs)).not.toContain('127.0.0.1');

    // A freed slot can be used again.
    await nodes[0]!.stop();
    await waitFor(async () => metricValue(await getMetrics(relay.httpUrl), 'h3lix_relay_connections') === 1, 'the slot to free');
    await nodes[2]!.dial(multiaddr(relay.multiaddrs[0]!));
  });

  it('stop() closes connections and the HTTP server, within the bound', async () => {
    const relay = await relayWith({ shutdownTimeoutMs: 3_000 });
    const a = await client(relay.multiaddrs[0]);
    await waitFor(() => circuitAddrs(a).length > 0, 'a reservation');
    const t0 = Date.now();
    await relay.stop();
    expect(Date.now() - t0).toBeLessThan(3_000);
    await waitFor(() => a.getConnections().length === 0, 'the client to see the relay gone');
    await expect(fetch(`${relay.httpUrl}/healthz`)).rejects.toThrow();
    await relay.stop(); // idempotent
    expect(relay.logs.some((l) => l.msg === 'relay stopped')).toBe(true);
  });

  it('rejects inconsistent limits', async () => {
    await expect(startRelay({ port: 0, httpPort: 0, circuitDataLimit: 0n, logLevel: 'silent' })).rejects.toThrow(/both 0/);
    await expect(
      startRelay({ port: 0, httpPort: 0, maxConnections: 2, maxConnectionsPerIp: 3, logLevel: 'silent' }),
    ).rejects.toThrow(/per-ip/);
  });
});
