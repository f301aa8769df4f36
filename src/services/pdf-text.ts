/**
 * The text of a PDF the person adds as a private document, read with
 * pdf.js (pdfjs-dist) entirely on the device.
 *
 * pdf.js parses in its own Web Worker. In the app that worker is our own
 * file: `pdfjs-dist/build/pdf.worker.min.mjs?url` makes Vite emit it as a
 * same-origin asset, so it loads offline (the service worker precaches
 * /assets/) and under our CSP (worker-src 'self'; pdf.js 6 needs no eval,
 * and with `disableFontFace` no font is installed, since nothing is drawn).
 * Node (the unit tests) passes pdf.js's legacy build instead, which runs
 * without a worker.
 *
 * Only the text layer is read: a scanned PDF (pictures of text) yields no
 * text, which the caller reports (EmptyDocumentError) rather than store an
 * empty document. Lines follow pdf.js's end-of-line marks; pages are
 * separated by a blank line, so the chunker sees them as paragraphs.
 */
import { AbortedError } from '../lib/engine/errors';

/** The part of pdf.js this module uses (the browser build and the legacy build both have it). */
export interface PdfJs {
  getDocument(params: {
    data: Uint8Array;
    verbosity?: number;
    disableFontFace?: boolean;
    useSystemFonts?: boolean;
    stopAtErrors?: boolean;
  }): PdfLoadingTask;
}

interface PdfLoadingTask {
  promise: Promise<PdfDocumentProxy>;
  destroy(): Promise<void>;
}

interface PdfDocumentProxy {
  numPages: number;
  getPage(pageNumber: number): Promise<{
    getTextContent(): Promise<{ items: ReadonlyArray<{ str?: string; hasEOL?: boolean }> }>;
    cleanup(): unknown;
  }>;
}

/** Not a PDF, or a damaged one. */
export class PdfReadError extends Error {
  override readonly name = 'PdfReadError';
  constructor(
    readonly fileName: string,
    options?: ErrorOptions,
  ) {
    super(`"${fileName}" could not be read as a PDF (it may be damaged, or not a PDF).`, options);
  }
}

/** A password-protected PDF. */
export class PdfPasswordError extends Error {
  override readonly name = 'PdfPasswordError';
  constructor(
    readonly fileName: string,
    options?: ErrorOptions,
  ) {
    super(`"${fileName}" is protected by a password. Save an unprotected copy and add that instead.`, options);
  }
}

/** More pages than one document may have. */
export class PdfTooLongError extends Error {
  override readonly name = 'PdfTooLongError';
  constructor(
    readonly fileName: string,
    readonly pages: number,
    readonly limit: number,
  ) {
    super(`"${fileName}" has ${pages.toLocaleString('en-US')} pages; H3LIX reads documents of up to ${limit.toLocaleString('en-US')}.`);
  }
}

export const MAX_PDF_PAGES = 2_000;

export interface PdfTextOptions {
  /** For messages ("notes.pdf could not be read"). */
  fileName?: string;
  signal?: AbortSignal;
  /** pdf.js itself: `loadPdfJs()` in the browser (the default), the legacy build in Node. */
  pdfjs?: PdfJs;
  maxPages?: number;
}

export interface PdfText {
  text: string;
  pages: number;
}

/** The text layer of a PDF. `data` is copied (pdf.js takes ownership of what it is given). */
export async function extractPdfText(data: Uint8Array, options: PdfTextOptions = {}): Promise<PdfText> {
  const { signal } = options;
  const fileName = options.fileName ?? 'This file';
  const maxPages = options.maxPages ?? MAX_PDF_PAGES;
  throwIfAborted(signal);
  const pdfjs = options.pdfjs ?? (await loadPdfJs());
  const task = pdfjs.getDocument({
    data: data.slice(),
    // Errors only: warnings about fonts that are never drawn are noise here.
    verbosity: 0,
    disableFontFace: true,
    useSystemFonts: false,
    stopAtErrors: false,
  });
  const onAbort = (): void => void task.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const document = await task.promise;
    if (document.numPages > maxPages) throw new PdfTooLongError(fileName, document.numPages, maxPages);
    const pages: string[] = [];
    for (let n = 1; n <= document.numPages; n++) {
      throwIfAborted(signal);
      const page = await document.getPage(n);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        // Marked-content items carry no text.
        if (typeof item.str !== 'string') continue;
        text += item.str;
        if (item.hasEOL) text += '\n';
      }
      page.cleanup();
      pages.push(tidy(text));
    }
    return { text: pages.filter((page) => page !== '').join('\n\n'), pages: document.numPages };
  } catch (error) {
    throw toPdfError(error, fileName, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await task.destroy();
  }
}

let browserPdfJs: Promise<PdfJs> | null = null;

/**
 * pdf.js for the browser, loaded on first use (it is ~0.5 MB, and most
 * sessions never add a PDF), with its worker pointed at our own copy.
 */
export function loadPdfJs(): Promise<PdfJs> {
  browserPdfJs ??= (async () => {
    const [pdfjs, worker] = await Promise.all([import('pdfjs-dist'), import('pdfjs-dist/build/pdf.worker.min.mjs?url')]);
    pdfjs.GlobalWorkerOptions.workerSrc = new URL(worker.default, globalThis.location.href).href;
    return pdfjs as unknown as PdfJs;
  })();
  // A failed load (offline before the asset was cached) is not remembered.
  browserPdfJs.catch(() => {
    browserPdfJs = null;
  });
  return browserPdfJs;
}

/** Spaces collapsed within lines, blank runs collapsed, ends trimmed. */
function tidy(text: string): string {
  return text
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function toPdfError(error: unknown, fileName: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return new AbortedError('Reading the PDF was cancelled.');
  if (error instanceof PdfTooLongError || error instanceof AbortedError) return error;
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  if (name === 'PasswordException') return new PdfPasswordError(fileName, { cause: error });
  if (name === 'InvalidPDFException' || name === 'FormatError' || name === 'UnknownErrorException') {
    return new PdfReadError(fileName, { cause: error });
  }
  return error;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('Reading the PDF was cancelled.');
}
