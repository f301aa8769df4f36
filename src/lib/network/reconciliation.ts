/**
 * Reconciliation: how a late joiner, or a node back from offline, gets what
 * it missed, and how its own items reach the others.
 *
 * Items (signed artifacts and votes) are ordered by the key (time, item id),
 * time being the item's own time (an artifact's createdAt, a vote's `at`).
 * A requester splits the key space from its horizon upwards into ranges
 * holding at most MAX_HAVE_IDS of its items, and sends one sync-request per
 * range listing every item id it holds there. The target answers each with
 * the items it holds in that range that are not listed, oldest first, in
 * pages within the body cap, at most `maxPages` pages per request. Received
 * items merge into the held set by the field's rules (artifacts: union;
 * votes: the newest per voter and artifact), so merging is idempotent and
 * order-independent, and an answer cut short is completed by asking again
 * (what arrived is now listed, so the next answer starts after it).
 *
 * Why id lists rather than a compact summary (Bloom filter, range
 * fingerprints): they are exact (no false positives hiding an item), need
 * one round trip, and at 25 bytes an id they stay small for the sizes this
 * network has (a few artifacts per member per hour); ranges keep every
 * request under its cap however much a node holds. Range fingerprints
 * (Negentropy-style) are the upgrade path when idle syncs get large: a
 * future version can add a `fingerprint` variant of the request.
 *
 * Both directions: a node asks a peer, and answers that peer's requests; two
 * nodes that each asked the other once (and repeated any answer that came
 * back with `last: false`) hold the same set.
 */
import { canonicalJson } from '../artifacts/canonical';
import { newerVote, voteKey, type NodeId } from '../ccf/vote';
import { MAX_BODY_BYTES } from './envelope';
import { MAX_HAVE_IDS, MAX_PAGE_ITEMS, compareSyncKeys, type SyncKey, type SyncRequestBody, type SyncResponseBody } from './message-bodies';
import type { SignedItem, VerifiedItem } from './signed-item';

/** Default reconciliation horizon: items older than this are not asked for. */
export const DEFAULT_SYNC_HORIZON_MS = 30 * 24 * 3_600_000;
/** Default number of pages one request is answered with (the rest on the next request). */
export const DEFAULT_MAX_PAGES = 16;
/** Room for the response's own fields around its items. */
const PAGE_OVERHEAD_BYTES = 256;

/** What the planner needs of a held item. */
export interface SyncEntry {
  itemId: string;
  time: number;
}

export function syncKeyOf(entry: SyncEntry): SyncKey {
  return { time: entry.time, id: entry.itemId };
}

function inRange(key: SyncKey, request: Pick<SyncRequestBody, 'from' | 'until'>): boolean {
  return (request.from === null || compareSyncKeys(key, request.from) >= 0) && (request.until === null || compareSyncKeys(key, request.until) < 0);
}

/**
 * The sync-requests asking `target` for everything from `since` (ms, item
 * time) upwards: ranges of at most `maxIds` held ids, newest range first
 * (recent items matter most).
 */
export function planSyncRequests(held: readonly SyncEntry[], options: { target: NodeId; since: number; maxIds?: number }): SyncRequestBody[] {
  const maxIds = Math.min(options.maxIds ?? MAX_HAVE_IDS, MAX_HAVE_IDS);
  if (!Number.isInteger(maxIds) || maxIds < 1) throw new RangeError(`maxIds must be a positive integer, not ${maxIds}`);
  const since = Math.max(0, Math.floor(options.since));
  const lowest: SyncKey | null = since === 0 ? null : { time: since, id: '' };
  const keys = held
    .map(syncKeyOf)
    .filter((k) => lowest === null || compareSyncKeys(k, lowest) >= 0)
    .sort(compareSyncKeys);
  // Drop duplicates (the same item listed twice by the caller).
  const unique = keys.filter((k, i) => i === 0 || compareSyncKeys(keys[i - 1]!, k) !== 0);
  const requests: SyncRequestBody[] = [];
  let until: SyncKey | null = null;
  let end = unique.length;
  do {
    const start = Math.max(0, end - maxIds);
    const from = start === 0 ? lowest : unique[start]!;
    const have = unique
      .slice(start, end)
      .map((k) => k.id)
      .sort();
    requests.push({ target: options.target, from, until, have });
    until = from;
    end = start;
  } while (end > 0);
  return requests;
}

