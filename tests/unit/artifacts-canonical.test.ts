import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ArtifactFormatError,
  CanonicalJsonError,
  MAX_ARTIFACT_BYTES,
  canonicalBytes,
  canonicalJson,
  contentId,
  contentIdOfBytes,
  parseArtifact,
} from '../../src/lib/artifacts/canonical';
import { CONTENT_ID_PATTERN, TIME_GRANULARITY_MS, type Artifact } from '../../src/lib/artifacts/schema';

const artifact: Artifact = {
  schemaVersion: 1,
  kind: 'strategy',
  text: 'When a word problem mixes units, convert everything to SI units before doing any arithmetic — «métrique».',
  domain: 'units',
  confidence: 0.8,
  evidence: { groupSize: 8, rewardSpread: 0.35 },
  createdAt: 1_749_999_600_000,
  embedderId: 'Xenova/all-MiniLM-L6-v2',
  embedding: { bits: 'SZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIk', scale: Math.fround(0.04) },
  parent: `h3x1-${'b'.repeat(51)}q`,
};

const text = (a: unknown) => canonicalJson(a);
const utf8 = (s: string) => new TextEncoder().encode(s);

function shuffledCopy<T>(value: T, random: () => number): T {
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffledCopy(v, random)])) as T;
}

function rejection(input: Uint8Array | string): ArtifactFormatError {
  try {
    parseArtifact(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ArtifactFormatError);
    return error as ArtifactFormatError;
  }
  throw new Error('parseArtifact accepted it');
}

describe('canonicalJson (RFC 8785)', () => {
  it('matches the RFC 8785 example (numbers, escapes, literals)', () => {
    const value = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(value)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('formats numbers like ECMAScript', () => {
    expect(canonicalJson([0, -0, 1, 1e21, 1e-7, 0.000001, 123456789012345680000, 5e-324, 0.1 + 0.2])).toBe(
      '[0,0,1,1e+21,1e-7,0.000001,123456789012345680000,5e-324,0.30000000000000004]',
    );
  });

  it('sorts keys by UTF-16 code units, not code points', () => {
    // U+1F600 is the surrogate pair D83D DE00: before U+FF21 in UTF-16 order, after it in code point order.
    const value = { '\uff21': 1, '\u{1F600}': 2, '\u00f6': 3, '\u0080': 4, '1': 5, '\r': 6, '\u20ac': 7, a: 8, B: 9 };
    expect(canonicalJson(value)).toBe('{"\\r":6,"1":5,"B":9,"a":8,"\u0080":4,"\u00f6":3,"\u20ac":7,"\u{1F600}":2,"\uff21":1}');
  });

  it('is invariant to key order, at every level (property)', () => {
    const reference = canonicalJson(artifact);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        let s = seed >>> 0;
        const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
        expect(canonicalJson(shuffledCopy(artifact, random))).toBe(reference);
      }),
    );
    expect(reference).not.toMatch(/\s"|":\s|,\s"/);
    expect(reference.startsWith('{"confidence":0.8,"createdAt":1749999600000,"domain":"units","embedderId":')).toBe(true);
  });

  it('round-trips any JSON value it accepts (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        let out: string;
        try {
          out = canonicalJson(value);
        } catch (error) {
          // fast-check may produce non-NFC strings, lone surrogates or -0 keys; those are refused, never mangled.
          expect(error).toBeInstanceOf(CanonicalJsonError);
          return;
        }
        expect(canonicalJson(JSON.parse(out))).toBe(out);
      }),
    );
  });

  it('refuses what has no single JSON form', () => {
    expect(() => text({ a: Number.NaN })).toThrow(/\$\.a is NaN/);
    expect(() => text([Infinity])).toThrow(/\$\[0\] is Infinity/);
    expect(() => text({ a: undefined })).toThrow(/\$\.a is undefined \(omit the key instead\)/);
    expect(() => text([1, , 3])).toThrow(/undefined/);
    expect(() => text({ a: 1n })).toThrow(/bigint/);
    expect(() => text({ f: () => 1 })).toThrow(/function/);
    expect(() => text(new Date(0))).toThrow(/Date, not a plain object/);
    expect(() => text(new Map())).toThrow(/Map/);
    expect(() => text(new Uint8Array(2))).toThrow(/Uint8Array/);
    expect(() => text({ s: 'cafe\u0301' })).toThrow(/\$\.s is not in Unicode NFC form/);
    expect(() => text({ 'cafe\u0301': 1 })).toThrow(/key is not in Unicode NFC form/);
    expect(() => text('\uDC00')).toThrow(/lone surrogate/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => text(cycle)).toThrow(/deeper than 16/);
    expect(text(Object.assign(Object.create(null) as object, { b: 1, a: 2 }))).toBe('{"a":2,"b":1}');
  });
});

