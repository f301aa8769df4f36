import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, validateBackoff } from '../../src/services/p2p/backoff';

describe('P2P backoff', () => {
  const o = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };

  it('grows exponentially up to the ceiling without jitter at random() = 0', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, o, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(backoffDelay(10_000, o, () => 0)).toBe(1_000); // no overflow to NaN
  });

  it('jitter takes up to its share off the delay', () => {
    expect(backoffDelay(2, o, () => 1)).toBe(200);
    expect(backoffDelay(2, o, () => 0.5)).toBe(300);
    const spread = new Set(Array.from({ length: 200 }, () => backoffDelay(3, o)));
    expect(spread.size).toBeGreaterThan(50);
    for (const d of spread) {
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it('validates its options', () => {
    expect(validateBackoff(DEFAULT_BACKOFF)).toBeNull();
    expect(validateBackoff({ ...o, initialMs: 0 })).toMatch(/initialMs/);
    expect(validateBackoff({ ...o, maxMs: 50 })).toMatch(/maxMs/);
    expect(validateBackoff({ ...o, factor: 0.5 })).toMatch(/factor/);
    expect(validateBackoff({ ...o, jitter: 2 })).toMatch(/jitter/);
  });
});
