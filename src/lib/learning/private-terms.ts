/**
 * The private vocabulary the privacy projection removes before sharing
 * (postulate U2): the person's name from the profile, and names found in
 * their memories (capitalised words that do not start a sentence: "my
 * daughter Lena", "I work at Brightwater"). Over-collecting is the safe
 * side: a common word wrongly taken for a name only costs a placeholder in
 * a shared lesson, a missed name leaks it.
 */
import type { PrivateTermInput } from './pii-detectors';

/** Capitalised words that are not names however they are written. */
const NOT_NAMES = new Set(
  'I Im Ive Id Ill My Me Mine The A An And But Or If When Where What Who Why How This That These Those It Its We Our You Your He She They Them His Her Their Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December Remember Please Note Also'.split(
    ' ',
  ),
);

export function privateTermsFrom(profileName: string, memoryTexts: readonly string[]): PrivateTermInput[] {
  const terms = new Map<string, PrivateTermInput>();
  const add = (term: string, kind: 'person' | 'term'): void => {
    const t = term.trim();
    if (t.length >= 2 && !terms.has(t.toLowerCase())) terms.set(t.toLowerCase(), { term: t, kind });
  };
  if (profileName.trim()) {
    add(profileName, 'person');
    for (const part of profileName.split(/\s+/)) add(part, 'person');
  }
  for (const text of memoryTexts) {
    for (const sentence of text.split(/(?<=[.!?])\s+|\n+/)) {
      const words = sentence.match(/[\p{L}][\p{L}'’-]*/gu) ?? [];
      words.forEach((w, i) => {
        if (i === 0) return;
        const clean = w.replace(/['’]s$/u, '');
        if (/^\p{Lu}/u.test(clean) && !NOT_NAMES.has(clean)) add(clean, 'term');
      });
    }
  }
  return [...terms.values()];
}