describe('contentId', () => {
  it('is h3x1- and the base32 SHA-256 of the canonical UTF-8 bytes', () => {
    const id = contentId(artifact);
    expect(id).toMatch(CONTENT_ID_PATTERN);
    expect(id).toHaveLength(57);
    const digest = createHash('sha256').update(canonicalJson(artifact), 'utf8').digest();
    expect(decodeBase32(id.slice(5))).toEqual(new Uint8Array(digest));
    expect(contentIdOfBytes(canonicalBytes(artifact))).toBe(id);
  });

  it('is stable: a fixed artifact keeps a fixed id (any change here breaks every stored id)', () => {
    expect(canonicalJson(artifact)).toBe(
      '{"confidence":0.8,"createdAt":1749999600000,"domain":"units","embedderId":"Xenova/all-MiniLM-L6-v2",' +
        '"embedding":{"bits":"SZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIkSZIk","scale":0.03999999910593033},' +
        '"evidence":{"groupSize":8,"rewardSpread":0.35},"kind":"strategy",' +
        `"parent":"h3x1-${'b'.repeat(51)}q","schemaVersion":1,` +
        '"text":"When a word problem mixes units, convert everything to SI units before doing any arithmetic — «métrique»."}',
    );
    expect(contentId(artifact)).toBe(GOLDEN_ID);
  });

  it('does not depend on key order or object identity', () => {
    const copy = JSON.parse(JSON.stringify(artifact)) as Artifact;
    expect(contentId(copy)).toBe(contentId(artifact));
    expect(contentId(shuffledCopy(artifact, () => 0.3))).toBe(contentId(artifact));
  });

  it('changes when any field changes', () => {
    const base = contentId(artifact);
    const variants: Artifact[] = [
      { ...artifact, kind: 'correction' },
      { ...artifact, text: `${artifact.text} ` },
      { ...artifact, domain: 'math' },
      { ...artifact, confidence: 0.81 },
      { ...artifact, evidence: { ...artifact.evidence, groupSize: 9 } },
      { ...artifact, evidence: { ...artifact.evidence, rewardSpread: 0.36 } },
      { ...artifact, createdAt: artifact.createdAt + TIME_GRANULARITY_MS },
      { ...artifact, embedderId: 'Xenova/bge-small-en-v1.5' },
      { ...artifact, embedding: { ...artifact.embedding!, bits: `A${artifact.embedding!.bits.slice(1)}` } },
      { ...artifact, embedding: { ...artifact.embedding!, scale: Math.fround(0.05) } },
      { ...artifact, parent: `h3x1-${'c'.repeat(51)}a` },
    ];
    const { embedding: _e, ...noEmbedding } = artifact;
    const { parent: _p, ...noParent } = artifact;
    variants.push(noEmbedding, noParent);
    const ids = new Set(variants.map(contentId));
    expect(ids.size).toBe(variants.length);
    expect(ids.has(base)).toBe(false);
  });

  it('refuses an invalid artifact instead of naming it', () => {
    const bad = { ...artifact, confidence: 2 };
    expect(() => contentId(bad)).toThrow(ArtifactFormatError);
    expect(() => contentId(bad)).toThrow(/confidence/);
  });
});

