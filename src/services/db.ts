/**
 * Opening the local database: the typed Dexie subclass, the factory that
 * opens it, and the named errors a person can act on when storage fails.
 *
 * Nothing is opened at import time: the app calls `openDatabase()` once at
 * startup and hands the instance to the services that need it (tests pass
 * fake-indexeddb through the same options).
 *
 * Several tabs share one database. When a newer tab needs to upgrade (or
 * someone deletes the database), older tabs get `versionchange`: we close our
 * connection at once so the other tab is not blocked, and tell the caller so
 * the UI can ask for a reload. When it is our upgrade that waits on an older
 * tab, `onBlocked` lets the UI say "close your other H3LIX tabs".
 */

import Dexie, { type DexieOptions, type Table } from 'dexie';
import type { IdentityRecord } from './identity';
import type { Conversation, Message, SettingRecord } from '../lib/chat/types';
import type { AuditEntry } from '../lib/governance/audit';
import type { EvidenceRecord } from '../lib/governance/evidence';
import type { DocumentChunk, Memory, PrivateDocument } from '../lib/memory/types';
import { SCHEMA_VERSIONS, type SchemaVersion } from './db-schema';

export const DEFAULT_DATABASE_NAME = 'h3lix';

/** IndexedDB refused to open at all: private browsing, site data disabled, missing API. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(options?: ErrorOptions) {
    super(
      'This browser is not letting H3LIX store data on this device (private browsing, or site data turned off). ' +
        'Allow site data for this page or use a normal window; until then nothing you do here can be saved.',
      options,
    );
  }
}

/** The browser's storage for this site is full. */
export class StorageQuotaError extends Error {
  override readonly name = 'StorageQuotaError';
  constructor(options?: ErrorOptions) {
    super(
      "The browser's storage for H3LIX is full. Export your data, then delete old conversations or free disk space.",
      options,
    );
  }
}

/** The database on disk was upgraded by a newer H3LIX (another tab, or after a rollback). */
export class DatabaseTooNewError extends Error {
  override readonly name = 'DatabaseTooNewError';
  constructor(
    /** The version on disk, when known. */
    readonly installedVersion: number | null,
    readonly supportedVersion: number | null,
    options?: ErrorOptions,
  ) {
    const detail =
      installedVersion !== null && supportedVersion !== null
        ? ` (storage version ${installedVersion}; this page understands up to ${supportedVersion})`
        : '';
    super(`Your data was saved by a newer version of H3LIX${detail}. Reload the page to get the newer version.`, options);
  }
}

/** Why another connection asked us to close. */
export type VersionChangeReason = 'upgrade' | 'delete';

export interface OpenDatabaseOptions {
  /** An IndexedDB factory (fake-indexeddb in tests); the browser's by default. */
  indexedDB?: DexieOptions['indexedDB'];
  IDBKeyRange?: DexieOptions['IDBKeyRange'];
  /**
   * Our open is waiting for other tabs that hold an older version open.
   * The open resumes by itself once they close; the UI should ask the person
   * to close them.
   */
  onBlocked?: () => void;
  /**
   * Another tab is upgrading or deleting the database. This connection is
   * already closed when this runs (further queries fail with Dexie's
   * DatabaseClosedError); the UI should ask for a reload.
   */
  onVersionChange?: (reason: VersionChangeReason) => void;
  /** The schema history to open with. Tests only (the upgrade harness); the app's by default. */
  schema?: readonly SchemaVersion[];
}

/** The database with its tables typed. Construct through `openDatabase`. */
export class H3lixDatabase extends Dexie {
  // `declare`: Dexie creates these properties itself when the schema is
  // declared; a class field would overwrite them with undefined.
  declare readonly conversations: Table<Conversation, string>;
  declare readonly messages: Table<Message, string>;
  declare readonly settings: Table<SettingRecord, string>;
  declare readonly identity: Table<IdentityRecord, string>;
  declare readonly memories: Table<Memory, string>;
  declare readonly documents: Table<PrivateDocument, string>;
  declare readonly chunks: Table<DocumentChunk, string>;
  declare readonly evidence: Table<EvidenceRecord, string>;
  declare readonly audit: Table<AuditEntry, string>;

