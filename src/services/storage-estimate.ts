/**
 * How much the browser lets H3LIX keep, and whether it may evict it.
 *
 * Browsers may clear a site's IndexedDB under storage pressure unless the
 * site's storage is "persisted". We ask once (Chrome decides silently from
 * engagement; Firefox asks the person, so call it after a user gesture when
 * possible) and show usage against quota in the data settings.
 *
 * Every API here is missing somewhere (older Safari, Node, some webviews):
 * missing means "unknown" (null) or "not granted" (false), never a throw.
 */

/** The part of StorageManager we use, so tests and odd environments can pass their own. */
export interface StorageManagerLike {
  persist?: () => Promise<boolean>;
  persisted?: () => Promise<boolean>;
  estimate?: () => Promise<{ usage?: number; quota?: number }>;
}

export interface StorageEstimateReading {
  /** Bytes used by this origin, null when unknown. */
  usage: number | null;
  /** Bytes this origin may use, null when unknown. */
  quota: number | null;
  /** Whether storage is protected from eviction, null when unknown. */
  persisted: boolean | null;
}

/** The browser's StorageManager, if there is one. */
export function browserStorageManager(): StorageManagerLike | undefined {
  if (typeof navigator === 'undefined') return undefined;
  // `storage` is missing on insecure origins and outside browsers.
  return (navigator as { storage?: StorageManagerLike }).storage;
}

/** Asks for persistent storage. Resolves true when granted (now or earlier), false otherwise. */
export async function requestPersistence(storage: StorageManagerLike | undefined = browserStorageManager()): Promise<boolean> {
  if (!storage) return false;
  try {
    // Already persisted: don't ask again (Firefox would show its prompt).
    if (storage.persisted && (await storage.persisted())) return true;
    if (!storage.persist) return false;
    return (await storage.persist()) === true;
  } catch {
    return false;
  }
}

/** Usage, quota and persistence, each null where the browser cannot say. */
export async function readStorageEstimate(
  storage: StorageManagerLike | undefined = browserStorageManager(),
): Promise<StorageEstimateReading> {
  const [estimate, persisted] = await Promise.all([readEstimate(storage), readPersisted(storage)]);
  return {
    usage: finiteOrNull(estimate?.usage),
    quota: finiteOrNull(estimate?.quota),
    persisted,
  };
}

async function readEstimate(storage: StorageManagerLike | undefined): Promise<{ usage?: number; quota?: number } | null> {
  if (!storage?.estimate) return null;
  try {
    return await storage.estimate();
  } catch {
    return null;
  }
}

async function readPersisted(storage: StorageManagerLike | undefined): Promise<boolean | null> {
  if (!storage?.persisted) return null;
  try {
    return (await storage.persisted()) === true;
  } catch {
    return null;
  }
}

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}
