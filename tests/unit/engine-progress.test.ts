import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteProgress, estimateEtaSeconds, phaseProgress } from '../../src/lib/engine/progress';

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ByteProgress', () => {
  it('sums bytes over files as they are discovered', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now });
    p.update('config.json', 500, 500);
    p.update('model.onnx', 1_000, 9_500);
    const s = p.snapshot('Downloading model.onnx');
    expect(s).toMatchObject({ phase: 'download', loadedBytes: 1_500, totalBytes: 10_000, detail: 'Downloading model.onnx' });
    expect(s.fraction).toBeCloseTo(0.15);
  });

  it('uses the expected total until the discovered files add up to more', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now, expectedTotalBytes: 8_000 });
    p.update('a', 1_000, 2_000);
    expect(p.snapshot('').totalBytes).toBe(8_000);
    expect(p.snapshot('').fraction).toBeCloseTo(1_000 / 8_000);
    p.update('b', 0, 7_000);
    expect(p.snapshot('').totalBytes).toBe(9_000);
  });

  it('reaches exactly 1 when finished, even if the estimate was too high', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now, expectedTotalBytes: 10_000 });
    p.update('a', 3_000, 3_000);
    p.update('b', 2_000, 4_000);
    p.finish();
    const s = p.snapshot('');
    expect(s.loadedBytes).toBe(7_000);
    expect(s.totalBytes).toBe(7_000);
    expect(s.fraction).toBe(1);
    expect(s.etaSeconds).toBe(0);
  });

  it('never lets counts go backwards or become invalid', () => {
    const p = new ByteProgress({ now: clock().now });
    p.update('a', 5_000, 10_000);
    p.update('a', 1_000, 10_000);
    p.update('b', Number.NaN, -5);
    expect(p.loadedBytes).toBe(5_000);
    expect(p.totalBytes).toBe(10_000);
  });

  it('has no ETA until enough time has passed to measure a rate', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now, minSpanMs: 1_000 });
    p.update('a', 0, 10_000);
    c.advance(100);
    p.update('a', 100, 10_000);
    expect(p.snapshot('').etaSeconds).toBeNull();
  });

  it('estimates the ETA from the recent rate', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now, windowMs: 5_000 });
    p.update('a', 0, 100_000);
    for (let i = 1; i <= 10; i++) {
      c.advance(1_000);
      p.update('a', i * 1_000, 100_000); // 1,000 B/s
    }
    const s = p.snapshot('');
    expect(s.etaSeconds).toBeCloseTo(90, 0);
  });

  it('follows a change of speed within the window, not the average since the start', () => {
    const c = clock();
    const p = new ByteProgress({ now: c.now, windowMs: 3_000 });
    let loaded = 0;
    p.update('a', 0, 1_000_000);
    for (let i = 0; i < 20; i++) {
      c.advance(1_000);
      loaded += 1_000; // slow: 1 kB/s
      p.update('a', loaded, 1_000_000);
    }
    for (let i = 0; i < 10; i++) {
      c.advance(1_000);
      loaded += 10_000; // fast: 10 kB/s
      p.update('a', loaded, 1_000_000);
    }
    expect(p.rate()).toBeCloseTo(10_000, -2);
    const eta = p.snapshot('').etaSeconds;
    expect(eta).not.toBeNull();
    expect(eta!).toBeCloseTo((1_000_000 - loaded) / 10_000, 0);
  });

  it('keeps the fraction within [0, 1] and loaded <= total for any sequence of updates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(1e9), fc.nat(1e9), fc.nat(10_000)), { maxLength: 50 }),
        fc.nat(1e9),
        (updates, expected) => {
          const c = clock();
          const p = new ByteProgress({ now: c.now, expectedTotalBytes: expected });
          for (const [file, loaded, total, dt] of updates) {
            c.advance(dt);
            p.update(file, loaded, total);
            const s = p.snapshot('');
            if (s.fraction !== null && (s.fraction < 0 || s.fraction > 1)) return false;
            if (s.loadedBytes > s.totalBytes) return false;
            if (s.etaSeconds !== null && !(s.etaSeconds >= 0)) return false;
          }
          return true;
        },
      ),
    );
  });
});

describe('estimateEtaSeconds', () => {
  it('is null without a rate, a total, or movement', () => {
    expect(estimateEtaSeconds(null, 100, true)).toBeNull();
    expect(estimateEtaSeconds(100, 100, false)).toBeNull();
    expect(estimateEtaSeconds(0, 100, true)).toBeNull();
  });
  it('divides what is left by the rate', () => {
    expect(estimateEtaSeconds(50, 100, true)).toBe(2);
    expect(estimateEtaSeconds(50, 0, true)).toBe(0);
  });
});

describe('phaseProgress', () => {
  it('describes a phase without byte counts', () => {
    expect(phaseProgress('self-test', 'Testing', 42)).toEqual({
      phase: 'self-test',
      loadedBytes: 42,
      totalBytes: 42,
      fraction: null,
      etaSeconds: null,
      detail: 'Testing',
    });
  });
});
