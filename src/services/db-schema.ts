/**
 * The IndexedDB schema, as a dated history of versions.
 *
 * Rules (tested in tests/unit/db-schema.test.ts and db-upgrade.test.ts):
 * - A version, once landed, is never edited: people's browsers hold data
 *   shaped by it. Change the schema by appending a new version.
 * - Each version's `stores` is the COMPLETE schema at that version (every
 *   table the previous version had, with its new definition or `null` to
 *   delete it), so a reader sees the whole shape without replaying history.
 * - `stores` uses Dexie's syntax: the first entry is the primary key, the rest
 *   are indexes. Index only what some query uses: every index is rewritten on
 *   every put (and a streaming reply is put ~4 times a second).
 * - Reshaping records in `upgrade` is done by pure functions exported from
 *   here (old shape in, new shape out), so they are unit-tested on plain data;
 *   the upgrade itself only walks the table and applies them.
 * - Every version above 1 needs an upgrade fixture in db-upgrade.test.ts
 *   (seed at N-1, open at N, check); the test fails until one exists.
 * - A change that reshapes conversations, messages or settings also changes
 *   what export files contain: bump the format in src/lib/data/export-format.ts
 *   and teach it to read the old version.
 */

import type { Transaction } from 'dexie';

/** Dexie store definitions: table name -> 'primaryKey, index, [compound+index]' (null deletes the table). */
export type StoreDefinitions = Readonly<Record<string, string | null>>;

export interface SchemaVersion {
  /** Integer, strictly increasing. (Dexie stores it multiplied by 10 natively.) */
  readonly version: number;
  /** The day it landed, YYYY-MM-DD. */
  readonly date: string;
  readonly stores: StoreDefinitions;
  /** Runs inside the versionchange transaction when upgrading from an older version. */
  readonly upgrade?: (tx: Transaction) => PromiseLike<unknown> | void;
  /** Why this version exists. */
  readonly note: string;
}

