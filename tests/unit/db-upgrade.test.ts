/**
 * The upgrade harness: for every version N > 1 of the schema, build a
 * database at version N-1 (with that history's stores), seed it with records
 * in the old shape, reopen it through the app's factory at version N, and
 * check that the data survived and was reshaped.
 *
 * It runs over SCHEMA_VERSIONS automatically: adding a version without an
 * entry in APP_UPGRADE_FIXTURES fails the suite. It is also run against a
 * throwaway schema defined here, with good and broken upgrades, to prove it
 * notices a bad one.
 */
import { describe, expect, it } from 'vitest';
import Dexie from 'dexie';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { SCHEMA_VERSIONS, type SchemaVersion } from '../../src/services/db-schema';
import { declareSchema, openDatabase } from '../../src/services/db';

interface UpgradeFixture {
  /** Records in the shape of version N-1, by table. */
  seed: Record<string, unknown[]>;
  /** Runs on the database opened at version N; fails (expect) unless the seed survived in the new shape. */
  verify: (db: Dexie) => Promise<void>;
}

/**
 * One fixture per app schema version above 1, keyed by the version it
 * upgrades TO. Version 1 is the first: nothing to upgrade from yet.
 */
const APP_UPGRADE_FIXTURES: Record<number, UpgradeFixture> = {
  // 2026-11-22: the identity table appears; chat data is untouched and no
  // identity exists until the app makes one on its next start.
  2: {
    seed: {
      conversations: [{ id: 'c1', title: 'Kept', systemPrompt: 'Be brief.', createdAt: 1, updatedAt: 2 }],
      messages: [
        {
          id: 'm1',
          conversationId: 'c1',
          role: 'user',
          content: 'hello',
          createdAt: 1,
          status: 'complete',
          modelId: null,
          stats: null,
          error: null,
        },
      ],
      settings: [{ key: 'modelId', value: 'fixtures/random-smollm2-chat' }],
    },
    async verify(db) {
      expect(await db.table('conversations').get('c1')).toMatchObject({ title: 'Kept', systemPrompt: 'Be brief.' });
      expect(await db.table('messages').where('[conversationId+createdAt]').between(['c1', 0], ['c1', Infinity]).toArray()).toHaveLength(1);
      expect(await db.table('settings').get('modelId')).toEqual({ key: 'modelId', value: 'fixtures/random-smollm2-chat' });
      expect(await db.table('identity').count()).toBe(0);
    },
  },
  // 2026-11-22: memories, documents, chunks, evidence and the audit log
  // appear, empty; chat data, settings and the node identity are untouched
  // (the identity above all: a lost private key would make a new node).
  3: {
    seed: {
      conversations: [{ id: 'c1', title: 'Kept', systemPrompt: '', createdAt: 1, updatedAt: 2 }],
      messages: [
        {
          id: 'm1',
          conversationId: 'c1',
          role: 'assistant',
          content: 'hello',
          createdAt: 1,
          status: 'complete',
          modelId: 'fixtures/random-smollm2-chat',
          stats: { tokens: 1, tokensPerSecond: 2, ttftMs: 3, totalMs: 4 },
          error: null,
        },
      ],
      settings: [{ key: 'profileName', value: 'Ana' }],
      identity: [
        {
          id: 'node',
          nodeId: '00112233445566778899aabbccddeeff',
          publicKey: new Uint8Array(32).fill(7),
          createdAt: 5,
          custody: 'raw-bytes',
          privateKey: new Uint8Array(32).fill(9),
        },
      ],
    },
    async verify(db) {
      expect(await db.table('conversations').get('c1')).toMatchObject({ title: 'Kept' });
      expect(await db.table('messages').get('m1')).toMatchObject({ content: 'hello', stats: { tokens: 1 } });
      expect(await db.table('settings').get('profileName')).toEqual({ key: 'profileName', value: 'Ana' });
      const identity = await db.table('identity').get('node');
      expect(identity).toMatchObject({ nodeId: '00112233445566778899aabbccddeeff', createdAt: 5, custody: 'raw-bytes' });
      expect(Array.from(identity.privateKey as Uint8Array)).toEqual(new Array(32).fill(9));
      for (const table of ['memories', 'documents', 'chunks', 'evidence', 'audit']) {
        expect(await db.table(table).count(), table).toBe(0);
      }
      // The new indexes answer the queries the services make.
      await db.table('memories').add({ id: 'x', status: 'proposed', updatedAt: 1 });
      expect(await db.table('memories').where('status').equals('proposed').count()).toBe(1);
      await db.table('chunks').add({ id: 'k', documentId: 'd' });
      expect(await db.table('chunks').where('documentId').equals('d').count()).toBe(1);
    },
  },
  // 2026-11-22: the learning layer's tables appear, empty; everything of
  // versions 1-3 (chat, identity, memory, evidence, audit) is untouched.
  4: {
    seed: {
      conversations: [{ id: 'c1', title: 'Kept', systemPrompt: '', createdAt: 1, updatedAt: 2 }],
      settings: [{ key: 'profile', value: { name: 'Ana' } }],
      identity: [{ id: 'node', nodeId: 'ab', publicKey: new Uint8Array(32).fill(1), createdAt: 5, custody: 'raw-bytes', privateKey: new Uint8Array(32).fill(2) }],
      memories: [{ id: 'mem1', status: 'accepted', updatedAt: 3, text: 'likes tea' }],
      evidence: [{ messageId: 'm1', items: [], marks: [], createdAt: 4 }],
      audit: [{ id: 'a1', at: 6 }],
    },
    async verify(db) {
      expect(await db.table('conversations').get('c1')).toMatchObject({ title: 'Kept' });
      expect(await db.table('settings').get('profile')).toEqual({ key: 'profile', value: { name: 'Ana' } });
      expect(Array.from((await db.table('identity').get('node')).privateKey as Uint8Array)).toEqual(new Array(32).fill(2));
      expect(await db.table('memories').get('mem1')).toMatchObject({ text: 'likes tea' });
      expect(await db.table('evidence').get('m1')).toMatchObject({ createdAt: 4 });
      expect(await db.table('audit').get('a1')).toMatchObject({ at: 6 });
      for (const table of ['episodes', 'experiences', 'learningLog', 'jobs', 'sharing']) expect(await db.table(table).count(), table).toBe(0);
      // The new indexes answer the queries the services make.
      await db.table('episodes').add({ id: 'e1', messageId: 'm1', updatedAt: 1 });
      expect(await db.table('episodes').where('messageId').equals('m1').count()).toBe(1);
      await db.table('jobs').add({ id: 'j1', state: 'queued', jobClass: 'rollouts', subject: 'e1' });
      expect(await db.table('jobs').where('[jobClass+subject]').equals(['rollouts', 'e1']).count()).toBe(1);
      expect(await db.table('jobs').where('state').equals('queued').count()).toBe(1);
      await db.table('learningLog').add({ id: 'l1', experienceId: 'x1', at: 2 });
      expect(await db.table('learningLog').where('experienceId').equals('x1').count()).toBe(1);
      await db.table('sharing').add({ experienceId: 'x1', state: 'queued' });
      expect(await db.table('sharing').where('state').equals('queued').count()).toBe(1);
    },
  },
  // 2026-11-22: the network tables appear, empty; the learning layer's
  // tables and everything before them are untouched.
  5: {
    seed: {
      conversations: [{ id: 'c1', title: 'Kept', systemPrompt: '', createdAt: 1, updatedAt: 2 }],
      identity: [{ id: 'node', nodeId: 'ab', publicKey: new Uint8Array(32).fill(1), createdAt: 5, custody: 'raw-bytes', privateKey: new Uint8Array(32).fill(2) }],
      experiences: [{ id: 'x1', text: 'When adding fractions, find a common denominator' }],
      sharing: [{ experienceId: 'x1', state: 'queued' }],
      jobs: [{ id: 'j1', state: 'queued', jobClass: 'rollouts', subject: 'e1' }],
    },
    async verify(db) {
      expect(await db.table('conversations').get('c1')).toMatchObject({ title: 'Kept' });
      expect(Array.from((await db.table('identity').get('node')).privateKey as Uint8Array)).toEqual(new Array(32).fill(2));
      expect(await db.table('experiences').get('x1')).toMatchObject({ text: 'When adding fractions, find a common denominator' });
      expect(await db.table('sharing').where('state').equals('queued').count()).toBe(1);
      expect(await db.table('jobs').where('state').equals('queued').count()).toBe(1);
      for (const table of ['membership', 'outbox', 'netItems']) expect(await db.table(table).count(), table).toBe(0);
      await db.table('outbox').add({ id: 'o1', createdAt: 3 });
      expect(await db.table('outbox').orderBy('createdAt').first()).toMatchObject({ id: 'o1' });
      await db.table('netItems').add({ itemId: 'i1', time: 7 });
      expect(await db.table('netItems').where('time').above(5).count()).toBe(1);
    },
  },
  // 2026-11-22: the field's local state appears, empty; the network's items stay.
  6: {
    seed: {
      membership: [{ id: 'current', networkId: 'n1', epoch: 2 }],
      netItems: [{ itemId: 'i1', time: 7, kind: 'artifact' }],
      outbox: [{ id: 'o1', createdAt: 3 }],
    },
    async verify(db) {
      expect(await db.table('membership').get('current')).toMatchObject({ networkId: 'n1', epoch: 2 });
      expect(await db.table('netItems').where('time').above(5).count()).toBe(1);
      expect(await db.table('outbox').count()).toBe(1);
      expect(await db.table('fieldState').count()).toBe(0);
      await db.table('fieldState').put({ key: 'ledger', value: { peers: [] } });
      expect(await db.table('fieldState').get('ledger')).toMatchObject({ value: { peers: [] } });
    },
  },
  // 2026-11-22: energy state and playbooks appear, empty; the field's state stays.
  7: {
    seed: {
      fieldState: [{ key: 'ledger', value: { format: 'h3lix.reputation-ledger' } }],
      jobs: [{ id: 'j1', state: 'queued', jobClass: 'rollouts', subject: 'e1' }],
    },
    async verify(db) {
      expect(await db.table('fieldState').get('ledger')).toMatchObject({ value: { format: 'h3lix.reputation-ledger' } });
      expect(await db.table('jobs').where('state').equals('queued').count()).toBe(1);
      for (const table of ['energy', 'consolidation']) expect(await db.table(table).count(), table).toBe(0);
      await db.table('energy').put({ key: 'battery', value: { charging: true } });
      expect(await db.table('energy').get('battery')).toMatchObject({ value: { charging: true } });
    },
  },
};

