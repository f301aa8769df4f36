/**
 * PII and secret detectors, one by one: what each must find (positives, in the
 * formats people actually type) and what it must leave alone (near misses that
 * general strategies contain: versions, years, prices, decimals, identifiers).
 */
import { describe, expect, it } from 'vitest';
import {
  compilePrivateVocabulary,
  detectAccountNumbers,
  detectDates,
  detectEmails,
  detectIbans,
  detectIpAddresses,
  detectPasswords,
  detectPaymentCards,
  detectPhones,
  detectPii,
  detectPostcodes,
  detectPrivateTerms,
  detectSecrets,
  detectStreetAddresses,
  detectUrls,
  ibanValid,
  looksRandom,
  luhnValid,
  nameParts,
  validIpv6,
  type PiiSpan,
} from '../../src/lib/learning/pii-detectors';

type Detector = (text: string) => readonly PiiSpan[];

/** The matched texts, in order. */
const found = (detector: Detector, text: string): string[] => detector(text).map((s) => text.slice(s.start, s.end));

/** `detector` finds exactly `secret` (as one whole span) when it is planted in a sentence. */
function expectWhole(detector: Detector, secret: string, before = 'note: ', after = ' thanks'): void {
  const text = `${before}${secret}${after}`;
  expect(found(detector, text), text).toContain(secret);
}

function expectNone(detector: Detector, text: string): void {
  expect(found(detector, text), text).toEqual([]);
}

describe('emails', () => {
  it.each([
    'ana.lopez@example.com',
    'first+tag@sub.mail.co.uk',
    'o_brien-99@uni.edu',
    'josé.garcía@correo.es',
    'ANA@EXAMPLE.ORG',
  ])('finds %s', (email) => expectWhole(detectEmails, email));

  it('finds addresses spelled out to dodge scrapers', () => {
    expect(found(detectEmails, 'write to ana (at) example (dot) com today')).toEqual(['ana (at) example (dot) com']);
    expect(found(detectEmails, 'write to ana at example dot org')).toEqual(['ana at example dot org']);
    expect(found(detectEmails, 'ana[at]mail[dot]co[dot]uk')).toEqual(['ana[at]mail[dot]co[dot]uk']);
  });

  it.each([
    'look at the dot product of the two vectors',
    'use @property for computed attributes',
    'meet at 10 at the station',
    'the ratio is 3@5 in that notation',
  ])('leaves alone: %s', (text) => expectNone(detectEmails, text));
});

describe('phones', () => {
  it.each([
    '+33 6 12 34 56 78',
    '+1 (555) 123-4567',
    '+44 20 7946 0958',
    '0049 30 1234567',
    '06 12 34 56 78',
    '06.12.34.56.78',
    '(020) 7946 0958',
    '555-123-4567',
    '555.123.4567',
    '612 345 678',
    '+34612345678',
    '+91 98765 43210',
    '07700 900123',
    '555-1234',
  ])('finds %s', (phone) => expectWhole(detectPhones, phone));

  it.each([
    'version 1.2.3 and v2.10.4 and Node 22.11.0',
    'Chrome 120.0.6099.109 is current',
    'pi is 3.14159 and e is 2.71828',
    'it costs $1,299.99 or 1.299,99 €',
    'from 1999-2005 and in 2024',
    'ten million is 10 000 000',
    'the sequence 1 1 2 3 5 8 13 21 34',
    'a bare run 1234567890 belongs to account numbers',
    'coordinates 48.8566, 2.3522',
  ])('leaves alone: %s', (text) => expectNone(detectPhones, text));
});

describe('URLs and domains', () => {
  it.each([
    'https://example.com/path?q=1',
    'http://192.168.0.1:8080/admin',
    'ftp://files.example.org/pub',
    'www.kuvolin-family.net/photos',
    'example.com',
    'mail.google.com/mail/u/0',
    'https://en.wikipedia.org/wiki/Foo_(bar)',
  ])('finds %s', (url) => expectWhole(detectUrls, url));

  it('leaves sentence punctuation outside the URL', () => {
    expect(found(detectUrls, 'see https://example.com/a.')).toEqual(['https://example.com/a']);
    expect(found(detectUrls, '(see www.example.org)')).toEqual(['www.example.org']);
  });

  it.each([
    'edit config.py and main.rs, then README.md',
    'check user.email and call logger.info',
    'use arr.at(-1) for the last element',
    'e.g. this, i.e. that, etc.',
    'run foo.test.ts with vitest',
    'Node.js and Vue.js',
  ])('leaves alone: %s', (text) => expectNone(detectUrls, text));
});

