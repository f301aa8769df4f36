/** The sentences written into e2e/fixtures/notes.pdf, one per line. */
export const NOTES_PDF_LINES: readonly string[];
/** The bytes of a one-page PDF with `lines` as its text layer. */
export function makeNotesPdf(lines?: readonly string[]): Buffer;
