/**
 * The privacy projection's policy (drop secrets, generalise personal data,
 * coarse time) and its properties: planted secrets never survive, projecting
 * twice changes nothing, no vocabulary term is ever shared.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { artifactTextSchema, compressedEmbeddingSchema, coarsenTime, type CompressedEmbedding } from '../../src/lib/artifacts/schema';
import { compressEmbedding } from '../../src/lib/artifacts/embedding-codec';
import { compilePrivateVocabulary } from '../../src/lib/learning/pii-detectors';
import { normaliseText, projectForSharing, type ProjectionContext, type SharingCandidate } from '../../src/lib/learning/privacy-projection';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const never = (): number => {
  throw new Error('random() must not be called here');
};
const context = (privateVocabulary: readonly string[] = [], extra: Partial<ProjectionContext> = {}): ProjectionContext => ({
  privateVocabulary,
  now: NOW,
  random: never,
  ...extra,
});
const candidate = (text: string, createdAt = NOW - 90 * 60_000): SharingCandidate => ({ text, createdAt });

function shared(text: string, vocabulary: readonly string[] = []): string {
  const result = projectForSharing(candidate(text), context(vocabulary));
  if (!result.ok) throw new Error(`dropped (${result.reason}: ${result.detail}): ${text}`);
  return result.projected.text;
}

function dropReason(text: string, vocabulary: readonly string[] = []): string {
  const result = projectForSharing(candidate(text), context(vocabulary));
  return result.ok ? `shared as: ${result.projected.text}` : result.reason;
}

describe('general strategies', () => {
  it.each([
    'When a question mixes units, convert everything to SI before computing.',
    'When a price is given as $19.99 per 100 g, compute the price per kilogram first.',
    'When comparing version 1.2.3 with 1.10.0, compare each part as a number.',
    'When Mark asks about Paris in 2024, check the year before answering.',
    'When a user asks for their password, never reveal it and suggest a reset.',
    'When pi is needed, 3.14159 is enough for most estimates.',
  ])('pass unchanged: %s', (text) => {
    const result = projectForSharing(candidate(text), context(['Ana']));
    expect(result).toMatchObject({ ok: true, projected: { text }, redactions: [], epsilonSpent: 0 });
  });
});

describe('personal data is generalised', () => {
  it('replaces names, emails, phones, URLs with generic phrases', () => {
    expect(shared('When Ana asks for the report, email it to ana.lopez@example.com and copy her manager.', ['Ana'])).toBe(
      'When a person asks for the report, email it to an email address and copy her manager.',
    );
    expect(shared('If the dentist calls from +33 1 23 45 67 89, confirm the appointment by replying yes.')).toBe(
      'If the dentist calls from a phone number, confirm the appointment by replying yes.',
    );
    expect(shared('Check the schedule at https://intranet.example.org/team before planning the week.')).toBe('Check the schedule at a URL before planning the week.');
  });

  it('words the placeholders to fit the sentence', () => {
    expect(shared("Ask Ana's team first when planning a release.", ['Ana'])).toBe("Ask a person's team first when planning a release.");
    expect(shared('Ana prefers short answers, so keep replies brief.', ['Ana'])).toBe('A person prefers short answers, so keep replies brief.');
    expect(shared('Forward urgent mail to my ana@example.com inbox before noon.')).toBe('Forward urgent mail to my email address inbox before noon.');
    expect(shared('Ana Lopez prefers answers with sources and short summaries.', ['Ana', 'Lopez'])).toBe('A person prefers answers with sources and short summaries.');
  });

  it('counts the redactions by kind', () => {
    const result = projectForSharing(candidate('When Ana writes from ana@example.com, answer in Spanish and keep it short.'), context(['Ana']));
    expect(result.ok && result.redactions).toEqual([
      { kind: 'email', count: 1 },
      { kind: 'private-term', count: 1 },
    ]);
  });

  it('accepts a compiled vocabulary and term kinds', () => {
    const privateVocabulary = compilePrivateVocabulary([{ term: 'Bluebird', kind: 'term' }, { term: 'Lyon', kind: 'place' }]);
    const result = projectForSharing(candidate('Before the Bluebird review in Lyon, summarise the open questions.'), { ...context(), privateVocabulary });
    expect(result.ok && result.projected.text).toBe('Before the something review in a place, summarise the open questions.');
  });
});

describe('candidates are dropped, not redacted, when', () => {
  it.each([
    ['my card is 4111 1111 1111 1111, use it for the order', 'secret'],
    ['send the refund to DE89 3704 0044 0532 0130 00 when possible', 'secret'],
    ['use the key sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1x for the script', 'secret'],
    ['the wifi password is hunter2 so write it down', 'secret'],
    ['remember that my PIN is 4821 for the bank card', 'secret'],
    ['authenticate with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh from now on', 'secret'],
  ])('a secret is present at all: %s', (text, reason) => expect(dropReason(text)).toBe(reason));

  it('personal data would be most of the text', () => {
    expect(dropReason('Ana Lopez, ana@example.com, +33 6 12 34 56 78', ['Ana', 'Lopez'])).toBe('mostly-private');
    expect(dropReason('Ana called Ana again', ['Ana'])).toBe('mostly-private');
    expect(dropReason('Email Ana, Ben, Cleo, Dan and Eve about the plan today please.', ['Ana', 'Ben', 'Cleo', 'Dan', 'Eve'])).toBe('mostly-private');
  });

  it('a placeholder would itself contain a vocabulary term', () => {
    expect(dropReason('When Ana asks for the report, send the summary first.', ['Ana', 'person'])).toBe('residual');
  });

  it('the text is empty or longer than an artifact allows', () => {
    expect(dropReason(' \n\t ')).toBe('empty');
    expect(dropReason('word '.repeat(300))).toBe('too-long');
  });

  it('the reason never repeats what was found', () => {
    const result = projectForSharing(candidate('my card is 4111 1111 1111 1111 and my email ana@example.com'), context(['Ana']));
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toMatch(/4111|ana@|example/i);
  });
});

describe('normalisation', () => {
  it('finds secrets hidden by other digit forms and invisible characters', () => {
    expect(dropReason('card ４１１１ １１１１ １１１１ １１１１ for the order')).toBe('secret');
    expect(dropReason('card ٤١١١ ١١١١ ١١١١ ١١١١ for the order')).toBe('secret');
    expect(dropReason('card 4111\u200B1111\u200B1111\u00AD1111 for the order')).toBe('secret');
    expect(dropReason('mail ana\u200B@example.com for help with the plan today')).toBe('shared as: mail an email address for help with the plan today');
  });

  it('collapses whitespace and control characters and is idempotent', () => {
    const messy = '  When\u0007 a  list\n\nis long,\tsummarise   it. ';
    expect(normaliseText(messy)).toBe('When a list is long, summarise it.');
    expect(normaliseText(normaliseText(messy))).toBe(normaliseText(messy));
  });

  it('shares text the artifact schema accepts', () => {
    const text = shared('When Zoë asks in French, answer in French and keep accents such as é.', ['Zoe']);
    expect(artifactTextSchema.safeParse(text).success).toBe(true);
    expect(text).toBe('When a person asks in French, answer in French and keep accents such as é.');
  });
});

describe('time', () => {
  const createdAt = Date.UTC(2025, 4, 31, 13, 45, 12, 345);

  it('is coarsened to the hour by default, to the day on request', () => {
    const hour = projectForSharing(candidate('When in doubt, ask one clarifying question.', createdAt), context());
    expect(hour.ok && hour.projected.createdAt).toBe(Date.UTC(2025, 4, 31, 13));
    const day = projectForSharing(candidate('When in doubt, ask one clarifying question.', createdAt), context([], { timeGranularity: 'day' }));
    expect(day.ok && day.projected.createdAt).toBe(Date.UTC(2025, 4, 31));
  });

  it('is never later than now', () => {
    const result = projectForSharing(candidate('When in doubt, ask one clarifying question.', NOW + 5 * 3_600_000), context());
    expect(result.ok && result.projected.createdAt).toBe(coarsenTime(NOW));
  });

  it('rejects a context that is a bug', () => {
    expect(() => projectForSharing(candidate('text here'), context([], { now: Number.NaN }))).toThrow(RangeError);
    expect(() => projectForSharing(candidate('text here'), context([], { ldp: { epsilon: -1 } }))).toThrow(RangeError);
    expect(() => projectForSharing(candidate('text here'), context([], { ldp: { epsilon: Number.NaN } }))).toThrow(RangeError);
  });
});

describe('embedding without LDP', () => {
  it('passes through, and the loss is unbounded', () => {
    const embedding: CompressedEmbedding = compressEmbedding(Array.from({ length: 384 }, (_, i) => Math.sin(i + 1)));
    const result = projectForSharing({ ...candidate('When in doubt, ask one clarifying question.'), embedding }, context());
    expect(result).toMatchObject({ ok: true, projected: { embedding }, epsilonSpent: Infinity });
    expect(result.ok && compressedEmbeddingSchema.safeParse(result.projected.embedding).success).toBe(true);
  });
});

// ---------------------------------------------------------------- properties

const WORDS = ['when', 'the', 'a', 'plan', 'answer', 'check', 'units', 'first', 'then', 'report', 'Monday', 'price', 'list', 'ask', 'and', 'short', 'version', 'Paris', 'Mark'];
/** Surrounding text: ordinary words, numbers, and arbitrary printable strings. */
const filler = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WORDS) }, fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 3000 }).map(String)), { maxLength: 12 })
  .map((ws) => ws.join(' '));

