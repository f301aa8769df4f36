/**
 * Which model source is in force: the person's own mirror setting wins over
 * the deploy config's, and with neither the public hubs are used. A mirror
 * URL is checked and normalised here so every engine sees the same form.
 */
import type { ModelSource } from './contract';

export class InvalidMirrorUrlError extends Error {
  override name = 'InvalidMirrorUrlError';
}

/**
 * Normalises a mirror URL: absolute (relative paths resolve against the
 * app's origin), http(s) only, no credentials, ending in '/'.
 */
export function normaliseMirrorUrl(input: string, base: string): string {
  const raw = input.trim();
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new InvalidMirrorUrlError(`"${raw}" is not a URL. Use something like https://models.example.org/ or /models/.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidMirrorUrlError(`A model mirror must be an http(s) URL, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new InvalidMirrorUrlError('A model mirror URL must not contain a user name or password.');
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

export function effectiveModelSource(
  personalMirror: string | null,
  deployMirror: string | null,
  base: string,
): ModelSource {
  const chosen = personalMirror?.trim() || deployMirror?.trim() || null;
  return { mirror: chosen ? normaliseMirrorUrl(chosen, base) : null };
}
