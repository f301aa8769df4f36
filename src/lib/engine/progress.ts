/**
 * Download progress in bytes, aggregated over a model's files, with an ETA.
 *
 * Libraries report progress per file ("tokenizer.json: 64 KiB of 2 MiB") and
 * learn about files one at a time, so the total grows as loading goes on. An
 * expected total (the catalogue's download size) keeps the fraction from
 * jumping back while files are still being discovered.
 *
 * The rate is measured over a sliding window rather than since the start, so
 * the ETA follows the connection as it is now (a cached file that arrives
 * instantly, or a stall, stops skewing it after a few seconds).
 *
 * Pure: the clock is passed in.
 */
import type { LoadProgress } from './contract';

export interface ByteProgressOptions {
  /** Milliseconds, monotonic (performance.now in the app, a fake in tests). */
  now: () => number;
  /** What the whole download should come to, if known in advance (bytes). */
  expectedTotalBytes?: number;
  /** Width of the window the rate is measured over, ms. */
  windowMs?: number;
  /** No ETA until the window spans at least this long, ms: early rates are noise. */
  minSpanMs?: number;
}

interface Sample {
  at: number;
  loaded: number;
}

export class ByteProgress {
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #minSpanMs: number;
  #expected: number;
  readonly #files = new Map<string, { loaded: number; total: number }>();
  #samples: Sample[] = [];

  constructor(options: ByteProgressOptions) {
    this.#now = options.now;
    this.#expected = Math.max(0, options.expectedTotalBytes ?? 0);
    this.#windowMs = options.windowMs ?? 5000;
    this.#minSpanMs = options.minSpanMs ?? 750;
  }

  /** Records a file's progress. `total` 0 means unknown; counts never go backwards. */
  update(file: string, loaded: number, total: number): void {
    const prev = this.#files.get(file);
    const safeLoaded = Math.max(prev?.loaded ?? 0, finiteOrZero(loaded));
    const safeTotal = Math.max(prev?.total ?? 0, finiteOrZero(total));
    this.#files.set(file, { loaded: safeLoaded, total: safeTotal });
    this.#sample();
  }

  /** Marks a file complete (its loaded bytes become its total). */
  complete(file: string): void {
    const prev = this.#files.get(file);
    if (!prev) return;
    const size = Math.max(prev.loaded, prev.total);
    this.#files.set(file, { loaded: size, total: size });
    this.#sample();
  }

  /** All files are known and done: drop the estimate so the fraction reaches 1. */
  finish(): void {
    this.#expected = 0;
    for (const file of this.#files.keys()) this.complete(file);
  }

  get loadedBytes(): number {
    let sum = 0;
    for (const f of this.#files.values()) sum += f.loaded;
    return sum;
  }

  get totalBytes(): number {
    let sum = 0;
    for (const f of this.#files.values()) sum += Math.max(f.total, f.loaded);
    return Math.max(sum, this.#expected);
  }

  /** Bytes per second over the window, or null while there is too little history. */
  rate(): number | null {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last) return null;
    const span = last.at - first.at;
    if (span < this.#minSpanMs) return null;
    return ((last.loaded - first.loaded) / span) * 1000;
  }

  snapshot(detail: string): LoadProgress {
    const loaded = this.loadedBytes;
    const total = this.totalBytes;
    const fraction = total > 0 ? Math.min(1, loaded / total) : null;
    return {
      phase: 'download',
      loadedBytes: loaded,
      totalBytes: total,
      fraction,
      etaSeconds: estimateEtaSeconds(this.rate(), total - loaded, total > 0),
      detail,
    };
  }

  #sample(): void {
    const at = this.#now();
    this.#samples.push({ at, loaded: this.loadedBytes });
    // Keep one sample older than the window as its left edge, so the rate always spans the full window.
    while (this.#samples.length > 2) {
      const second = this.#samples[1];
      if (second === undefined || at - second.at < this.#windowMs) break;
      this.#samples.shift();
    }
  }
}

/** Seconds left at `bytesPerSecond`; null when the rate or the total is unknown, or nothing is moving. */
export function estimateEtaSeconds(bytesPerSecond: number | null, remainingBytes: number, totalKnown: boolean): number | null {
  if (!totalKnown) return null;
  if (remainingBytes <= 0) return 0;
  if (bytesPerSecond === null || !(bytesPerSecond > 0)) return null;
  return remainingBytes / bytesPerSecond;
}

/** Progress for a phase with no byte counts (initialising, self-test). */
export function phaseProgress(phase: 'initialise' | 'self-test', detail: string, bytes = 0): LoadProgress {
  return { phase, loadedBytes: bytes, totalBytes: bytes, fraction: null, etaSeconds: null, detail };
}

function finiteOrZero(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
