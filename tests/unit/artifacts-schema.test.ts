import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ARTIFACT_DOMAINS,
  ARTIFACT_KINDS,
  CONTENT_ID_PATTERN,
  EMBEDDING_BITS_CHARS,
  EMBEDDING_SIGN_BYTES,
  TIME_GRANULARITY_MS,
  artifactSchema,
  coarsenTime,
  type Artifact,
} from '../../src/lib/artifacts/schema';

const valid: Artifact = {
  schemaVersion: 1,
  kind: 'strategy',
  text: 'When a word problem mixes units, convert everything to SI units before doing any arithmetic.',
  domain: 'units',
  confidence: 0.8,
  evidence: { groupSize: 8, rewardSpread: 0.35 },
  createdAt: 1_750_000_000_000 - (1_750_000_000_000 % TIME_GRANULARITY_MS),
  embedderId: 'Xenova/all-MiniLM-L6-v2',
  embedding: { bits: 'A'.repeat(64), scale: Math.fround(0.04) },
  parent: `h3x1-${'b'.repeat(51)}q`,
};

function issues(value: unknown): string {
  const result = artifactSchema.safeParse(value);
  return result.success ? '' : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

describe('artifact schema v1', () => {
  it('accepts a full artifact and one without the optional fields', () => {
    expect(artifactSchema.parse(valid)).toEqual(valid);
    const { embedding: _e, parent: _p, ...minimal } = valid;
    expect(artifactSchema.parse(minimal)).toEqual(minimal);
  });

  it('has the five kinds of DESIGN.md 2.4 and a fixed, closed domain list', () => {
    expect(ARTIFACT_KINDS).toEqual(['strategy', 'correction', 'counterfactual', 'instruction', 'policy']);
    expect(ARTIFACT_DOMAINS).toContain('other');
    expect(issues({ ...valid, kind: 'rumour' })).toMatch(/^kind:/);
    expect(issues({ ...valid, domain: 'astrology' })).toMatch(/^domain:/);
  });

  it('is strict: unknown keys, other versions and wrong types are refused', () => {
    expect(issues({ ...valid, author: 'peer-1' })).toMatch(/author/);
    expect(issues({ ...valid, evidence: { ...valid.evidence, rewards: [1, 0] } })).toMatch(/rewards/);
    expect(issues({ ...valid, embedding: { ...valid.embedding, dims: 384 } })).toMatch(/dims/);
    expect(issues({ ...valid, schemaVersion: 2 })).toMatch(/^schemaVersion:/);
    expect(issues({ ...valid, confidence: '0.8' })).toMatch(/^confidence:/);
  });

  it('bounds every field', () => {
    expect(issues({ ...valid, text: '' })).toMatch(/text is empty/);
    expect(issues({ ...valid, text: 'x'.repeat(1000) })).toBe('');
    expect(issues({ ...valid, text: 'x'.repeat(1001) })).toMatch(/longer than 1000/);
    expect(issues({ ...valid, text: 'a\u0000b' })).toMatch(/control characters/);
    expect(issues({ ...valid, text: 'line one\n\tline two' })).toBe('');
    expect(issues({ ...valid, text: 'bad \uD800 surrogate' })).toMatch(/lone surrogate/);
    expect(issues({ ...valid, text: 'cafe\u0301' })).toMatch(/NFC/);
    expect(issues({ ...valid, text: 'caf\u00e9' })).toBe('');
    expect(issues({ ...valid, confidence: 1.01 })).toMatch(/^confidence:/);
    expect(issues({ ...valid, confidence: -0.01 })).toMatch(/^confidence:/);
    expect(issues({ ...valid, confidence: Number.NaN })).toMatch(/^confidence:/);
    expect(issues({ ...valid, evidence: { groupSize: 0, rewardSpread: 0.1 } })).toMatch(/groupSize/);
    expect(issues({ ...valid, evidence: { groupSize: 65, rewardSpread: 0.1 } })).toMatch(/groupSize/);
    expect(issues({ ...valid, evidence: { groupSize: 2.5, rewardSpread: 0.1 } })).toMatch(/groupSize/);
    expect(issues({ ...valid, evidence: { groupSize: 64, rewardSpread: 1.5 } })).toMatch(/rewardSpread/);
    expect(issues({ ...valid, embedderId: '' })).toMatch(/^embedderId:/);
    expect(issues({ ...valid, embedderId: 'x'.repeat(129) })).toMatch(/^embedderId:/);
    expect(issues({ ...valid, embedderId: 'has space' })).toMatch(/letters, digits/);
    expect(issues({ ...valid, parent: 'h3x1-abc' })).toMatch(/^parent: parent must be a content id/);
  });

  it('createdAt must be a whole hour', () => {
    expect(issues({ ...valid, createdAt: valid.createdAt + 1 })).toMatch(/whole hour/);
    expect(issues({ ...valid, createdAt: -TIME_GRANULARITY_MS })).toMatch(/^createdAt:/);
    expect(issues({ ...valid, createdAt: 0 })).toBe('');
  });

  it('embedding bits are exactly 48 bytes of base64url and the scale a positive float32', () => {
    expect(EMBEDDING_SIGN_BYTES).toBe(48);
    expect(EMBEDDING_BITS_CHARS).toBe(64);
    expect(issues({ ...valid, embedding: { bits: 'A'.repeat(63), scale: 0.5 } })).toMatch(/64 base64url/);
    expect(issues({ ...valid, embedding: { bits: `${'A'.repeat(62)}==`, scale: 0.5 } })).toMatch(/64 base64url/);
    expect(issues({ ...valid, embedding: { bits: `${'A'.repeat(63)}/`, scale: 0.5 } })).toMatch(/64 base64url/);
    expect(issues({ ...valid, embedding: { bits: 'A'.repeat(64), scale: 0.1 } })).toMatch(/float32/);
    expect(issues({ ...valid, embedding: { bits: 'A'.repeat(64), scale: 0 } })).toMatch(/scale/);
    expect(issues({ ...valid, embedding: { bits: 'A'.repeat(64), scale: Infinity } })).toMatch(/scale/);
  });

  it('content ids have one spelling per digest', () => {
    expect(CONTENT_ID_PATTERN.test(`h3x1-${'a'.repeat(52)}`)).toBe(true);
    expect(CONTENT_ID_PATTERN.test(`h3x1-${'a'.repeat(51)}b`)).toBe(false);
    expect(CONTENT_ID_PATTERN.test(`h3x1-${'A'.repeat(52)}`)).toBe(false);
  });
});

describe('coarsenTime', () => {
  it('floors to the start of the hour (property), idempotently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (ms) => {
        const t = coarsenTime(ms);
        expect(t % TIME_GRANULARITY_MS).toBe(0);
        expect(t).toBeLessThanOrEqual(ms);
        expect(ms - t).toBeLessThan(TIME_GRANULARITY_MS);
        expect(coarsenTime(t)).toBe(t);
        expect(issues({ ...valid, createdAt: t })).toBe('');
      }),
    );
    expect(coarsenTime(Date.UTC(2025, 5, 1, 13, 59, 59, 999))).toBe(Date.UTC(2025, 5, 1, 13));
  });

  it('refuses non-times', () => {
    expect(() => coarsenTime(Number.NaN)).toThrow(RangeError);
    expect(() => coarsenTime(-1)).toThrow(/not a time/);
    expect(() => coarsenTime(Infinity)).toThrow(/not a time/);
  });
});
