// Writes e2e/fixtures/notes.pdf: a minimal, valid one-page PDF whose text
// layer holds known sentences, for the PDF text extraction tests (unit and
// e2e). Written by hand rather than by a PDF library so every byte is
// explained here and the file is reproducible:
//   node scripts/make-pdf-fixture.mjs   (the PDF is committed)
// One Helvetica (a standard font: no font file embedded) text object, two
// lines; the cross-reference table's offsets are computed, not guessed.
import { writeFileSync } from 'node:fs';

export const NOTES_PDF_LINES = [
  'H3LIX test notes: the blue heron nests near the old mill.',
  'The second line mentions quarterly budgets and a red kite.',
];

/** PDF string literal: backslash, parentheses escaped. */
const literal = (text) => `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;

export function makeNotesPdf(lines = NOTES_PDF_LINES) {
  const content = ['BT', '/F1 12 Tf', '72 720 Td', '14 TL', ...lines.map((line, i) => `${i === 0 ? '' : 'T* '}${literal(line)} Tj`), 'ET'].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  // The binary comment line tells tools the file holds 8-bit data.
  let pdf = '%PDF-1.4\n%\xE2\xE3\xCF\xD3\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  // Each xref entry is exactly 20 bytes: 10-digit offset, space, 5-digit generation, space, n/f, CR LF.
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f\r\n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n\r\n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../e2e/fixtures/notes.pdf', import.meta.url);
  writeFileSync(path, makeNotesPdf());
  console.log(`wrote ${path.pathname}`);
}
