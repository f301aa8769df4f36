/**
 * Document chunking: bounded, never empty, deterministic, cuts at the
 * gentlest boundary that fits, headings kept with their sections, a small
 * overlap between pieces of one section, and no text lost.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_CHUNK_CHARS, chunkText } from '../../src/lib/memory/chunking';

const sentence = (i: number, topic = 'peanuts') => `Sentence ${i} says something about ${topic} and other things.`;

describe('chunkText', () => {
  it('gives no chunks for empty or blank text', () => {
    expect(chunkText('')).toEqual([]);
    expect(chunkText(' \n\n\t \r\n ')).toEqual([]);
  });

  it('keeps a short text whole, trimmed, line endings normalised', () => {
    expect(chunkText('  Hello there.\r\nSecond line.  \n')).toEqual(['Hello there.\nSecond line.']);
  });

  it('never exceeds the limit and cuts between paragraphs when they fit', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `${sentence(i)} ${sentence(i + 100)}`);
    const chunks = chunkText(paragraphs.join('\n\n'), { maxChars: 300, overlapChars: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(300);
      // Every paragraph is whole in some chunk: none was cut.
      for (const line of chunk.split('\n\n')) expect(paragraphs).toContain(line);
    }
    expect(chunks.join('\n\n')).toBe(paragraphs.join('\n\n'));
  });

  it('cuts a long paragraph between sentences, with a sentence of overlap', () => {
    const text = Array.from({ length: 30 }, (_, i) => sentence(i)).join(' ');
    const chunks = chunkText(text, { maxChars: 300, overlapChars: 80 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(300);
      expect(chunk).toMatch(/^Sentence \d+ .*things\.$/s);
    }
    for (let i = 1; i < chunks.length; i++) {
      const lastOfPrevious = chunks[i - 1]!.match(/Sentence \d+[^.]*\.$/)![0];
      expect(chunks[i]!.startsWith(lastOfPrevious)).toBe(true);
    }
  });

  it('keeps Markdown headings with their sections, and gathers small sections whole', () => {
    const long = Array.from({ length: 20 }, (_, i) => sentence(i, 'allergies')).join(' ');
    const text = ['# Health notes', '## Intro', 'Short intro.', '## Allergies', long, '## Diet', 'I eat no meat.', '## Sleep', 'Eight hours.'].join('\n\n');
    const chunks = chunkText(text, { maxChars: 400, overlapChars: 60 });
    // The title frames the first section; no heading is a chunk on its own.
    expect(chunks[0]).toBe('# Health notes\n## Intro\nShort intro.');
    const allergies = chunks.filter((c) => c.includes('allergies'));
    expect(allergies.length).toBeGreaterThan(2);
    for (const chunk of allergies) expect(chunk.startsWith('## Allergies\n')).toBe(true);
    expect(chunks.at(-1)).toBe('## Diet\nI eat no meat.\n\n## Sleep\nEight hours.');
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(400);
  });

  it('does not take "#" lines inside fenced code for headings', () => {
    const text = '## Script\n\n```sh\n# install\nnpm ci\n```\n\nDone.';
    expect(chunkText(text)).toEqual([text.replace('## Script\n\n', '## Script\n')]);
  });

  it('cuts a word longer than a chunk between code points, never inside a surrogate pair', () => {
    const word = '🧬'.repeat(200); // 400 UTF-16 units
    const chunks = chunkText(`Start. ${word} End.`, { maxChars: 100, overlapChars: 20 });
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(100);
      expect(chunk).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
    expect(chunks.join('').replace(/[^🧬]/gu, '')).toBe(word);
  });

  it('uses 800 characters by default, and refuses unusable options', () => {
    expect(DEFAULT_CHUNK_CHARS).toBe(800);
    const chunks = chunkText('word '.repeat(1_000));
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(800);
    expect(() => chunkText('x', { maxChars: 10 })).toThrow(RangeError);
    expect(() => chunkText('x', { maxChars: 200, overlapChars: 150 })).toThrow(RangeError);
    expect(() => chunkText('x', { maxChars: 200.5 })).toThrow(RangeError);
  });

  const words = fc.stringMatching(/^[a-z]{1,20}$/);
  const line = fc.oneof(
    { weight: 6, arbitrary: fc.array(words, { minLength: 1, maxLength: 40 }).map((w) => w.join(' ') + '.') },
    { weight: 1, arbitrary: words.map((w) => `## ${w}`) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constant('```') },
  );
  const documents = fc.array(line, { maxLength: 60 }).map((lines) => lines.join('\n'));

  it('property: chunks are non-empty, bounded, deterministic, and lose no word', () => {
    fc.assert(
      fc.property(documents, fc.integer({ min: 80, max: 600 }), fc.integer({ min: 0, max: 40 }), (text, maxChars, overlapChars) => {
        const chunks = chunkText(text, { maxChars, overlapChars });
        expect(chunkText(text, { maxChars, overlapChars })).toEqual(chunks);
        for (const chunk of chunks) {
          expect(chunk.trim()).not.toBe('');
          expect(chunk.length).toBeLessThanOrEqual(maxChars);
        }
        const all = chunks.join('\n');
        for (const word of text.split(/\s+/).filter(Boolean)) expect(all).toContain(word);
      }),
      { numRuns: 300 },
    );
  });
});
