/**
 * 1-bit sign codes for embeddings: packing, unpacking, Hamming distance and a
 * flat store of many codes.
 *
 * Two users share this module: the retrieval index (a Hamming prefilter over
 * every stored memory/chunk/artifact before exact re-ranking) and the
 * BitDelta-style artifact codec (DESIGN.md 2.4: 384 sign bits plus one scale,
 * 52 bytes instead of 1,536). Keeping both on the same bit layout means an
 * artifact's wire code can be dropped into the index as is. Pure: no DOM, no
 * storage, no randomness.
 *
 * Layout (fixed, because it travels on the wire): component i of the vector is
 * bit (i % 32) of word floor(i / 32), least significant bit first. Serialised
 * little-endian (`codeToBytes`) this is also "bit i % 8 of byte floor(i / 8)",
 * so the byte form does not depend on the host's endianness.
 *
 * Tie rule: the bit is 1 when the component is strictly greater than 0; 0, -0
 * and NaN give 0. Exact zeros are vanishingly rare in float embeddings, and one
 * fixed rule keeps codes reproducible across implementations.
 */

/** Bits in one storage word; dimensions must be a multiple of it. */
export const WORD_BITS = 32;

/** Number of 32-bit words a code of `dimension` bits needs (384 -> 12, i.e. 48 bytes). */
export function wordsForDimension(dimension: number): number {
  if (!Number.isInteger(dimension) || dimension <= 0 || dimension % WORD_BITS !== 0) {
    throw new RangeError(`sign-bits: dimension must be a positive multiple of ${WORD_BITS}, got ${dimension}`);
  }
  // Distances are kept in Uint16Array by the store's scan.
  if (dimension > 0xffff) throw new RangeError(`sign-bits: dimension ${dimension} is above the supported 65535`);
  return dimension / WORD_BITS;
}

/**
 * Packs the signs of `vector` (length = dimension) into `out` starting at word
 * `offset` (a fresh array when `out` is omitted). Returns `out`.
 */
export function packSigns(vector: ArrayLike<number>, out?: Uint32Array, offset = 0): Uint32Array {
  const words = wordsForDimension(vector.length);
  const target = out ?? new Uint32Array(words);
  if (offset < 0 || offset + words > target.length) {
    throw new RangeError(`sign-bits: no room for ${words} words at offset ${offset} in an array of ${target.length}`);
  }
  for (let w = 0; w < words; w++) {
    const base = w * WORD_BITS;
    let word = 0;
    for (let b = 0; b < WORD_BITS; b++) {
      // `> 0` is the tie rule: 0, -0 and NaN all give a 0 bit.
      if ((vector[base + b] as number) > 0) word |= 1 << b;
    }
    target[offset + w] = word >>> 0;
  }
  return target;
}

/**
 * The ±1 vector a code stands for (bit 1 -> +1, bit 0 -> -1), `dimension`
 * long. Multiply by a scale (see `signScale`) to approximate the original.
 */
export function unpackSigns(code: Uint32Array, dimension: number, out?: Float32Array, offset = 0): Float32Array {
  const words = wordsForDimension(dimension);
  if (offset < 0 || offset + words > code.length) {
    throw new RangeError(`sign-bits: a ${dimension}-dim code needs ${words} words at offset ${offset}, the array has ${code.length}`);
  }
  const target = out ?? new Float32Array(dimension);
  if (target.length !== dimension) {
    throw new RangeError(`sign-bits: output has length ${target.length}, expected ${dimension}`);
  }
  for (let w = 0; w < words; w++) {
    const word = code[offset + w] as number;
    for (let b = 0; b < WORD_BITS; b++) target[w * WORD_BITS + b] = (word >>> b) & 1 ? 1 : -1;
  }
  return target;
}

/**
 * The scale that makes `scale * unpackSigns(code)` the closest sign-code
 * approximation of `vector` in L2: the mean absolute component (BitDelta's
 * choice). For a unit vector in 384 dims it is about 0.04.
 */
