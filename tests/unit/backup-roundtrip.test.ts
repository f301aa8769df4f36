/**
 * Lossless round trip, as a property: for any conversations, messages and
 * settings, export -> deleteEverything -> import -> export gives the same
 * file, and the database holds exactly what it held (JSON's view of it: a
 * reply that was mid-stream comes back 'interrupted').
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { deleteEverything, exportAll, importAll } from '../../src/services/backup';
import { EXPORT_LIMITS, MESSAGE_ROLES, MESSAGE_STATUSES, settleStreaming } from '../../src/lib/data/export-format';
import type { Conversation, Message, SettingRecord } from '../../src/lib/chat/types';

// --- text that tends to break things -------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const anyCodePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
/** Text within `maxLength` characters: any code points, lone surrogates, graphemes, markup, and now and then a long one. */
function awkwardText(maxLength: number) {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: fc.oneof({ weight: 20, arbitrary: anyCodePoint }, loneSurrogate), maxLength: 80 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '# Heading\n\n- item\n- **bold** _it_ `code`\n\n```ts\nconst x = 1 < 2 && "y";\n```\n',
        '<script>alert("x")</script><img src=x onerror=alert(1)>',
        '</textarea><!-- --><![CDATA[ ]]>&amp;&lt;',
        '"quoted" \\ back\\slash \u0000 nul \u2028 \u2029 tab\t',
        '👩‍👩‍👧‍👦 🧬 é e\u0301 ﷽ \u202e\u202d',
        '__proto__',
        'constructor',
        '{"format":"h3lix-export"}',
      ),
    },
    { weight: 1, arbitrary: fc.string({ minLength: Math.min(500, maxLength), maxLength }) },
  );
}

const id = fc.string({ unit: fc.oneof({ weight: 5, arbitrary: anyCodePoint }, loneSurrogate), minLength: 1, maxLength: 24 });
const timestamp = fc.double({ min: 0, max: 8.64e15, noNaN: true }).map(Math.floor);
const measure = fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true });

/** JSON setting values; keys that the importer refuses on purpose (prototype-related) are left out. */
const settingValue = fc
  .jsonValue({ maxDepth: 3 })
  .filter((value) => !/"(__proto__|constructor|prototype)":/.test(JSON.stringify(value)));

const dataset = fc
  .uniqueArray(
    fc.record({
      id,
      title: awkwardText(EXPORT_LIMITS.titleChars),
      systemPrompt: awkwardText(5_000),
      createdAt: timestamp,
      updatedAt: timestamp,
    }),
    { selector: (c) => c.id, maxLength: 6 },
  )
  .chain((conversations: Conversation[]) =>
    fc.record({
      conversations: fc.constant(conversations),
      messages:
        conversations.length === 0
          ? fc.constant<Message[]>([])
          : fc.uniqueArray(
              fc.record({
                id,
                conversationId: fc.constantFrom(...conversations.map((c) => c.id)),
                role: fc.constantFrom(...MESSAGE_ROLES),
                content: awkwardText(10_000),
                createdAt: timestamp,
                status: fc.constantFrom(...MESSAGE_STATUSES),
                modelId: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
                stats: fc.option(
                  fc.record({ tokens: fc.nat(), tokensPerSecond: measure, ttftMs: measure, totalMs: measure }),
                  { nil: null },
                ),
                error: fc.option(awkwardText(EXPORT_LIMITS.errorChars), { nil: null }),
              }),
              { selector: (m) => m.id, maxLength: 25 },
            ),
      settings: fc.uniqueArray(fc.record({ key: id, value: settingValue }), {
        selector: (s) => s.key,
        maxLength: 6,
      }),
    }),
  );

// --- helpers ---------------------------------------------------------------

const now = () => Date.UTC(2026, 10, 22, 12);

async function contents(db: H3lixDatabase) {
  return {
    conversations: await db.conversations.toArray(),
    messages: await db.messages.toArray(),
    settings: await db.settings.toArray(),
  };
}

/** What the database should hold after the trip: JSON's view of the seed, in key order. */
function expectedAfterTrip(seed: { conversations: Conversation[]; messages: Message[]; settings: SettingRecord[] }) {
  const byKey = <T>(key: (item: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  return viaJson({
    conversations: [...seed.conversations].sort(byKey((c) => c.id)),
    messages: seed.messages.map(settleStreaming).sort(byKey((m) => m.id)),
    settings: [...seed.settings].sort(byKey((s) => s.key)),
  });
}

describe('export -> delete everything -> import -> export', () => {
  it('is lossless for any data', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (seed) => {
        const db = await openDatabase(`trip-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
        try {
          await db.conversations.bulkPut(seed.conversations);
          await db.messages.bulkPut(seed.messages);
          await db.settings.bulkPut(seed.settings);

          const first = await exportAll(db, now);
          await deleteEverything(db);
          expect(await contents(db)).toEqual({ conversations: [], messages: [], settings: [] });

          const summary = await importAll(db, first);
          expect(summary).toMatchObject({
            conversations: seed.conversations.length,
            messages: seed.messages.length,
            settings: seed.settings.length,
            replaced: { conversations: 0, messages: 0, settings: 0 },
          });
          const second = await exportAll(db, now);
          expect(second).toBe(first);
          expect(await contents(db)).toEqual(expectedAfterTrip(seed));
        } finally {
          await db.delete();
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('importing the same file twice changes nothing the second time', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (seed) => {
        const db = await openDatabase(`twice-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
        try {
          await db.conversations.bulkPut(seed.conversations);
          await db.messages.bulkPut(seed.messages);
          await db.settings.bulkPut(seed.settings);
          const file = await exportAll(db, now);
          await importAll(db, file);
          const once = JSON.stringify(await contents(db));
          const summary = await importAll(db, file);
          expect(summary.replaced).toEqual({
            conversations: seed.conversations.length,
            messages: seed.messages.length,
            settings: seed.settings.length,
          });
          expect(JSON.stringify(await contents(db))).toBe(once);
        } finally {
          await db.delete();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