const digitString = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((ds) => ds.join(''));
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
const grouped = (s: string, size: number, sep: string) => s.match(new RegExp(`.{1,${size}}`, 'g'))!.join(sep);

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const base62 = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...BASE62), minLength: min, maxLength: max });

const card = fc
  .tuple(fc.constantFrom('4', '51', '55', '37', '6011'), digitString(18), fc.constantFrom(13, 15, 16, 19), fc.constantFrom(' ', '-', ''))
  .map(([prefix, digits, length, sep]) => grouped(luhnComplete((prefix + digits).slice(0, length - 1)), 4, sep));
const iban = fc
  .tuple(fc.constantFrom('DE', 'FR', 'GB', 'NL', 'ES'), digitString(18), fc.boolean())
  .map(([country, digits, spaced]) => {
    const value = ibanComplete(country, digits);
    return spaced ? grouped(value, 4, ' ') : value;
  });
const token = fc.oneof(
  base62(32, 48).map((s) => `sk-proj-${s}`),
  base62(36, 36).map((s) => `ghp_${s}`),
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'), minLength: 16, maxLength: 16 }).map((s) => `AKIA${s}`),
  fc.tuple(base62(10, 30), base62(10, 60), base62(20, 43)).map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 64 }),
);
const email = fc.emailAddress();
const phone = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 9 }), digitString(8)).map(([a, d]) => `+33 ${a} ${grouped(d, 2, ' ')}`),
  fc.tuple(fc.integer({ min: 201, max: 989 }), fc.integer({ min: 200, max: 999 }), digitString(4)).map(([a, b, c]) => `+1 (${a}) ${b}-${c}`),
  fc.tuple(fc.integer({ min: 201, max: 989 }), fc.integer({ min: 200, max: 999 }), digitString(4)).map(([a, b, c]) => `${a}-${b}-${c}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), digitString(8)).map(([a, d]) => `0${a} ${grouped(d, 2, ' ')}`),
  fc.tuple(fc.integer({ min: 20, max: 99 }), digitString(8)).map(([a, d]) => `(0${a}) ${grouped(d, 4, ' ')}`),
);

const lower = (s: string) => s.toLowerCase();
const squeeze = (s: string) => lower(s).replace(/[\s\-./()_:+]/g, '');
const digitsOnly = (s: string) => s.replace(/\D/g, '');

/** Is any form of `secret` (as is, lowercased, without separators, digits only) in `out`? */
function survives(secret: string, out: string): boolean {
  if (lower(out).includes(lower(secret))) return true;
  if (squeeze(secret).length >= 6 && squeeze(out).includes(squeeze(secret))) return true;
  const digits = digitsOnly(secret);
  return digits.length >= 7 && digitsOnly(out).includes(digits);
}

describe('properties', () => {
  const secretKinds = { email, phone, card, iban, token };
  for (const [name, secret] of Object.entries(secretKinds)) {
    it(`a planted ${name} never survives projection`, () => {
      fc.assert(
        fc.property(filler, secret, filler, (before, value, after) => {
          const result = projectForSharing(candidate(`${before} ${value} ${after}`), context(['Ana']));
          if (result.ok) expect(survives(value, result.projected.text), `${value} in ${result.projected.text}`).toBe(false);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('planted emails and phones are redacted, not just dropped, in ordinary sentences', () => {
    fc.assert(
      fc.property(fc.oneof(email, phone), (value) => {
        const result = projectForSharing(candidate(`When the question is urgent, contact ${value} and then summarise the answer briefly.`), context());
        expect(result.ok).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  const pii = fc.oneof(email, phone, card, iban, token, fc.constantFrom('Ana', "Ana's", 'ANA', 'https://example.com/x', '12 rue de Rivoli', '1987-03-14'));
  const mixedText = fc.array(fc.oneof({ weight: 3, arbitrary: filler }, pii), { maxLength: 6 }).map((parts) => parts.join(' '));

  it('projection is idempotent', () => {
    fc.assert(
      fc.property(mixedText, fc.integer({ min: 0, max: NOW }), (text, createdAt) => {
        const once = projectForSharing(candidate(text, createdAt), context(['Ana']));
        if (!once.ok) return;
        const twice = projectForSharing(candidate(once.projected.text, once.projected.createdAt), context(['Ana']));
        expect(twice).toMatchObject({ ok: true, projected: once.projected, redactions: [] });
      }),
      { numRuns: 400 },
    );
  });

  const name = fc.oneof(
    fc.stringMatching(/^[A-Z][a-z]{2,8}$/),
    fc.constantFrom('José', 'Zoë', 'Łukasz', 'Søren', 'Ngozi', "O'Neil", 'Ana María', 'Jürgen'),
  );
  const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[’‘]/g, "'");
  const spelledAs = (term: string) =>
    fc.constantFrom(term, term.toUpperCase(), term.toLowerCase(), `${term}'s`, `${term}’s`, term.normalize('NFD').replace(/\p{M}/gu, ''));

  it('output never contains a vocabulary term', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 1, maxLength: 5 }).chain((vocabulary) =>
          fc.tuple(
            fc.constant(vocabulary),
            fc.array(fc.oneof(filler, fc.constantFrom(...vocabulary).chain(spelledAs)), { minLength: 1, maxLength: 8 }).map((p) => p.join(' ')),
          ),
        ),
        ([vocabulary, text]) => {
          const result = projectForSharing(candidate(text), context(vocabulary));
          if (!result.ok) return;
          const out = fold(result.projected.text);
          for (const term of vocabulary) {
            const t = fold(term).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
            expect(new RegExp(`(?<![\\p{L}\\p{N}])${t}(?![\\p{L}\\p{N}])`, 'u').test(out), `${term} in ${result.projected.text}`).toBe(false);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