/** Seeds a database at version `target - 1`, opens it with the app's factory at `target`, runs the fixture's checks. */
async function checkUpgrade(
  schema: readonly SchemaVersion[],
  target: number,
  fixture: UpgradeFixture,
  name = `upgrade-to-${target}-${crypto.randomUUID()}`,
): Promise<void> {
  const older = schema.filter((v) => v.version < target);
  const upToTarget = schema.filter((v) => v.version <= target);
  expect(older.length, `no version before ${target}`).toBeGreaterThan(0);

  const old = new Dexie(name, { indexedDB, IDBKeyRange });
  declareSchema(old, older);
  await old.open();
  expect(old.verno).toBe(target - 1);
  for (const [table, rows] of Object.entries(fixture.seed)) await old.table(table).bulkAdd(rows);
  old.close();

  const db = await openDatabase(name, { indexedDB, IDBKeyRange, schema: upToTarget });
  try {
    expect(db.backendDB().version).toBe(target * 10);
    // Tables the target declares exist; tables it deletes are gone.
    const stores = [...db.backendDB().objectStoreNames];
    const targetStores = upToTarget[upToTarget.length - 1]!.stores;
    for (const [table, spec] of Object.entries(targetStores)) {
      if (spec === null) expect(stores, `${table} should be deleted`).not.toContain(table);
      else expect(stores, `${table} should exist`).toContain(table);
    }
    await fixture.verify(db);
  } finally {
    await db.delete();
  }
}

