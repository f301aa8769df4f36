/**
 * Splitting a document's text into chunks for retrieval.
 *
 * A chunk is what gets embedded and, when it matches a question, pasted into
 * the prompt, so it should be one coherent piece of the document, small
 * enough that its vector is about one thing and that several fit in a small
 * model's context. Rules:
 * - At most `maxChars` characters (default 800, about 200 tokens: well inside
 *   all-MiniLM-L6-v2's 256-token window, so nothing is cut off unseen).
 * - Cuts fall between paragraphs, else between sentences, else between
 *   words; only a single "word" longer than a chunk (a URL, base64) is cut
 *   inside, and never inside a surrogate pair.
 * - Markdown headings stay with their section: a chunk is either several
 *   whole sections, or a piece of one section that starts with its heading
 *   (so "## Allergies" still frames the third chunk of that section).
 *   Lines starting with '#' inside fenced code are not headings.
 * - Consecutive pieces of one section share a small overlap (whole trailing
 *   sentences, or trailing words, up to `overlapChars`), so a fact that
 *   straddles a cut is whole in at least one chunk.
 * - Never an empty or whitespace-only chunk; the same text always gives the
 *   same chunks.
 *
 * Pure: plain strings in and out.
 */

export interface ChunkOptions {
  /** Longest chunk, in UTF-16 code units (string length). Default 800. */
  maxChars?: number;
  /** Most characters repeated from the end of one piece of a section at the start of the next. Default 100. */
  overlapChars?: number;
}

export const DEFAULT_CHUNK_CHARS = 800;
export const DEFAULT_OVERLAP_CHARS = 100;
/** Below this a chunk cannot hold a heading and a sentence. */
export const MIN_CHUNK_CHARS = 80;
export const MAX_CHUNK_CHARS = 4_000;

interface Section {
  /** Heading lines (the section's own, after any empty sections' headings just above it). */
  heading: string | null;
  paragraphs: string[];
}

