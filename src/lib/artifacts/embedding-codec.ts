/**
 * BitDelta-style compression of an artifact's embedding (DESIGN.md 2.4): the
 * 384-dim float vector travels as its 384 sign bits plus one scale, 52 bytes
 * instead of 1,536. Receivers with the same embedder compare codes by Hamming
 * distance; others ignore the code and re-embed the text.
 *
 * Binary form (52 bytes, fixed):
 * - bytes 0..47: the sign bits in the layout of src/lib/retrieval/sign-bits.ts
 *   (component i is bit i % 8 of byte floor(i / 8); bit 1 when the component
 *   is > 0), so a received code drops into the retrieval index as is;
 * - bytes 48..51: the scale, an IEEE 754 float32, little-endian: the mean
 *   absolute component, which makes scale * (±1) the closest sign
 *   approximation of the vector in L2 (BitDelta's choice).
 * JSON form (in the artifact): { bits: unpadded base64url of bytes 0..47
 * (64 characters), scale: the same float32 as a number }.
 *
 * Decoding gives ±scale per component. Its cosine to the original is
 * sum|v_i| / (sqrt(n) |v|): about sqrt(2/pi) ≈ 0.80 for Gaussian-like
 * vectors, never below 1/sqrt(n). Direction, not detail, is what survives;
 * that is enough for a Hamming prefilter and for the ND spread.
 *
 * Pure: typed arrays only.
 */
import { EMBEDDING_DIMENSION } from '../memory/types';
import { codeFromBytes, codeToBytes, hamming, packSigns, signScale, unpackSigns } from '../retrieval/sign-bits';
import { EMBEDDING_BITS_CHARS, EMBEDDING_SIGN_BYTES, type CompressedEmbedding } from './schema';

/** Bytes of an encoded embedding: sign bits then a float32 scale (52 for 384 dims). */
export const ENCODED_EMBEDDING_BYTES = EMBEDDING_SIGN_BYTES + 4;

/** An encoding or decoding that cannot be done; the message says which input and why. */
export class EmbeddingCodecError extends Error {
  override readonly name = 'EmbeddingCodecError';
}

/** The 52-byte binary form of `vector` (EMBEDDING_DIMENSION finite components, not all zero). */
export function encodeEmbedding(vector: ArrayLike<number>): Uint8Array {
  if (vector.length !== EMBEDDING_DIMENSION) {
    throw new EmbeddingCodecError(`embedding has ${vector.length} components, expected ${EMBEDDING_DIMENSION}`);
  }
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) throw new EmbeddingCodecError(`embedding component ${i} is ${vector[i]}, not a finite number`);
  }
  const scale = Math.fround(signScale(vector));
  // A zero vector has no direction: its signs would all be "negative" by the tie rule and mean nothing.
  if (scale === 0) throw new EmbeddingCodecError('embedding is a zero vector (or too small for a float32 scale)');
  if (!Number.isFinite(scale)) throw new EmbeddingCodecError('embedding components are too large for a float32 scale');
  const out = new Uint8Array(ENCODED_EMBEDDING_BYTES);
  out.set(codeToBytes(packSigns(vector)), 0);
  new DataView(out.buffer).setFloat32(EMBEDDING_SIGN_BYTES, scale, true);
  return out;
}

/** The sign code (12 words for 384 dims) of an encoded embedding, for sign-bits.ts and the retrieval index. */
export function embeddingSignCode(encoded: Uint8Array): Uint32Array {
  checkLength(encoded);
  return codeFromBytes(encoded.subarray(0, EMBEDDING_SIGN_BYTES), EMBEDDING_DIMENSION);
}

/** The scale of an encoded embedding; checked to be finite and > 0. */
export function embeddingScale(encoded: Uint8Array): number {
  checkLength(encoded);
  const scale = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength).getFloat32(EMBEDDING_SIGN_BYTES, true);
  if (!(Number.isFinite(scale) && scale > 0)) throw new EmbeddingCodecError(`embedding scale is ${scale}, expected a finite number > 0`);
  return scale;
}

