/**
 * A conversation's automatic title: the start of its first message, on one
 * line, cut at a word boundary.
 */
export const TITLE_MAX = 48;
export const UNTITLED = 'New conversation';

export function titleFromMessage(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (!line) return UNTITLED;
  if (line.length <= TITLE_MAX) return line;
  const cut = line.slice(0, TITLE_MAX);
  const space = cut.lastIndexOf(' ');
  return `${(space > TITLE_MAX / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