const PARAGRAPH_SEPARATOR = '\n\n';
const FENCE = /^ {0,3}(```|~~~)/;
const ATX_HEADING = /^ {0,3}#{1,6}[ \t]+\S/;
// After sentence-ending punctuation (and closing quotes or brackets), before the next non-space.
const SENTENCE_BREAK = /(?<=[.!?…。！？]["'”’»)\]]*)\s+(?=\S)/u;

/** The chunks of `text`, in document order. Whitespace-only text gives none. */
export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const maxChars = options.maxChars ?? DEFAULT_CHUNK_CHARS;
  const overlapChars = options.overlapChars ?? DEFAULT_OVERLAP_CHARS;
  if (!Number.isInteger(maxChars) || maxChars < MIN_CHUNK_CHARS || maxChars > MAX_CHUNK_CHARS) {
    throw new RangeError(`chunkText: maxChars must be a whole number from ${MIN_CHUNK_CHARS} to ${MAX_CHUNK_CHARS}, got ${maxChars}`);
  }
  if (!Number.isInteger(overlapChars) || overlapChars < 0 || overlapChars * 2 > maxChars) {
    throw new RangeError(`chunkText: overlapChars must be a whole number from 0 to half of maxChars, got ${overlapChars}`);
  }

  const chunks: string[] = [];
  // Whole sections gathered into the chunk being built.
  let gathered = '';
  const flushGathered = (): void => {
    if (gathered !== '') chunks.push(gathered);
    gathered = '';
  };

  for (const section of parseSections(normalise(text), maxChars)) {
    const whole = renderSection(section);
    if (whole.length <= maxChars) {
      if (gathered === '') gathered = whole;
      else if (gathered.length + PARAGRAPH_SEPARATOR.length + whole.length <= maxChars) gathered += PARAGRAPH_SEPARATOR + whole;
      else {
        flushGathered();
        gathered = whole;
      }
      continue;
    }
    flushGathered();
    chunks.push(...splitSection(section, maxChars, overlapChars));
  }
  flushGathered();
  return chunks;
}

/** Line endings to \n, control characters (PDF extraction leaves some) to spaces, trailing spaces off. */
function normalise(text: string): string {
  return text
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, ' ')
    .replace(/[ \t]+$/gm, '');
}

function parseSections(text: string, maxChars: number): Section[] {
  const sections: Section[] = [];
  let current: Section = { heading: null, paragraphs: [] };
  let paragraph: string[] = [];
  let inFence = false;

  const endParagraph = (): void => {
    const body = paragraph.join('\n').trim();
    if (body !== '') current.paragraphs.push(body);
    paragraph = [];
  };
  const startSection = (heading: string): void => {
    endParagraph();
    if (current.paragraphs.length > 0) {
      sections.push(current);
      current = { heading, paragraphs: [] };
      return;
    }
    // A heading with nothing under it (a document title above "## Intro")
    // frames the next section instead of becoming a chunk of its own.
    const joined = current.heading === null ? heading : `${current.heading}\n${heading}`;
    if (joined.length <= maxChars / 2) {
      current = { heading: joined, paragraphs: [] };
      return;
    }
    // Too many stacked headings to prefix: the older ones become text of their own.
    if (current.heading !== null) sections.push({ heading: null, paragraphs: [current.heading] });
    current = { heading, paragraphs: [] };
  };

  for (const line of text.split('\n')) {
    if (FENCE.test(line)) {
      inFence = !inFence;
      paragraph.push(line);
      continue;
    }
    if (inFence) {
      paragraph.push(line);
      continue;
    }
    if (ATX_HEADING.test(line)) {
      const heading = line.trim().replace(/\s+/g, ' ');
      // A heading too long to prefix every piece of its section is treated as text.
      if (heading.length <= maxChars / 2) {
        startSection(heading);
        continue;
      }
    }
    if (line.trim() === '') endParagraph();
    else paragraph.push(line);
  }
  endParagraph();
  if (current.paragraphs.length > 0) sections.push(current);
  else if (current.heading !== null) sections.push({ heading: null, paragraphs: [current.heading] });
  return sections;
}

function renderSection(section: Section): string {
  const body = section.paragraphs.join(PARAGRAPH_SEPARATOR);
  return section.heading === null ? body : `${section.heading}\n${body}`;
}

/** A piece of text that is never cut further, and what joins it to the piece before it. */
interface Piece {
  text: string;
  /** '\n\n' before a paragraph's first piece, ' ' between its sentences or words, '' inside a cut word. */
  joiner: string;
}

/** A section longer than one chunk: pieces packed greedily, each chunk prefixed with the heading, overlapping a little. */
function splitSection(section: Section, maxChars: number, overlapChars: number): string[] {
  const prefix = section.heading === null ? '' : `${section.heading}\n`;
  const budget = maxChars - prefix.length;
  const pieces = section.paragraphs.flatMap((paragraph) =>
    piecesOf(paragraph, budget).map((piece, j) => (j === 0 ? { ...piece, joiner: PARAGRAPH_SEPARATOR } : piece)),
  );

  const chunks: string[] = [];
  let body: Piece[] = [];
  let length = 0;
  for (const piece of pieces) {
    const added = (body.length === 0 ? 0 : piece.joiner.length) + piece.text.length;
    if (body.length > 0 && length + added > budget) {
      chunks.push(prefix + join(body));
      body = overlapOf(body, overlapChars, budget - piece.text.length - piece.joiner.length);
      length = join(body).length;
    }
    length += (body.length === 0 ? 0 : piece.joiner.length) + piece.text.length;
    body.push(piece);
  }
  if (body.length > 0) chunks.push(prefix + join(body));
  return chunks;
}

function join(pieces: readonly Piece[]): string {
  return pieces.map((piece, i) => (i === 0 ? piece.text : piece.joiner + piece.text)).join('');
}

/**
 * The tail of a chunk to repeat at the start of the next: whole trailing
 * pieces within `overlapChars`, or else the trailing words of the last
 * piece; nothing when even that does not leave room (`room`) for the next piece.
 */
function overlapOf(body: readonly Piece[], overlapChars: number, room: number): Piece[] {
  const limit = Math.min(overlapChars, room);
  const last = body[body.length - 1];
  // A fragment of a cut word is not worth repeating.
  if (limit <= 0 || !last || last.joiner === '') return [];
  const kept: Piece[] = [];
  let length = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    // The overlap stays within one paragraph.
    if (kept.length > 0 && (kept[0] as Piece).joiner !== ' ') break;
    const piece = body[i] as Piece;
    const added = piece.text.length + (kept.length === 0 ? 0 : (kept[0] as Piece).joiner.length);
    if (length + added > limit) break;
    kept.unshift(piece);
    length += added;
  }
  if (kept.length > 0) return kept;
  const words = last.text.split(/\s+/);
  let tail = '';
  for (let i = words.length - 1; i > 0; i--) {
    const next = tail === '' ? (words[i] as string) : `${words[i] as string} ${tail}`;
    if (next.length > limit) break;
    tail = next;
  }
  return tail === '' ? [] : [{ text: tail, joiner: '' }];
}

/** A paragraph as pieces no longer than `budget`: itself, its sentences, their words, or hard cuts of a word. */
function piecesOf(paragraph: string, budget: number): Piece[] {
  if (paragraph.length <= budget) return [{ text: paragraph, joiner: ' ' }];
  const pieces: Piece[] = [];
  for (const sentence of paragraph.split(SENTENCE_BREAK)) {
    if (sentence.length <= budget) {
      pieces.push({ text: sentence, joiner: ' ' });
      continue;
    }
    // Words of an over-long sentence, packed back into runs that fit.
    let run = '';
    for (const word of sentence.split(/\s+/)) {
      if (word === '') continue;
      if (word.length > budget) {
        if (run !== '') pieces.push({ text: run, joiner: ' ' });
        run = '';
        hardCut(word, budget).forEach((part, i) => pieces.push({ text: part, joiner: i === 0 ? ' ' : '' }));
        continue;
      }
      if (run === '') run = word;
      else if (run.length + 1 + word.length <= budget) run += ` ${word}`;
      else {
        pieces.push({ text: run, joiner: ' ' });
        run = word;
      }
    }
    if (run !== '') pieces.push({ text: run, joiner: ' ' });
  }
  return pieces;
}

/** Cuts a word into parts of at most `budget` code units, between code points. */
function hardCut(word: string, budget: number): string[] {
  const parts: string[] = [];
  let part = '';
  for (const codePoint of word) {
    if (part.length + codePoint.length > budget) {
      parts.push(part);
      part = '';
    }
    part += codePoint;
  }
  if (part !== '') parts.push(part);
  return parts;
}