  constructor(name: string, options: DexieOptions, schema: readonly SchemaVersion[] = SCHEMA_VERSIONS) {
    super(name, options);
    declareSchema(this, schema);
  }
}

/** Declares every version of a schema history on a Dexie instance (also used to build old databases in tests). */
export function declareSchema(db: Dexie, schema: readonly SchemaVersion[]): void {
  for (const step of schema) {
    const version = db.version(step.version).stores({ ...step.stores });
    if (step.upgrade) version.upgrade(step.upgrade);
  }
}

/**
 * Opens (creating or upgrading as needed) the H3LIX database.
 * Rejects with StorageUnavailableError, StorageQuotaError or DatabaseTooNewError.
 */
export async function openDatabase(
  name: string = DEFAULT_DATABASE_NAME,
  options: OpenDatabaseOptions = {},
): Promise<H3lixDatabase> {
  const schema = options.schema ?? SCHEMA_VERSIONS;
  const supportedVersion = schema[schema.length - 1]?.version ?? 0;
  // No auto-open: the only way in is this function, with its error mapping
  // and version check. Once closed (another tab upgraded or deleted the
  // database, or the browser dropped the connection) queries fail with
  // DatabaseClosedError instead of silently reopening a database this code
  // may no longer understand. Only pass the factories that were given: an
  // explicit `undefined` would replace Dexie's default (the browser's).
  const dexieOptions: DexieOptions = { autoOpen: false };
  if (options.indexedDB) dexieOptions.indexedDB = options.indexedDB;
  if (options.IDBKeyRange) dexieOptions.IDBKeyRange = options.IDBKeyRange;

  const db = new H3lixDatabase(name, dexieOptions, schema);
  db.on('blocked', () => options.onBlocked?.());
  db.on('versionchange', (event: IDBVersionChangeEvent) => {
    // Dexie's own handler has closed the connection already (so the other
    // tab is not blocked); make it final and let the UI ask for a reload.
    db.close({ disableAutoOpen: true });
    options.onVersionChange?.(event.newVersion ? 'upgrade' : 'delete');
  });

  try {
    await db.open();
  } catch (error) {
    throw toOpenError(error);
  }

  // When the database on disk is newer than our schema, Dexie opens it at the
  // installed version instead of failing. Refuse: its records may be shaped
  // in ways this code would misread or overwrite. (Dexie keeps versions x10
  // natively, and may add 1 when it patches an unchanged version; floor.)
  const nativeVersion = db.backendDB()?.version ?? 0;
  const installedVersion = Math.floor(nativeVersion / 10);
  if (installedVersion > supportedVersion) {
    db.close({ disableAutoOpen: true });
    throw new DatabaseTooNewError(installedVersion, supportedVersion);
  }
  return db;
}

/** Names of an error and the errors it wraps (Dexie keeps the DOMException in `inner`). */
export function errorNames(error: unknown): string[] {
  const names: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const record = current as { name?: unknown; inner?: unknown; cause?: unknown };
    if (typeof record.name === 'string') names.push(record.name);
    current = record.inner ?? record.cause;
  }
  return names;
}

const UNAVAILABLE_ERROR_NAMES = new Set([
  'MissingAPIError', // no indexedDB at all (very old browser, some embedded webviews)
  'InvalidStateError', // Firefox private browsing (older versions) and disabled storage
  'SecurityError', // site data blocked, file:// pages, sandboxed iframes
  'UnknownError', // Chrome when the profile's backing store cannot be opened
  'NotAllowedError',
]);

/** Maps a failure of `open()` to the error the UI can explain; other errors pass through unchanged. */
export function toOpenError(error: unknown): unknown {
  if (error instanceof DatabaseTooNewError) return error;
  const names = errorNames(error);
  if (names.includes('QuotaExceededError')) return new StorageQuotaError({ cause: error });
  if (names.includes('VersionError')) return new DatabaseTooNewError(null, null, { cause: error });
  if (names.some((name) => UNAVAILABLE_ERROR_NAMES.has(name))) return new StorageUnavailableError({ cause: error });
  return error;
}

/** Maps a failure of a write (Dexie wraps the browser's QuotaExceededError) to StorageQuotaError; others pass through. */
export function toWriteError(error: unknown): unknown {
  return errorNames(error).includes('QuotaExceededError') ? new StorageQuotaError({ cause: error }) : error;
}
