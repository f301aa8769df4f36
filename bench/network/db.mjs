// The app's IndexedDB schema on fake-indexeddb, opened without
// src/services/db.ts: that module has a TypeScript parameter property
// (DatabaseTooNewError's constructor), which Node's type stripping refuses.
// This declares the same schema history (src/services/db-schema.ts) on a
// Dexie instance the way db.ts's declareSchema() does, so the tables the
// member code uses (identity, membership, netItems, outbox) are the app's.
import Dexie from 'dexie';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';

/** @param {readonly { version: number, stores: Record<string, string | null>, upgrade?: Function }[]} schema */
export async function openBenchDatabase(name, schema) {
  const db = new Dexie(name, { indexedDB, IDBKeyRange, autoOpen: false });
  for (const step of schema) {
    const version = db.version(step.version).stores({ ...step.stores });
    if (step.upgrade) version.upgrade(step.upgrade);
  }
  await db.open();
  return db;
}
