/**
 * Byte encodings of the wire protocol (docs/PROTOCOL.md, "Encodings").
 *
 * Everything signed or hashed must have exactly one spelling, otherwise a
 * relayed copy could differ from the original while still verifying. So
 * base64url here is strict: unpadded RFC 4648 section 5, and the unused low
 * bits of the last character must be zero (a lenient decoder maps 'AB' and
 * 'AC' to the same byte). UTF-8 decoding is fatal on malformed input.
 *
 * Pure: no platform API beyond TextEncoder/TextDecoder.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUES: ReadonlyMap<string, number> = new Map(Array.from(ALPHABET, (c, i) => [c, i]));

/** Bytes that are not a strict base64url spelling. */
export class Base64UrlError extends Error {
  override readonly name = 'Base64UrlError';
}

/** Unpadded base64url of `bytes`. */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]!;
  }
  return out;
}

/** Inverse of `toBase64Url`; throws Base64UrlError on anything that is not its exact output. */
export function fromBase64Url(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new Base64UrlError('base64url length cannot be 1 mod 4');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (const c of text) {
    const value = VALUES.get(c);
    if (value === undefined) throw new Base64UrlError(`${JSON.stringify(c)} is not a base64url character`);
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new Base64UrlError('base64url has non-zero padding bits (not the canonical spelling)');
  return out;
}

/** Whether `text` is the exact base64url spelling of some bytes (for schemas: checks without throwing). */
export function isBase64Url(text: string): boolean {
  try {
    fromBase64Url(text);
    return true;
  } catch {
    return false;
  }
}

/** Characters of the unpadded base64url form of `byteLength` bytes. */
export function base64UrlLength(byteLength: number): number {
  return Math.ceil((byteLength * 4) / 3);
}

/** A regular expression source matching exactly the base64url spelling of `byteLength` bytes (length only). */
export function base64UrlPattern(byteLength: number): RegExp {
  return new RegExp(`^[A-Za-z0-9_-]{${base64UrlLength(byteLength)}}$`);
}

export const utf8Encoder = new TextEncoder();
/** fatal: malformed UTF-8 is an error, never U+FFFD; ignoreBOM: a BOM stays, so it breaks canonical form. */
export const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** The concatenation of byte strings. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A view WebCrypto accepts (its typings want an ArrayBuffer-backed array). */
export function asBufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
