/**
 * The H3LIX P2P transport: one libp2p 3 node per instance, the same code in
 * the browser (the app) and in Node (tests, the hostile test peer, the
 * network bench). It carries opaque bytes on gossip topics; it knows nothing
 * of envelopes, keys or artifacts (src/lib/network/ does).
 *
 * What it does:
 * - holds a connection and a circuit-relay v2 *reservation* on each
 *   configured relay (WebSockets), so that others can reach it at
 *   `<relay>/p2p-circuit/webrtc/p2p/<me>`; redials a lost relay with
 *   exponential backoff and jitter and gets a new reservation;
 * - announces itself on the discovery topic (see discovery.ts for the
 *   format) and dials every member it hears of: direct WebRTC first (the
 *   relay carries only the signalling), relayed if that fails, and it retries
 *   the direct path later for relayed peers;
 * - gossips on the caller's topics (@libp2p/gossipsub), drops and counts
 *   oversize messages before anything is handed up;
 * - pings each peer for its latency and reports peers, status and traffic,
 *   with typed events.
 *
 * Gossipsub settings (documented for docs/PROTOCOL.md):
 * - signature policy StrictSign: every message carries its origin's peer id,
 *   a sequence number and a signature by its libp2p key; gossipsub verifies
 *   it before anything else, so `fromPeerId` given to handlers is
 *   authenticated (the app's own envelope signature comes on top);
 * - message id = SHA-256(topic ‖ 0x00 ‖ data): content-addressed, so the same
 *   bytes re-published by another member (reconciliation) are deduplicated by
 *   the gossip layer itself;
 * - validation: a topic validator on every topic we join runs for each new
 *   (not yet seen) message, synchronously in the gossip pipeline: a message
 *   over `limits.maxMessageBytes` is rejected (not delivered, not forwarded,
 *   counted against the neighbour that sent it, and gossipsub's peer score
 *   notes the rejection); the caller may add a fast validate(bytes, from)
 *   hook per topic to reject obviously bad messages early; everything else is
 *   delivered and the app does its full checks (schema, signature,
 *   membership, replay, rate) afterwards;
 * - inbound frames larger than 2 × maxMessageBytes + 64 KiB are refused by
 *   the stream decoder itself (gossipsub's `maxInboundDataLength`): that
 *   stream is closed and the frame is never decoded (not counted per peer:
 *   it never reaches a validator);
 * - `runOnLimitedConnection: true` (gossip also flows over relayed
 *   connections, which the relay limits in time and bytes), `emitSelf: false`,
 *   `allowPublishToZeroTopicPeers: true` (publishing with nobody around is
 *   not an error: publish() reports 0 recipients and the app's outbox keeps
 *   the item), floodPublish (own messages go to every subscribed peer, which
 *   keeps first-hop latency low in small groups), no peer exchange (doPX off).
 *
 * Connection limits (`limits.maxPeers`, default 40): every WebRTC peer is an
 * RTCPeerConnection. Chromium refuses to create more than 500 of them per
 * page ("Cannot create so many PeerConnections"), and closed ones count until
 * they are garbage-collected (crbug.com/41378764), so churn eats the same
 * budget; each one also costs a DTLS/SCTP association and ICE work on the
 * main thread. 40 concurrent peers leaves an order of magnitude of headroom
 * for redials over a long-lived tab, and gossipsub needs only D = 6 mesh
 * peers per topic to spread messages to any group size. Redials are spaced
 * by backoff per peer and at most `limits.maxConcurrentDials` run at once.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import { identify, type Identify } from '@libp2p/identify';
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { backoffDelay, DEFAULT_BACKOFF, validateBackoff, type BackoffOptions } from './backoff.ts';
import { decodeAnnouncement, encodeAnnouncement, MAX_ANNOUNCEMENT_BYTES, relayOfCircuitAddr } from './discovery.ts';
import {
  P2PAbortedError,
  P2PConfigError,
  P2PMessageTooLargeError,
  P2PNotStartedError,
  P2PTimeoutError,
  P2PTransportError,
} from './errors.ts';

// ---------------------------------------------------------------- types

export type P2PStatus = 'offline' | 'connecting' | 'reserved' | 'degraded';
export type PeerKind = 'direct' | 'relayed';

export interface P2PClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Uniform in [0, 1): the jitter of the backoff. */
  random(): number;
}

export interface P2PLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface P2PLimits {
  /** Member peers connected at once (relays not counted). Default 40; see the module comment. */
  maxPeers: number;
  /** Largest gossip message accepted or published, in bytes. Default 256 KiB. */
  maxMessageBytes: number;
  /** Member dials in flight at once. Default 4. */
  maxConcurrentDials: number;
  /** Peers remembered (heard of, maybe not connected). Default 256. */
  maxKnownPeers: number;
  /**
   * The maintenance loop dials new members only while fewer than this many
   * are connected; inbound connections are still accepted up to `maxPeers`.
   * Default: unset, i.e. `maxPeers` (the app). A value below `maxPeers`
   * leaves headroom so that newcomers' dials are seldom refused (the Node
   * bench: many members, few dials each).
   */
  dialPeers?: number;
}

export interface P2PTiming {
  /** Between periodic announcements on the discovery topic. Default 30 s. */
  announceIntervalMs: number;
  /** Between latency pings to each peer. Default 15 s. */
  pingIntervalMs: number;
  /** Bound on one dial (relay or member). Default 15 s. */
  dialTimeoutMs: number;
  /** The maintenance loop: due redials, direct upgrades of relayed peers. Default 1 s. */
  tickMs: number;
  /** Before retrying the direct (WebRTC) path to a relayed peer. Default 60 s. */
  directRetryMs: number;
  /** A peer heard of only second-hand is forgotten after this many failed dials. Default 5. */
  maxFailuresUnseen: number;
  /** Connected to a relay this long without a reservation: reconnect to it. Default 10 s. */
  reservationGraceMs: number;
  /** Consecutive failed pings after which a peer's connections are closed as dead. Default 3. */
  maxPingFailures: number;
}

