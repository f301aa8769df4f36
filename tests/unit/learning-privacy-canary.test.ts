/**
 * THE CANARY TEST (DESIGN.md 2.3, postulate U2): plant 1,000+ distinct fake
 * secrets of many kinds in private conversations and memories, run a worst-
 * case "extraction" over them, project every candidate, and require that no
 * secret, in any spelling, is in anything shareable, while general strategies
 * still get through.
 *
 * The extractor is deliberately naive: it proposes every message, every memory,
 * every sentence of them, and every sentence wrapped as a strategy ("When …,
 * double-check the details."), i.e. everything a model that copies instead of
 * generalising could emit. Everything is generated from a fixed seed, so a
 * failure is reproducible and names the kind and the secret.
 */
import { describe, expect, it } from 'vitest';
import { nameParts } from '../../src/lib/learning/pii-detectors';
import { projectForSharing, type ProjectionContext } from '../../src/lib/learning/privacy-projection';
import { seededRandom } from '../../src/lib/random/seeded';

// ---------------------------------------------------------------- seeded generator

const rng = seededRandom;

const random = rng(0xc0ffee);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const chars = (n: number, alphabet: string) => Array.from({ length: n }, () => pick([...alphabet])).join('');
const digits = (n: number) => chars(n, '0123456789');
const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
const grouped = (s: string, size: number, sep: string) => s.match(new RegExp(`.{1,${size}}`, 'g'))!.join(sep);
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

/** Pseudo-names from syllables: distinctive, so a leak cannot hide behind a common word. */
const SYLLABLES = ['ka', 'zor', 'vel', 'mi', 'ra', 'quo', 'stad', 'lin', 'bre', 'tho', 'xan', 'dru', 'pel', 'ov', 'nek', 'ga', 'lu', 'ber', 'sko', 'vy', 'tar', 'wen', 'fio', 'jur', 'hal', 'mo', 'cre', 'zin', 'dax', 'ulm'];
const pseudoWord = (syllables: number) => Array.from({ length: syllables }, () => pick(SYLLABLES)).join('');

function luhnComplete(body: string): string {
  for (let check = 0; check <= 9; check++) {
    const full = body + check;
    let sum = 0;
    for (let i = 0; i < full.length; i++) {
      let d = Number(full[full.length - 1 - i]);
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    if (sum % 10 === 0) return full;
  }
  throw new Error('unreachable');
}

function ibanComplete(country: string, bban: string): string {
  const numeric = [...`${bban}${country}00`].map((c) => (c >= 'A' ? String(c.charCodeAt(0) - 55) : c)).join('');
  let rest = 0;
  for (const c of numeric) rest = (rest * 10 + Number(c)) % 97;
  return `${country}${String(98 - rest).padStart(2, '0')}${bban}`;
}

const base64url = (s: string) => Buffer.from(s).toString('base64url');

// ---------------------------------------------------------------- the secrets

interface Canary {
  readonly kind: string;
  /** The secret as planted. */
  readonly secret: string;
  /** Pieces of it that must not survive either (name parts, street names, tokens inside URLs). */
  readonly pieces: readonly string[];
  /** Sentences a person would write that contain it. */
  readonly sentences: readonly string[];
}

interface Person {
  first: string;
  last: string;
}

const people: Person[] = [];
const vocabulary: string[] = [];
const canaries: Canary[] = [];
const taken = new Set<string>();

function add(kind: string, make: () => { secret: string; pieces?: string[]; sentences: string[] }): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    const c = make();
    if (taken.has(c.secret.toLowerCase())) continue;
    taken.add(c.secret.toLowerCase());
    canaries.push({ kind, secret: c.secret, pieces: c.pieces ?? [], sentences: c.sentences });
    return;
  }
  throw new Error(`could not make a distinct ${kind}`);
}

const person = (): Person => pick(people);