describe('parseArtifact', () => {
  it('reads canonical bytes (or their text) back to the same artifact and id', () => {
    const bytes = canonicalBytes(artifact);
    const parsed = parseArtifact(bytes);
    expect(parsed.artifact).toEqual(artifact);
    expect(parsed.id).toBe(contentId(artifact));
    expect(parsed.bytes).toEqual(bytes);
    expect(parseArtifact(canonicalJson(artifact))).toEqual(parsed);
    const { embedding: _e, parent: _p, ...minimal } = artifact;
    expect(parseArtifact(canonicalBytes(minimal)).artifact).toEqual(minimal);
  });

  it('refuses non-canonical spellings of a valid artifact, saying where they differ', () => {
    const canonical = canonicalJson(artifact);
    const cases = [
      JSON.stringify(artifact), // schema key order, not sorted
      JSON.stringify(JSON.parse(canonical), null, 2), // whitespace
      `${canonical}\n`,
      ` ${canonical}`,
      canonical.replace('"confidence":0.8', '"confidence":0.80'),
      canonical.replace('"groupSize":8', '"groupSize":8.0'),
      canonical.replace('"groupSize":8', '"groupSize":8e0'),
      canonical.replace('"kind":"strategy"', '"kind":"\\u0073trategy"'),
      canonical.replace('"domain":"units"', '"domain":"units","domain":"units"'),
      canonical.replace('/', '\\/'),
    ];
    for (const input of cases) {
      const error = rejection(input);
      expect(error.reason, input).toBe('non-canonical');
      expect(error.message).toMatch(/not in canonical form \(first difference at character \d+/);
    }
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(canonical)]);
    expect(rejection(bom).reason).toBe('json');
  });

  it('refuses bytes that are not UTF-8 or not JSON', () => {
    expect(rejection(new Uint8Array([0x7b, 0xff, 0x7d])).reason).toBe('encoding');
    // An overlong encoding of '/' (0xC0 0xAF) is invalid UTF-8, not a second spelling.
    expect(rejection(new Uint8Array([0x22, 0xc0, 0xaf, 0x22])).reason).toBe('encoding');
    const error = rejection('{"kind":');
    expect(error.reason).toBe('json');
    expect(error.message).toMatch(/^artifact is not JSON/);
  });

  it('refuses out-of-schema JSON with the field and the rule', () => {
    const canonicalOf = (value: unknown) => canonicalJson(value);
    const cases: Array<[unknown, RegExp]> = [
      [{ ...artifact, schemaVersion: 2 }, /schemaVersion/],
      [{ ...artifact, extra: true }, /extra/],
      [{ ...artifact, text: 'x'.repeat(1001) }, /text: text is longer than 1000/],
      [{ ...artifact, createdAt: artifact.createdAt + 60_000 }, /createdAt: createdAt must be a whole hour/],
      [{ ...artifact, embedding: { bits: 'AAAA', scale: 0.5 } }, /embedding\.bits/],
      [{ ...artifact, evidence: { groupSize: 100, rewardSpread: 0 } }, /evidence\.groupSize/],
      [[artifact], /\(artifact\)/],
      ['strategy', /\(artifact\)/],
      [null, /\(artifact\)/],
    ];
    for (const [value, pattern] of cases) {
      const error = rejection(canonicalOf(value));
      expect(error.reason).toBe('schema');
      expect(error.message).toMatch(/^not a valid artifact: /);
      expect(error.message).toMatch(pattern);
    }
    // Non-NFC text is a schema error even though it is valid JSON.
    const decomposed = canonicalJson(artifact).replace('métrique', 'me\u0301trique');
    expect(rejection(decomposed).message).toMatch(/NFC/);
  });

  it('refuses oversized input before parsing it', () => {
    expect(rejection(new Uint8Array(MAX_ARTIFACT_BYTES + 1)).reason).toBe('too-large');
    expect(rejection(' '.repeat(MAX_ARTIFACT_BYTES + 1)).reason).toBe('too-large');
    // The largest valid artifact fits with room to spare.
    const longest = { ...artifact, text: '\u20ac'.repeat(1000), embedderId: 'x'.repeat(128) };
    expect(canonicalBytes(longest).length).toBeLessThan(MAX_ARTIFACT_BYTES);
  });

  it('accepts exactly the canonical form: parse(canonical(a)) = a for generated artifacts (property)', () => {
    const artifactArb = fc.record(
      {
        schemaVersion: fc.constant(1 as const),
        kind: fc.constantFrom('strategy', 'correction', 'counterfactual', 'instruction', 'policy' as const),
        text: fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }).map((s) => s.normalize('NFC')).filter((s) => s.length > 0 && s.length <= 1000 && !/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/.test(s)),
        domain: fc.constantFrom('math', 'coding', 'other' as const),
        confidence: fc.double({ min: 0, max: 1, noNaN: true }),
        evidence: fc.record({ groupSize: fc.integer({ min: 1, max: 64 }), rewardSpread: fc.double({ min: 0, max: 1, noNaN: true }) }),
        createdAt: fc.integer({ min: 0, max: 1_000_000 }).map((h) => h * TIME_GRANULARITY_MS),
        embedderId: fc.constant('Xenova/all-MiniLM-L6-v2'),
        embedding: fc.record({
          bits: fc.string({ minLength: 64, maxLength: 64, unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') }),
          scale: fc.float({ min: Math.fround(1e-6), max: 10, noNaN: true }),
        }),
      },
      { requiredKeys: ['schemaVersion', 'kind', 'text', 'domain', 'confidence', 'evidence', 'createdAt', 'embedderId'] },
    );
    fc.assert(
      fc.property(artifactArb, (a) => {
        const value = a as Artifact;
        const parsed = parseArtifact(canonicalBytes(value));
        // -0 is written 0: the parsed artifact is the same up to that.
        expect(parsed.artifact).toEqual(JSON.parse(JSON.stringify(value)));
        expect(parsed.id).toBe(contentId(value));
        expect(rejection(JSON.stringify(value, null, 1)).reason).toBe('non-canonical');
      }),
      { numRuns: 200 },
    );
  });
});

// Computed independently (Python: hashlib.sha256 + base64.b32encode, lowercased, padding stripped).
const GOLDEN_ID = 'h3x1-q2nn3i4qkpudysamh4ylmv54hewgfip55opn7vvltpfysjrn3x6q';

function decodeBase32(s: string): Uint8Array {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const c of s) {
    buffer = (buffer << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >>> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}