export interface P2PDiscoveryOptions {
  /** The network's discovery topic, e.g. `h3lix/<network id>/discovery/1`. */
  topic: string;
  /**
   * Wraps the announcement bytes before publishing (e.g. encrypt and sign with
   * the network key). Default: none.
   */
  wrap?: (payload: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /**
   * Undoes `wrap` for a received message; null rejects it. Runs inside the
   * gossip validator: keep it fast (< 100 ms).
   */
  unwrap?: (bytes: Uint8Array, fromPeerId: string) => Uint8Array | null | Promise<Uint8Array | null>;
}

export interface P2PNodeOptions {
  /** Relay multiaddrs, each ending in /p2p/<relay peer id>. At least one. */
  relays: string[];
  /** The node's libp2p key; none: an ephemeral Ed25519 key made on the first start (kept across restarts of this object). */
  privateKey?: PrivateKey;
  /** Topics joined at start (handlers come with subscribe()). */
  topics?: string[];
  discovery: P2PDiscoveryOptions;
  /** Peer ids to dial through the relays at start (e.g. the inviter, members remembered from last time). */
  bootstrapPeers?: string[];
  limits?: Partial<P2PLimits>;
  timing?: Partial<P2PTiming>;
  /** Backoff for redialling the relays (and members). */
  reconnect?: Partial<BackoffOptions>;
  /**
   * Allow dialling loopback and private addresses (tests, a relay on
   * 127.0.0.1 beside the app). Browsers otherwise refuse them, and plain
   * ws:// too, by libp2p's default gater.
   */
  allowLoopback?: boolean;
  /** ICE servers etc. for WebRTC; default: libp2p's. */
  rtcConfiguration?: RTCConfiguration;
  /**
   * Which known, unconnected members the maintenance loop dials first:
   * `known` (default, the app) in the order they were heard of; `random` a
   * fresh random order on every tick (from `clock.random`), so that
   * newcomers spread their dials over the group instead of all dialling the
   * members everyone heard of first.
   */
  dialOrder?: 'known' | 'random';
  /**
   * IP addresses exempt from gossipsub's IP-colocation penalty (peer score
   * P6: beyond 10 peers seen from one IP, each of them scores
   * −5 · (count − 10)², and below −80 a peer is graylisted: its RPCs are
   * ignored). gossipsub keeps a disconnected peer's zero score, and its IP,
   * for an hour. Default: none (gossipsub's default, the app). The Node bench
   * runs every member on 127.0.0.1 (standing in for separate devices) and
   * exempts that address.
   */
  ipColocationWhitelist?: string[];
  /**
   * Lower bound, ms, on the timeout of libp2p's connection monitor, which
   * pings every connection (relays included) every 10 s and aborts one whose
   * ping does not answer in time (an adaptive timeout, at least 5 s by
   * libp2p's default). Default: unset (libp2p's 5 s, the app). The Node bench
   * runs dozens of members on two shared cores, where event-loop stalls of
   * several seconds would otherwise abort healthy connections.
   */
  monitorMinTimeoutMs?: number;
  clock?: Partial<P2PClock>;
  logger?: Partial<P2PLogger>;
}

export interface P2PPeer {
  peerId: string;
  kind: PeerKind;
  /** Last ping round trip, ms; null until the first ping answers. */
  latencyMs: number | null;
  /** When this stretch of connectedness began (clock ms). */
  connectedSince: number;
  /** Messages and payload bytes received from this neighbour, and its dropped messages by reason. */
  messagesIn: number;
  bytesIn: number;
  dropped: Record<DropReason, number>;
}

export type DropReason = 'oversize' | 'invalid' | 'rejected';

export interface P2PTraffic {
  /** Payload bytes of the messages received (every new message, before validation) and published. */
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Inbound messages dropped by the transport: over the size cap, bad discovery announcements, refused by a caller's validate hook. */
  dropped: Record<DropReason, number>;
}

export interface RelayState {
  addr: string;
  peerId: string;
  connected: boolean;
  reserved: boolean;
  /** Failed dials since the last success. */
  failures: number;
  /** When the next dial is due (clock ms), or null when none is scheduled. */
  nextDialAt: number | null;
  lastError: string | null;
}

export interface P2PEvents {
  status: CustomEvent<{ status: P2PStatus; previous: P2PStatus }>;
  'peer:join': CustomEvent<P2PPeer>;
  'peer:leave': CustomEvent<{ peerId: string }>;
  /** A peer's kind or latency changed. */
  'peer:update': CustomEvent<P2PPeer>;
  dropped: CustomEvent<{ reason: DropReason; topic: string; fromPeerId: string; size: number }>;
}

export type MessageHandler = (bytes: Uint8Array, fromPeerId: string, topic: string) => void;
/** A fast early check in the gossip pipeline: 'reject' drops (and counts) the message and stops it spreading. */
export type MessageValidator = (bytes: Uint8Array, fromPeerId: string) => 'accept' | 'reject';

export interface P2PNode {
  readonly status: P2PStatus;
  /** Our peer id; null before the first start. */
  readonly peerId: string | null;
  start(options?: { signal?: AbortSignal }): Promise<void>;
  stop(): Promise<void>;
  publish(topic: string, bytes: Uint8Array): Promise<{ recipients: number }>;
  subscribe(topic: string, handler: MessageHandler, options?: { validate?: MessageValidator }): () => void;
  peers(): P2PPeer[];
  /** Peers we know to be subscribed to `topic` (those a publish reaches directly). */
  subscribers(topic: string): string[];
  /** Peer ids heard of (connected or not): what the app may persist as bootstrapPeers for next time. */
  knownPeers(): string[];
  /** Our dialable addresses through the relays (`…/p2p-circuit/webrtc/p2p/<me>` and `…/p2p-circuit/p2p/<me>`). */
  addresses(): string[];
  relays(): RelayState[];
  traffic(): P2PTraffic;
  /** Resolves when the status is one of `wanted`. */
  whenStatus(wanted: P2PStatus | P2PStatus[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  /** Dial a peer now (through the relays), e.g. one named in an invite. */
  dialPeer(peerId: string): void;
  addEventListener<K extends keyof P2PEvents>(type: K, listener: (evt: P2PEvents[K]) => void, options?: AddEventListenerOptions): void;
  removeEventListener<K extends keyof P2PEvents>(type: K, listener: (evt: P2PEvents[K]) => void): void;
  /** The underlying libp2p node while started (for tests and the bench; the app should not need it). */
  readonly libp2p: Libp2p<Services> | null;
}

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };

export const DEFAULT_LIMITS: P2PLimits = { maxPeers: 40, maxMessageBytes: 256 * 1024, maxConcurrentDials: 4, maxKnownPeers: 256 };
export const DEFAULT_TIMING: P2PTiming = {
  announceIntervalMs: 30_000,
  pingIntervalMs: 15_000,
  dialTimeoutMs: 15_000,
  tickMs: 1_000,
  directRetryMs: 60_000,
  maxFailuresUnseen: 5,
  reservationGraceMs: 10_000,
  maxPingFailures: 3,
};

// ---------------------------------------------------------------- internals

interface RelayEntry {
  addr: Multiaddr;
  addrStr: string;
  peerId: string;
  dialing: boolean;
  failures: number;
  timer: unknown;
  nextDialAt: number | null;
  lastError: string | null;
  unreservedSince: number | null;
}

interface KnownPeer {
  peerId: string;
  /** Relay peer ids it announced addresses through. */
  relays: Set<string>;
  /** Heard from it directly (its own announcement or a connection), not just named by another. */
  seen: boolean;
  failures: number;
  nextDialAt: number;
  dialing: boolean;
  /** Last time we tried the direct path (clock ms). */
  lastDirectTry: number;
}

interface PeerStats {
  connectedSince: number;
  latencyMs: number | null;
  kind: PeerKind;
  pingFailures: number;
}

interface Counters {
  messagesIn: number;
  bytesIn: number;
  dropped: Record<DropReason, number>;
}

const noDrops = (): Record<DropReason, number> => ({ oversize: 0, invalid: 0, rejected: 0 });
const silent: P2PLogger = { debug() {}, info() {}, warn() {}, error() {} };
const ANNOUNCE_SOON_MS = 300;

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Direct = a connection not through a relay (WebRTC here; also plain ws to a peer). */
function isDirect(conn: Connection): boolean {
  return !conn.remoteAddr.toString().includes('/p2p-circuit') || conn.remoteAddr.toString().includes('/webrtc');
}

async function messageId(msg: Message): Promise<Uint8Array> {
  const topic = new TextEncoder().encode(msg.topic);
  const buf = new Uint8Array(topic.length + 1 + msg.data.length);
  buf.set(topic, 0);
  buf[topic.length] = 0;
  buf.set(msg.data, topic.length + 1);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

// ---------------------------------------------------------------- factory

export function createP2PNode(options: P2PNodeOptions): P2PNode {
  if (!Array.isArray(options.relays) || options.relays.length === 0) throw new P2PConfigError('at least one relay multiaddr is needed');
  const relayEntries: RelayEntry[] = options.relays.map((s) => {
    let addr: Multiaddr;
    try {
      addr = multiaddr(s);
    } catch (err) {
      throw new P2PConfigError(`relay address ${JSON.stringify(s)} is not a multiaddr: ${errMsg(err)}`);
    }
    const peerId = addr.getComponents().findLast((c) => c.name === 'p2p')?.value;
    if (peerId === undefined) throw new P2PConfigError(`relay address ${s} must end in /p2p/<relay peer id>`);
    return { addr, addrStr: addr.toString(), peerId, dialing: false, failures: 0, timer: undefined, nextDialAt: null, lastError: null, unreservedSince: null };
  });
  if (typeof options.discovery?.topic !== 'string' || options.discovery.topic === '') throw new P2PConfigError('discovery.topic is needed');
  const limits: P2PLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [k, v] of Object.entries(limits)) {
    if (k === 'dialPeers' && v === undefined) continue; // optional: maxPeers
    if (!Number.isSafeInteger(v) || v < 1) throw new P2PConfigError(`limits.${k} must be a positive integer`);
  }
  const timing: P2PTiming = { ...DEFAULT_TIMING, ...options.timing };
  for (const [k, v] of Object.entries(timing)) {
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new P2PConfigError(`timing.${k} must be a positive number`);
  }
  const dialTarget = Math.min(limits.maxPeers, limits.dialPeers ?? limits.maxPeers);
  const dialOrder = options.dialOrder ?? 'known';
  if (options.monitorMinTimeoutMs !== undefined && !(options.monitorMinTimeoutMs > 0 && Number.isFinite(options.monitorMinTimeoutMs))) {
    throw new P2PConfigError('monitorMinTimeoutMs must be a positive number');
  }
  if (dialOrder !== 'known' && dialOrder !== 'random') throw new P2PConfigError(`dialOrder must be 'known' or 'random'`);
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.reconnect };
  const bad = validateBackoff(backoff);
  if (bad !== null) throw new P2PConfigError(`reconnect: ${bad}`);
  const clock: P2PClock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    random: Math.random,
    ...options.clock,
  };
  const log: P2PLogger = { ...silent, ...options.logger };
  const discoveryTopic = options.discovery.topic;
  const relayIds = new Set(relayEntries.map((r) => r.peerId));
  const streamCap = 2 * limits.maxMessageBytes + 64 * 1024;