function fixtureCoverageProblems(schema: readonly SchemaVersion[], fixtures: Record<number, UpgradeFixture>): string[] {
  const targets = schema.filter((v) => v.version > 1).map((v) => v.version);
  const covered = Object.keys(fixtures).map(Number);
  return [
    ...targets.filter((v) => !covered.includes(v)).map((v) => `version ${v} has no upgrade fixture`),
    ...covered.filter((v) => !targets.includes(v)).map((v) => `fixture for version ${v}, which does not exist`),
  ];
}

/** One test per version above 1; a version without a fixture fails. */
function describeUpgrades(schema: readonly SchemaVersion[], fixtures: Record<number, UpgradeFixture>): void {
  const targets = schema.filter((v) => v.version > 1).map((v) => v.version);

  it('has a fixture for every version above 1, and none for versions that do not exist', () => {
    expect(fixtureCoverageProblems(schema, fixtures)).toEqual([]);
  });

  for (const target of targets) {
    it(`upgrades version ${target - 1} -> ${target} keeping and reshaping the data`, async () => {
      const fixture = fixtures[target];
      expect(fixture, `write an upgrade fixture for version ${target}`).toBeDefined();
      await checkUpgrade(schema, target, fixture!);
    });
  }
}

describe('app schema upgrades', () => {
  describeUpgrades(SCHEMA_VERSIONS, APP_UPGRADE_FIXTURES);
});

