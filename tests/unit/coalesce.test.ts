import { afterEach, describe, expect, it, vi } from 'vitest';
import { coalesce } from '../../src/state/coalesce';

afterEach(() => vi.useRealTimers());

describe('coalesce', () => {
  it('runs once per burst, after the delay from the first call', () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const c = coalesce(run, 500);
    c.schedule();
    vi.advanceTimersByTime(300);
    c.schedule();
    c.schedule();
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(run).toHaveBeenCalledTimes(1);
    c.schedule();
    vi.advanceTimersByTime(500);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('cancel drops a pending run', () => {
    vi.useFakeTimers();
    const run = vi.fn();
    const c = coalesce(run, 500);
    c.schedule();
    c.cancel();
    vi.advanceTimersByTime(1_000);
    expect(run).not.toHaveBeenCalled();
  });
});