/** Names from the profile, contacts and memory: the private vocabulary, in full and by parts. */
for (let i = 0; i < 120; i++) {
  add('name', () => {
    const p = { first: cap(pseudoWord(2)), last: cap(pseudoWord(3)) };
    const full = `${p.first} ${p.last}`;
    people.push(p);
    vocabulary.push(...nameParts(full));
    return {
      secret: full,
      pieces: [p.first, p.last],
      sentences: [
        `${full} said the meeting moved to Thursday.`,
        `Remind me to call ${p.first} tomorrow about the invoice.`,
        `${p.first}'s birthday party is on Saturday at the lake.`,
        `I told ${p.first.toUpperCase()} about the new job yesterday.`,
        `${p.first.toLowerCase()} prefers tea over coffee, remember that.`,
        `Dinner with the ${p.last} family went well.`,
      ],
    };
  });
}
/** Real first names too (and one written in a script without spaces): they collide with ordinary words more easily. */
for (const real of ['Ana', 'Marco', 'Priya', 'Jürgen', 'Zoë', 'Siobhan', 'José García', 'Ngozi', "Seán O'Connor", '田中', 'Łukasz', 'Mei-Ling']) {
  vocabulary.push(...nameParts(real));
  add('name', () => ({
    secret: real,
    pieces: nameParts(real),
    sentences: [`Ask ${real} whether the flat is still available.`, `${real} sent the photos from the trip.`, real === '田中' ? '田中さんに明日電話してください。' : `My cousin ${real} is visiting next week.`],
  }));
}

const DOMAINS = ['mailbox-', 'corp-', 'post', 'inbox', 'fastmail-', 'uni-'];
const TLDS = ['com', 'org', 'net', 'io', 'de', 'fr', 'co.uk', 'es'];
for (let i = 0; i < 120; i++) {
  add('email', () => {
    const p = person();
    const local = pick([`${p.first}.${p.last}`, `${p.first}${digits(2)}`, `${p.last}.${p.first[0]}`, `${pseudoWord(2)}+${pseudoWord(1)}`]).toLowerCase();
    const email = `${local}@${pick(DOMAINS)}${pseudoWord(2)}.${pick(TLDS)}`;
    return {
      secret: email,
      sentences: [`Email ${p.first} at ${email} about the quarterly report.`, `My new address is ${email}, please update it.`, `Contact: ${email}`],
    };
  });
}

const PHONE_FORMATS: (() => string)[] = [
  () => `+33 ${int(6, 7)} ${grouped(digits(8), 2, ' ')}`,
  () => `0${int(6, 7)} ${grouped(digits(8), 2, ' ')}`,
  () => `0${int(6, 7)}.${grouped(digits(8), 2, '.')}`,
  () => `+1 (${int(201, 989)}) ${int(200, 999)}-${digits(4)}`,
  () => `${int(201, 989)}-${int(200, 999)}-${digits(4)}`,
  () => `+44 20 ${digits(4)} ${digits(4)}`,
  () => `07${digits(3)} ${digits(6)}`,
  () => `+49 30 ${digits(7)}`,
  () => `0049 ${int(30, 89)} ${digits(7)}`,
  () => `+34 6${digits(2)} ${digits(3)} ${digits(3)}`,
  () => `6${digits(2)} ${digits(3)} ${digits(3)}`,
  () => `+91 ${int(70000, 99999)} ${digits(5)}`,
  () => `(0${int(20, 99)}) ${digits(4)} ${digits(4)}`,
  () => `+${int(30, 49)}${digits(9)}`,
  () => `0${int(6, 7)}${digits(8)}`,
];
for (let i = 0; i < 120; i++) {
  add('phone', () => {
    const phone = pick(PHONE_FORMATS)();
    const p = person();
    return {
      secret: phone,
      sentences: [`Call me at ${phone} if anything changes.`, `${p.first}'s mobile is ${phone}.`, `The plumber's number: ${phone} (after 6pm).`],
    };
  });
}

for (let i = 0; i < 100; i++) {
  add('card', () => {
    const [prefix, length] = pick([['4', 16], ['51', 16], ['55', 16], ['37', 15], ['6011', 16], ['4', 13], ['4', 19]] as const);
    const number = luhnComplete(prefix + digits(length - prefix.length - 1));
    const written = length === 15 ? `${number.slice(0, 4)} ${number.slice(4, 10)} ${number.slice(10)}` : grouped(number, 4, pick([' ', '-', '']));
    return {
      secret: written,
      sentences: [`My card is ${written}, expiry 09/27.`, `Use the Visa ${written} for the hotel booking.`, `card number ${written} cvv ${digits(3)}`],
    };
  });
}