describe('IP addresses', () => {
  it.each(['192.168.1.20', '10.0.0.1', '203.0.113.42:8443', '172.16.0.0/12', 'fe80::1', '2001:db8:85a3::8a2e:370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.1'])(
    'finds %s',
    (ip) => expectWhole(detectIpAddresses, ip),
  );

  it.each(['version 1.2.3', 'at 12:30:45 sharp', 'std::vector<int>', 'a ratio of 3:4:5', '999.1.1.1 is not an address', 'dead::beef'])('leaves alone: %s', (text) =>
    expectNone(detectIpAddresses, text),
  );

  it('validates IPv6 groups', () => {
    expect(validIpv6('1:2:3:4:5:6:7:8')).toBe(true);
    expect(validIpv6('1:2:3:4:5:6:7')).toBe(false);
    expect(validIpv6('1::2::3')).toBe(false);
    expect(validIpv6('12345::1')).toBe(false);
  });
});

describe('payment cards', () => {
  it('checks Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('12a4')).toBe(false);
  });

  it.each(['4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111', '3782 822463 10005', '5555 5555 5555 4444', '4222222222222', '6011 0009 9013 9424'])('finds %s', (card) =>
    expectWhole(detectPaymentCards, card),
  );

  it('finds a card with an expiry glued on', () => {
    expect(found(detectPaymentCards, 'card 4111 1111 1111 1111 12 25')).toContain('4111 1111 1111 1111');
  });

  it.each(['4111 1111 1111 1112', 'order 1234 5678 9012 3456 shipped', 'the year 2024 and 2025', '3.14159265358979'])('leaves alone: %s', (text) =>
    expectNone(detectPaymentCards, text),
  );
});

describe('IBANs', () => {
  it('checks mod 97', () => {
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('DE89 3704 0044 0532 0130 01')).toBe(false);
    expect(ibanValid('GB82WEST12345698765432')).toBe(true);
  });

  it.each(['DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'FR14 2004 1010 0505 0001 3M02 606', 'gb82 west 1234 5698 7654 32', 'NL91ABNA0417164300'])('finds %s', (iban) =>
    expectWhole(detectIbans, iban),
  );

  it('stops before a following word', () => {
    expect(found(detectIbans, 'to DE89 3704 0044 0532 0130 00 and back')).toEqual(['DE89 3704 0044 0532 0130 00']);
  });

  it.each(['DE89 3704 0044 0532 0130 01', 'ISO 8601 and RFC 4648', 'AB12 is a model name'])('leaves alone: %s', (text) => expectNone(detectIbans, text));
});

describe('account and ID numbers', () => {
  it.each(['12345678', '004829301', 'X12345678', 'AB1234567C', '1234 5678 9012', '123-456-789-01'])('finds %s', (id) => expectWhole(detectAccountNumbers, id));

  it.each([
    'in 2024 the price was $19.99',
    'multiply by 1000000 or 3600000',
    '3.14159265 is pi',
    'a total of 1,234,567 items',
    'ten million is 10 000 000',
    'HTTP 404 and port 8080',
    'from 1999-2005',
    'the sequence 1 1 2 3 5 8 13 21',
  ])('leaves alone: %s', (text) => expectNone(detectAccountNumbers, text));
});

