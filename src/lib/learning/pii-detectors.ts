/**
 * Detectors for personal data and secrets in short free text: the eyes of the
 * privacy projection (privacy-projection.ts, DESIGN.md 2.3, postulate U2).
 *
 * Each detector returns spans (UTF-16 offsets into the text it was given) and
 * a kind; spans of different detectors may overlap, the projection merges them.
 * Spans carry no copy of the matched text, so a list of findings can be
 * counted or logged without repeating what it found.
 *
 * The bias is deliberate: a missed secret leaks to strangers for good, a false
 * alarm only costs one strategy (redacted or not shared). So detectors err
 * towards matching, and the near-misses they are tuned to leave alone are the
 * ones general strategies really contain: versions (1.2.3), years, prices,
 * decimals, round quantities, file names (config.py), identifiers (camelCase).
 *
 * Pure: regular expressions and arithmetic only.
 */

export const PII_KINDS = [
  'email',
  'phone',
  'url',
  'ip-address',
  'payment-card',
  'iban',
  'account-number',
  'street-address',
  'postcode',
  'date',
  'secret',
  'password',
  'private-term',
] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** A finding: text.slice(start, end) is personal or secret. */
export interface PiiSpan {
  readonly kind: PiiKind;
  readonly start: number;
  readonly end: number;
}

/** What a private term stands for; picks the placeholder that replaces it ("a person", "a place", "something"). */
export type PrivateTermKind = 'person' | 'place' | 'term';
/** A plain string is a person's name (profile, contacts): the common case. */
export type PrivateTermInput = string | { readonly term: string; readonly kind: PrivateTermKind };

function collect(re: RegExp, text: string, kind: PiiKind, accept?: (m: RegExpMatchArray) => boolean): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const m of text.matchAll(re)) {
    if (accept && !accept(m)) continue;
    out.push({ kind, start: m.index, end: m.index + m[0].length });
  }
  return out;
}

const digitsOf = (s: string): string => s.replace(/\D/g, '');

/** Case-insensitive source for a literal word without the `i` flag (which would also make \p{Lu} match lowercase). */
function anyCase(word: string): string {
  let out = '';
  for (const c of word) {
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    out += lower !== upper && lower.length === 1 && upper.length === 1 ? `[${lower}${upper}]` : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}
const anyCaseOf = (words: readonly string[]): string => words.map(anyCase).join('|');

// ---------------------------------------------------------------- email

/**
 * Top-level domains that make a bare "name.tld" a domain. Chosen to leave out
 * those that are also common file extensions (py, rs, md, sh, js, ts, pl, in)
 * or English words after a dot (is, to, be, no), and those that are common
 * property names in code (user.email, logger.info, arr.at, np.int), because
 * strategies about code name files and fields far more often than domains; a
 * domain under those TLDs with a scheme or www. is still caught.
 */
const TLDS = [
  'com', 'org', 'net', 'edu', 'gov', 'mil', 'biz', 'io', 'dev', 'app', 'ai', 'co', 'me', 'xyz', 'online', 'tech',
  'cloud', 'uk', 'de', 'fr', 'es', 'it', 'nl', 'eu', 'ch', 'se', 'dk', 'fi', 'pt', 'ru', 'jp', 'cn', 'br', 'au', 'ca',
  'us', 'ie', 'nz', 'gr', 'cz', 'ro', 'hu', 'tv', 'fm', 'ly', 'gg', 'ua', 'mx', 'ar', 'za', 'kr', 'tw', 'hk', 'sg',
];

/** The local part takes every character RFC 5322 allows there, so no piece of an odd address ("a!b#c@x.org") is left behind. */
const EMAIL = /(?<![\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-])[\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
const AT = String.raw`(?:\s*[([{<]\s*at\s*[)\]}>]\s*|\s+at\s+)`;
const DOT = String.raw`(?:\s*[([{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+)`;
/**
 * "ana (at) example (dot) com", "ana at example dot com": people spell
 * addresses out to dodge scrapers. The last label must be a known TLD, or
 * "look at the dot product" would be an address.
 */
const SPELLED_EMAIL = new RegExp(
  String.raw`(?<![\p{L}\p{N}])[\p{L}\p{N}._%+-]+${AT}[\p{L}\p{N}-]+(?:${DOT}[\p{L}\p{N}-]+)*${DOT}(?:${TLDS.join('|')})(?![\p{L}\p{N}])`,
  'giu',
);

export function detectEmails(text: string): PiiSpan[] {
  return [...collect(EMAIL, text, 'email'), ...collect(SPELLED_EMAIL, text, 'email')];
}

// ---------------------------------------------------------------- URL

const SCHEME_URL = /(?<![\p{L}\p{N}+.-])[a-z][a-z0-9+.-]{1,19}:\/\/[^\s<>"'`]+/giu;
const WWW_URL = /(?<![\p{L}\p{N}._-])www\d{0,3}\.[^\s<>"'`]+/giu;
const DOMAIN_URL = new RegExp(
  String.raw`(?<![\p{L}\p{N}@._/-])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:${TLDS.join('|')})(?![\p{L}\p{N}-])(?:[/?#:][^\s<>"'\x60]*)?`,
  'giu',
);

/** Sentence punctuation after a URL is not part of it; a closing bracket is, when the URL opened one. */
function urlLength(s: string): number {
  let end = s.length;
  while (end > 0) {
    const c = s[end - 1] as string;
    if ('.,;:!?\'"»›…'.includes(c)) {
      end--;
      continue;
    }
    const open = c === ')' ? '(' : c === ']' ? '[' : c === '}' ? '{' : '';
    if (open) {
      const body = s.slice(0, end);
      if (body.split(open).length < body.split(c).length) {
        end--;
        continue;
      }
    }
    break;
  }
  return end;
}

export function detectUrls(text: string): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const re of [SCHEME_URL, WWW_URL, DOMAIN_URL]) {
    for (const m of text.matchAll(re)) {
      const end = m.index + urlLength(m[0]);
      // "www.example.org" is both a www. URL and a bare domain: one finding.
      if (end > m.index && !out.some((s) => s.start <= m.index && s.end >= end)) out.push({ kind: 'url', start: m.index, end });
    }
  }
  return out;
}

// ---------------------------------------------------------------- IP addresses

const IPV4 = /(?<![\p{L}\p{N}.])(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2}|:\d{1,5})?(?![\p{N}]|\.\d)/gu;
const IPV6_CANDIDATE = /(?<![\p{L}\p{N}:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\p{L}\p{N}:]|\.\d)/gu;

function validIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/**
 * Full, compressed ("fe80::1") and IPv4-tailed forms. Times ("12:30:45") and
 * C++ scopes ("std::vector") fail: three groups without "::" are too few, and
 * a compressed form must have a digit and two groups.
 */
export function validIpv6(s: string): boolean {
  if (s.includes(':::') || s.split('::').length > 2) return false;
  let body = s;
  let tailGroups = 0;
  const v4 = /(?:^|:)((?:\d{1,3}\.){3}\d{1,3})$/.exec(s);
  if (v4) {
    if (!validIpv4(v4[1] as string)) return false;
    body = s.slice(0, s.length - (v4[1] as string).length);
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1);
    tailGroups = 2;
  }
  const compressed = body.includes('::');
  const halves = compressed ? body.split('::') : [body];
  const groups: string[] = [];
  for (const half of halves) {
    if (half === '') continue;
    for (const g of half.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return false;
      groups.push(g);
    }
  }
  const total = groups.length + tailGroups;
  if (!compressed) return total === 8;
  return total < 8 && total >= 2 && /\d/.test(s);
}