/** The approximate vector: ±scale per component (the sign of the original, the mean magnitude). */
export function decodeEmbedding(encoded: Uint8Array): Float32Array {
  const scale = embeddingScale(encoded);
  const vector = unpackSigns(embeddingSignCode(encoded), EMBEDDING_DIMENSION);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) * scale;
  return vector;
}

/**
 * Hamming distance (0..384) between the sign bits of two encoded embeddings.
 * Scales play no part: for decoded vectors cosine = 1 - 2 * hamming / 384
 * whatever the scales, so this is the whole comparison the codes allow.
 */
export function embeddingHamming(a: Uint8Array, b: Uint8Array): number {
  return hamming(embeddingSignCode(a), embeddingSignCode(b));
}

/** The JSON form of an encoded embedding, as the artifact schema holds it. */
export function embeddingToJson(encoded: Uint8Array): CompressedEmbedding {
  const scale = embeddingScale(encoded);
  return { bits: toBase64Url(encoded.subarray(0, EMBEDDING_SIGN_BYTES)), scale };
}

/** The binary form of an artifact's embedding (inverse of `embeddingToJson`). */
export function embeddingFromJson(json: CompressedEmbedding): Uint8Array {
  if (json.bits.length !== EMBEDDING_BITS_CHARS) {
    throw new EmbeddingCodecError(`embedding bits are ${json.bits.length} base64url characters, expected ${EMBEDDING_BITS_CHARS}`);
  }
  const bits = fromBase64Url(json.bits);
  if (bits.length !== EMBEDDING_SIGN_BYTES) {
    throw new EmbeddingCodecError(`embedding bits are ${bits.length} bytes, expected ${EMBEDDING_SIGN_BYTES}`);
  }
  const { scale } = json;
  if (!(Number.isFinite(scale) && scale > 0 && Math.fround(scale) === scale)) {
    throw new EmbeddingCodecError(`embedding scale ${scale} is not a finite float32 > 0`);
  }
  const out = new Uint8Array(ENCODED_EMBEDDING_BYTES);
  out.set(bits, 0);
  new DataView(out.buffer).setFloat32(EMBEDDING_SIGN_BYTES, scale, true);
  return out;
}

/** `encodeEmbedding` then `embeddingToJson`: what a producer puts in an artifact. */
export function compressEmbedding(vector: ArrayLike<number>): CompressedEmbedding {
  return embeddingToJson(encodeEmbedding(vector));
}

function checkLength(encoded: Uint8Array): void {
  if (encoded.length !== ENCODED_EMBEDDING_BYTES) {
    throw new EmbeddingCodecError(`encoded embedding is ${encoded.length} bytes, expected ${ENCODED_EMBEDDING_BYTES}`);
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_VALUE = new Map([...BASE64URL].map((c, i) => [c, i]));

/** Unpadded base64url (RFC 4648 section 5). */
function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const rest = bytes.length - i;
    const n = ((bytes[i] as number) << 16) | ((rest > 1 ? (bytes[i + 1] as number) : 0) << 8) | (rest > 2 ? (bytes[i + 2] as number) : 0);
    out += BASE64URL[(n >>> 18) & 63]! + BASE64URL[(n >>> 12) & 63]!;
    if (rest > 1) out += BASE64URL[(n >>> 6) & 63]!;
    if (rest > 2) out += BASE64URL[n & 63]!;
  }
  return out;
}

/**
 * Inverse of `toBase64Url`. Strict, so that one byte string has one spelling:
 * no padding, no other characters, and the unused low bits of a final partial
 * group must be zero.
 */
function fromBase64Url(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new EmbeddingCodecError('embedding bits: base64url length cannot be 1 mod 4');
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (const c of text) {
    const value = BASE64URL_VALUE.get(c);
    if (value === undefined) throw new EmbeddingCodecError(`embedding bits: ${JSON.stringify(c)} is not a base64url character`);
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new EmbeddingCodecError('embedding bits: non-zero padding bits in the last character');
  return out;
}
