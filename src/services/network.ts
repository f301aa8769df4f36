/**
 * The network member: membership (network id, key, epoch, relays) in
 * IndexedDB, the P2P transport (src/services/p2p), and the protocol
 * (src/lib/network): every outbound item is signed and sealed, every inbound
 * envelope goes through openEnvelope and is dropped and counted by reason
 * when anything is wrong. Items held (own and received) live in `netItems`;
 * what could not be published yet waits in `outbox` across reloads and
 * offline periods; late joiners and nodes back from offline reconcile with
 * each member they meet.
 *
 * Nothing received here reaches the UI as HTML or triggers an action: items
 * are data for the Collective Context Field.
 */
import type { Artifact, ContentId } from '../lib/artifacts/schema';
import { DropCounters, type DropCounts } from '../lib/network/drop-counters';
import { fromBase64Url, toBase64Url } from '../lib/network/encoding';
import { sealEnvelope } from '../lib/network/envelope';
import { createInvite, parseInviteUrl, type Invite, type InviteParseResult } from '../lib/network/invite';
import { createExchangeKeyPair, openRotation, planRotation, x25519Agreement, ROTATION_GRACE_MS, leaveAnnounce } from '../lib/network/key-rotation';
import type { CalibrationAnswerBody, CalibrationTaskBody, OutboundBody, SyncRequestBody } from '../lib/network/message-bodies';
import { createNetworkId, createNetworkKey, deriveEnvelopeKey, Keyring } from '../lib/network/network-key';
import { openEnvelope, type InboundMessage } from '../lib/network/open-envelope';
import { RateLimiter } from '../lib/network/rate-limiter';
import { answerSyncRequest, planSyncRequests } from '../lib/network/reconciliation';
import { ReplayGuard } from '../lib/network/replay-guard';
import { signArtifact, signVote, verifyItem, type VerifiedItem } from '../lib/network/signed-item';
import type { Vote } from '../lib/ccf/vote';
import type { SigningIdentity } from '../lib/network/signing';
import { networkTopics, topicForType } from '../lib/network/topics';
import type { H3lixDatabase } from './db';
// The transport (libp2p, large) is loaded only when this device is in a network.
import type { createP2PNode, P2PNode, P2PNodeOptions, P2PPeer, P2PStatus, P2PTraffic } from './p2p';
type P2PModule = typeof import('./p2p/index.ts');

/** The one membership record. */
export interface Membership {
  id: 'current';
  networkId: string;
  networkName: string;
  networkKey: Uint8Array;
  epoch: number;
  relays: string[];
  joinedAt: number;
  /** Who invited us (null: we created the network). */
  inviter: { nodeId: string; displayName: string | null; peerId: string | null } | null;
  /** X25519 key pair for receiving rotated keys. */
  exchangeSecret: Uint8Array;
  exchangePublic: Uint8Array;
  /** Members removed at a rotation. */
  revoked: string[];
  /** libp2p peers met before: dialled at start. */
  bootstrapPeers: string[];
  /** Seed of this node's libp2p key for this network: a stable peer id across reloads. */
  transportSeed: Uint8Array;
}

/** A stored signed item (netItems). */
export interface StoredItem {
  itemId: string;
  time: number;
  kind: 'artifact' | 'vote';
  authorId: string;
  /** The signed item as it travels (JSON). */
  item: string;
  receivedAt: number;
  /** Ours, or from whom it came. */
  via: 'self' | string;
}

/** An outbound item waiting for peers. */
export interface OutboxEntry {
  id: string;
  createdAt: number;
  itemId: string;
  attempts: number;
}

/** A peer as the Network view shows it. */
export interface MemberPeer {
  peerId: string;
  nodeId: string | null;
  displayName: string | null;
  kind: P2PPeer['kind'];
  latencyMs: number | null;
  connectedSince: number;
}

export interface NetworkSnapshot {
  membership: { networkId: string; networkName: string; epoch: number; relays: string[]; joinedAt: number; inviter: Membership['inviter'] } | null;
  status: P2PStatus;
  peers: MemberPeer[];
  relays: { addr: string; connected: boolean; reserved: boolean; lastError: string | null }[];
  traffic: P2PTraffic | null;
  dropped: DropCounts;
  items: { artifacts: number; votes: number };
  outbox: number;
}

