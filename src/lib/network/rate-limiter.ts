/**
 * Per-peer rate limits: a token bucket per sender node id.
 *
 * Keyed by the signed sender, not by the libp2p connection, because gossip
 * relays other members' envelopes: the connection that delivered a message
 * is rarely its author. (Connection-level flooding is gossipsub's own peer
 * scoring's business.) A bucket holds `burst` tokens and refills at
 * `perSecond`; each envelope costs its type's cost. Reconciliation pages cost
 * less than gossip because an answer to one request arrives as a burst of
 * pages by design.
 *
 * The table of buckets is bounded (least recently used goes first); a
 * forgotten sender comes back with a full bucket, which is why the bound is
 * generous.
 */
import type { NodeId } from '../ccf/vote';
import type { EnvelopeType } from './message-bodies';

export interface RateLimits {
  burst: number;
  perSecond: number;
  cost: Readonly<Record<EnvelopeType, number>>;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  burst: 64,
  perSecond: 8,
  cost: { artifact: 1, vote: 1, 'sync-request': 2, 'sync-response': 0.5, announce: 1, 'calibration-task': 1, 'calibration-answer': 1 },
};
export const DEFAULT_MAX_BUCKETS = 4096;

export class RateLimiter {
  readonly limits: RateLimits;
  private readonly maxBuckets: number;
  private readonly buckets = new Map<NodeId, { tokens: number; at: number }>();

  constructor(limits: RateLimits = DEFAULT_RATE_LIMITS, maxBuckets = DEFAULT_MAX_BUCKETS) {
    this.limits = limits;
    this.maxBuckets = maxBuckets;
  }

  /** Takes the cost of one envelope of `type` from `sender`'s bucket; false when it cannot pay (the envelope is dropped). */
  take(sender: NodeId, type: EnvelopeType, now: number): boolean {
    const cost = this.limits.cost[type];
    const bucket = this.buckets.get(sender) ?? { tokens: this.limits.burst, at: now };
    this.buckets.delete(sender);
    // A clock going backwards refills nothing rather than draining.
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(this.limits.burst, bucket.tokens + elapsed * this.limits.perSecond);
    bucket.at = Math.max(bucket.at, now);
    this.buckets.set(sender, bucket);
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as NodeId);
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }
}