export function signScale(vector: ArrayLike<number>): number {
  if (vector.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += Math.abs(vector[i] as number);
  return sum / vector.length;
}

/**
 * Set bits in a 32-bit word, SWAR style (bit counts of pairs, nibbles, bytes,
 * then a multiply sums the four bytes). No branches and no memory access, so
 * it stays in registers inside the scan; the benchmark compares it with a
 * byte lookup table.
 */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Hamming distance between `words` words of `a` (from `aOffset`) and `b`
 * (from `bOffset`).
 *
 * The per-byte counts of several words are added before one final horizontal
 * sum: each byte gains at most 8 per word, so up to 31 words fit in a byte
 * without overflow. That saves the horizontal sum per word; longer codes are
 * folded every 31 words.
 */
export function hammingWords(a: Uint32Array, aOffset: number, b: Uint32Array, bOffset: number, words: number): number {
  let total = 0;
  let bytes = 0;
  for (let w = 0, chunk = 0; w < words; w++) {
    let x = (a[aOffset + w] as number) ^ (b[bOffset + w] as number);
    x = x - ((x >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    bytes += (x + (x >>> 4)) & 0x0f0f0f0f;
    if (++chunk === 31) {
      total += sumBytes(bytes);
      bytes = 0;
      chunk = 0;
    }
  }
  return total + sumBytes(bytes);
}

/**
 * Sum of the four bytes of x. The usual `imul(x, 0x01010101) >>> 24` is only
 * right while the sum stays below 256 (7 full words); codes are 12 words, so the
 * bytes are first paired into 16-bit halves, which hold up to 65535.
 */
function sumBytes(x: number): number {
  x = (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff);
  return (x & 0xffff) + (x >>> 16);
}

/** Hamming distance between two whole codes of equal length. */
export function hamming(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) {
    throw new RangeError(`sign-bits: codes differ in length (${a.length} and ${b.length} words)`);
  }
  return hammingWords(a, 0, b, 0, a.length);
}

/**
 * Little-endian bytes of a code (48 bytes for 384 dims): the wire form, which
 * is the same on every host.
 */
export function codeToBytes(code: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(code.length * 4);
  const view = new DataView(bytes.buffer);
  for (let w = 0; w < code.length; w++) view.setUint32(w * 4, code[w] as number, true);
  return bytes;
}

/** Inverse of `codeToBytes`; checks the length against the dimension. */
export function codeFromBytes(bytes: Uint8Array, dimension: number): Uint32Array {
  const words = wordsForDimension(dimension);
  if (bytes.length !== words * 4) {
    throw new RangeError(`sign-bits: a ${dimension}-dim code is ${words * 4} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const code = new Uint32Array(words);
  for (let w = 0; w < words; w++) code[w] = view.getUint32(w * 4, true);
  return code;
}

/**
 * Many codes of one dimension in one Uint32Array, slot after slot, so a scan
 * reads memory strictly in order (48 bytes per 384-dim code: 4.8 MB for
 * 100,000). Slots are dense (0..size-1); callers map their ids to slots.
 * Grows by doubling.
 */
export class PackedSignStore {
  readonly dimension: number;
  readonly wordsPerCode: number;
  private data: Uint32Array;
  private count = 0;

  constructor(dimension: number, initialCapacity = 64) {
    this.wordsPerCode = wordsForDimension(dimension);
    this.dimension = dimension;
    this.data = new Uint32Array(Math.max(1, Math.ceil(initialCapacity)) * this.wordsPerCode);
  }

  /** Number of codes held. */
  get size(): number {
    return this.count;
  }

  /** Slots available before the next growth. */
  get capacity(): number {
    return this.data.length / this.wordsPerCode;
  }

  /** Bytes taken by the codes held (not the spare capacity). */
  get byteLength(): number {
    return this.count * this.wordsPerCode * 4;
  }

  /** The backing words of slots 0..size-1 (a view, not a copy). */
  get words(): Uint32Array {
    return this.data.subarray(0, this.count * this.wordsPerCode);
  }

  /** Packs `vector` into a new last slot and returns that slot. */
  push(vector: ArrayLike<number>): number {
    this.checkDimension(vector.length);
    if (this.count === this.capacity) this.grow();
    packSigns(vector, this.data, this.count * this.wordsPerCode);
    return this.count++;
  }

  /** Appends an already packed code (e.g. one received on the wire). */
  pushCode(code: Uint32Array): number {
    if (code.length !== this.wordsPerCode) {
      throw new RangeError(`sign-bits: code has ${code.length} words, the store holds ${this.wordsPerCode}`);
    }
    if (this.count === this.capacity) this.grow();
    this.data.set(code, this.count * this.wordsPerCode);
    return this.count++;
  }

  /** Re-packs slot `slot` from `vector`. */
  set(slot: number, vector: ArrayLike<number>): void {
    this.checkSlot(slot);
    this.checkDimension(vector.length);
    packSigns(vector, this.data, slot * this.wordsPerCode);
  }

  /** The code in `slot` (a view into the store; copy it to keep it). */
  code(slot: number): Uint32Array {
    this.checkSlot(slot);
    return this.data.subarray(slot * this.wordsPerCode, (slot + 1) * this.wordsPerCode);
  }

  /**
   * Removes `slot` by moving the last code into it (O(words), keeps slots
   * dense). Returns the slot whose code moved (the old last slot), or -1
   * when `slot` was the last one; callers update their id -> slot maps.
   */
  swapRemove(slot: number): number {
    this.checkSlot(slot);
    const last = this.count - 1;
    if (slot !== last) {
      const w = this.wordsPerCode;
      this.data.copyWithin(slot * w, last * w, (last + 1) * w);
    }
    this.count = last;
    return slot === last ? -1 : last;
  }

  /**
   * Hamming distance from `query` to every code, in slot order, into `out`
   * (reused when it is large enough). One sequential pass over the store.
   */
  hammingScan(query: Uint32Array, out?: Uint16Array): Uint16Array {
    const w = this.wordsPerCode;
    if (query.length !== w) throw new RangeError(`sign-bits: query has ${query.length} words, the store holds ${w}`);
    const n = this.count;
    const distances = out && out.length >= n ? out : new Uint16Array(n);
    if (w === 12) scan384(this.data, n, query, distances);
    else if (w <= 31) scanInline(this.data, n, w, query, distances);
    else for (let slot = 0; slot < n; slot++) distances[slot] = hammingWords(this.data, slot * w, query, 0, w);
    return distances;
  }

  /**
   * Slots of the `count` codes nearest to `query` by Hamming distance
   * (fewer when the store is smaller), closest distance first; ties at the
   * cut-off go to the lower slot.
   *
   * Distances are small integers (0..dimension), so instead of a heap this
   * counts how many codes sit at each distance, finds the cut-off distance,
   * and collects in a second pass: O(n + dimension), no sort of n.
   */
  nearest(query: Uint32Array, count: number, scratch?: Uint16Array): Int32Array {
    const n = this.count;
    const take = Math.max(0, Math.min(Math.floor(count), n));
    const result = new Int32Array(take);
    if (take === 0) return result;
    const distances = this.hammingScan(query, scratch);

    const histogram = new Uint32Array(this.dimension + 1);
    for (let slot = 0; slot < n; slot++) histogram[distances[slot] as number]!++;
    // cutoff: the smallest distance at which `take` codes have been reached;
    // all codes closer than it are in, and `room` of those exactly at it.
    let cutoff = 0;
    let below = 0;
    while (below + (histogram[cutoff] as number) < take) below += histogram[cutoff++] as number;

    // Start offset of each distance bucket, so the output comes out ordered
    // by distance without sorting (a counting sort of the chosen few).
    const start = new Uint32Array(cutoff + 1);
    for (let d = 1; d <= cutoff; d++) start[d] = (start[d - 1] as number) + (histogram[d - 1] as number);
    let room = take - below;
    for (let slot = 0; slot < n; slot++) {
      const d = distances[slot] as number;
      if (d > cutoff) continue;
      if (d === cutoff) {
        if (room === 0) continue;
        room--;
      }
      result[start[d]!++] = slot;
    }
    return result;
  }

  private grow(): void {
    const next = new Uint32Array(Math.max(this.data.length * 2, this.wordsPerCode));
    next.set(this.data);
    this.data = next;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.count) {
      throw new RangeError(`sign-bits: slot ${slot} is out of range (size ${this.count})`);
    }
  }

  private checkDimension(length: number): void {
    if (length !== this.dimension) {
      throw new RangeError(`sign-bits: vector has dimension ${length}, the store holds ${this.dimension}`);
    }
  }
}

// The scans below are the prefilter's whole cost, so they are written for
// V8 (measured with `npm run bench:retrieval` and variants of it): the popcount
// is inlined rather than called per word (a call per word was ~2x slower), and
// per-code partial counts are summed before one final horizontal sum.

/**
 * Hamming scan for 384-dim codes (12 words: all-MiniLM-L6-v2), unrolled with
 * the query words in locals. The SWAR count is stopped at nibbles (at most 4
 * per nibble per word), three words are added per nibble (at most 12 < 16),
 * then folded to bytes: fewer operations per word than a full per-word
 * popcount. About 1.5-2x faster here than the generic loop.
 */
function scan384(data: Uint32Array, n: number, query: Uint32Array, out: Uint16Array): void {
  const q0 = query[0] as number, q1 = query[1] as number, q2 = query[2] as number, q3 = query[3] as number;
  const q4 = query[4] as number, q5 = query[5] as number, q6 = query[6] as number, q7 = query[7] as number;
  const q8 = query[8] as number, q9 = query[9] as number, q10 = query[10] as number, q11 = query[11] as number;
  for (let slot = 0, b = 0; slot < n; slot++, b += 12) {
    const bytes =
      nibblesToBytes(nibbles((data[b] as number) ^ q0) + nibbles((data[b + 1] as number) ^ q1) + nibbles((data[b + 2] as number) ^ q2)) +
      nibblesToBytes(nibbles((data[b + 3] as number) ^ q3) + nibbles((data[b + 4] as number) ^ q4) + nibbles((data[b + 5] as number) ^ q5)) +
      nibblesToBytes(nibbles((data[b + 6] as number) ^ q6) + nibbles((data[b + 7] as number) ^ q7) + nibbles((data[b + 8] as number) ^ q8)) +
      nibblesToBytes(nibbles((data[b + 9] as number) ^ q9) + nibbles((data[b + 10] as number) ^ q10) + nibbles((data[b + 11] as number) ^ q11));
    // Each byte holds at most 96 here, but their sum reaches 384: see sumBytes.
    out[slot] = sumBytes(bytes);
  }
}

/** Per-nibble bit counts of x (each 0..4): the first two SWAR steps. */
function nibbles(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  return (x & 0x33333333) + ((x >>> 2) & 0x33333333);
}

/** Folds per-nibble counts (each < 16) into per-byte counts. */
function nibblesToBytes(x: number): number {
  return (x & 0x0f0f0f0f) + ((x >>> 4) & 0x0f0f0f0f);
}

/** Any code of up to 31 words: byte counts summed per code, one horizontal sum. */
function scanInline(data: Uint32Array, n: number, words: number, query: Uint32Array, out: Uint16Array): void {
  for (let slot = 0, b = 0; slot < n; slot++, b += words) {
    let bytes = 0;
    for (let w = 0; w < words; w++) {
      let x = (data[b + w] as number) ^ (query[w] as number);
      x = x - ((x >>> 1) & 0x55555555);
      x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
      bytes += (x + (x >>> 4)) & 0x0f0f0f0f;
    }
    out[slot] = sumBytes(bytes);
  }
}
