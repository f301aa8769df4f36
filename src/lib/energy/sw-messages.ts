/**
 * What the service worker and the page say to each other about waking
 * (DESIGN.md 2.8): the Background Sync and Periodic Background Sync tags, and
 * the messages. Shared by src/sw.ts and src/services/background-sync.ts.
 *
 * The worker cannot do the work itself: the libp2p node (WebRTC, which
 * service workers do not have) and the models live in the page and its
 * workers. So a sync event only wakes the page:
 *
 *   worker -> page   { type: 'flush-outbox', requestId }   (with a MessagePort to answer on)
 *   page -> worker   { type: 'outbox-flushed', requestId, sent, left }
 *   worker -> page   { type: 'wake-jobs', reason }          (periodic sync, power to spare)
 *
 * The page answers on the port it was given (or, without one, to the worker
 * that sent the message, with the same requestId). Messages cross a boundary
 * where either side may be an older version of the app (a waiting worker, a
 * stale tab), so both sides check what they receive with the guards below
 * and ignore anything else.
 *
 * Pure: constants and type guards only (this module goes into sw.js).
 */

/** One-off Background Sync tag: "the outbox has items to publish". */
export const OUTBOX_SYNC_TAG = 'h3lix-outbox';

/** Periodic Background Sync tag: "see whether light jobs can run". */
export const LIGHT_JOBS_PERIODIC_TAG = 'h3lix-light-jobs';

/** The interval asked for periodic sync; the browser decides the real one (engagement, power, network). */
export const LIGHT_JOBS_MIN_INTERVAL_MS = 12 * 60 * 60 * 1000;

/**
 * How long the worker waits for a page to answer 'flush-outbox'. Publishing
 * the outbox goes to peers that are already connected (a flush does not wait
 * for peers to appear), so a live page answers in well under a second; this
 * covers a page that has to open its database first. Chromium gives a sync
 * event a few minutes before it cancels it.
 */
export const FLUSH_REPLY_TIMEOUT_MS = 30_000;

export interface FlushOutboxMessage {
  type: 'flush-outbox';
  /** Matches the answer to the question when it comes back without a port. */
  requestId: string;
}

export interface WakeJobsMessage {
  type: 'wake-jobs';
  /** Why the worker thinks there is power to spare, for the log. */
  reason: string;
}

/** What the service worker posts to window clients. */
export type WorkerToPageMessage = FlushOutboxMessage | WakeJobsMessage;

export interface OutboxFlushedMessage {
  type: 'outbox-flushed';
  /** The requestId of the 'flush-outbox' this answers (absent from a page that was not asked). */
  requestId?: string;
  /** Items that went out in this flush. */
  sent: number;
  /** Items still in the outbox afterwards. */
  left: number;
}

/** The update handshake (workbox-window's messageSkipWaiting). */
export interface SkipWaitingMessage {
  type: 'SKIP_WAITING';
}

/** What pages post to the service worker. */
export type PageToWorkerMessage = OutboxFlushedMessage | SkipWaitingMessage;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

export function isFlushOutboxMessage(x: unknown): x is FlushOutboxMessage {
  return isRecord(x) && x['type'] === 'flush-outbox' && typeof x['requestId'] === 'string';
}

export function isWakeJobsMessage(x: unknown): x is WakeJobsMessage {
  return isRecord(x) && x['type'] === 'wake-jobs' && (x['reason'] === undefined || typeof x['reason'] === 'string');
}

export function isWorkerToPageMessage(x: unknown): x is WorkerToPageMessage {
  return isFlushOutboxMessage(x) || isWakeJobsMessage(x);
}

export function isOutboxFlushedMessage(x: unknown): x is OutboxFlushedMessage {
  return (
    isRecord(x) &&
    x['type'] === 'outbox-flushed' &&
    (x['requestId'] === undefined || typeof x['requestId'] === 'string') &&
    isCount(x['sent']) &&
    isCount(x['left'])
  );
}

export function isSkipWaitingMessage(x: unknown): x is SkipWaitingMessage {
  return isRecord(x) && x['type'] === 'SKIP_WAITING';
}