// ---------------------------------------------------------------------------
// The harness itself, on a throwaway schema.

interface NoteV1 {
  id: string;
  text: string;
  createdAt: number;
}
interface NoteV2 {
  id: string;
  title: string;
  body: string;
  createdAt: number;
}

/** The reshaping step, pure, as db-schema.ts asks of real versions. */
function noteV1toV2(note: NoteV1): NoteV2 {
  const [title = '', ...rest] = note.text.split('\n');
  return { id: note.id, title, body: rest.join('\n'), createdAt: note.createdAt };
}

const NOTES_V1: SchemaVersion = {
  version: 1,
  date: '2026-01-01',
  stores: { notes: 'id, createdAt', scratch: 'id' },
  note: 'Notes as one text.',
};

function notesV2(upgrade: SchemaVersion['upgrade']): SchemaVersion {
  return {
    version: 2,
    date: '2026-02-01',
    stores: { notes: 'id, createdAt, title', scratch: null, tags: 'id' },
    upgrade,
    note: 'Notes get a title (first line) and a body; scratch goes; tags arrive.',
  };
}

const GOOD_V2 = notesV2((tx) =>
  tx
    .table('notes')
    .toCollection()
    .modify((note: NoteV1, ref: { value: unknown }) => {
      ref.value = noteV1toV2(note);
    }),
);

const NOTES_V3: SchemaVersion = {
  version: 3,
  date: '2026-03-01',
  stores: { notes: 'id, createdAt, title', tags: 'id, label' },
  upgrade: (tx) =>
    tx
      .table('tags')
      .toCollection()
      .modify((tag: { id: string; label?: string }) => {
        tag.label ??= tag.id;
      }),
  note: 'Tags get a label.',
};

const V1_NOTES: NoteV1[] = [
  { id: 'a', text: 'Shopping\nmilk\neggs', createdAt: 1 },
  { id: 'b', text: 'One line only', createdAt: 2 },
  { id: 'c', text: '', createdAt: 3 },
];

