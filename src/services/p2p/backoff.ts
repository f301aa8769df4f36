/**
 * Exponential backoff with jitter, for redialling the relay and peers.
 *
 * delay(attempt) = min(maxMs, initialMs · factor^attempt), then scaled by a
 * random factor in [1 − jitter, 1]: with jitter 0.5 a delay of 8 s becomes
 * anything between 4 and 8 s. The randomness spreads the reconnections of
 * many browsers after a relay restart, so they do not all arrive in the same
 * instant (the relay also limits new connections per IP and second).
 */
export interface BackoffOptions {
  /** Delay before the first retry (ms). */
  initialMs: number;
  /** Ceiling on any delay (ms). */
  maxMs: number;
  /** Growth per attempt (≥ 1). */
  factor: number;
  /** Share of the delay that is random, 0 (none) to 1 (anything from 0 to the delay). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.5 };

export function validateBackoff(o: BackoffOptions): string | null {
  if (!(o.initialMs > 0) || !Number.isFinite(o.initialMs)) return 'initialMs must be a positive number';
  if (!(o.maxMs >= o.initialMs) || !Number.isFinite(o.maxMs)) return 'maxMs must be at least initialMs';
  if (!(o.factor >= 1) || !Number.isFinite(o.factor)) return 'factor must be at least 1';
  if (!(o.jitter >= 0 && o.jitter <= 1)) return 'jitter must lie between 0 and 1';
  return null;
}

/** Delay before retry number `attempt` (0 = the first retry), in whole ms. */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(attempt));
  // factor^n overflows to Infinity for large n; min() keeps it at maxMs.
  const base = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor, n));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - o.jitter * r));
}
