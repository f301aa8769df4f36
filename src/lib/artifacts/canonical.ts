/**
 * Canonical bytes and content ids of artifacts (postulate U1): one artifact
 * has exactly one byte string, and its id is the hash of those bytes, so two
 * peers that hold the same artifact agree on its id without talking, and a
 * duplicate or an edited copy is recognised by id alone.
 *
 * Serialisation is the JSON Canonicalization Scheme (RFC 8785):
 * - object keys sorted by their UTF-16 code units (JavaScript's default sort),
 *   no whitespace, arrays in order;
 * - numbers as ECMAScript's Number.prototype.toString (what JSON.stringify
 *   writes; -0 is written 0); NaN and ±Infinity are rejected;
 * - strings as JSON.stringify escapes them (", \ and control characters only;
 *   everything else as UTF-8).
 * Stricter than RFC 8785, in one direction only: strings (keys included) must
 * be well-formed Unicode in NFC form, and undefined, functions, symbols,
 * bigints and non-plain objects are rejected rather than skipped or coerced.
 * A string that is not NFC is an error, not silently normalised: the bytes
 * must say exactly what the caller holds. So every output of `canonicalJson`
 * is also exactly RFC 8785's output for the same value.
 *
 * Content id: 'h3x1-' + SHA-256 of the canonical UTF-8 bytes in lowercase,
 * unpadded RFC 4648 base32 (alphabet a-z2-7; 52 characters, 57 in all).
 * Base32 rather than hex: 12 characters shorter, still case-insensitive-safe
 * and free of characters that need escaping in URLs or file names. '1' is the
 * id scheme (hash and encoding), independent of the schema version, which is
 * inside the hashed bytes.
 *
 * `parseArtifact` accepts bytes only when they are the canonical form of a
 * valid artifact; anything else (other key order, whitespace, a BOM, escapes
 * that could be literal, a duplicate key, '1.0' for '1') is rejected, so no
 * artifact can travel under two ids.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { artifactSchema, type Artifact, type ContentId } from './schema';

/** Content ids start with this: the id scheme, version 1 (SHA-256, base32). */
export const CONTENT_ID_PREFIX = 'h3x1-';

/**
 * Largest canonical artifact accepted (bytes). The schema bounds a valid one
 * at about 7 KB (1,000 text characters escaped at worst as \u00XX is 6,000
 * bytes, but control characters are refused, so 3,000 is the real text
 * bound); anything larger is refused before parsing.
 */
export const MAX_ARTIFACT_BYTES = 8192;

/** Nesting deeper than this is refused (artifacts nest 2 levels); it also stops cycles. */
const MAX_DEPTH = 16;

export type ArtifactFormatReason = 'too-large' | 'encoding' | 'json' | 'schema' | 'non-canonical';

