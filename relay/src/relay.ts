/**
 * The H3LIX relay: a libp2p 3 node that offers circuit relay v2 over
 * WebSockets (with identify and ping), so browser nodes can reserve a relayed
 * address and reach each other (and then upgrade to direct WebRTC), plus a
 * small HTTP server with /healthz and /metrics.
 *
 * It keeps no record of anyone: reservations and connection counts live in
 * memory only; the one file it writes is its own peer key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p, type Libp2p } from 'libp2p';
import { DEFAULTS, validateConfig, type RelayConfig } from './config.ts';
import { loadOrCreateKey } from './key.ts';
import { createLogger, type Logger, type LogSink } from './log.ts';
import { RelayMetrics } from './metrics.ts';

export type RelayOptions = Partial<RelayConfig> & {
  /** Where log records go (default: JSON lines on stdout). */
  logSink?: LogSink;
};

export interface RunningRelay {
  /** The relay's peer id (base58). */
  peerId: string;
  /** Dialable multiaddrs, each ending in /p2p/<peerId>. */
  multiaddrs: string[];
  /** Base URL of the HTTP server (/healthz, /metrics), no trailing slash. */
  httpUrl: string;
  /** Stops accepting, closes every connection and the HTTP server; bounded by shutdownTimeoutMs. */
  stop(): Promise<void>;
}

/** The IP address part of a connection's remote multiaddr, or null (not an IP transport). */
function remoteIp(maConn: MultiaddrConnection): string | null {
  for (const c of maConn.remoteAddr.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) return c.value;
  }
  return null;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Connection limits the relay enforces itself, so that each refusal is
 * counted by reason: total open connections and open connections per IP
 * (counted from acceptance until the socket closes, so connections still
 * upgrading count too). Reservations over the limit are refused by libp2p's
 * reservation store; the gater sees them coming and counts them.
 */
class RelayGater implements ConnectionGater {
  private readonly perIp = new Map<string, number>();
  private open = 0;
  relay: CircuitRelayService | undefined;
  private readonly config: RelayConfig;
  private readonly metrics: RelayMetrics;
  private readonly log: Logger;

  constructor(config: RelayConfig, metrics: RelayMetrics, log: Logger) {
    this.config = config;
    this.metrics = metrics;
    this.log = log;
  }

  get openConnections(): number {
    return this.open;
  }

  denyInboundConnection = (maConn: MultiaddrConnection): boolean => {
    const ip = remoteIp(maConn);
    if (this.open >= this.config.maxConnections) {
      this.metrics.refuse('connection_limit');
      this.log.warn('connection refused', { reason: 'connection_limit', open: this.open, client: ip ? this.log.pseudonym(ip) : null });
      return true;
    }
    if (ip !== null && (this.perIp.get(ip) ?? 0) >= this.config.maxConnectionsPerIp) {
      this.metrics.refuse('connection_limit_per_ip');
      this.log.warn('connection refused', { reason: 'connection_limit_per_ip', client: this.log.pseudonym(ip) });
      return true;
    }
    this.open++;
    if (ip !== null) this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    maConn.addEventListener(
      'close',
      () => {
        this.open--;
        if (ip === null) return;
        const n = (this.perIp.get(ip) ?? 1) - 1;
        if (n <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, n);
      },
      { once: true },
    );
    return false;
  };

  denyInboundRelayReservation = (source: PeerId): boolean => {
    const reservations = this.relay?.reservations;
    if (reservations !== undefined && reservations.size >= this.config.maxReservations && !reservations.has(source)) {
      // libp2p's reservation store answers RESERVATION_REFUSED right after this.
      this.metrics.refuse('reservation_limit');
      this.log.warn('reservation refused', { reason: 'reservation_limit', held: reservations.size });
    }
    return false;
  };
}

