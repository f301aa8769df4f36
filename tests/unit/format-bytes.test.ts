/** Byte counts as people read them (decimal units, like browsers' storage settings). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatBytes } from '../../src/lib/data/format-bytes';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [999, '999 B'],
    [1000, '1 kB'],
    [1234, '1.2 kB'],
    [9_949, '9.9 kB'],
    [9_960, '10 kB'],
    [15_500, '16 kB'],
    [999_499, '999 kB'],
    [999_999, '1 MB'],
    [80_000_000, '80 MB'],
    [1_500_000_000, '1.5 GB'],
    [2.5e12, '2.5 TB'],
    [3e18, '3000 PB'],
  ])('%d bytes -> %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('says "unknown" for things that are not sizes', () => {
    for (const value of [-1, Number.NaN, Infinity, -Infinity]) expect(formatBytes(value)).toBe('unknown');
  });

  it('never shows 1000 or more of a unit below the largest, nor a trailing .0', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e15, noNaN: true }), (bytes) => {
        const text = formatBytes(bytes);
        expect(text).toMatch(/^\d+(\.\d)? (B|kB|MB|GB|TB|PB)$/);
        expect(text).not.toMatch(/\.0 /);
        const value = Number(text.split(' ')[0]);
        expect(value).toBeLessThan(1000);
      }),
    );
  });
});