export interface NetworkDeps {
  db: () => H3lixDatabase;
  identity: () => Promise<SigningIdentity>;
  displayName: () => string;
  now: () => number;
  /** Relays to use for a new network (from the deploy config). */
  defaultRelays: () => string[];
  onChange: () => void;
  /** An item arrived from a peer (benchmarks time propagation with it). */
  onItem?: (item: VerifiedItem) => void;
  /** A calibration task addressed to this node (untrusted: the field admits and answers it). */
  onCalibrationTask?: (message: { sender: string; task: CalibrationTaskBody }) => void;
  /** An answer to a calibration task this node set. */
  onCalibrationAnswer?: (message: { sender: string; answer: CalibrationAnswerBody }) => void;
  /** An item was stored, ours or a peer's (the Collective Context Field applies it). */
  onStored?: (item: VerifiedItem, via: 'self' | string) => void;
  /** Tests: allow dialling loopback relays (the app's own relay on 127.0.0.1 in development). */
  allowLoopback?: boolean;
  createNode?: typeof createP2PNode;
  /** Transport settings (tests: faster announcements). */
  nodeOptions?: Partial<P2PNodeOptions>;
}

export class NotAMemberError extends Error {
  override readonly name = 'NotAMemberError';
  constructor() {
    super('This device is not in a network yet. Create an invite link or join one first.');
  }
}

/** First retry of an outbox flush that left entries while members were connected; doubles up to the max. */
export const FLUSH_RETRY_MIN_MS = 2_000;
export const FLUSH_RETRY_MAX_MS = 60_000;

/** Re-reconcile with a member at most this often while it is around. */
export const RESYNC_MS = 60_000;

const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

export class NetworkService {
  #deps: NetworkDeps;
  #node: P2PNode | null = null;
  #membership: Membership | null = null;
  #keyring: Keyring | null = null;
  #counters = new DropCounters();
  #replay = new ReplayGuard();
  #rate = new RateLimiter();
  /** libp2p peer id → what its presence announce said. */
  #members = new Map<string, { nodeId: string; displayName: string | null; exchangeKey: Uint8Array }>();
  #unsubscribe: (() => void)[] = [];
  #p2p: P2PModule | null = null;

  constructor(deps: NetworkDeps) {
    this.#deps = deps;
  }

  get membership(): Membership | null {
    return this.#membership;
  }

  async load(): Promise<Membership | null> {
    this.#membership = ((await this.#deps.db().table('membership').get('current')) as Membership | undefined) ?? null;
    return this.#membership;
  }

  // -------------------------------------------------------------------------
  // Membership