export interface AnswerOptions {
  /** The requester (the request's sender). */
  requester: NodeId;
  /** The request envelope's nonce. */
  inReplyTo: string;
  maxPages?: number;
  /** Largest body of one page (bytes); the protocol's cap by default. */
  maxPageBytes?: number;
  /** Items of revoked members are not handed on. */
  isRevoked?: (nodeId: NodeId) => boolean;
}

/**
 * The sync-response pages answering `request` from the `held` items: what
 * the requester lacks in its range, oldest first. Always at least one page
 * (an empty last page says "nothing more").
 */
export function answerSyncRequest(request: SyncRequestBody, held: readonly VerifiedItem[], options: AnswerOptions): SyncResponseBody[] {
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  const maxPageBytes = Math.min(options.maxPageBytes ?? MAX_BODY_BYTES['sync-response'], MAX_BODY_BYTES['sync-response']);
  const have = new Set(request.have);
  const seen = new Set<string>();
  const missing = held
    .filter((h) => inRange({ time: h.time, id: h.itemId }, request) && !have.has(h.itemId) && !(options.isRevoked?.(h.authorId) ?? false))
    .filter((h) => (seen.has(h.itemId) ? false : (seen.add(h.itemId), true)))
    .sort((a, b) => compareSyncKeys({ time: a.time, id: a.itemId }, { time: b.time, id: b.itemId }));
  const pages: SignedItem[][] = [];
  let page: SignedItem[] = [];
  let pageBytes = PAGE_OVERHEAD_BYTES;
  let sent = 0;
  for (const entry of missing) {
    const size = new TextEncoder().encode(canonicalJson(entry.item)).length + 1;
    if (page.length > 0 && (pageBytes + size > maxPageBytes || page.length >= MAX_PAGE_ITEMS)) {
      pages.push(page);
      page = [];
      pageBytes = PAGE_OVERHEAD_BYTES;
      if (pages.length >= maxPages) break;
    }
    // An item that cannot fit even alone is skipped (it could not have been received within caps either).
    if (PAGE_OVERHEAD_BYTES + size > maxPageBytes) {
      sent++;
      continue;
    }
    page.push(entry.item);
    pageBytes += size;
    sent++;
  }
  if (pages.length < maxPages && (page.length > 0 || pages.length === 0)) pages.push(page);
  const complete = sent === missing.length && pages.length <= maxPages;
  return pages.map((items, index) => ({
    target: options.requester,
    inReplyTo: options.inReplyTo,
    page: index,
    last: index === pages.length - 1 && complete,
    items,
  }));
}

/**
 * Merges received items into the held ones by the field's rules: artifact
 * items accumulate; of the votes of one (artifact, voter) only the newest
 * (compareVotes) stays. Idempotent, commutative and associative, so pages
 * may arrive in any order and twice. `added` lists the items that were new
 * and are now held; `dropped` the item ids no longer held (outvoted).
 */
export function mergeItems(held: readonly VerifiedItem[], received: readonly VerifiedItem[]): { items: VerifiedItem[]; added: VerifiedItem[]; dropped: string[] } {
  const byId = new Map<string, VerifiedItem>();
  const currentVote = new Map<string, VerifiedItem & { kind: 'vote' }>();
  for (const item of held) admit(item);
  const before = new Set(byId.keys());
  for (const item of received) admit(item);
  const items = [...byId.values()];
  return {
    items,
    added: items.filter((i) => !before.has(i.itemId)),
    dropped: [...before].filter((id) => !byId.has(id)),
  };

  function admit(item: VerifiedItem): void {
    if (byId.has(item.itemId)) return;
    if (item.kind === 'artifact') {
      byId.set(item.itemId, item);
      return;
    }
    const key = voteKey(item.vote);
    const existing = currentVote.get(key);
    if (existing !== undefined) {
      if (newerVote(existing.vote, item.vote) === existing.vote) return;
      byId.delete(existing.itemId);
    }
    currentVote.set(key, item);
    byId.set(item.itemId, item);
  }
}
