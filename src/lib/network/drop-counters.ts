/**
 * Why inbound envelopes were dropped, counted by reason, for the network
 * view and the metrics. The reasons are a closed set (docs/PROTOCOL.md,
 * "Drop reasons"), listed in the order the inbound pipeline checks them.
 */

export const DROP_REASONS = [
  'oversize',
  'malformed',
  'version',
  'wrong-network',
  'node-id-mismatch',
  'bad-signature',
  'revoked',
  'stale',
  'replay',
  'rate-limited',
  'decrypt-failed',
  'body-invalid',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export type DropCounts = Record<DropReason, number>;

export class DropCounters {
  private readonly counts: DropCounts = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounts;

  count(reason: DropReason): void {
    this.counts[reason] += 1;
  }

  get total(): number {
    return DROP_REASONS.reduce((n, r) => n + this.counts[r], 0);
  }

  /** A copy, safe to hand to the UI or across a worker boundary. */
  snapshot(): DropCounts {
    return { ...this.counts };
  }
}