export async function startRelay(options: RelayOptions = {}): Promise<RunningRelay> {
  const { logSink, ...overrides } = options;
  const config = validateConfig({ ...DEFAULTS, ...overrides });
  const log = createLogger(config.logLevel, logSink);
  const started = Date.now();

  let privateKey: PrivateKey;
  if (config.keyFile !== null) {
    const loaded = await loadOrCreateKey(config.keyFile);
    privateKey = loaded.key;
    if (loaded.created) log.info('relay key created', { keyFile: config.keyFile });
  } else {
    privateKey = await generateKeyPair('Ed25519');
  }

  let node: Libp2p<{ relay: CircuitRelayService }> | undefined;
  const metrics = new RelayMetrics({
    reservations: () => node?.services.relay.reservations.size ?? 0,
    connections: () => node?.getConnections().length ?? 0,
  });
  const gater = new RelayGater(config, metrics, log);
  const unlimited = config.circuitDataLimit === 0n && config.circuitDurationMs === 0;

  node = await createLibp2p({
    privateKey,
    addresses: {
      listen: [`/ip${config.host.includes(':') ? '6' : '4'}/${config.host}/tcp/${config.port}/ws`],
      announce: config.announce,
    },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    connectionManager: {
      // The gater enforces maxConnections (and counts refusals); libp2p's own
      // ceiling sits above it as a backstop and for pruning.
      maxConnections: config.maxConnections + 16,
      maxIncomingPendingConnections: 16,
      inboundConnectionThreshold: config.connectionRatePerIp,
    },
    metrics: () => metrics.forLibp2p(),
    services: {
      identify: identify(),
      ping: ping(),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: config.maxReservations,
          reservationTtl: config.reservationTtlMs,
          applyDefaultLimit: !unlimited,
          ...(unlimited ? {} : { defaultDataLimit: config.circuitDataLimit, defaultDurationLimit: config.circuitDurationMs }),
        },
      }),
    },
  });
  const relay = node.services.relay;
  gater.relay = relay;

  const onOpen = (evt: CustomEvent<Connection>) => {
    metrics.connectionsOpened.inc();
    log.debug('connection open', { peer: log.pseudonym(evt.detail.remotePeer.toString()), open: node?.getConnections().length });
  };
  // A reservation lasts as long as its holder stays connected: when a peer's
  // last connection closes, its reservation ends at once instead of holding a
  // slot until the TTL runs out (a closed tab cannot be reached anyway).
  const onClose = (evt: CustomEvent<Connection>) => {
    const peer = evt.detail.remotePeer;
    const reservation = relay.reservations.get(peer);
    if (reservation !== undefined && node !== undefined && node.getConnections(peer).length === 0) {
      reservation.signal.reset(0); // its abort handler removes it from the store
      log.debug('reservation released', { peer: log.pseudonym(peer.toString()) });
    }
  };
  node.addEventListener('connection:open', onOpen);
  node.addEventListener('connection:close', onClose);

  const peerId = node.peerId.toString();
  const multiaddrs = () => node!.getMultiaddrs().map((m) => m.toString());

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const body = JSON.stringify({
        ok: node!.status === 'started',
        peerId,
        multiaddrs: multiaddrs(),
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        reservations: relay.reservations.size,
        connections: node!.getConnections().length,
      });
      res.writeHead(node!.status === 'started' ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }
    if (path === '/metrics') {
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
          res.end(text);
        },
        (err: Error) => {
          log.error('metrics failed', { error: err.message });
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  // No idle keep-alive sockets hanging around at shutdown.
  http.keepAliveTimeout = 2_000;
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.httpPort, config.httpHost, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await node.stop();
    throw err;
  }
  const httpAddr = http.address() as AddressInfo;
  const httpHost = httpAddr.family === 'IPv6' ? `[${httpAddr.address}]` : httpAddr.address;
  const httpUrl = `http://${httpHost}:${httpAddr.port}`;

  log.info('relay started', {
    peerId,
    multiaddrs: multiaddrs(),
    httpUrl,
    limits: {
      maxReservations: config.maxReservations,
      reservationTtlMs: config.reservationTtlMs,
      circuitDataLimit: unlimited ? null : config.circuitDataLimit.toString(),
      circuitDurationMs: unlimited ? null : config.circuitDurationMs,
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      connectionRatePerIp: config.connectionRatePerIp,
    },
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const t0 = Date.now();
      log.info('relay stopping', { connections: node!.getConnections().length, reservations: relay.reservations.size });
      node!.removeEventListener('connection:open', onOpen);
      node!.removeEventListener('connection:close', onClose);
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      // libp2p.stop() closes the listener first (no new connections), then
      // every open connection, then the services.
      const result = await withTimeout(Promise.all([node!.stop(), httpClosed]), config.shutdownTimeoutMs);
      if (result === 'timeout') {
        http.closeAllConnections();
        for (const c of node!.getConnections()) c.abort(new Error('relay shutting down'));
        log.warn('relay shutdown timed out; remaining connections dropped', { afterMs: Date.now() - t0 });
      } else {
        log.info('relay stopped', { afterMs: Date.now() - t0 });
      }
    })();
    return stopping;
  };

  return { peerId, multiaddrs: multiaddrs(), httpUrl, stop };
}