/** Why bytes or a value are not a (canonical) artifact. `reason` is for code, the message for people. */
export class ArtifactFormatError extends Error {
  override readonly name = 'ArtifactFormatError';
  readonly reason: ArtifactFormatReason;
  // No parameter property: Node's type stripping (the benches run these sources as they are) does not support them.
  constructor(reason: ArtifactFormatReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** A value that cannot be serialised canonically (non-finite number, undefined, non-NFC string, …). */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

/** The canonical JSON text of `value` (see the module comment for the rules). */
export function canonicalJson(value: unknown): string {
  return write(value, '$', 0);
}

/** The canonical UTF-8 bytes of an artifact, after checking it against the schema. */
export function canonicalBytes(artifact: Artifact): Uint8Array {
  return utf8.encode(canonicalJson(validate(artifact)));
}

/** The content id of an artifact: the hash of its canonical bytes. Throws ArtifactFormatError when it is not valid. */
export function contentId(artifact: Artifact): ContentId {
  return contentIdOfBytes(canonicalBytes(artifact));
}

/** The content id of bytes already known to be canonical (as `parseArtifact` returns them). */
export function contentIdOfBytes(bytes: Uint8Array): ContentId {
  return `${CONTENT_ID_PREFIX}${base32(sha256(bytes))}`;
}

export interface ParsedArtifact {
  artifact: Artifact;
  id: ContentId;
  /** The canonical bytes (equal to the input). */
  bytes: Uint8Array;
}

/**
 * Parses an artifact from its wire bytes (or their text), accepting only the
 * canonical form of a schema-valid artifact. Throws ArtifactFormatError.
 */
export function parseArtifact(input: Uint8Array | string): ParsedArtifact {
  let text: string;
  if (typeof input === 'string') {
    // Cheap bound first (UTF-8 is at least one byte per UTF-16 unit), exact bound after encoding.
    if (input.length > MAX_ARTIFACT_BYTES) throw tooLarge(input.length);
    text = input;
  } else {
    if (input.length > MAX_ARTIFACT_BYTES) throw tooLarge(input.length);
    try {
      text = strictUtf8.decode(input);
    } catch {
      throw new ArtifactFormatError('encoding', 'artifact bytes are not valid UTF-8');
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArtifactFormatError('json', `artifact is not JSON: ${(error as Error).message}`);
  }
  const artifact = validate(json);
  const canonical = canonicalJson(artifact);
  if (canonical !== text) {
    throw new ArtifactFormatError('non-canonical', `artifact is not in canonical form (${firstDifference(text, canonical)})`);
  }
  const bytes = typeof input === 'string' ? utf8.encode(text) : input;
  if (bytes.length > MAX_ARTIFACT_BYTES) throw tooLarge(bytes.length);
  return { artifact, id: contentIdOfBytes(bytes), bytes };
}

function validate(value: unknown): Artifact {
  const result = artifactSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(artifact)'}: ${issue.message}`);
    throw new ArtifactFormatError('schema', `not a valid artifact: ${issues.join('; ')}`);
  }
  return result.data;
}

function tooLarge(size: number): ArtifactFormatError {
  return new ArtifactFormatError('too-large', `artifact is larger than ${MAX_ARTIFACT_BYTES} bytes (${size})`);
}

/** Where the received text leaves the canonical one, for the error message. */
function firstDifference(received: string, canonical: string): string {
  let i = 0;
  while (i < received.length && i < canonical.length && received[i] === canonical[i]) i++;
  const show = (s: string) => JSON.stringify(s.slice(i, i + 16));
  return `first difference at character ${i}: got ${show(received)}, expected ${show(canonical)}`;
}

const utf8 = new TextEncoder();
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM is kept, so it makes the text non-canonical.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function write(value: unknown, path: string, depth: number): string {
  switch (typeof value) {
    case 'string':
      return writeString(value, path);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path} is ${value}: only finite numbers have a JSON form`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`${path} is ${typeof value === 'undefined' ? 'undefined (omit the key instead)' : `a ${typeof value}`}, which has no JSON form`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError(`${path} is nested deeper than ${MAX_DEPTH} levels (or is a cycle)`);
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (let i = 0; i < value.length; i++) items.push(write(value[i], `${path}[${i}]`, depth + 1));
    return `[${items.join(',')}]`;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) {
    throw new CanonicalJsonError(`${path} is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) throw new CanonicalJsonError(`${path} has symbol keys`);
  const record = value as Record<string, unknown>;
  // Default sort: by UTF-16 code units, as RFC 8785 requires.
  const keys = Object.keys(record).sort();
  const members = keys.map((key) => `${writeString(key, `${path} key`)}:${write(record[key], `${path}.${key}`, depth + 1)}`);
  return `{${members.join(',')}}`;
}

function writeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(`${path} has a lone surrogate (not valid Unicode)`);
  if (value !== value.normalize('NFC')) throw new CanonicalJsonError(`${path} is not in Unicode NFC form`);
  // JSON.stringify escapes exactly what RFC 8785 escapes: ", \, and U+0000..U+001F (\b \t \n \f \r short forms).
  return JSON.stringify(value);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lowercase unpadded RFC 4648 base32. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >>> bits) & 31]!;
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31]!;
  return out;
}