  const events = new EventTarget();
  const emit = <K extends keyof P2PEvents>(type: K, detail: P2PEvents[K]['detail']) => {
    events.dispatchEvent(new CustomEvent(type, { detail }));
  };

  let privateKey: PrivateKey | undefined = options.privateKey;
  let myPeerId: string | null = privateKey ? peerIdFromPrivateKey(privateKey).toString() : null;
  let node: Libp2p<Services> | null = null;
  let running = false;
  let starting: Promise<void> | null = null;
  let status: P2PStatus = 'offline';
  /** Bumped on every start/stop so late callbacks of an old run do nothing. */
  let generation = 0;
  let tickTimer: unknown;
  let announceTimer: unknown;
  let announceSoonTimer: unknown;
  let pingTimer: unknown;
  let dialsInFlight = 0;
  const reidentifying = new Set<string>();

  const handlers = new Map<string, Set<MessageHandler>>();
  const validators = new Map<string, Set<MessageValidator>>();
  const joinedTopics = new Set<string>([discoveryTopic, ...(options.topics ?? [])]);
  const known = new Map<string, KnownPeer>();
  const connected = new Map<string, PeerStats>();
  const perPeer = new Map<string, Counters>();
  const traffic: P2PTraffic = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, dropped: noDrops() };

  const counters = (peerId: string): Counters => {
    let c = perPeer.get(peerId);
    if (c === undefined) {
      c = { messagesIn: 0, bytesIn: 0, dropped: noDrops() };
      perPeer.set(peerId, c);
    }
    return c;
  };

  const peerView = (peerId: string, s: PeerStats): P2PPeer => {
    const c = perPeer.get(peerId);
    return {
      peerId,
      kind: s.kind,
      latencyMs: s.latencyMs,
      connectedSince: s.connectedSince,
      messagesIn: c?.messagesIn ?? 0,
      bytesIn: c?.bytesIn ?? 0,
      dropped: { ...(c?.dropped ?? noDrops()) },
    };
  };

  // ------------------------------------------------------------ status

  const hasReservation = (relayId: string): boolean =>
    node !== null && node.getMultiaddrs().some((m) => relayOfCircuitAddr(m.toString()) === relayId);

  const relayConnected = (relayId: string): boolean =>
    node !== null && node.getConnections().some((c) => c.remotePeer.toString() === relayId && c.status === 'open');

  const computeStatus = (): P2PStatus => {
    if (!running || node === null) return 'offline';
    const reserved = relayEntries.filter((r) => hasReservation(r.peerId)).length;
    if (reserved === relayEntries.length) return 'reserved';
    if (reserved > 0) return 'degraded';
    const anyDirect = [...connected.values()].some((p) => p.kind === 'direct');
    return anyDirect ? 'degraded' : 'connecting';
  };

  const updateStatus = () => {
    const next = computeStatus();
    if (next === status) return;
    const previous = status;
    status = next;
    log.info('status', { status: next, previous });
    emit('status', { status: next, previous });
    if (next === 'reserved' || next === 'degraded') announceSoon();
  };

  // ------------------------------------------------------------ relays

  const scheduleRelayDial = (r: RelayEntry, gen: number) => {
    if (gen !== generation || !running) return;
    if (r.timer !== undefined) clock.clearTimeout(r.timer);
    const delay = backoffDelay(r.failures, backoff, clock.random);
    r.nextDialAt = clock.now() + delay;
    r.timer = clock.setTimeout(() => {
      r.timer = undefined;
      r.nextDialAt = null;
      void dialRelay(r, gen);
    }, delay);
  };

  const dialRelay = async (r: RelayEntry, gen: number) => {
    if (gen !== generation || !running || node === null || r.dialing) return;
    if (relayConnected(r.peerId)) return;
    r.dialing = true;
    const n = node;
    try {
      await n.dial(r.addr, { signal: AbortSignal.timeout(timing.dialTimeoutMs) });
      if (gen !== generation) return;
      r.failures = 0;
      r.lastError = null;
      log.info('relay connected', { relay: r.addrStr });
    } catch (err) {
      if (gen !== generation) return;
      r.lastError = errMsg(err);
      log.warn('relay dial failed', { relay: r.addrStr, failures: r.failures + 1, error: r.lastError });
      scheduleRelayDial(r, gen); // delay from the failures so far: the first retry waits initialMs
      r.failures++;
    } finally {
      r.dialing = false;
      if (gen === generation) updateStatus();
    }
  };

  // ------------------------------------------------------------ members

  const remember = (peerId: string, seen: boolean, viaRelays: Iterable<string> = []): KnownPeer | null => {
    if (peerId === myPeerId || relayIds.has(peerId)) return null;
    let k = known.get(peerId);
    if (k === undefined) {
      if (known.size >= limits.maxKnownPeers) {
        // Make room: forget one we never heard from directly and cannot reach.
        const victim = [...known.values()].find((x) => !x.seen && !connected.has(x.peerId) && !x.dialing);
        if (victim === undefined) return null;
        known.delete(victim.peerId);
      }
      k = { peerId, relays: new Set(), seen, failures: 0, nextDialAt: 0, dialing: false, lastDirectTry: 0 };
      known.set(peerId, k);
    }
    if (seen) k.seen = true;
    for (const r of viaRelays) k.relays.add(r);
    return k;
  };

  const circuitVia = (r: RelayEntry, peerId: string, webrtc: boolean) =>
    multiaddr(`${r.addrStr}/p2p-circuit${webrtc ? '/webrtc' : ''}/p2p/${peerId}`);

  const dialMember = async (k: KnownPeer, gen: number) => {
    if (gen !== generation || node === null || k.dialing) return;
    const n = node;
    // Through relays we hold a connection to; those the peer announced first.
    const usable = relayEntries
      .filter((r) => relayConnected(r.peerId))
      .sort((a, b) => Number(k.relays.has(b.peerId)) - Number(k.relays.has(a.peerId)));
    if (usable.length === 0) return;
    k.dialing = true;
    dialsInFlight++;
    const pid = k.peerId;
    try {
      const already = connected.get(pid);
      k.lastDirectTry = clock.now();
      try {
        await n.dial(
          usable.map((r) => circuitVia(r, pid, true)),
          { signal: AbortSignal.timeout(timing.dialTimeoutMs) },
        );
        if (gen !== generation) return;
        k.failures = 0;
        log.debug('direct dial ok', { peer: pid });
        return;
      } catch (err) {
        if (gen !== generation) return;
        log.debug('direct dial failed', { peer: pid, error: errMsg(err) });
      }
      if (already !== undefined || connected.has(pid)) {
        // Still reachable relayed; try the direct path again later.
        return;
      }
      try {
        await n.dial(
          usable.map((r) => circuitVia(r, pid, false)),
          { signal: AbortSignal.timeout(timing.dialTimeoutMs) },
        );
        if (gen !== generation) return;
        k.failures = 0;
        log.info('relayed fallback', { peer: pid });
      } catch (err) {
        if (gen !== generation) return;
        k.failures++;
        k.nextDialAt = clock.now() + backoffDelay(k.failures - 1, backoff, clock.random);
        log.debug('dial failed', { peer: pid, failures: k.failures, error: errMsg(err) });
        if (!k.seen && k.failures >= timing.maxFailuresUnseen) known.delete(pid);
      }
    } finally {
      k.dialing = false;
      dialsInFlight--;
    }
  };

  /**
   * For each connected peer without a gossipsub outbound stream, run identify
   * again on its best open connection: that makes gossipsub open one there.
   */
  const checkGossipStreams = (n: Libp2p<Services>) => {
    // The GossipSub class keeps its outbound streams in a public (readonly)
    // map that its exported interface does not declare; if a future version
    // drops it, this repair is skipped rather than guessed.
    const streams = (n.services.pubsub as GossipSub & { readonly streamsOutbound?: ReadonlyMap<string, unknown> }).streamsOutbound;
    if (!(streams instanceof Map)) return;
    for (const pid of connected.keys()) {
      if (streams.has(pid) || reidentifying.has(pid)) continue;
      const conns = n.getConnections().filter((c) => c.remotePeer.toString() === pid && c.status === 'open');
      const best = conns.find(isDirect) ?? conns[0];
      if (best === undefined || clock.now() - best.timeline.open < 1_000) continue; // identify of a new one still running
      reidentifying.add(pid);
      log.debug('re-identify for gossip', { peer: pid });
      n.services.identify
        .identify(best, { signal: AbortSignal.timeout(timing.dialTimeoutMs) })
        .catch((err: unknown) => log.debug('re-identify failed', { peer: pid, error: errMsg(err) }))
        .finally(() => reidentifying.delete(pid));
    }
  };

  /** A relay we are connected to but hold no reservation on, for too long: drop the connection and dial again. */
  const checkRelayReservations = (n: Libp2p<Services>, gen: number) => {
    const now = clock.now();
    for (const r of relayEntries) {
      const conn = n.getConnections().find((c) => c.remotePeer.toString() === r.peerId && c.status === 'open');
      if (conn === undefined || hasReservation(r.peerId)) {
        r.unreservedSince = null;
        continue;
      }
      r.unreservedSince ??= now;
      if (now - r.unreservedSince >= timing.reservationGraceMs) {
        log.warn('connected to relay without a reservation; reconnecting', { relay: r.addrStr });
        r.unreservedSince = null;
        r.lastError = 'no reservation';
        r.failures++;
        void conn.close().catch(() => conn.abort(new Error('no reservation')));
        // onConnectionClose schedules the redial
        void gen;
      }
    }
  };

  const tick = (gen: number) => {
    if (gen !== generation || !running || node === null) return;
    try {
      checkGossipStreams(node);
      checkRelayReservations(node, gen);
      // libp2p does not always announce a new reservation with an event we
      // see (self:peer:update can come before the address is listed): poll.
      updateStatus();
      const now = clock.now();
      let candidates: Iterable<KnownPeer> = known.values();
      if (dialOrder === 'random') {
        const list = [...known.values()];
        for (let i = list.length - 1; i > 0; i--) {
          const j = Math.floor(clock.random() * (i + 1));
          [list[i], list[j]] = [list[j]!, list[i]!];
        }
        candidates = list;
      }
      for (const k of candidates) {
        if (dialsInFlight >= limits.maxConcurrentDials) break;
        if (k.dialing) continue;
        const c = connected.get(k.peerId);
        if (c === undefined) {
          if (connected.size >= dialTarget || now < k.nextDialAt) continue;
          void dialMember(k, gen);
        } else if (c.kind === 'relayed' && now - k.lastDirectTry >= timing.directRetryMs) {
          void dialMember(k, gen);
        }
      }
    } catch (err) {
      log.error('maintenance failed', { error: errMsg(err) });
    } finally {
      tickTimer = clock.setTimeout(() => tick(gen), timing.tickMs);
    }
  };

  // ------------------------------------------------------------ connections

  const recomputePeer = (peerId: string) => {
    if (node === null) return;
    const conns = node.getConnections().filter((c) => c.remotePeer.toString() === peerId && c.status === 'open');
    const prev = connected.get(peerId);
    if (conns.length === 0) {
      if (prev !== undefined) {
        connected.delete(peerId);
        const k = known.get(peerId);
        if (k !== undefined) k.nextDialAt = clock.now() + backoffDelay(0, backoff, clock.random);
        log.info('peer left', { peer: peerId });
        emit('peer:leave', { peerId });
      }
      return;
    }
    const kind: PeerKind = conns.some(isDirect) ? 'direct' : 'relayed';
    if (prev === undefined) {
      const s: PeerStats = { connectedSince: clock.now(), latencyMs: null, kind, pingFailures: 0 };
      connected.set(peerId, s);
      remember(peerId, true);
      log.info('peer joined', { peer: peerId, kind });
      emit('peer:join', peerView(peerId, s));
      void pingPeer(peerId, generation);
    } else if (prev.kind !== kind) {
      prev.kind = kind;
      emit('peer:update', peerView(peerId, prev));
    }
  };

  const onConnectionOpen = (evt: CustomEvent<Connection>) => {
    const conn = evt.detail;
    const pid = conn.remotePeer.toString();
    if (relayIds.has(pid)) {
      updateStatus();
      return;
    }
    if (!connected.has(pid) && connected.size >= limits.maxPeers) {
      log.warn('peer refused: at maxPeers', { peer: pid, maxPeers: limits.maxPeers });
      conn.close().catch(() => conn.abort(new Error('over maxPeers')));
      return;
    }
    recomputePeer(pid);
    // A direct connection makes any relayed one to the same peer redundant:
    // close those so they stop costing relay budget.
    if (isDirect(conn) && node !== null) {
      for (const other of node.getConnections(conn.remotePeer)) {
        if (other !== conn && !isDirect(other)) other.close().catch(() => other.abort(new Error('superseded')));
      }
    }
    updateStatus();
  };

  const onConnectionClose = (evt: CustomEvent<Connection>) => {
    const conn = evt.detail;
    const pid = conn.remotePeer.toString();
    const gen = generation;
    if (relayIds.has(pid)) {
      const r = relayEntries.find((x) => x.peerId === pid)!;
      if (running && !relayConnected(pid) && !r.dialing && r.timer === undefined) {
        log.warn('relay connection lost', { relay: r.addrStr });
        scheduleRelayDial(r, gen);
      }
      updateStatus();
      return;
    }
    recomputePeer(pid);
    // Gossipsub opens its stream to a peer on one connection and only learns
    // of another when that one is identified; if the connection carrying the
    // stream closes while another stays open, gossip to that peer would stop.
    // The tick's checkGossipStreams() repairs it (not here: the remaining
    // connection may be closing in the same instant, e.g. a relay restart).
    updateStatus();
  };

  // ------------------------------------------------------------ ping

  const pingPeer = async (peerId: string, gen: number) => {
    const n = node;
    const s = connected.get(peerId);
    if (n === null || s === undefined) return;
    try {
      const conn = n.getConnections().find((c) => c.remotePeer.toString() === peerId && c.status === 'open' && isDirect(c)) ??
        n.getConnections().find((c) => c.remotePeer.toString() === peerId && c.status === 'open');
      if (conn === undefined) return;
      const ms = await n.services.ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(timing.dialTimeoutMs) });
      if (gen !== generation) return;
      const cur = connected.get(peerId);
      if (cur === undefined) return;
      cur.latencyMs = Math.round(ms);
      cur.pingFailures = 0;
      emit('peer:update', peerView(peerId, cur));
    } catch (err) {
      if (gen !== generation) return;
      const cur = connected.get(peerId);
      if (cur === undefined) return;
      // Only a failure on a connection that is still open says the peer is
      // unresponsive (one closing under the ping, e.g. a superseded relayed
      // connection, says nothing).
      const stillOpen = n.getConnections(peerIdFromString(peerId)).filter((c) => c.status === 'open');
      if (stillOpen.length === 0) return;
      cur.pingFailures++;
      log.debug('ping failed', { peer: peerId, failures: cur.pingFailures, error: errMsg(err) });
      if (cur.pingFailures >= timing.maxPingFailures) {
        // A peer that vanished without closing (tab killed, network gone)
        // would otherwise linger until WebRTC's own timeouts.
        log.info('peer unresponsive; closing its connections', { peer: peerId });
        cur.pingFailures = 0;
        for (const c of stillOpen) c.abort(new Error('peer unresponsive'));
      }
    }
  };

  const pingAll = (gen: number) => {
    if (gen !== generation || !running) return;
    for (const pid of connected.keys()) void pingPeer(pid, gen);
    pingTimer = clock.setTimeout(() => pingAll(gen), timing.pingIntervalMs);
  };

  // ------------------------------------------------------------ discovery

  const ownCircuitAddrs = (): string[] =>
    node === null ? [] : node.getMultiaddrs().map((m) => m.toString()).filter((a) => a.includes('/p2p-circuit'));

  const announce = async (gen: number) => {
    const n = node;
    if (gen !== generation || n === null || !running) return;
    const addrs = ownCircuitAddrs().sort((a, b) => Number(b.includes('/webrtc')) - Number(a.includes('/webrtc')));
    if (addrs.length === 0) return;
    const payload = encodeAnnouncement({ peer: n.peerId.toString(), addrs, known: [...connected.keys()], ts: clock.now() });
    try {
      const bytes = options.discovery.wrap ? await options.discovery.wrap(payload) : payload;
      if (gen !== generation) return;
      await n.services.pubsub.publish(discoveryTopic, bytes);
      traffic.messagesOut++;
      traffic.bytesOut += bytes.length;
      log.debug('announced', { addrs: addrs.length, known: connected.size });
    } catch (err) {
      log.debug('announce failed', { error: errMsg(err) });
    }
  };

  function announceSoon() {
    if (!running || announceSoonTimer !== undefined) return;
    const gen = generation;
    announceSoonTimer = clock.setTimeout(() => {
      announceSoonTimer = undefined;
      void announce(gen);
    }, ANNOUNCE_SOON_MS);
  }

  const announceLoop = (gen: number) => {
    if (gen !== generation || !running) return;
    void announce(gen);
    announceTimer = clock.setTimeout(() => announceLoop(gen), timing.announceIntervalMs);
  };

  const onAnnouncement = (payload: Uint8Array, from: string) => {
    const d = decodeAnnouncement(payload, from);
    if (!d.ok) return d.error;
    const relaysOfPeer = d.value.addrs.map(relayOfCircuitAddr).filter((x): x is string => x !== null);
    const k = remember(d.value.peer, true, relaysOfPeer);
    if (k !== null && !connected.has(k.peerId) && !k.dialing) k.nextDialAt = 0; // due now
    for (const other of d.value.known) {
      if (!known.has(other)) remember(other, false);
    }
    return null;
  };

  // ------------------------------------------------------------ gossip

  const drop = (reason: DropReason, topic: string, from: string, size: number) => {
    traffic.dropped[reason]++;
    counters(from).dropped[reason]++;
    log.debug('message dropped', { reason, topic, peer: from, size });
    emit('dropped', { reason, topic, fromPeerId: from, size });
  };

  /** Runs for every new message on a joined topic, before delivery and forwarding. */
  const validate = async (topic: string, propagationSource: PeerId, msg: Message): Promise<TopicValidatorResult> => {
    const source = propagationSource.toString();
    const size = msg.data.length;
    traffic.messagesIn++;
    traffic.bytesIn += size;
    const c = counters(source);
    c.messagesIn++;
    c.bytesIn += size;
    if (msg.type !== 'signed') {
      drop('invalid', topic, source, size);
      return TopicValidatorResult.Reject;
    }
    if (topic === discoveryTopic) {
      const cap = Math.max(MAX_ANNOUNCEMENT_BYTES * 4, 16 * 1024); // room for the caller's wrapping
      if (size > Math.min(cap, limits.maxMessageBytes)) {
        drop('oversize', topic, source, size);
        return TopicValidatorResult.Reject;
      }
      const from = msg.from.toString();
      try {
        const payload = options.discovery.unwrap ? await options.discovery.unwrap(msg.data, from) : msg.data;
        if (payload === null || onAnnouncement(payload, from) !== null) {
          drop('invalid', topic, source, size);
          return TopicValidatorResult.Reject;
        }
      } catch (err) {
        log.debug('unwrap failed', { error: errMsg(err) });
        drop('invalid', topic, source, size);
        return TopicValidatorResult.Reject;
      }
      return TopicValidatorResult.Accept;
    }
    if (size > limits.maxMessageBytes) {
      drop('oversize', topic, source, size);
      return TopicValidatorResult.Reject;
    }
    const vs = validators.get(topic);
    if (vs !== undefined) {
      for (const v of vs) {
        let verdict: 'accept' | 'reject';
        try {
          verdict = v(msg.data, msg.from.toString());
        } catch {
          verdict = 'reject';
        }
        if (verdict !== 'accept') {
          drop('rejected', topic, source, size);
          return TopicValidatorResult.Reject;
        }
      }
    }
    return TopicValidatorResult.Accept;
  };

  const joinTopic = (topic: string) => {
    if (node === null) return;
    const ps = node.services.pubsub;
    ps.topicValidators.set(topic, (src, msg) => validate(topic, src, msg));
    ps.subscribe(topic);
  };

  const onMessage = (evt: CustomEvent<Message>) => {
    const msg = evt.detail;
    if (msg.type !== 'signed' || msg.topic === discoveryTopic) return;
    const hs = handlers.get(msg.topic);
    if (hs === undefined) return;
    const from = msg.from.toString();
    for (const h of hs) {
      try {
        h(msg.data, from, msg.topic);
      } catch (err) {
        log.error('message handler threw', { topic: msg.topic, error: errMsg(err) });
      }
    }
  };

  const onSubscriptionChange = (evt: CustomEvent<{ peerId: PeerId; subscriptions: { topic: string; subscribe: boolean }[] }>) => {
    if (evt.detail.subscriptions.some((s) => s.subscribe && s.topic === discoveryTopic)) announceSoon();
  };

  const onSelfUpdate = () => updateStatus();

  // ------------------------------------------------------------ lifecycle

  const build = async (): Promise<Libp2p<Services>> => {
    privateKey ??= await generateKeyPair('Ed25519');
    myPeerId = peerIdFromPrivateKey(privateKey).toString();
    return createLibp2p({
      privateKey,
      addresses: {
        // One '/p2p-circuit' per relay: the circuit transport then seeks that
        // many reservations among the relays we connect to. '/webrtc' makes
        // us answer WebRTC signalling that arrives over those circuits.
        listen: [...relayEntries.map(() => '/p2p-circuit'), '/webrtc'],
      },
      transports: [
        webSockets(),
        webRTC(options.rtcConfiguration ? { rtcConfiguration: options.rtcConfiguration } : {}),
        circuitRelayTransport({ reservationCompletionTimeout: timing.dialTimeoutMs }),
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      ...(options.allowLoopback ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
      ...(options.monitorMinTimeoutMs !== undefined ? { connectionMonitor: { pingTimeout: { minTimeout: options.monitorMinTimeoutMs } } } : {}),
      connectionManager: {
        // A member may briefly hold a relayed and a direct connection.
        maxConnections: 2 * limits.maxPeers + relayEntries.length + 4,
      },
      services: {
        identify: identify(),
        ping: ping({ runOnLimitedConnection: true }),
        pubsub: gossipsub({
          globalSignaturePolicy: 'StrictSign',
          msgIdFn: messageId,
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          doPX: false,
          runOnLimitedConnection: true,
          maxInboundDataLength: streamCap,
          canRelayMessage: false,
          ...(options.ipColocationWhitelist !== undefined && options.ipColocationWhitelist.length > 0
            ? { scoreParams: { IPColocationFactorWhitelist: new Set(options.ipColocationWhitelist) } }
            : {}),
        }),
      },
    });
  };

  const teardown = async () => {
    generation++;
    for (const r of relayEntries) {
      if (r.timer !== undefined) clock.clearTimeout(r.timer);
      r.timer = undefined;
      r.nextDialAt = null;
      r.dialing = false;
    }
    for (const t of [tickTimer, announceTimer, announceSoonTimer, pingTimer]) if (t !== undefined) clock.clearTimeout(t);
    tickTimer = announceTimer = announceSoonTimer = pingTimer = undefined;
    const n = node;
    if (n !== null) {
      n.removeEventListener('connection:open', onConnectionOpen);
      n.removeEventListener('connection:close', onConnectionClose);
      n.removeEventListener('self:peer:update', onSelfUpdate);
      n.services.pubsub.removeEventListener('message', onMessage);
      n.services.pubsub.removeEventListener('subscription-change', onSubscriptionChange);
      try {
        await n.stop();
      } catch (err) {
        log.warn('libp2p stop failed', { error: errMsg(err) });
      }
    }
    node = null;
    dialsInFlight = 0;
    for (const k of known.values()) {
      k.dialing = false;
      k.nextDialAt = 0;
    }
    const left = [...connected.keys()];
    connected.clear();
    for (const peerId of left) emit('peer:leave', { peerId });
  };

  const start = async (opts: { signal?: AbortSignal } = {}): Promise<void> => {
    if (running) return;
    if (starting !== null) return starting;
    const signal = opts.signal;
    starting = (async () => {
      if (signal?.aborted) throw new P2PAbortedError('start', signal.reason);
      let n: Libp2p<Services>;
      try {
        n = await build();
        node = n;
        if (signal?.aborted) throw new P2PAbortedError('start', signal.reason);
        await n.start();
      } catch (err) {
        await teardown();
        if (err instanceof P2PAbortedError) throw err;
        throw new P2PTransportError(`libp2p failed to start: ${errMsg(err)}`, err);
      }
      if (signal?.aborted) {
        await teardown();
        throw new P2PAbortedError('start', signal.reason);
      }
      running = true;
      const gen = generation;
      log.info('started', { peerId: n.peerId.toString(), relays: relayEntries.length });
      n.addEventListener('connection:open', onConnectionOpen);
      n.addEventListener('connection:close', onConnectionClose);
      n.addEventListener('self:peer:update', onSelfUpdate);
      n.services.pubsub.addEventListener('message', onMessage);
      n.services.pubsub.addEventListener('subscription-change', onSubscriptionChange);
      for (const t of joinedTopics) joinTopic(t);
      for (const t of handlers.keys()) joinTopic(t);
      for (const p of options.bootstrapPeers ?? []) remember(p, true);
      updateStatus();
      for (const r of relayEntries) void dialRelay(r, gen);
      tickTimer = clock.setTimeout(() => tick(gen), timing.tickMs);
      announceTimer = clock.setTimeout(() => announceLoop(gen), timing.announceIntervalMs);
      pingTimer = clock.setTimeout(() => pingAll(gen), timing.pingIntervalMs);
    })();
    try {
      await starting;
    } finally {
      starting = null;
    }
  };

  const stop = async (): Promise<void> => {
    if (starting !== null) await starting.catch(() => undefined);
    if (!running && node === null) return;
    running = false;
    await teardown();
    log.info('stopped');
    updateStatus();
  };

  const publish = async (topic: string, bytes: Uint8Array): Promise<{ recipients: number }> => {
    if (!running || node === null) throw new P2PNotStartedError('publish');
    if (bytes.length > limits.maxMessageBytes) throw new P2PMessageTooLargeError(bytes.length, limits.maxMessageBytes);
    if (!joinedTopics.has(topic) && !handlers.has(topic)) {
      // Publishing on a topic we have not joined: join it, so we also hear the replies.
      joinedTopics.add(topic);
      joinTopic(topic);
    }
    try {
      const res = await node.services.pubsub.publish(topic, bytes);
      traffic.messagesOut++;
      traffic.bytesOut += bytes.length;
      return { recipients: res.recipients.length };
    } catch (err) {
      throw new P2PTransportError(`publish on ${topic} failed: ${errMsg(err)}`, err);
    }
  };

  const subscribe = (topic: string, handler: MessageHandler, opts: { validate?: MessageValidator } = {}): (() => void) => {
    if (typeof topic !== 'string' || topic === '') throw new P2PConfigError('topic must be a non-empty string');
    if (topic === discoveryTopic) throw new P2PConfigError('the discovery topic is handled by the transport itself');
    let hs = handlers.get(topic);
    if (hs === undefined) {
      hs = new Set();
      handlers.set(topic, hs);
    }
    hs.add(handler);
    if (opts.validate) {
      let vs = validators.get(topic);
      if (vs === undefined) validators.set(topic, (vs = new Set()));
      vs.add(opts.validate);
    }
    if (running && !joinedTopics.has(topic)) {
      joinedTopics.add(topic);
      joinTopic(topic);
    }
    joinedTopics.add(topic);
    return () => {
      hs.delete(handler);
      if (opts.validate) validators.get(topic)?.delete(opts.validate);
    };
  };

  const whenStatus = (wanted: P2PStatus | P2PStatus[], opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> => {
    const want = new Set(Array.isArray(wanted) ? wanted : [wanted]);
    if (want.has(status)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const cleanup = () => {
        events.removeEventListener('status', onStatus);
        opts.signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clock.clearTimeout(timer);
      };
      const onStatus = () => {
        if (want.has(status)) {
          cleanup();
          resolve();
        }
      };
      const onAbort = () => {
        cleanup();
        reject(new P2PAbortedError('whenStatus', opts.signal?.reason));
      };
      if (opts.signal?.aborted) return onAbort();
      events.addEventListener('status', onStatus);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        timer = clock.setTimeout(() => {
          cleanup();
          reject(new P2PTimeoutError(`waiting for status ${[...want].join('|')}`, ms));
        }, ms);
      }
    });
  };

  return {
    get status() {
      return status;
    },
    get peerId() {
      return myPeerId;
    },
    get libp2p() {
      return node;
    },
    start,
    stop,
    publish,
    subscribe,
    peers: () => [...connected.entries()].map(([id, s]) => peerView(id, s)).sort((a, b) => a.connectedSince - b.connectedSince),
    subscribers: (topic: string) => (node === null ? [] : node.services.pubsub.getSubscribers(topic).map((p) => p.toString())),
    knownPeers: () => [...known.values()].filter((k) => k.seen).map((k) => k.peerId),
    addresses: ownCircuitAddrs,
    relays: () =>
      relayEntries.map((r) => ({
        addr: r.addrStr,
        peerId: r.peerId,
        connected: relayConnected(r.peerId),
        reserved: hasReservation(r.peerId),
        failures: r.failures,
        nextDialAt: r.nextDialAt,
        lastError: r.lastError,
      })),
    traffic: () => ({ ...traffic, dropped: { ...traffic.dropped } }),
    whenStatus,
    dialPeer: (peerId: string) => {
      const k = remember(peerId, true);
      if (k !== null) k.nextDialAt = 0;
    },
    addEventListener: (type, listener, opts) => events.addEventListener(type, listener as EventListener, opts),
    removeEventListener: (type, listener) => events.removeEventListener(type, listener as EventListener),
  };
}