export const SCHEMA_VERSIONS: readonly SchemaVersion[] = [
  {
    version: 1,
    date: '2026-11-22',
    stores: {
      // updatedAt: the sidebar lists conversations by last activity.
      conversations: 'id, updatedAt',
      // [conversationId+createdAt]: a conversation's messages in order, the
      // cascade on delete and "everything after this message" for regenerate.
      // Dexie also answers where('conversationId') from this compound index's
      // prefix, so a separate conversationId index would only cost writes.
      // status: startup finds replies left 'streaming' by a closed tab.
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
    },
    note: 'Chat: conversations, their messages, and key/value settings.',
  },
  {
    version: 2,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      // One record ('node'): the Ed25519 key pair of this instance. Not in
      // export files: the private key is non-extractable by design.
      identity: 'id',
    },
    note: 'Identity layer: the node key pair, made on first run.',
  },
  {
    version: 3,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      identity: 'id',
      // Long-term memory. status: the Memory view lists proposals apart;
      // updatedAt: newest first. Embeddings live in the records and are
      // loaded once into an in-memory index for retrieval.
      memories: 'id, status, updatedAt',
      // Private documents and their chunks (documentId: cascade on delete).
      documents: 'id, addedAt',
      chunks: 'id, documentId',
      // What each answer used (keyed by the answer's message id).
      evidence: 'messageId',
      // The execution layer's audit log, newest first.
      audit: 'id, at',
    },
    note: 'Memory, private documents, evidence and the audit log (identity, memory and governance).',
  },
  {
    version: 4,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      identity: 'id',
      memories: 'id, status, updatedAt',
      documents: 'id, addedAt',
      chunks: 'id, documentId',
      evidence: 'messageId',
      audit: 'id, at',
      // Episodes: messageId finds the episode of an answer when the person
      // gives feedback; updatedAt lists them newest first.
      episodes: 'id, messageId, updatedAt',
      // The experience library (small: loaded whole).
      experiences: 'id',
      // Its history: experienceId for one experience's history, at for the
      // newest-first log (also rejected proposals and failed rollouts).
      learningLog: 'id, experienceId, at',
      // Deferrable work. state: the runner's queue; [jobClass+subject]: one
      // live job per episode.
      jobs: 'id, state, [jobClass+subject]',
      // Sharing state per experience (and the artifact once built).
      sharing: 'experienceId, state',
    },
    note: 'Learning layer: episodes, the experience library and its history, the job queue, sharing state.',
  },
  {
    version: 5,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      identity: 'id',
      memories: 'id, status, updatedAt',
      documents: 'id, addedAt',
      chunks: 'id, documentId',
      evidence: 'messageId',
      audit: 'id, at',
      episodes: 'id, messageId, updatedAt',
      experiences: 'id',
      learningLog: 'id, experienceId, at',
      jobs: 'id, state, [jobClass+subject]',
      sharing: 'experienceId, state',
      // The network this node is a member of (one record, 'current'), with
      // its key and epoch; the libp2p key for a stable peer id.
      membership: 'id',
      // Signed items waiting to be published (survives reloads and offline).
      outbox: 'id, createdAt',
      // Every signed artifact and vote held (own and received): the field's
      // replicated set. time: reconciliation walks it in order.
      netItems: 'itemId, time',
    },
    note: 'Network: membership, the outbox, and the signed items held (artifacts and votes).',
  },
  {
    version: 6,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      identity: 'id',
      memories: 'id, status, updatedAt',
      documents: 'id, addedAt',
      chunks: 'id, documentId',
      evidence: 'messageId',
      audit: 'id, at',
      episodes: 'id, messageId, updatedAt',
      experiences: 'id',
      learningLog: 'id, experienceId, at',
      jobs: 'id, state, [jobClass+subject]',
      sharing: 'experienceId, state',
      membership: 'id',
      outbox: 'id, createdAt',
      netItems: 'itemId, time',
      // This node's own view of the Collective Context Field that is not
      // replicated: the reputation ledger, the quarantine book, how each of
      // its votes was cast. One record per key ('ledger', 'quarantine',
      // 'origins'), JSON validated on read (ccf/ledger-codec.ts).
      fieldState: 'key',
    },
    note: "Collective Context Field: this node's reputation ledger, quarantine book and vote origins.",
  },
  {
    version: 7,
    date: '2026-11-22',
    stores: {
      conversations: 'id, updatedAt',
      messages: 'id, [conversationId+createdAt], status',
      settings: 'key',
      identity: 'id',
      memories: 'id, status, updatedAt',
      documents: 'id, addedAt',
      chunks: 'id, documentId',
      evidence: 'messageId',
      audit: 'id, at',
      episodes: 'id, messageId, updatedAt',
      experiences: 'id',
      learningLog: 'id, experienceId, at',
      jobs: 'id, state, [jobClass+subject]',
      sharing: 'experienceId, state',
      membership: 'id',
      outbox: 'id, createdAt',
      netItems: 'itemId, time',
      fieldState: 'key',
      // Energy-adaptive scheduling, one record per key: the last battery
      // reading (workers and the service worker cannot read the battery), the
      // carbon provider and policy settings, the last carbon forecast, and the
      // log of job runs the timeline and the savings estimate are drawn from.
      energy: 'key',
      // Consolidation: the per-domain playbooks and when they were last made.
      consolidation: 'key',
    },
    note: 'Energy-adaptive scheduling state and consolidated playbooks.',
  },
];

function latestOf(versions: readonly SchemaVersion[]): SchemaVersion {
  const last = versions[versions.length - 1];
  if (!last) throw new Error('The schema has no versions.');
  return last;
}

export const LATEST_SCHEMA: SchemaVersion = latestOf(SCHEMA_VERSIONS);
export const LATEST_SCHEMA_VERSION: number = LATEST_SCHEMA.version;
