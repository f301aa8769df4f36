/**
 * The schema history follows its rules (dated, increasing, cumulative, landed
 * versions unchanged), and a fresh install has exactly the tables and indexes
 * the latest version declares, as IndexedDB itself reports them.
 */
import { describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { LATEST_SCHEMA, SCHEMA_VERSIONS, type StoreDefinitions } from '../../src/services/db-schema';
import { openDatabase } from '../../src/services/db';

/**
 * Versions that have shipped, as fingerprints. A landed version must never
 * change (browsers hold data shaped by it): when you add a version, add its
 * line here; when this test fails for an existing line, undo the edit and
 * add a new version instead.
 */
const LANDED: Record<number, string> = {
  1: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|upgrade:no',
  2: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|upgrade:no',
  3: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|memories=id, status, updatedAt|documents=id, addedAt|chunks=id, documentId|evidence=messageId|audit=id, at|upgrade:no',
  4: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|memories=id, status, updatedAt|documents=id, addedAt|chunks=id, documentId|evidence=messageId|audit=id, at|episodes=id, messageId, updatedAt|experiences=id|learningLog=id, experienceId, at|jobs=id, state, [jobClass+subject]|sharing=experienceId, state|upgrade:no',
  5: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|memories=id, status, updatedAt|documents=id, addedAt|chunks=id, documentId|evidence=messageId|audit=id, at|episodes=id, messageId, updatedAt|experiences=id|learningLog=id, experienceId, at|jobs=id, state, [jobClass+subject]|sharing=experienceId, state|membership=id|outbox=id, createdAt|netItems=itemId, time|upgrade:no',
  6: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|memories=id, status, updatedAt|documents=id, addedAt|chunks=id, documentId|evidence=messageId|audit=id, at|episodes=id, messageId, updatedAt|experiences=id|learningLog=id, experienceId, at|jobs=id, state, [jobClass+subject]|sharing=experienceId, state|membership=id|outbox=id, createdAt|netItems=itemId, time|fieldState=key|upgrade:no',
  7: '2026-11-22|conversations=id, updatedAt|messages=id, [conversationId+createdAt], status|settings=key|identity=id|memories=id, status, updatedAt|documents=id, addedAt|chunks=id, documentId|evidence=messageId|audit=id, at|episodes=id, messageId, updatedAt|experiences=id|learningLog=id, experienceId, at|jobs=id, state, [jobClass+subject]|sharing=experienceId, state|membership=id|outbox=id, createdAt|netItems=itemId, time|fieldState=key|energy=key|consolidation=key|upgrade:no',
};

function fingerprint(version: (typeof SCHEMA_VERSIONS)[number]): string {
  const stores = Object.entries(version.stores).map(([table, spec]) => `${table}=${spec ?? 'null'}`);
  return [version.date, ...stores, `upgrade:${version.upgrade ? 'yes' : 'no'}`].join('|');
}

/** Parses Dexie's store syntax into what IndexedDB should hold. */
function expectedStore(spec: string): { keyPath: string | string[]; indexes: Map<string, string | string[]> } {
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  const keyPathOf = (part: string): string | string[] => {
    const name = part.replace(/^(\+\+|&|\*)/, '');
    return name.startsWith('[') ? name.slice(1, -1).split('+') : name;
  };
  const [primary, ...rest] = parts;
  return {
    keyPath: keyPathOf(primary ?? ''),
    indexes: new Map(rest.map((part) => [part.replace(/^(&|\*)/, ''), keyPathOf(part)])),
  };
}

function liveTables(stores: StoreDefinitions): [string, string][] {
  return Object.entries(stores).filter((entry): entry is [string, string] => entry[1] !== null);
}

describe('schema history', () => {
  it('has integer versions, strictly increasing, starting at 1', () => {
    const versions = SCHEMA_VERSIONS.map((v) => v.version);
    expect(versions[0]).toBe(1);
    versions.forEach((v, i) => {
      expect(Number.isInteger(v)).toBe(true);
      if (i > 0) expect(v).toBe(versions[i - 1]! + 1);
    });
  });

  it('dates every version (YYYY-MM-DD, never going back) and says why it exists', () => {
    let previous = '';
    for (const v of SCHEMA_VERSIONS) {
      expect(v.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(v.date))).toBe(false);
      expect(v.date >= previous).toBe(true);
      expect(v.note.trim().length).toBeGreaterThan(10);
      previous = v.date;
    }
  });

  it('is cumulative: each version restates every table the previous one had', () => {
    for (let i = 1; i < SCHEMA_VERSIONS.length; i++) {
      const before = SCHEMA_VERSIONS[i - 1]!;
      const after = SCHEMA_VERSIONS[i]!;
      for (const [table] of liveTables(before.stores)) {
        expect(Object.keys(after.stores), `version ${after.version} forgets table ${table}`).toContain(table);
      }
    }
  });

  it('leaves every landed version exactly as it shipped, and records each new one', () => {
    for (const v of SCHEMA_VERSIONS) {
      expect(LANDED[v.version], `version ${v.version} is not in LANDED; add its fingerprint`).toBeDefined();
      expect(fingerprint(v), `version ${v.version} was edited after landing`).toBe(LANDED[v.version]);
    }
  });
});

describe('fresh install', () => {
  it('creates exactly the latest version’s tables, keys and indexes', async () => {
    const db = await openDatabase(`fresh-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
    try {
      const idb = db.backendDB();
      expect(idb.version).toBe(LATEST_SCHEMA.version * 10); // Dexie's native numbering
      const expectedTables = liveTables(LATEST_SCHEMA.stores);
      expect([...idb.objectStoreNames].sort()).toEqual(expectedTables.map(([t]) => t).sort());

      const tx = idb.transaction([...idb.objectStoreNames], 'readonly');
      for (const [table, spec] of expectedTables) {
        const store = tx.objectStore(table);
        const expected = expectedStore(spec);
        expect(store.keyPath, `${table} primary key`).toEqual(expected.keyPath);
        expect([...store.indexNames].sort(), `${table} indexes`).toEqual([...expected.indexes.keys()].sort());
        for (const [name, keyPath] of expected.indexes) {
          expect(store.index(name).keyPath, `${table}.${name}`).toEqual(keyPath);
        }
      }
    } finally {
      db.close();
    }
  });

  it('holds the chat tables the repository relies on', async () => {
    const db = await openDatabase(`fresh-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
    try {
      const messages = db.messages.schema;
      expect(messages.primKey.keyPath).toBe('id');
      expect(messages.idxByName['[conversationId+createdAt]']?.keyPath).toEqual(['conversationId', 'createdAt']);
      expect(messages.idxByName['status']).toBeDefined();
      expect(db.conversations.schema.idxByName['updatedAt']).toBeDefined();
      expect(db.settings.schema.primKey.keyPath).toBe('key');
    } finally {
      db.close();
    }
  });
});