describe('street addresses and postcodes', () => {
  it.each([
    '221B Baker Street',
    '42 Elm st.',
    '1600 Pennsylvania Avenue',
    '10 Downing Street, London',
    '4 Privet Drive',
    '12 rue de Rivoli',
    '8 bis avenue des Champs-Élysées',
    'Hauptstraße 5',
    'Berliner Straße 12a',
    'Keizersgracht 123',
    'Calle Mayor 5',
    'Via Roma 10',
    'Carrer de Balmes 45',
    'Rua Augusta 100',
  ])('finds %s', (address) => expectWhole(detectStreetAddresses, address, 'I live at ', '.'));

  it('takes the city after a street', () => {
    expect(found(detectStreetAddresses, 'at 12 rue de Rivoli, 75001 Paris.')).toEqual(['12 rue de Rivoli, 75001 Paris']);
  });

  it.each([
    '3 miles down the road',
    'there are 2 ways to do it',
    'the meeting will take place Monday',
    'send it via Slack',
    'Spring 2024 release',
    'use a String 5 times',
    'I have 3 options on the table',
  ])('leaves alone: %s', (text) => expectNone(detectStreetAddresses, text));

  it.each(['NW1 6XE', 'SW1A 1AA', 'K1A 0B1', 'CA 94103', '75001 Paris', '1012 AB'])('finds postcode %s', (code) => expectWhole(detectPostcodes, code, 'postcode ', ' ok'));

  it.each(['4096 MB of memory', 'in 1066 AD', 'a 2000 KM trip', 'HTTP 404 error'])('leaves alone: %s', (text) => expectNone(detectPostcodes, text));
});

describe('dates of birth and other full dates', () => {
  it.each(['1987-03-14', '14/03/1987', '03/14/1987', '14.03.1987', '14 March 1987', 'March 14, 1987', '14th of March 1987', '14 mars 1987', '14 de marzo de 1987', '14. März 1987'])(
    'finds %s',
    (date) => expectWhole(detectDates, date),
  );

  it('finds a birth year', () => {
    expect(found(detectDates, 'I was born in 1987 in Lyon')).toEqual(['1987']);
    expect(found(detectDates, 'DOB: 1990')).toEqual(['1990']);
  });

  it.each(['released in 2024', 'version 1.10.12', 'from 1999-2005', 'the 3.14 approximation', 'a 10/20 split', '13/13/2020'])('leaves alone: %s', (text) => expectNone(detectDates, text));
});

describe('secrets and tokens', () => {
  it.each([
    'sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1x',
    'sk-ant-api03-abcdefghijklmnop',
    'sk_live_51HxYzAbCdEfGh',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'github_pat_11ABCDEFG0123456789_abcdef',
    'xoxb-123456789012-abcdefghij',
    'AKIAIOSFODNN7EXAMPLE',
    'AIzaSyA1234567890abcdefghijklmnopqrstu',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'deadbeefdeadbeefdeadbeefdeadbeef',
    '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    '550e8400-e29b-41d4-a716-446655440000',
    'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9',
    'Zk8Qp2Lm9Xv4Rt7Yw1Bn6Cs3Df0G+h/J=',
  ])('finds %s whole', (token) => expectWhole(detectSecrets, token));

  it('finds secrets in URLs', () => {
    expect(found(detectSecrets, 'https://x.example.com/share?id=1&token=abc123XYZ')).toContain('&token=abc123XYZ');
    expect(found(detectSecrets, 'https://admin:hunter2@db.example.com/')).toContain('admin:hunter2');
  });

  it('finds a PEM private key', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA -----END RSA PRIVATE KEY-----';
    expect(found(detectSecrets, `key: ${pem}`)).toContain(pem);
  });

  it.each([
    'convertToBase64AndEncodeUrl is a helper',
    'see usr/local/lib/python3/site-packages',
    'the model Xenova/all-MiniLM-L6-v2',
    'parseInt32FromStringSafely returns NaN',
    'sk-learn is not scikit-learn',
    'a SHA-256 digest, base64 encoded, ISO-8601 time',
    'internationalization and localization',
  ])('leaves alone: %s', (text) => expectNone(detectSecrets, text));

  it('tells random keys from identifiers', () => {
    expect(looksRandom('q8ZtR2mW9xLp4NvB7cKd1FhJ')).toBe(true);
    expect(looksRandom('getElementById2ForTesting')).toBe(false);
    expect(looksRandom('short1A')).toBe(false);
  });
});

describe('passwords and codes', () => {
  it.each([
    ['the wifi password is hunter2.', 'hunter2.'],
    ['password: s3cr3t!', 's3cr3t!'],
    ['pwd=abc123', 'abc123'],
    ['my password for gmail is Tr0ub4dor&3', 'Tr0ub4dor&3'],
    ['the password to the wifi is sunshine', 'sunshine'],
    ['password: "correct horse battery staple"', '"correct horse battery staple"'],
    ['mot de passe : soleil42', 'soleil42'],
    ['Passwort ist Geheim123', 'Geheim123'],
    ['my PIN is 4821', '4821'],
    ['CVV 123', '123'],
    ['the door code is 5521', '5521'],
    ['secret: abc', 'abc'],
    ['api key = 12345', '12345'],
  ])('finds the value in %s', (text, value) => expect(found(detectPasswords, text)).toContain(value));

  it.each([
    'the password is weak, make it longer',
    'when a password is shorter than 12 characters, suggest a passphrase',
    'a password is required',
    'the secret is practice',
    'status code 404 means not found',
    'the error code is 500',
    'the password was changed',
  ])('leaves alone: %s', (text) => expectNone(detectPasswords, text));
});