  /** A new network with this node as its first member. */
  async create(name: string, customRelays: readonly string[] = []): Promise<Membership> {
    const custom = customRelays.map((r) => r.trim()).filter(Boolean);
    const bad = custom.find((r) => !/^\/(ip4|ip6|dns4?|dns6)\/[^\s/]+\/tcp\/\d+\/(ws|wss|tls\/ws)\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,64}$/.test(r));
    if (bad) throw new Error(`"${bad.slice(0, 80)}" is not a relay address (expected something like /dns4/relay.example/tcp/443/wss/p2p/12D3Koo…).`);
    const relays = custom.length > 0 ? custom.slice(0, 8) : this.#deps.defaultRelays();
    if (relays.length === 0) throw new Error('No relay is configured for this deployment: enter a relay address to create a network.');
    const exchange = createExchangeKeyPair(randomBytes);
    const membership: Membership = {
      id: 'current',
      networkId: createNetworkId(randomBytes),
      networkName: name.trim().slice(0, 64) || 'My network',
      networkKey: createNetworkKey(randomBytes),
      epoch: 0,
      relays,
      joinedAt: this.#deps.now(),
      inviter: null,
      exchangeSecret: exchange.secretKey,
      exchangePublic: exchange.publicKey,
      revoked: [],
      bootstrapPeers: [],
      transportSeed: randomBytes(32),
    };
    await this.#saveMembership(membership);
    await this.start();
    return membership;
  }

  async inviteLink(appUrl: string): Promise<string> {
    const m = this.#require();
    const { url } = await createInvite({
      appUrl,
      networkId: m.networkId,
      networkName: m.networkName,
      networkKey: m.networkKey,
      epoch: m.epoch,
      relays: m.relays,
      inviter: await this.#deps.identity(),
      inviterName: this.#deps.displayName().slice(0, 64) || undefined,
      inviterPeerId: this.#node?.peerId ?? undefined,
      now: this.#deps.now(),
    } as Parameters<typeof createInvite>[0]);
    return url;
  }

  /** Reads an invite link: who invites to what, or why it is refused. Joins nothing. */
  readInvite(url: string): Promise<InviteParseResult> {
    return parseInviteUrl(url, this.#deps.now());
  }

  /** Joins the network of a checked invite (the person confirmed). Leaves the current one first. */
  async join(invite: Invite): Promise<Membership> {
    if (this.#membership) await this.leave();
    const exchange = createExchangeKeyPair(randomBytes);
    const membership: Membership = {
      id: 'current',
      networkId: invite.networkId,
      networkName: invite.networkName ?? 'Network',
      networkKey: invite.networkKey,
      epoch: invite.epoch,
      relays: invite.relays,
      joinedAt: this.#deps.now(),
      inviter: { nodeId: invite.inviter.nodeId, displayName: invite.inviter.displayName ?? null, peerId: invite.inviter.peerId ?? null },
      exchangeSecret: exchange.secretKey,
      exchangePublic: exchange.publicKey,
      revoked: [],
      bootstrapPeers: invite.inviter.peerId ? [invite.inviter.peerId] : [],
      transportSeed: randomBytes(32),
    };
    await this.#saveMembership(membership);
    await this.start();
    return membership;
  }

  /** Says goodbye, stops, and forgets the network (its items stay as history). */
  async leave(): Promise<void> {
    if (this.#node && this.#keyring && this.#membership) {
      await this.#publish({ type: 'announce', announce: leaveAnnounce() }).catch(() => undefined);
    }
    await this.stop();
    await this.#deps.db().table('membership').delete('current');
    await this.#deps.db().table('outbox').clear();
    this.#membership = null;
    this.#keyring = null;
    this.#members.clear();
    this.#deps.onChange();
  }

  /** A new network key for the members present now; `remove` loses access. */
  async rotateKey(remove: readonly string[] = []): Promise<string> {
    const m = this.#require();
    const me = (await this.#deps.identity()).nodeId;
    const members = [...this.#members.values()].filter((p) => p.nodeId !== me && !remove.includes(p.nodeId));
    const unique = [...new Map(members.map((p) => [p.nodeId, p])).values()];
    if (unique.length === 0) throw new Error('No other member is connected to hand the new key to. Rotate once they are online.');
    const planned = await planRotation({
      networkId: m.networkId,
      currentEpoch: m.epoch,
      members: unique.map((p) => ({ nodeId: p.nodeId, exchangeKey: p.exchangeKey })),
      removed: [...remove],
      randomBytes,
      subtle: subtle(),
    });
    await this.#publish({ type: 'announce', announce: planned.announce });
    await this.#adoptKey(planned.epoch, planned.networkKey, [...remove]);
    return `Network key rotated (epoch ${planned.epoch}); ${unique.length} member${unique.length === 1 ? '' : 's'} received it.`;
  }

  // -------------------------------------------------------------------------
  // Running

  async start(): Promise<void> {
    const m = this.#membership ?? (await this.load());
    if (!m || this.#node) return;
    this.#keyring = new Keyring(m.epoch, await deriveEnvelopeKey(subtle(), m.networkKey, m.networkId, m.epoch));
    const topics = networkTopics(m.networkId);
    const p2p = (this.#p2p ??= await import('./p2p/index.ts'));
    const { generateKeyPairFromSeed } = await import('@libp2p/crypto/keys');
    const create = this.#deps.createNode ?? p2p.createP2PNode;
    const loopback = m.relays.some((r) => /\/(ip4\/127\.|ip6\/::1|dns4?\/localhost)/.test(r));
    const node = create({
      relays: m.relays,
      privateKey: await generateKeyPairFromSeed('Ed25519', m.transportSeed),
      topics: [topics.artifacts, topics.votes, topics.sync],
      bootstrapPeers: [...new Set([...(m.inviter?.peerId ? [m.inviter.peerId] : []), ...m.bootstrapPeers])],
      allowLoopback: this.#deps.allowLoopback ?? loopback,
      // A relay on this machine means a local or test network: no STUN server is reachable or needed.
      ...(loopback ? { rtcConfiguration: { iceServers: [] } } : {}),
      ...this.#deps.nodeOptions,
      discovery: {
        topic: topics.discovery,
        wrap: (payload) => this.#wrapPresence(payload),
        unwrap: (bytes, from) => this.#unwrapPresence(bytes, from),
      },
    });
    this.#node = node;
    for (const topic of [topics.artifacts, topics.votes, topics.sync]) {
      this.#unsubscribe.push(node.subscribe(topic, (bytes, from) => void this.#receive(bytes, from)));
    }
    const changed = () => this.#deps.onChange();
    node.addEventListener('status', (e) => {
      changed();
      if (e.detail.status === 'reserved') void this.flush();
    });
    node.addEventListener('peer:join', (e) => {
      changed();
      // A (re)joined peer is synced again on its next presence announce.
      this.#lastSync.delete(e.detail.peerId);
      void this.flush();
    });
    node.addEventListener('peer:leave', changed);
    node.addEventListener('peer:update', changed);
    node.addEventListener('dropped', changed);
    await node.start();
    changed();
  }

  async stop(): Promise<void> {
    const node = this.#node;
    this.#node = null;
    if (this.#flushRetry) clearTimeout(this.#flushRetry);
    this.#flushRetry = null;
    for (const u of this.#unsubscribe.splice(0)) u();
    if (node) {
      const m = this.#membership;
      if (m) await this.#saveMembership({ ...m, bootstrapPeers: node.knownPeers().slice(0, 32) }).catch(() => undefined);
      await node.stop().catch(() => undefined);
    }
    this.#deps.onChange();
  }

  snapshot(): Promise<NetworkSnapshot> {
    return this.#snapshot();
  }

  async #snapshot(): Promise<NetworkSnapshot> {
    const db = this.#deps.db();
    const m = this.#membership;
    const node = this.#node;
    const items = await db.table<StoredItem, string>('netItems').toArray();
    return {
      membership: m ? { networkId: m.networkId, networkName: m.networkName, epoch: m.epoch, relays: m.relays, joinedAt: m.joinedAt, inviter: m.inviter } : null,
      status: node?.status ?? 'offline',
      peers: (node?.peers() ?? []).map((p) => {
        const known = this.#members.get(p.peerId);
        return { peerId: p.peerId, nodeId: known?.nodeId ?? null, displayName: known?.displayName ?? null, kind: p.kind, latencyMs: p.latencyMs, connectedSince: p.connectedSince };
      }),
      relays: (node?.relays() ?? []).map((r) => ({ addr: r.addr, connected: r.connected, reserved: r.reserved, lastError: r.lastError })),
      traffic: node?.traffic() ?? null,
      dropped: this.#counters.snapshot(),
      items: { artifacts: items.filter((i) => i.kind === 'artifact').length, votes: items.filter((i) => i.kind === 'vote').length },
      outbox: await db.table('outbox').count(),
    };
  }

  // -------------------------------------------------------------------------
  // Sending

  /** Signs an artifact, keeps it, and publishes it (or leaves it in the outbox until peers are there). */
  async shareArtifact(artifact: Artifact): Promise<{ itemId: string; contentId: ContentId | null; sent: boolean }> {
    const m = this.#require();
    const verified = await signArtifact(m.networkId, artifact, await this.#deps.identity());
    await this.#store(verified, 'self');
    await this.#deps.db().table<OutboxEntry, string>('outbox').put({ id: verified.itemId, createdAt: this.#deps.now(), itemId: verified.itemId, attempts: 0 });
    const sent = await this.flush();
    return { itemId: verified.itemId, contentId: verified.kind === 'artifact' ? verified.contentId : null, sent: sent > 0 };
  }

  /** Signs a vote on an artifact, keeps it, and publishes it like an artifact (the field's voting uses this). */
  async castVote(vote: Vote): Promise<{ itemId: string; sent: boolean }> {
    const m = this.#require();
    const verified = await signVote(m.networkId, vote, await this.#deps.identity());
    await this.#store(verified, 'self');
    await this.#deps.db().table<OutboxEntry, string>('outbox').put({ id: verified.itemId, createdAt: this.#deps.now(), itemId: verified.itemId, attempts: 0 });
    const sent = await this.flush();
    return { itemId: verified.itemId, sent: sent > 0 };
  }

  #flushing: Promise<number> | null = null;
  #flushAgain = false;

  /**
   * Publishes what waits in the outbox to the peers present; returns how many
   * went out. One flush at a time (a share, a peer joining and a reservation
   * can all ask at once): a second publish of the same entry would go out as
   * different bytes (a fresh nonce) that gossip cannot deduplicate.
   */
  flush(): Promise<number> {
    if (this.#flushing) {
      this.#flushAgain = true;
      return this.#flushing;
    }
    const run = async (): Promise<number> => {
      let total = 0;
      do {
        this.#flushAgain = false;
        total += await this.#flushOnce();
      } while (this.#flushAgain);
      return total;
    };
    this.#flushing = run()
      .then(async (sent) => {
        await this.#retryLater(sent);
        return sent;
      })
      .finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  #flushRetry: ReturnType<typeof setTimeout> | null = null;
  #flushRetryMs = FLUSH_RETRY_MIN_MS;

  /**
   * Entries left while members are connected: try again soon. A member that
   * just connected is not yet subscribed to the topics (gossip learns that a
   * moment later), so the flush its arrival triggers often reaches no one;
   * without a retry the entry would wait for the next member to arrive.
   */
  async #retryLater(sent: number): Promise<void> {
    if (sent > 0) this.#flushRetryMs = FLUSH_RETRY_MIN_MS;
    if (this.#flushRetry || !this.#node || this.#node.peers().length === 0) return;
    const left = await this.#deps.db().table('outbox').count().catch(() => 0);
    if (left === 0) return;
    const delay = this.#flushRetryMs;
    this.#flushRetryMs = Math.min(FLUSH_RETRY_MAX_MS, delay * 2);
    this.#flushRetry = setTimeout(() => {
      this.#flushRetry = null;
      void this.flush();
    }, delay);
  }

  async #flushOnce(): Promise<number> {
    const node = this.#node;
    if (!node || !this.#keyring || node.peers().length === 0) return 0;
    const db = this.#deps.db();
    const entries = await db.table<OutboxEntry, string>('outbox').orderBy('createdAt').toArray();
    let sent = 0;
    for (const entry of entries) {
      const stored = await db.table<StoredItem, string>('netItems').get(entry.itemId);
      if (!stored) {
        await db.table('outbox').delete(entry.id);
        continue;
      }
      const check = verifyItem(this.#membership!.networkId, JSON.parse(stored.item));
      if (!check.ok) {
        await db.table('outbox').delete(entry.id);
        continue;
      }
      const body: OutboundBody = check.verified.kind === 'artifact' ? { type: 'artifact', item: check.verified.item as never } : { type: 'vote', item: check.verified.item as never };
      try {
        const { recipients } = await this.#publish(body);
        if (recipients > 0) {
          await db.table('outbox').delete(entry.id);
          sent++;
        } else {
          await db.table('outbox').update(entry.id, { attempts: entry.attempts + 1 });
        }
      } catch {
        await db.table('outbox').update(entry.id, { attempts: entry.attempts + 1 });
      }
    }
    if (sent > 0) this.#deps.onChange();
    return sent;
  }

  async #publish(body: OutboundBody): Promise<{ recipients: number }> {
    const node = this.#node;
    const m = this.#membership;
    const keyring = this.#keyring;
    if (!node || !m || !keyring) throw new NotAMemberError();
    const bytes = await sealEnvelope(body, {
      networkId: m.networkId,
      epoch: keyring.currentEpoch,
      key: keyring.currentKey,
      identity: await this.#deps.identity(),
      now: this.#deps.now,
      randomBytes,
      subtle: subtle(),
    });
    return node.publish(topicForType(m.networkId, body.type), bytes);
  }

  // -------------------------------------------------------------------------
  // Receiving

  async #open(bytes: Uint8Array): Promise<InboundMessage | null> {
    const m = this.#membership;
    const keyring = this.#keyring;
    if (!m || !keyring) return null;
    const revoked = new Set(m.revoked);
    const result = await openEnvelope(bytes, {
      networkId: m.networkId,
      keys: keyring,
      now: this.#deps.now,
      subtle: subtle(),
      replay: this.#replay,
      rateLimiter: this.#rate,
      isRevoked: (id) => revoked.has(id),
      counters: this.#counters,
    });
    if (!result.ok) {
      this.#deps.onChange();
      return null;
    }
    return result.message;
  }

  async #receive(bytes: Uint8Array, from: string): Promise<void> {
    const message = await this.#open(bytes);
    if (!message) return;
    const me = (await this.#deps.identity()).nodeId;
    if (message.sender === me) return;
    switch (message.type) {
      case 'artifact':
      case 'vote':
        await this.#store(message.item, from);
        break;
      case 'sync-request':
        if (message.request.target === me) await this.#answer(message.request, message.sender, message.nonce);
        break;
      case 'sync-response':
        if (message.response.target === me) for (const item of message.response.items) await this.#store(item, from);
        break;
      case 'announce':
        await this.#onAnnounce(message, from);
        break;
      // Calibration (proof of capability): only the addressed node acts; the field decides what to do.
      case 'calibration-task':
        if (message.task.target === me) this.#deps.onCalibrationTask?.({ sender: message.sender, task: message.task });
        break;
      case 'calibration-answer':
        if (message.answer.target === me) this.#deps.onCalibrationAnswer?.({ sender: message.sender, answer: message.answer });
        break;
    }
  }

  /** Sets a member a calibration task (the expected answer stays on this device). */
  async sendCalibrationTask(task: CalibrationTaskBody): Promise<boolean> {
    if (!this.#node || !this.#keyring) return false;
    const { recipients } = await this.#publish({ type: 'calibration-task', task });
    return recipients > 0;
  }

  /** Answers a member's calibration task. */
  async sendCalibrationAnswer(answer: CalibrationAnswerBody): Promise<boolean> {
    if (!this.#node || !this.#keyring) return false;
    const { recipients } = await this.#publish({ type: 'calibration-answer', answer });
    return recipients > 0;
  }

  async #store(item: VerifiedItem, via: string): Promise<void> {
    const table = this.#deps.db().table<StoredItem, string>('netItems');
    if (await table.get(item.itemId)) return;
    await table.put({ itemId: item.itemId, time: item.time, kind: item.kind, authorId: item.authorId, item: JSON.stringify(item.item), receivedAt: this.#deps.now(), via });
    this.#verified.set(item.itemId, item);
    if (via !== 'self') this.#deps.onItem?.(item);
    this.#deps.onStored?.(item, via);
    this.#deps.onChange();
  }

  /**
   * Items verified in this session, by item id: a stored row is verified
   * once when read back (defence against a damaged or altered database),
   * not on every reconciliation.
   */
  #verified = new Map<string, VerifiedItem>();

  async #held(): Promise<VerifiedItem[]> {
    const m = this.#require();
    return this.#readHeld(m.networkId);
  }

  async #readHeld(networkId: string): Promise<VerifiedItem[]> {
    const rows = await this.#deps.db().table<StoredItem, string>('netItems').orderBy('time').toArray();
    const out: VerifiedItem[] = [];
    for (const row of rows) {
      const cached = this.#verified.get(row.itemId);
      if (cached) {
        out.push(cached);
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(row.item);
      } catch {
        continue;
      }
      const check = verifyItem(networkId, raw);
      if (check.ok) {
        this.#verified.set(row.itemId, check.verified);
        out.push(check.verified);
      }
    }
    return out;
  }

  /**
   * Every signed item held (own and received), verified, in item-time order:
   * what the Collective Context Field is built from. Empty outside a network
   * (items of a network left stay stored as history, but signatures bind
   * them to their network id, which is gone with the membership).
   */
  async heldItems(): Promise<VerifiedItem[]> {
    const m = this.#membership;
    return m ? this.#readHeld(m.networkId) : [];
  }

  /** Members connected now (cheap: no storage read). */
  peerCount(): number {
    return this.#node?.peers().length ?? 0;
  }

  /** Display names members announced (untrusted text), by node id. */
  memberNames(): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (const member of this.#members.values()) out.set(member.nodeId, member.displayName);
    return out;
  }

  /** This node's id in the field. */
  async selfId(): Promise<string> {
    return (await this.#deps.identity()).nodeId;
  }

  /** When we last asked each peer for what we lack. */
  #lastSync = new Map<string, number>();

  /**
   * Asks a member for what we lack: on its first presence announce after it
   * joined, and again at most every RESYNC_MS while it announces (gossip is
   * at-most-once, so a request or an answer can be lost).
   */
  async #syncWith(peerId: string): Promise<void> {
    const member = this.#members.get(peerId);
    if (!member || !this.#membership) return;
    const last = this.#lastSync.get(peerId);
    if (last !== undefined && this.#deps.now() - last < RESYNC_MS) return;
    this.#lastSync.set(peerId, this.#deps.now());
    const held = await this.#held();
    const requests = planSyncRequests(held.map((h) => ({ itemId: h.itemId, time: h.time })), { target: member.nodeId, since: 0 });
    for (const request of requests) await this.#publish({ type: 'sync-request', request }).catch(() => undefined);
  }

  async #answer(request: SyncRequestBody, requester: string, nonce: string): Promise<void> {
    const held = await this.#held();
    const revoked = new Set(this.#membership?.revoked ?? []);
    const pages = answerSyncRequest(request, held, { requester, inReplyTo: nonce, isRevoked: (id) => revoked.has(id) });
    for (const response of pages) await this.#publish({ type: 'sync-response', response }).catch(() => undefined);
  }

  async #onAnnounce(message: InboundMessage & { type: 'announce' }, from: string): Promise<void> {
    const announce = message.announce;
    if (announce.kind === 'presence') {
      this.#members.set(from, { nodeId: message.sender, displayName: announce.displayName ?? null, exchangeKey: fromBase64Url(announce.exchangeKey) });
      void this.#syncWith(from);
    } else if (announce.kind === 'leave') {
      for (const [peer, info] of this.#members) if (info.nodeId === message.sender) this.#members.delete(peer);
    } else if (announce.kind === 'rotation') {
      const m = this.#require();
      const outcome = await openRotation(announce, { networkId: m.networkId, self: (await this.#deps.identity()).nodeId, agree: x25519Agreement(m.exchangeSecret), subtle: subtle() });
      if (outcome.ok) await this.#adoptKey(outcome.epoch, outcome.networkKey, outcome.removed);
    }
    this.#deps.onChange();
  }

  async #adoptKey(epoch: number, networkKey: Uint8Array, removed: string[]): Promise<void> {
    const m = this.#require();
    const key = await deriveEnvelopeKey(subtle(), networkKey, m.networkId, epoch);
    this.#keyring?.rotate(epoch, key, this.#deps.now(), ROTATION_GRACE_MS);
    await this.#saveMembership({ ...m, epoch, networkKey, revoked: [...new Set([...m.revoked, ...removed])] });
    this.#deps.onChange();
  }

  // -------------------------------------------------------------------------
  // Discovery: the transport's announcement travels inside a sealed presence envelope.

  async #wrapPresence(payload: Uint8Array): Promise<Uint8Array> {
    const m = this.#require();
    // Our own transport's announcement: its addresses go into the presence announce.
    const own = this.#node?.peerId;
    const decoded = own && this.#p2p ? this.#p2p.decodeAnnouncement(payload, own) : null;
    const addrs = decoded?.ok ? decoded.value.addrs : [];
    const name = this.#deps.displayName().trim().slice(0, 64);
    const bytes = await sealEnvelope(
      { type: 'announce', announce: { kind: 'presence', exchangeKey: toBase64Url(m.exchangePublic), addrs: addrs.slice(0, 8), ...(name ? { displayName: name } : {}) } },
      { networkId: m.networkId, epoch: this.#keyring!.currentEpoch, key: this.#keyring!.currentKey, identity: await this.#deps.identity(), now: this.#deps.now, randomBytes, subtle: subtle() },
    );
    return bytes;
  }

  async #unwrapPresence(bytes: Uint8Array, from: string): Promise<Uint8Array | null> {
    const message = await this.#open(bytes);
    if (!message || message.type !== 'announce') return null;
    await this.#onAnnounce(message, from);
    if (message.announce.kind !== 'presence') return null;
    return this.#p2p ? this.#p2p.encodeAnnouncement({ peer: from, addrs: message.announce.addrs, known: [], ts: message.sentAt }) : null;
  }

  async #saveMembership(m: Membership): Promise<void> {
    await this.#deps.db().table('membership').put(m);
    this.#membership = m;
  }

  #require(): Membership {
    if (!this.#membership) throw new NotAMemberError();
    return this.#membership;
  }
}