const NOTES_FIXTURES: Record<number, UpgradeFixture> = {
  2: {
    seed: { notes: V1_NOTES, scratch: [{ id: 'x' }] },
    async verify(db) {
      expect(await db.table('notes').orderBy('createdAt').toArray()).toEqual(V1_NOTES.map(noteV1toV2));
      expect(await db.table('notes').where('title').equals('Shopping').count()).toBe(1);
      expect(await db.table('tags').count()).toBe(0);
    },
  },
  3: {
    seed: { notes: V1_NOTES.map(noteV1toV2), tags: [{ id: 'home' }, { id: 'work', label: 'Work' }] },
    async verify(db) {
      expect(await db.table('notes').count()).toBe(V1_NOTES.length);
      expect(await db.table('tags').orderBy('label').toArray()).toEqual([
        { id: 'work', label: 'Work' },
        { id: 'home', label: 'home' },
      ]);
    },
  },
};

describe('upgrade harness on a throwaway schema', () => {
  describe('runs every version generically', () => {
    describeUpgrades([NOTES_V1, GOOD_V2, NOTES_V3], NOTES_FIXTURES);
  });

  it('the reshaping function is pure and total', () => {
    expect(noteV1toV2({ id: 'z', text: 'a\nb\nc', createdAt: 9 })).toEqual({
      id: 'z',
      title: 'a',
      body: 'b\nc',
      createdAt: 9,
    });
  });

  it('catches a version that changes the shape without an upgrade', async () => {
    await expect(checkUpgrade([NOTES_V1, notesV2(undefined)], 2, NOTES_FIXTURES[2]!)).rejects.toMatchObject({ name: 'AssertionError' });
  });

  it('catches an upgrade that loses records', async () => {
    const lossy = notesV2(async (tx) => {
      await tx.table('notes').toCollection().modify((note: NoteV1, ref: { value: unknown }) => {
        ref.value = noteV1toV2(note);
      });
      await tx.table('notes').where('id').equals('b').delete();
    });
    await expect(checkUpgrade([NOTES_V1, lossy], 2, NOTES_FIXTURES[2]!)).rejects.toMatchObject({ name: 'AssertionError' });
  });

  it('catches an upgrade that reshapes wrongly', async () => {
    const wrong = notesV2((tx) =>
      tx
        .table('notes')
        .toCollection()
        .modify((note: NoteV1, ref: { value: unknown }) => {
          ref.value = { ...noteV1toV2(note), body: note.text };
        }),
    );
    await expect(checkUpgrade([NOTES_V1, wrong], 2, NOTES_FIXTURES[2]!)).rejects.toMatchObject({ name: 'AssertionError' });
  });

  it('catches an upgrade that fails (the open is refused, nothing half-done)', async () => {
    const failing = notesV2(() => {
      throw new Error('boom');
    });
    const name = `failing-${crypto.randomUUID()}`;
    await expect(checkUpgrade([NOTES_V1, failing], 2, NOTES_FIXTURES[2]!, name)).rejects.toThrow(/boom/);
    // The versionchange transaction aborted: still version 1, records untouched.
    const old = new Dexie(name, { indexedDB, IDBKeyRange });
    declareSchema(old, [NOTES_V1]);
    await old.open();
    try {
      expect(old.backendDB().version).toBe(10);
      expect(await old.table('notes').toArray()).toEqual(V1_NOTES);
    } finally {
      old.close();
    }
  });

  it('notices a version without a fixture, and a fixture without a version', () => {
    expect(fixtureCoverageProblems([NOTES_V1, GOOD_V2, NOTES_V3], { 2: NOTES_FIXTURES[2]! })).toEqual([
      'version 3 has no upgrade fixture',
    ]);
    expect(fixtureCoverageProblems([NOTES_V1, GOOD_V2], NOTES_FIXTURES)).toEqual([
      'fixture for version 3, which does not exist',
    ]);
  });
});