describe('private vocabulary', () => {
  const vocabulary = compilePrivateVocabulary(['Ana', 'José García', 'Zoë', "O'Brien", '田中', { term: 'Bluebird', kind: 'term' }, { term: 'Lyon', kind: 'place' }, 'x']);
  const terms = (text: string) => found((t) => detectPrivateTerms(t, vocabulary), text);

  it('matches whole words, any case, with possessives and plurals', () => {
    expect(terms("Ana's book and ANA and ana")).toEqual(["Ana's", 'ANA', 'ana']);
    expect(terms('the Bluebirds shipped')).toEqual(['Bluebirds']);
    expect(terms('Ana’s idea')).toEqual(['Ana’s']);
  });

  it('ignores accents, curly apostrophes and spacing', () => {
    expect(terms('jose   garcia called')).toEqual(['jose   garcia']);
    expect(terms('JOSÉ GARCÍA called')).toEqual(['JOSÉ GARCÍA']);
    expect(terms('Zoe and zoë')).toEqual(['Zoe', 'zoë']);
    expect(terms('O’Brien said')).toEqual(['O’Brien']);
  });

  it('matches inside scripts written without spaces', () => {
    expect(terms('田中さんの電話')).toEqual(['田中']);
  });

  it('leaves alone words that only contain a term, and terms not in the vocabulary', () => {
    expect(terms('banana, Anabel, Havana, analysis')).toEqual([]);
    expect(terms('Mark will review the draft')).toEqual([]);
    expect(terms('a x-ray')).toEqual([]); // one-letter terms are ignored
  });

  it('knows which placeholder kind each term has', () => {
    const spans = detectPrivateTerms("Ana's trip to Lyon for Bluebird", vocabulary);
    expect(spans.map((s) => [s.termKind, s.possessive])).toEqual([
      ['person', true],
      ['place', false],
      ['term', false],
    ]);
  });

  it('splits full names into the parts worth adding', () => {
    expect(nameParts('Ana María de la Cruz')).toEqual(['Ana María de la Cruz', 'Ana', 'María', 'Cruz']);
    expect(nameParts('  Li  ')).toEqual(['Li']);
  });
});

describe('detectPii', () => {
  it('runs every detector and sorts by position', () => {
    const text = 'Ana: ana@example.com, +33 6 12 34 56 78, https://x.example.org, born 1987-03-14';
    const spans = detectPii(text, compilePrivateVocabulary(['Ana']));
    const kinds = new Set(spans.map((s) => s.kind));
    for (const k of ['private-term', 'email', 'phone', 'url', 'date'] as const) expect(kinds).toContain(k);
    expect(spans.map((s) => s.start)).toEqual([...spans.map((s) => s.start)].sort((a, b) => a - b));
  });

  it('finds nothing in general strategies', () => {
    const strategies = [
      'When a question mixes units, convert everything to SI before computing.',
      'When a price is given as $19.99 per 100 g, compute the price per kilogram first.',
      'When code targets Node 22.11.0 or later, prefer the built-in fetch over a library.',
      'When an angle is asked for, look at the dot product of the two vectors.',
      'When a year such as 2024 is mentioned, check whether it is a leap year.',
      'When estimating, round 3.14159 to 3.14 and say so.',
      'When a user asks for their password, never reveal it and suggest a reset instead.',
      'When version 1.2.3 is compared with 1.10.0, compare the parts as numbers.',
      'When a file such as config.py or README.md is mentioned, name it exactly.',
      'When writing dates, prefer ISO 8601 and state the time zone.',
    ];
    for (const s of strategies) expect(detectPii(s).map((x) => `${x.kind}:${s.slice(x.start, x.end)}`), s).toEqual([]);
  });
});