export function detectIpAddresses(text: string): PiiSpan[] {
  return [
    ...collect(IPV4, text, 'ip-address', (m) => validIpv4(m[0].replace(/[/:].*$/, ''))),
    ...collect(IPV6_CANDIDATE, text, 'ip-address', (m) => validIpv6(m[0])),
  ];
}

// ---------------------------------------------------------------- payment cards

/** Digit groups joined by single spaces or dashes: how card numbers are written. */
const DIGIT_GROUPS = /(?<![\p{N}])\d+(?:[ -]\d+)*(?![\p{N}])/gu;

/** The Luhn checksum that every payment card number satisfies (ISO/IEC 7812). */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Every run of whole groups with 13-19 digits that passes Luhn, not just the
 * whole sequence: "4111 1111 1111 1111 12/25" has the expiry glued on, and the
 * card must still be found.
 */
export function detectPaymentCards(text: string): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const m of text.matchAll(DIGIT_GROUPS)) {
    const groups: { start: number; end: number }[] = [];
    for (const g of m[0].matchAll(/\d+/g)) groups.push({ start: m.index + g.index, end: m.index + g.index + g[0].length });
    for (let i = 0; i < groups.length; i++) {
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        const g = groups[j] as { start: number; end: number };
        digits += text.slice(g.start, g.end);
        if (digits.length > 19) break;
        if (digits.length >= 13 && luhnValid(digits)) out.push({ kind: 'payment-card', start: (groups[i] as { start: number }).start, end: g.end });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- IBAN

const IBAN_CANDIDATE = /(?<![\p{L}\p{N}])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,32}/gu;

/** ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 must be 1. */
export function ibanValid(iban: string): boolean {
  const compact = iban.replace(/[ -]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rest = 0;
  for (const c of rearranged) {
    const v = c >= 'A' ? c.charCodeAt(0) - 55 : c.charCodeAt(0) - 48;
    rest = (v > 9 ? rest * 100 + v : rest * 10 + v) % 97;
  }
  return rest === 1;
}

/** The candidate may have swallowed a following word ("… 3000 and"), so shorter prefixes are tried too. */
export function detectIbans(text: string): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const m of text.matchAll(IBAN_CANDIDATE)) {
    for (let end = m[0].length; end >= 15; end--) {
      const candidate = m[0].slice(0, end);
      if (/[ -]$/.test(candidate)) continue;
      if (ibanValid(candidate)) {
        out.push({ kind: 'iban', start: m.index, end: m.index + end });
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- phone numbers

const PHONE_CANDIDATE = /(?<![\p{L}\p{N}+])(?:\+\s?|00)?(?:\(\d{1,5}\)|\d)[\d ().-]{4,24}\d(?![\p{N}]|[.,]\d)/gu;

/**
 * International ("+33 6 12 34 56 78", "0044 20 7946 0958") and local
 * ("06 12 34 56 78", "(020) 7946 0958", "555-123-4567", "612 345 678")
 * formats with 7-15 digits. Left alone: bare digit runs (account numbers
 * claim those), versions and decimals (dot-separated with single digits or
 * only two groups), thousands ("10 000 000") and year ranges ("1999-2005").
 */
export function isPhoneLike(s: string): boolean {
  const digitCount = digitsOf(s).length;
  if (digitCount < 7 || digitCount > 15) return false;
  if (/[ .-]{2,}/.test(s) || (s.match(/\(/g)?.length ?? 0) > 1 || (s.match(/\)/g)?.length ?? 0) > 1) return false;
  if (s.includes('(') !== s.includes(')')) return false;
  if (s.includes('(')) return true;
  if (/^(?:\+|00)/.test(s)) return s.replace(/^\+\s?|^00/, '').split(/[ .-]/).filter((g) => g.length === 1).length <= 1;
  if (!/[ .-]/.test(s)) return false;
  const groups = s.split(/[ .-]/);
  // "1 1 2 3 5 8 13 21" is a sequence; a phone has at most one single-digit group (a trunk or country prefix).
  if (groups.filter((g) => g.length === 1).length > 1) return false;
  if (/^[\d.]+$/.test(s) && (groups.length < 3 || groups.some((g) => g.length < 2))) return false;
  if (/^\d{1,2}([ .])\d{3}(?:\1\d{3})+$/.test(s)) return false;
  if (groups.length === 2 && !/^(?:0\d*[ .-]\d+|\d{3}[ .-]\d{4})$/.test(s)) return false;
  return true;
}

/**
 * A candidate that is not a phone as a whole may be one with other numbers
 * glued on ("+33 1 23 45 67 89 2 times"): then the longest run of whole
 * groups at either end of it that is phone-like and starts like a dialled
 * number (+, 0 or a bracketed area code) is taken. That start is required so
 * that a listed sequence ("1 1 2 3 5 8 13 21") does not yield a phone; runs
 * with a 3-digit group are account numbers anyway.
 */
export function detectPhones(text: string): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const m of text.matchAll(PHONE_CANDIDATE)) {
    if (isPhoneLike(m[0])) {
      out.push({ kind: 'phone', start: m.index, end: m.index + m[0].length });
      continue;
    }
    const groups = [...m[0].matchAll(/(?:\+\s?)?\(?\d+\)?/g)].map((g) => ({ start: g.index, end: g.index + g[0].length }));
    search: for (let size = groups.length - 1; size >= 2; size--) {
      for (const first of [0, groups.length - size]) {
        const from = (groups[first] as { start: number }).start;
        const to = (groups[first + size - 1] as { end: number }).end;
        const part = m[0].slice(from, to);
        if (/^[+0(]/.test(part) && isPhoneLike(part)) {
          out.push({ kind: 'phone', start: m.index + from, end: m.index + to });
          break search;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- account and ID numbers

/** Digit runs of 6+ (accounts, customer and policy numbers, PINs, OTPs); fractions and integer parts of decimals are left alone. */
const DIGIT_RUN = /(?<![\p{L}\p{N}]|\d[.,])\d{6,}(?![\p{L}\p{N}]|[.,]\d)/gu;
/** Passport- and ID-style codes: a few letters then 6+ digits ("X12345678", "AB1234567C"). */
const LETTERED_ID = /(?<![\p{L}\p{N}])[A-Za-z]{1,3}\d{6,}[A-Za-z]?(?![\p{L}\p{N}])/gu;
/** Grouped numbers with 8+ digits that are not phones ("123-45-6789-01", "1234 5678 9012"). */
const GROUPED_NUMBER = /(?<![\p{L}\p{N}])\d{1,6}(?:[ -]\d{1,6})+(?![\p{L}\p{N}])/gu;

/** Round quantities (1000000, 3600000, 25000000) are arithmetic, not identifiers. */
const ROUND_QUANTITY = /^\d{1,2}0+$/;
const THOUSANDS = /^\d{1,3}(?:([ ,.])\d{3})(?:\1\d{3})*$/;

export function detectAccountNumbers(text: string): PiiSpan[] {
  return [
    ...collect(DIGIT_RUN, text, 'account-number', (m) => !ROUND_QUANTITY.test(m[0])),
    ...collect(LETTERED_ID, text, 'account-number'),
    // A group of 3+ digits, so that a listed sequence ("1 1 2 3 5 8 13 21") is not an account.
    ...collect(GROUPED_NUMBER, text, 'account-number', (m) => digitsOf(m[0]).length >= 8 && /\d{3}/.test(m[0]) && !THOUSANDS.test(m[0]) && !/^(?:1[89]|20)\d\d-(?:1[89]|20)\d\d$/.test(m[0])),
  ];
}

// ---------------------------------------------------------------- street addresses and postcodes

/** Words that cannot be part of a street name; they keep "3 miles down the road" from being an address. */
const NOT_STREET_WORDS = new Set(['a', 'an', 'the', 'of', 'to', 'on', 'in', 'at', 'by', 'for', 'and', 'or', 'my', 'your', 'our', 'his', 'her', 'their', 'this', 'that', 'down', 'up', 'per', 'more', 'less', 'than', 'times', 'ways', 'is', 'are', 'was', 'be']);
/** Street words that are also ordinary English ("one way", "a place"): they need a capitalised name before them. */
const AMBIGUOUS_STREET_WORDS = ['way', 'place', 'close', 'court', 'drive', 'row', 'square', 'hill', 'grove', 'gardens', 'terrace', 'circle', 'mews', 'walk', 'park', 'green', 'crescent'];
const CLEAR_STREET_WORDS = ['street', 'st', 'avenue', 'ave', 'road', 'rd', 'boulevard', 'blvd', 'lane', 'ln', 'highway', 'hwy', 'parkway', 'pkwy', 'dr', 'ct', 'pl', 'sq', 'cres'];
const HOUSE_NUMBER = String.raw`(?<![\p{L}\p{N}.,])\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?,?\s+`;
const NAME_WORD = String.raw`[\p{L}\p{N}][\p{L}\p{N}'’.-]*`;
const CAPITAL_WORD = String.raw`(?:\p{Lu}|\d)[\p{L}\p{N}'’.-]*`;
const EN_STREET = new RegExp(String.raw`${HOUSE_NUMBER}((?:${NAME_WORD}\s+){1,4}?)(?:${anyCaseOf(CLEAR_STREET_WORDS)})(?![\p{L}\p{N}])\.?`, 'gu');
const EN_STREET_TITLED = new RegExp(String.raw`${HOUSE_NUMBER}(?:${CAPITAL_WORD}\s+){1,4}?(?:${AMBIGUOUS_STREET_WORDS.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('|')})(?![\p{L}\p{N}])`, 'gu');
/** French, Spanish, Italian, Portuguese: street word, then the name, the number before or after. */
const ROMANCE_STREET_WORDS = ['rue', 'avenue', 'av.', 'boulevard', 'bd', 'place', 'allée', 'allee', 'chemin', 'impasse', 'quai', 'route', 'cours', 'calle', 'c/', 'avenida', 'avda.', 'plaza', 'paseo', 'carrer', 'via', 'viale', 'piazza', 'corso', 'rua', 'travessa', 'largo'];
/** These are not English words, so they make an address even without a house number ("rue de Rivoli"); the rest ("via Slack", "take place Monday") need one. */
const ROMANCE_ONLY_STREET_WORDS = new Set(['rue', 'allée', 'allee', 'impasse', 'quai', 'calle', 'c/', 'avenida', 'avda.', 'carrer', 'viale', 'piazza', 'rua', 'travessa']);
const ROMANCE_LINK = String.raw`(?:(?:de la|de los|de las|de|del|des|du|della|delle|dei|di|do|da|dos|das|d'|l')\s*)?`;
const ROMANCE_STREET = new RegExp(
  String.raw`(?:${HOUSE_NUMBER}(?:(?:bis|ter)\s+)?)?(?<![\p{L}\p{N}])(?:${anyCaseOf(ROMANCE_STREET_WORDS)})\s+${ROMANCE_LINK}${CAPITAL_WORD}(?:\s+${ROMANCE_LINK}${CAPITAL_WORD})*(?:,?\s*(?:n[º°o.]\s*)?\d{1,5}[A-Za-z]?(?![\p{L}\p{N}]))?`,
  'gu',
);
/** German and Dutch compounds ("Hauptstraße 5", "Keizersgracht 123") and two-word forms ("Berliner Straße 12"). */
// No "ring": "String 5" and "Spring 2024" would be streets.
const GERMANIC_SUFFIXES = ['straße', 'strasse', 'str.', 'weg', 'platz', 'gasse', 'allee', 'damm', 'ufer', 'chaussee', 'straat', 'laan', 'plein', 'gracht', 'kade', 'dijk', 'singel', 'gatan', 'vägen', 'gade', 'vej'];
const GERMANIC_STREET = new RegExp(
  String.raw`(?<![\p{L}\p{N}])(?:\p{Lu}[\p{L}-]+(?:${GERMANIC_SUFFIXES.join('|').replace(/\./g, '\\.')})|\p{Lu}[\p{L}-]+\s+(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Damm|Ufer))\s+\d{1,4}\s?[a-zA-Z]?(?![\p{L}\p{N}])`,
  'gu',
);
/** What often follows a street: ", City", ", 75001 Paris", " NW1 6XE", ", CA 94103". */
const ADDRESS_TAIL = /,?\s*(?:\d{4,5}\s+)?\p{Lu}[\p{L}'’-]+(?:[ -]\p{Lu}[\p{L}'’-]+){0,2}(?:,?\s*(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?)?/uy;

const US_STATES = 'AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY';
const POSTCODES = [
  /(?<![\p{L}\p{N}])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?![\p{L}\p{N}])/gu, // UK: NW1 6XE, SW1A 1AA
  /(?<![\p{L}\p{N}])[A-Z]\d[A-Z]\s?\d[A-Z]\d(?![\p{L}\p{N}])/gu, // Canada: K1A 0B1
  new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${US_STATES})\s+\d{5}(?:-\d{4})?(?![\p{L}\p{N}])`, 'gu'), // US: CA 94103
  /(?<![\p{L}\p{N}])\d{5}\s+\p{Lu}\p{Ll}{2,}(?:[ -]\p{Lu}\p{Ll}+)?/gu, // FR, DE, ES, IT: 75001 Paris
  // NL: 1012 AB; not eras and units (1066 AD, 4096 MB, 2000 KM).
  /(?<![\p{L}\p{N}])\d{4}\s?(?!(?:AD|BC|CE|KB|MB|GB|TB|PB|EB|KW|MW|GW|HP|PS|MS|NS|US|UK|EU|CM|MM|KM|KG|MG|ML|PM|AM|SS|SA|SD)(?![A-Z]))[A-Z]{2}(?![\p{L}\p{N}])/gu,
];

/** Abbreviations whose period belongs to the address; any other final period ends the sentence. */
const ABBREVIATED_STREET_WORD = /(?:^|[^\p{L}])(?:st|ave|rd|blvd|ln|hwy|pkwy|dr|ct|pl|sq|cres|str|av|avda|bd)\.$/iu;

export function detectStreetAddresses(text: string): PiiSpan[] {
  const out: PiiSpan[] = [];
  const push = (start: number, matchEnd: number) => {
    const end = text[matchEnd - 1] === '.' && !ABBREVIATED_STREET_WORD.test(text.slice(start, matchEnd)) ? matchEnd - 1 : matchEnd;
    ADDRESS_TAIL.lastIndex = end;
    const tail = ADDRESS_TAIL.exec(text);
    out.push({ kind: 'street-address', start, end: tail ? end + tail[0].length : end });
  };
  for (const m of text.matchAll(EN_STREET)) {
    const words = (m[1] ?? '').trim().split(/\s+/);
    if (words.some((w) => NOT_STREET_WORDS.has(w.toLowerCase()))) continue;
    push(m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(ROMANCE_STREET)) {
    const word = /(?:^|\s)([^\s\d,]+)\s/.exec(m[0])?.[1]?.toLowerCase() ?? '';
    if (/\d/.test(m[0]) || ROMANCE_ONLY_STREET_WORDS.has(word)) push(m.index, m.index + m[0].length);
  }
  for (const re of [EN_STREET_TITLED, GERMANIC_STREET]) {
    for (const m of text.matchAll(re)) push(m.index, m.index + m[0].length);
  }
  return out;
}

export function detectPostcodes(text: string): PiiSpan[] {
  return POSTCODES.flatMap((re) => collect(re, text, 'postcode'));
}

// ---------------------------------------------------------------- dates (of birth)

const MONTHS = [
  'january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'janvier', 'février', 'fevrier', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'aout', 'septembre', 'octobre', 'novembre', 'décembre',
  'januar', 'februar', 'märz', 'maerz', 'juni', 'juli', 'oktober', 'dezember',
  'enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre', 'noviembre', 'diciembre',
  'gennaio', 'febbraio', 'aprile', 'maggio', 'giugno', 'luglio', 'settembre', 'ottobre', 'dicembre',
];
const MONTH = `(?:${anyCaseOf([...MONTHS].sort((a, b) => b.length - a.length))})\\.?`;
const ORDINAL = String.raw`(?:st|nd|rd|th|er|º)?`;
const DATE_PATTERNS: RegExp[] = [
  /(?<![\p{L}\p{N}.])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\p{N}]|\.\d)/gu, // 1987-03-14
  /(?<![\p{L}\p{N}.])(\d{1,2})[-/](\d{1,2})[-/](\d{2}|\d{4})(?![\p{N}]|\.\d)/gu, // 14/03/1987, 03-14-87
  /(?<![\p{L}\p{N}.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\p{N}]|\.\d)/gu, // 14.03.1987 (dotted needs a 4-digit year: "1.10.12" is a version)
  new RegExp(String.raw`(?<![\p{L}\p{N}])\d{1,2}${ORDINAL}\.?\s+(?:of\s+|de\s+)?${MONTH},?\s+(?:de\s+)?\d{4}(?![\p{N}])`, 'gu'), // 14 March 1987
  new RegExp(String.raw`(?<![\p{L}\p{N}])${MONTH}\s+\d{1,2}${ORDINAL},?\s+\d{4}(?![\p{N}])`, 'gu'), // March 14, 1987
];
/** A year is personal when it is said to be a birth year ("born in 1987", "DOB: 1987"). */
const BIRTH_YEAR = new RegExp(
  String.raw`(?<=(?<![\p{L}\p{N}])(?:${anyCaseOf(['born', 'birthday', 'birth date', 'date of birth', 'dob', 'd.o.b.', 'née', 'né', 'nee', 'geboren', 'nacido', 'nacida', 'nato', 'nata'])})[^.\n\d]{0,24})(?<![\p{N}])(?:1[89]|20)\d\d(?![\p{N}])`,
  'gu',
);

function plausibleDate(m: RegExpMatchArray): boolean {
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  if (m[1]!.length === 4) return b >= 1 && b <= 12 && c >= 1 && c <= 31;
  // Day/month or month/day: either order must be a calendar date.
  return ((a >= 1 && a <= 31 && b >= 1 && b <= 12) || (a >= 1 && a <= 12 && b >= 1 && b <= 31)) && c >= 0;
}

export function detectDates(text: string): PiiSpan[] {
  const [iso, slashed, dotted, ...textual] = DATE_PATTERNS as [RegExp, RegExp, RegExp, ...RegExp[]];
  return [
    ...collect(iso, text, 'date', plausibleDate),
    ...collect(slashed, text, 'date', plausibleDate),
    ...collect(dotted, text, 'date', plausibleDate),
    ...textual.flatMap((re) => collect(re, text, 'date')),
    ...collect(BIRTH_YEAR, text, 'date'),
  ];
}

// ---------------------------------------------------------------- secrets and tokens

/** Formats vendors give their keys, matched to the end of the token so no tail of it survives. */
const VENDOR_TOKEN =
  /(?<![A-Za-z0-9_-])(?:sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{12,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|xox[abposr]-[A-Za-z0-9-]{8,}|A(?:KIA|SIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|glpat-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{16,}|npm_[A-Za-z0-9]{30,}|ya29\.[A-Za-z0-9_-]{16,})[A-Za-z0-9_-]*/g;
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g;
const LONG_HEX = /(?<![\p{L}\p{N}_])(?:0x)?[0-9A-Fa-f]{32,}(?![\p{L}\p{N}_])/gu;
const UUID = /(?<![\p{L}\p{N}])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\p{L}\p{N}])/gu;
const BASE64ISH = /(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/_=-])/g;
/** Secrets passed in URLs: ?token=…, &sig=…, and user:password@ before a host. */
const URL_SECRET_PARAM = /[?&;#](?:access_token|id_token|refresh_token|token|api_key|apikey|key|secret|sig|signature|auth|code|password|pwd|pass|session|sessionid|sid|jwt)=[^&\s#"'<>]+/gi;
const URL_CREDENTIALS = /(?<=[a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+(?=@)/gi;

/**
 * Machine-made strings: 20+ letters and digits (24+ characters of the
 * base64/base64url alphabet) that do not read as words. Identifiers and paths
 * (convertToBase64Url, usr/local/lib/python3) are mostly made of pronounceable
 * pieces; random keys almost never are.
 */
export function looksRandom(token: string): boolean {
  const alnum = token.replace(/[^A-Za-z0-9]/g, '');
  if (alnum.length < 20 || !/\d/.test(alnum) || !/[A-Za-z]/.test(alnum)) return false;
  let wordy = 0;
  for (const piece of token.match(/[A-Z]?[a-z]+/g) ?? []) if (pronounceable(piece)) wordy += piece.length;
  // Random 24-character keys reach 0.6 about 3 times in 1,000, identifiers usually exceed 0.65.
  return wordy / alnum.length < 0.6;
}

/**
 * A word-like piece: 3+ letters, a quarter of them vowels, no four consonants
 * in a row. English words pass ("convert", "strength" is the rare miss);
 * random letters mostly fail on the consonant runs.
 */
function pronounceable(piece: string): boolean {
  if (piece.length < 3) return false;
  const lower = piece.toLowerCase();
  const vowels = lower.replace(/[^aeiouy]/g, '').length;
  return vowels / lower.length >= 0.25 && !/[^aeiouy]{4}/.test(lower);
}

export function detectSecrets(text: string): PiiSpan[] {
  return [
    ...collect(VENDOR_TOKEN, text, 'secret'),
    ...collect(JWT, text, 'secret'),
    ...collect(PEM_PRIVATE_KEY, text, 'secret'),
    ...collect(LONG_HEX, text, 'secret'),
    ...collect(UUID, text, 'secret'),
    ...collect(BASE64ISH, text, 'secret', (m) => looksRandom(m[0])),
    ...collect(URL_SECRET_PARAM, text, 'secret'),
    ...collect(URL_CREDENTIALS, text, 'password'),
  ];
}

// ---------------------------------------------------------------- passwords

const PASSWORD_WORDS = [
  'password', 'passwort', 'passwd', 'passphrase', 'passcode', 'pwd', 'pw', 'mot de passe', 'mdp', 'contraseña', 'contrasena',
  'clave', 'kennwort', 'senha', 'parola d’ordine', "parola d'ordine", 'api key', 'api_key', 'apikey', 'access key',
  'secret key', 'private key', 'wifi key', 'wi-fi key',
];
/** Only with ":" or "=": in prose "the secret is practice" and "pass is" are not disclosures. */
const SYMBOL_ONLY_PASSWORD_WORDS = ['secret', 'token', 'pass'];
/**
 * Numeric codes: PINs, card security codes, one-time and door codes. Not a
 * bare "code": "status code 404" is advice, not a secret.
 */
const CODE_WORDS = [
  'pin', 'pin code', 'code pin', 'cvv', 'cvc', 'cvv2', 'otp', 'passcode', 'security code', 'verification code', 'one-time code',
  'access code', 'door code', 'alarm code', 'entry code', 'gate code', '2fa code', 'backup code', 'recovery code', 'geheimzahl',
];
const QUALIFIER = String.raw`(?:\s+(?:for|to|of|on|at|de|du|des|für|zu|para|per|di|del)\s+(?:(?:the|my|our|your|la|le|el|die|das|der|il|mon|ma|mein|meine)\s+)?[\p{L}\p{N}._-]+(?:\s+[\p{L}\p{N}._-]+)?)?`;
const VERBAL_SEPARATOR = String.raw`\s+(?:is|was|are|est|ist|es|é|è)(?![\p{L}])\s*:?\s*`;
const SYMBOL_SEPARATOR = String.raw`\s*(?:[:=]|->|=>)\s*`;
const QUOTED = String.raw`"[^"\n]{1,80}"|'[^'\n]{1,80}'|“[^”\n]{1,80}”|«[^»\n]{1,80}»|‘[^’\n]{1,80}’`;
const SYMBOL_PASSWORD = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${anyCaseOf([...PASSWORD_WORDS, ...SYMBOL_ONLY_PASSWORD_WORDS])})${QUALIFIER}${SYMBOL_SEPARATOR}(${QUOTED}|\S+)`, 'gu');
const VERBAL_PASSWORD = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${anyCaseOf(PASSWORD_WORDS)})${QUALIFIER}${VERBAL_SEPARATOR}(${QUOTED}|\S+)`, 'gu');
/** "the password hunter2!" with no "is" or ":": only a value that cannot be an ordinary word counts ("the password manager" does not). */
const SPACED_PASSWORD = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${anyCaseOf(PASSWORD_WORDS)})\s+(${QUOTED}|\S+)`, 'gu');
const NUMERIC_CODE = new RegExp(String.raw`(?<![\p{L}\p{N}])(?:${anyCaseOf(CODE_WORDS)})${QUALIFIER}(?:${VERBAL_SEPARATOR}|${SYMBOL_SEPARATOR}|\s*#?\s*)(\d{3,8})(?![\p{N}])`, 'gu');

/** Words that follow "password is" in advice rather than in a disclosure ("the password is weak"). */
const NOT_A_PASSWORD = new Set(
  ('a an the not never too very so also still only just usually often always generally weak strong short long shorter longer ' +
    'stronger weaker safe safer unsafe secure insecure same different required needed necessary optional wrong incorrect invalid ' +
    'valid correct right missing empty blank set saved stored case sensitive hashed expired changed reset known unknown public ' +
    'private secret important easy hard good bad simple complex common new old in on at for of to with by that this it what ' +
    'which how one something there here visible hidden ok okay fine enough sent shared leaked reused used written typed ' +
    'entered accepted rejected protected encrypted stolen lost forgotten sufficient insufficient'
  ).split(' '),
);

/** After "password is", a disclosure rather than advice: quoted, not a plain word, or a word advice does not use. */
function passwordValue(m: RegExpMatchArray): boolean {
  const value = m[1] ?? '';
  if (/^["'“«‘]/.test(value)) return true;
  const word = value.replace(/[.,;!?)]+$/, '');
  if (word === '') return false;
  if (/[^\p{L}]/u.test(word) || /\p{Lu}/u.test(word.slice(1))) return true;
  const lower = word.toLowerCase();
  if (NOT_A_PASSWORD.has(lower)) return false;
  return !(lower.length > 4 && /(?:ed|ing|ly)$/.test(lower));
}

export function detectPasswords(text: string): PiiSpan[] {
  const valueSpan = (m: RegExpExecArray): PiiSpan => {
    const value = m[1] ?? '';
    const end = m.index + m[0].length;
    return { kind: 'password', start: end - value.length, end };
  };
  const out: PiiSpan[] = [];
  for (const m of text.matchAll(SYMBOL_PASSWORD)) out.push(valueSpan(m));
  for (const m of text.matchAll(VERBAL_PASSWORD)) if (passwordValue(m)) out.push(valueSpan(m));
  for (const m of text.matchAll(SPACED_PASSWORD)) {
    const value = (m[1] ?? '').replace(/[.,;!?)]+$/, '');
    if (/^["'“«‘]/.test(value) || (value.length >= 4 && (/[\p{N}]/u.test(value) || /[^\p{L}\p{N}]/u.test(value) || /\p{Lu}/u.test(value.slice(1))))) out.push(valueSpan(m));
  }
  for (const m of text.matchAll(NUMERIC_CODE)) out.push(valueSpan(m));
  return out;
}

// ---------------------------------------------------------------- private vocabulary

/** Scripts written without spaces between words: a name there is followed by particles ("田中さん", "민수가"), so no word boundary is required. */
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/** Terms shorter than this (after folding) are ignored: a one-letter "name" would match every "a". */
export const MIN_PRIVATE_TERM_LENGTH = 2;

const foldCache = new Map<string, string>();
/**
 * One character folded for matching: case, diacritics ("José" = "jose"),
 * ß = ss, dotless ı, and curly apostrophes. Texts are mostly ASCII, so that
 * path skips normalize().
 */
function foldChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 0x80) return code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : ch;
  let f = foldCache.get(ch);
  if (f === undefined) {
    f = ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss').replace(/ı/g, 'i').replace(/[’‘ʼ`´]/g, "'");
    if (foldCache.size < 10_000) foldCache.set(ch, f);
  }
  return f;
}

/** The folded text and, for each of its code units, the original [start, end) it came from. */
function foldWithMap(text: string): { folded: string; from: number[]; to: number[] } {
  let folded = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    const f = foldChar(text.slice(i, i + width));
    for (let k = 0; k < f.length; k++) {
      from.push(i);
      to.push(i + width);
    }
    folded += f;
    i += width;
  }
  return { folded, from, to };
}

const foldText = (s: string): string => foldWithMap(s).folded;
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A compiled private vocabulary: build once per vocabulary, reuse for every text. */
export interface PrivateVocabulary {
  /** Terms as folded for matching, longest first. */
  readonly terms: readonly string[];
  /** Placeholder kind of each folded term. */
  readonly kinds: ReadonlyMap<string, PrivateTermKind>;
  readonly spaced: RegExp | null;
  readonly unspaced: RegExp | null;
}

export function compilePrivateVocabulary(input: readonly PrivateTermInput[]): PrivateVocabulary {
  const kinds = new Map<string, PrivateTermKind>();
  for (const entry of input) {
    const raw = typeof entry === 'string' ? entry : entry.term;
    const kind = typeof entry === 'string' ? 'person' : entry.kind;
    const term = foldText(raw.normalize('NFC')).trim().replace(/\s+/g, ' ');
    if ([...term].length < MIN_PRIVATE_TERM_LENGTH || kinds.has(term)) continue;
    kinds.set(term, kind);
  }
  const terms = [...kinds.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const source = (list: string[]) => list.map((t) => escapeRegExp(t).replace(/ /g, String.raw`\s+`)).join('|');
  const spaced = terms.filter((t) => !UNSPACED_SCRIPT.test(t));
  const unspaced = terms.filter((t) => UNSPACED_SCRIPT.test(t));
  return {
    terms,
    kinds,
    // Whole words, plus the minimal English inflections: possessive ('s, '), plural (s, es).
    spaced: spaced.length ? new RegExp(String.raw`(?<![\p{L}\p{N}\p{M}_])(?:${source(spaced)})(?:'s|'|s|es)?(?![\p{L}\p{N}\p{M}_])`, 'gu') : null,
    unspaced: unspaced.length ? new RegExp(`(?:${source(unspaced)})`, 'gu') : null,
  };
}

/** A private-term span plus what the projection needs to word its placeholder. */
export interface PrivateTermSpan extends PiiSpan {
  readonly kind: 'private-term';
  readonly termKind: PrivateTermKind;
  readonly possessive: boolean;
}

/** Case-, accent- and apostrophe-insensitive whole-word matches of the vocabulary's terms. */
export function detectPrivateTerms(text: string, vocabulary: PrivateVocabulary): PrivateTermSpan[] {
  if (!vocabulary.spaced && !vocabulary.unspaced) return [];
  const { folded, from, to } = foldWithMap(text);
  const out: PrivateTermSpan[] = [];
  for (const re of [vocabulary.spaced, vocabulary.unspaced]) {
    if (!re) continue;
    for (const m of folded.matchAll(re)) {
      if (m[0].length === 0) continue;
      const possessive = /'s?$/.test(m[0]);
      const bare = m[0].replace(/(?:'s|'|s|es)$/, '');
      const key = vocabulary.kinds.has(m[0]) ? m[0] : bare.replace(/\s+/g, ' ');
      out.push({
        kind: 'private-term',
        start: from[m.index] as number,
        end: to[m.index + m[0].length - 1] as number,
        termKind: vocabulary.kinds.get(key) ?? 'person',
        possessive,
      });
    }
  }
  return out;
}

/**
 * The parts of a full name worth adding to a vocabulary besides the whole
 * ("Ana María de la Cruz" -> "Ana", "María", "Cruz"): people are named by
 * first or last name alone. Particles are left out, they are ordinary words.
 */
export function nameParts(fullName: string): string[] {
  const particles = new Set(['de', 'da', 'das', 'del', 'della', 'der', 'di', 'do', 'dos', 'du', 'la', 'le', 'van', 'von', 'y', 'e', 'bin', 'ibn', 'al', 'el', 'st', 'mc']);
  const whole = fullName.normalize('NFC').trim().replace(/\s+/g, ' ');
  const parts = whole.split(/[\s]+/).filter((p) => [...p].length >= MIN_PRIVATE_TERM_LENGTH && !particles.has(p.toLowerCase()));
  return [...new Set([whole, ...parts].filter((p) => p !== ''))];
}

// ---------------------------------------------------------------- all together

/** Every detector over `text` (and the vocabulary, when given), sorted by start; spans may overlap. */
export function detectPii(text: string, vocabulary?: PrivateVocabulary): PiiSpan[] {
  const spans: PiiSpan[] = [
    ...detectEmails(text),
    ...detectUrls(text),
    ...detectIpAddresses(text),
    ...detectPaymentCards(text),
    ...detectIbans(text),
    ...detectPhones(text),
    ...detectAccountNumbers(text),
    ...detectStreetAddresses(text),
    ...detectPostcodes(text),
    ...detectDates(text),
    ...detectSecrets(text),
    ...detectPasswords(text),
    ...(vocabulary ? detectPrivateTerms(text, vocabulary) : []),
  ];
  return spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start || b.end - a.end);
}