const IBAN_LAYOUTS: [string, () => string][] = [
  ['DE', () => digits(18)],
  ['FR', () => digits(10) + chars(11, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') + digits(2)],
  ['GB', () => chars(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') + digits(14)],
  ['ES', () => digits(20)],
  ['NL', () => chars(4, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') + digits(10)],
  ['IT', () => chars(1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') + digits(10) + chars(12, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')],
];
for (let i = 0; i < 90; i++) {
  add('iban', () => {
    const [country, bban] = pick(IBAN_LAYOUTS);
    const compact = ibanComplete(country, bban());
    const written = pick([compact, grouped(compact, 4, ' '), grouped(compact, 4, ' ').toLowerCase()]);
    return {
      secret: written,
      sentences: [`My IBAN is ${written}, please send the refund there.`, `Rent goes to ${written} on the first of the month.`, `Bank: IBAN ${written}`],
    };
  });
}

const KEY_FORMATS: (() => string)[] = [
  () => `sk-proj-${chars(48, BASE62)}`,
  () => `sk-${chars(32, BASE62)}`,
  () => `sk_live_${chars(24, BASE62)}`,
  () => `ghp_${chars(36, BASE62)}`,
  () => `github_pat_${chars(22, BASE62)}_${chars(40, BASE62)}`,
  () => `AKIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
  () => `xoxb-${digits(12)}-${digits(13)}-${chars(24, BASE62)}`,
  () => `AIza${chars(35, BASE62 + '-_')}`,
  () => `hf_${chars(34, BASE62)}`,
  () => `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url(`{"sub":"${digits(10)}","name":"${person().first}"}`)}.${chars(43, BASE62 + '-_')}`,
  () => chars(40, HEX),
  () => chars(64, HEX),
  () => chars(32, BASE62),
];
for (let i = 0; i < 120; i++) {
  add('api-key', () => {
    const key = pick(KEY_FORMATS)();
    return {
      secret: key,
      sentences: [`Here's my key ${key}, use it for the script.`, `export API_TOKEN=${key}`, `The token is ${key} (don't share it).`, `access: ${key}`],
    };
  });
}

const ADDRESS_FORMATS: ((street: string) => string)[] = [
  (s) => `${int(1, 999)} ${s} Street`,
  (s) => `${int(1, 999)} ${s} Road`,
  (s) => `${int(1, 2999)} ${s} Avenue, ${cap(pseudoWord(2))}`,
  (s) => `${int(1, 99)} ${s} Lane`,
  (s) => `${int(1, 99)}${pick(['', 'B', 'a'])} ${s.toLowerCase()} street`,
  (s) => `${int(1, 99)} ${s} Way`,
  (s) => `${int(1, 99)} rue ${s}`,
  (s) => `${int(1, 99)} rue de la ${s}, ${int(10000, 95999)} ${cap(pseudoWord(2))}`,
  (s) => `${s}straße ${int(1, 200)}`,
  (s) => `${s}weg ${int(1, 200)}b`,
  (s) => `Calle ${s} ${int(1, 200)}`,
  (s) => `Via ${s} ${int(1, 200)}`,
  (s) => `${s}laan ${int(1, 300)}`,
  (s) => `Rua ${s}, ${int(1, 900)}`,
];
for (let i = 0; i < 100; i++) {
  add('address', () => {
    const street = cap(pseudoWord(3));
    const address = pick(ADDRESS_FORMATS)(street);
    return {
      secret: address,
      pieces: [street],
      sentences: [`I moved to ${address} last month.`, `Deliver the parcel to ${address}.`, `Home address: ${address}`],
    };
  });
}

const ACCOUNT_FORMATS: [string, () => string][] = [
  ['account number', () => digits(int(8, 12))],
  ['customer ID', () => String(int(1, 9)) + digits(6)],
  ['policy number', () => `${chars(2, 'ABCDEFGHJKLMNPRSTUVWXYZ')}${digits(7)}`],
  ['SSN', () => `${int(100, 899)}-${digits(2)}-${digits(4)}`],
  ['passport', () => `${chars(1, 'ABCDEFGHJKLMNPRSTUVWXYZ')}${digits(8)}`],
  ['member no.', () => String(int(1, 9)) + digits(5)],
  ['routing number', () => digits(9)],
];
for (let i = 0; i < 90; i++) {
  add('account', () => {
    const [label, make] = pick(ACCOUNT_FORMATS);
    const id = make();
    return {
      secret: id,
      sentences: [`My ${label} is ${id}.`, `For the insurance claim, quote ${label} ${id} in the subject.`, `${cap(label)}: ${id}`],
    };
  });
}

const URL_FORMATS: (() => { url: string; pieces: string[] })[] = [
  () => {
    const id = chars(28, BASE62 + '-_');
    return { url: `https://drive.example.com/file/d/${id}/view?usp=sharing`, pieces: [id] };
  },
  () => {
    const token = chars(20, BASE62);
    return { url: `https://share.example.org/album?token=${token}`, pieces: [token] };
  },
  () => {
    const p = person();
    return { url: `https://calendar.example.com/u/${p.first.toLowerCase()}.${p.last.toLowerCase()}/private-${chars(32, HEX)}/basic.ics`, pieces: [] };
  },
  () => {
    const site = `${pseudoWord(2)}-family`;
    return { url: `www.${site}.net/photos`, pieces: [site] };
  },
  () => {
    const site = pseudoWord(3);
    return { url: `https://${site}.com/cv`, pieces: [site] };
  },
  () => {
    const user = pseudoWord(2);
    return { url: `https://${user}:${chars(10, BASE62)}@nas.${pseudoWord(2)}.io/backup`, pieces: [] };
  },
];
for (let i = 0; i < 90; i++) {
  add('url', () => {
    const { url, pieces } = pick(URL_FORMATS)();
    return {
      secret: url,
      pieces,
      sentences: [`The shared album is at ${url} for now.`, `Open ${url} to see the plan.`, `link: ${url}`],
    };
  });
}

const PASSWORD_FORMATS: (() => string)[] = [
  () => `${cap(pseudoWord(2))}${digits(2)}${pick(['!', '#', '$', '&', '*', '?'])}`,
  () => `${pseudoWord(2)}${digits(int(1, 4))}`,
  () => `${pseudoWord(1)}-${pseudoWord(2)}-${pseudoWord(1)}-${pseudoWord(2)}`,
  () => chars(12, BASE62 + '!@#%^&*'),
  () => pseudoWord(4),
];
const PASSWORD_SENTENCES: ((pw: string) => string)[] = [
  (pw) => `The wifi password is ${pw}, write it down somewhere safe.`,
  (pw) => `password: ${pw}`,
  (pw) => `My Netflix password is ${pw} don't share it.`,
  (pw) => `pwd=${pw}`,
  (pw) => `The password for the router is ${pw}.`,
  (pw) => `mot de passe : ${pw}`,
  (pw) => `Passwort: ${pw}`,
  (pw) => `login ana, pass: ${pw}`,
];
for (let i = 0; i < 110; i++) {
  add('password', () => {
    const pw = pick(PASSWORD_FORMATS)();
    return { secret: pw, sentences: [pick(PASSWORD_SENTENCES)(pw), pick(PASSWORD_SENTENCES)(pw)] };
  });
}

for (let i = 0; i < 40; i++) {
  add('code', () => {
    const code = digits(6);
    return {
      secret: code,
      sentences: [`My PIN is ${code}, don't forget it.`, `The door code is ${code}.`, `Verification code: ${code}`],
    };
  });
}

for (let i = 0; i < 40; i++) {
  add('ip', () => {
    const ip = pick([
      () => `203.0.${int(0, 255)}.${int(1, 254)}`,
      () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
      () => `192.168.${int(0, 255)}.${int(1, 254)}`,
      () => `2001:db8:${chars(4, HEX)}:${chars(3, HEX)}::${chars(2, HEX)}`,
    ])();
    return { secret: ip, sentences: [`My home server is at ${ip}, login as admin.`, `VPN endpoint ${ip} port 51820`] };
  });
}

const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
for (let i = 0; i < 40; i++) {
  add('birth-date', () => {
    const [y, m, d] = [int(1940, 2012), int(1, 12), int(1, 28)];
    const mm = String(m).padStart(2, '0');
    const dd = String(d).padStart(2, '0');
    const date = pick([`${y}-${mm}-${dd}`, `${dd}/${mm}/${y}`, `${mm}/${dd}/${y}`, `${d} ${MONTH_NAMES[m - 1]} ${y}`, `${MONTH_NAMES[m - 1]} ${d}, ${y}`, `${dd}.${mm}.${y}`]);
    const p = person();
    return { secret: date, sentences: [`${p.first} was born on ${date}.`, `DOB ${date}`, `My date of birth is ${date}, for the form.`] };
  });
}

// ---------------------------------------------------------------- private conversations and memories

const FILLER = ['Can you help me plan the week?', 'Thanks, that was useful!', 'Let me check and come back to you.', 'Also, summarise the last email in two lines.'];
const conversations: string[][] = [];
const memories: string[] = [];
{
  const pending = [...canaries];
  while (pending.length > 0) {
    const messages: string[] = [pick(FILLER)];
    for (let k = int(2, 4); k > 0 && pending.length > 0; k--) {
      const c = pending.pop() as Canary;
      const [first, ...rest] = c.sentences;
      messages.push(`${pick(['Hi!', 'Quick note.', 'OK.', ''])} ${first}`.trim());
      // The rest of the secret's sentences live in memory, where the model also looks.
      for (const sentence of rest) memories.push(sentence);
    }
    conversations.push(messages);
  }
}

/** Strategy-shaped copies: the worst case of an extractor that copies instead of generalising. */
const ADVICE = ['double-check the details before answering', 'answer briefly and confirm the key facts', 'keep a short summary for next time'];
function naiveExtraction(source: string): string[] {
  const sentences = source.split(/(?<=[.!?])\s+/).filter((s) => s.trim() !== '');
  const wrapped = sentences.map((s) => `When ${s[0]!.toLowerCase()}${s.slice(1).replace(/[.!?]+$/, '')}, ${pick(ADVICE)}.`);
  return [source, ...(sentences.length > 1 ? sentences : []), ...wrapped];
}

const privateTexts = [...conversations.flat(), ...memories, ...conversations.map((m) => m.join(' '))];
const secretCandidates = privateTexts.flatMap(naiveExtraction);

/** General strategies, with the near misses they really contain (numbers, versions, capitalised words that are not contacts). */
const CONDITIONS = [
  'a question mixes units',
  'a price is given as $19.99 per 100 g',
  'the user asks for a summary of a long text',
  'code targets Node 22 or later',
  'an estimate is requested',
  'a list has more than 7 items',
  'the input is JSON',
  'a year such as 2024 is mentioned',
  'version 1.2.3 is compared with 1.10.0',
  'a percentage change is asked for',
  'a recipe must be scaled from 4 to 6 servings',
  'the text is in French',
  'a proof is requested',
  'a log shows HTTP 404 errors',
  'a file such as config.py is mentioned',
  'someone asks to convert 3.5 km to miles',
  'pi is needed',
  'a loop runs 1000000 times',
  'Mark asks about Paris',
  'the request is ambiguous',
];
const ACTIONS = [
  'state the assumption first',
  'convert everything to SI units before computing',
  'answer with a short list',
  'show the formula and then the number',
  'ask one clarifying question',
  'round to 2 significant figures and say so',
  'check the result against a rough estimate',
  'prefer the built-in API over a library',
  'quote the exact figure from the source',
  'write the steps as a numbered list',
];
const cleanStrategies = CONDITIONS.flatMap((c) => ACTIONS.map((a) => `When ${c}, ${a}.`));

// ---------------------------------------------------------------- the check

const lower = (s: string) => s.toLowerCase();
const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[’‘]/g, "'");
const squeeze = (s: string) => lower(s).replace(/[\s\-./()_:+,]/g, '');
const digitsOnly = (s: string) => s.replace(/\D/g, '');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The normalised views of everything shared, computed once. */
function views(outputs: readonly string[]) {
  return {
    lower: outputs.map(lower).join('\n'),
    folded: outputs.map(fold).join('\n'),
    squeezed: outputs.map(squeeze).join('\n'),
    digits: outputs.map(digitsOnly).join('|'),
  };
}

/** Which spellings of `value` appear in what was shared. */
function leaks(value: string, v: ReturnType<typeof views>, wholeWord: boolean): string[] {
  const found: string[] = [];
  if (wholeWord && /\p{L}/u.test(value) && !/\p{Script=Han}/u.test(value)) {
    if (new RegExp(`(?<![\\p{L}\\p{N}])${escape(fold(value))}(?![\\p{L}\\p{N}])`, 'u').test(v.folded)) found.push('word');
    return found;
  }
  if (v.lower.includes(lower(value))) found.push('as is');
  if (v.folded.includes(fold(value))) found.push('folded');
  if (squeeze(value).length >= 6 && v.squeezed.includes(squeeze(value))) found.push('without separators');
  if (digitsOnly(value).length >= 6 && v.digits.includes(digitsOnly(value))) found.push('digits only');
  return found;
}

const NOW = Date.UTC(2025, 5, 1, 12);

describe('canary', () => {
  it(`plants ${canaries.length} distinct secrets (${new Set(canaries.map((c) => c.kind)).size} kinds) in ${conversations.length} conversations and ${memories.length} memories; none is shareable after projection`, () => {
    expect(canaries.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(canaries.map((c) => c.secret.toLowerCase())).size).toBe(canaries.length);

    // Every secret really was planted where the extractor looks, and the leak
    // check sees every one of them in the unprojected candidates (so a zero
    // below means something).
    const corpus = privateTexts.join('\n');
    for (const c of canaries) expect(corpus.includes(c.secret), `${c.kind} ${c.secret} not planted`).toBe(true);
    const unprojected = views(secretCandidates);
    expect(canaries.filter((c) => leaks(c.secret, unprojected, c.kind === 'name').length === 0).map((c) => c.secret)).toEqual([]);

    const context: ProjectionContext = { privateVocabulary: vocabulary, now: NOW, random: rng(99), ldp: { epsilon: 1 } };
    const shared: string[] = [];
    const dropped = new Map<string, number>();
    for (const text of secretCandidates) {
      const result = projectForSharing({ text, createdAt: NOW - 1 }, context);
      if (result.ok) shared.push(result.projected.text);
      else dropped.set(result.reason, (dropped.get(result.reason) ?? 0) + 1);
    }

    const v = views(shared);
    const leaked: string[] = [];
    for (const c of canaries) {
      const where = leaks(c.secret, v, c.kind === 'name');
      if (where.length) leaked.push(`${c.kind} ${JSON.stringify(c.secret)} (${where.join(', ')})`);
      for (const piece of c.pieces) {
        const pieceWhere = leaks(piece, v, true);
        if (pieceWhere.length) leaked.push(`${c.kind} piece ${JSON.stringify(piece)} of ${JSON.stringify(c.secret)} (${pieceWhere.join(', ')})`);
      }
    }

    const clean = cleanStrategies.map((text) => projectForSharing({ text, createdAt: NOW - 1 }, context));
    const cleanShared = clean.filter((r) => r.ok).length;
    const cleanUnchanged = clean.filter((r, i) => r.ok && r.projected.text === cleanStrategies[i]).length;

    console.log(
      `canary: ${canaries.length} secrets (${[...new Set(canaries.map((c) => c.kind))].map((k) => `${k} ${canaries.filter((c) => c.kind === k).length}`).join(', ')}); ` +
        `${secretCandidates.length} candidates from private text: ${shared.length} shared redacted, ` +
        `${secretCandidates.length - shared.length} dropped (${[...dropped].map(([r, n]) => `${r} ${n}`).join(', ')}); ` +
        `leaks ${leaked.length}; clean strategies shared ${cleanShared}/${cleanStrategies.length} (${cleanUnchanged} unchanged)`,
    );

    expect(leaked).toEqual([]);
    // The filter is not trivially dropping everything: general strategies get through,
    // and so do private sentences once their personal data is generalised.
    expect(cleanShared / cleanStrategies.length).toBeGreaterThanOrEqual(0.9);
    expect(shared.length).toBeGreaterThan(0);
  });
});
