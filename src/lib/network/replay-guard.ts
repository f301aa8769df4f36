/**
 * Replay protection: a timestamp window plus a bounded memory of the nonces
 * each sender used inside it.
 *
 * An envelope is fresh when its `sentAt` lies in [now - maxAgeMs,
 * now + maxFutureMs]; outside it is 'stale', so the memory only has to cover
 * the window. Inside it, a (sender, nonce) pair seen before is a 'replay'.
 *
 * Memory is bounded twice (per sender and in senders), because a member can
 * mint identities. When an entry has to be forgotten early, the guard keeps
 * a floor instead: the newest `sentAt` it forgot. Anything at or below the
 * floor is treated as a replay, since the guard can no longer tell. So
 * eviction can make the guard refuse an honest late message, never accept a
 * replayed one. Only envelopes that decrypted (sent by key holders) are
 * remembered, so outsiders cannot push the floor up.
 */
import type { NodeId } from '../ccf/vote';

export interface ReplayWindow {
  /** Oldest accepted age of an envelope (ms). */
  maxAgeMs: number;
  /** How far in the future `sentAt` may be (clock skew between browsers, ms). */
  maxFutureMs: number;
}

export const DEFAULT_REPLAY_WINDOW: ReplayWindow = { maxAgeMs: 10 * 60_000, maxFutureMs: 5 * 60_000 };
export const DEFAULT_NONCES_PER_SENDER = 4096;
export const DEFAULT_MAX_SENDERS = 1024;

export type Freshness = 'fresh' | 'stale' | 'replay';

export class ReplayGuard {
  readonly window: ReplayWindow;
  private readonly noncesPerSender: number;
  private readonly maxSenders: number;
  /** sender → nonce → sentAt; Map order is insertion order, used as LRU over senders. */
  private readonly seen = new Map<NodeId, Map<string, number>>();
  private readonly floors = new Map<NodeId, number>();
  private globalFloor = Number.NEGATIVE_INFINITY;

  constructor(options: { window?: ReplayWindow; noncesPerSender?: number; maxSenders?: number } = {}) {
    this.window = options.window ?? DEFAULT_REPLAY_WINDOW;
    this.noncesPerSender = options.noncesPerSender ?? DEFAULT_NONCES_PER_SENDER;
    this.maxSenders = options.maxSenders ?? DEFAULT_MAX_SENDERS;
  }

  /** Whether an envelope would be accepted now; remembers nothing. */
  check(sender: NodeId, nonce: string, sentAt: number, now: number): Freshness {
    if (sentAt < now - this.window.maxAgeMs || sentAt > now + this.window.maxFutureMs) return 'stale';
    if (sentAt <= this.globalFloor || sentAt <= (this.floors.get(sender) ?? Number.NEGATIVE_INFINITY)) return 'replay';
    return this.seen.get(sender)?.has(nonce) ? 'replay' : 'fresh';
  }

  /** Checks and remembers in one step (false: seen meanwhile, or no longer fresh). */
  remember(sender: NodeId, nonce: string, sentAt: number, now: number): boolean {
    if (this.check(sender, nonce, sentAt, now) !== 'fresh') return false;
    let nonces = this.seen.get(sender);
    if (nonces === undefined) {
      nonces = new Map();
    } else {
      this.seen.delete(sender); // re-inserted below: most recently used last
    }
    this.seen.set(sender, nonces);
    this.prune(nonces, now);
    nonces.set(nonce, sentAt);
    if (nonces.size > this.noncesPerSender) this.forgetOldest(sender, nonces);
    if (this.seen.size > this.maxSenders) this.forgetSender();
    return true;
  }

  /** Senders currently remembered (for tests and metrics). */
  get senders(): number {
    return this.seen.size;
  }

  private prune(nonces: Map<string, number>, now: number): void {
    const oldest = now - this.window.maxAgeMs;
    for (const [nonce, sentAt] of nonces) if (sentAt < oldest) nonces.delete(nonce);
  }

  private forgetOldest(sender: NodeId, nonces: Map<string, number>): void {
    let oldestNonce: string | undefined;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const [nonce, sentAt] of nonces) {
      if (sentAt < oldestAt) {
        oldestAt = sentAt;
        oldestNonce = nonce;
      }
    }
    if (oldestNonce === undefined) return;
    nonces.delete(oldestNonce);
    this.floors.set(sender, Math.max(this.floors.get(sender) ?? Number.NEGATIVE_INFINITY, oldestAt));
    if (this.floors.size > this.maxSenders) {
      const [first, floor] = this.floors.entries().next().value as [NodeId, number];
      this.floors.delete(first);
      this.globalFloor = Math.max(this.globalFloor, floor);
    }
  }

  private forgetSender(): void {
    const [sender, nonces] = this.seen.entries().next().value as [NodeId, Map<string, number>];
    this.seen.delete(sender);
    let newest = this.floors.get(sender) ?? Number.NEGATIVE_INFINITY;
    for (const sentAt of nonces.values()) newest = Math.max(newest, sentAt);
    this.floors.delete(sender);
    this.globalFloor = Math.max(this.globalFloor, newest);
  }
}
