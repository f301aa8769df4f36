/**
 * PDF text extraction with pdf.js's legacy build (the one that runs in
 * Node), on the hand-written fixture e2e/fixtures/notes.pdf (see
 * scripts/make-pdf-fixture.mjs) and on files that are not PDFs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/lib/engine/errors';
import { chunkText } from '../../src/lib/memory/chunking';
import { PdfReadError, PdfTooLongError, extractPdfText, type PdfJs } from '../../src/services/pdf-text';
import { NOTES_PDF_LINES, makeNotesPdf } from '../../scripts/make-pdf-fixture.mjs';

const FIXTURE = resolve(__dirname, '../../e2e/fixtures/notes.pdf');
let pdfjs: PdfJs;
beforeAll(async () => {
  pdfjs = (await import('pdfjs-dist/legacy/build/pdf.mjs')) as unknown as PdfJs;
});

describe('extractPdfText', () => {
  it('reads the known sentences of the fixture, one per line', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const result = await extractPdfText(bytes, { pdfjs, fileName: 'notes.pdf' });
    expect(result).toEqual({ text: NOTES_PDF_LINES.join('\n'), pages: 1 });
    expect(result.text).toContain('the blue heron nests near the old mill.');
    // The caller's bytes are not handed over (pdf.js takes ownership of what it gets).
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect(chunkText(result.text)).toHaveLength(1);
  });

  it('the committed fixture is what the script makes', () => {
    expect(Buffer.compare(readFileSync(FIXTURE), makeNotesPdf())).toBe(0);
  });

  it('a file that is not a PDF is PdfReadError naming it', async () => {
    const err = await extractPdfText(new TextEncoder().encode('just some text'), { pdfjs, fileName: 'notes.txt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdfReadError);
    expect((err as Error).message).toContain('"notes.txt"');
  });

  it('refuses more pages than the limit', async () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    await expect(extractPdfText(bytes, { pdfjs, maxPages: 0 })).rejects.toBeInstanceOf(PdfTooLongError);
  });

  it('a cancelled read is AbortedError', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(extractPdfText(new Uint8Array(readFileSync(FIXTURE)), { pdfjs, signal: stop.signal })).rejects.toBeInstanceOf(AbortedError);
  });
});
