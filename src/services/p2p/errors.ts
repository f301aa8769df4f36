/**
 * Errors thrown by the P2P transport (src/services/p2p). Each has its own
 * class and `name`, so callers can branch with `instanceof` or on `err.name`
 * (which survives structured cloning to and from workers).
 */
export class P2PError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'P2PError';
  }
}

/** Options given to createP2PNode() are unusable (no relay, bad multiaddr, bad limit). */
export class P2PConfigError extends P2PError {
  constructor(message: string) {
    super(message);
    this.name = 'P2PConfigError';
  }
}

/** The operation needs a started node (publish, peer id before the first start). */
export class P2PNotStartedError extends P2PError {
  constructor(what: string) {
    super(`${what}: the P2P node is not started`);
    this.name = 'P2PNotStartedError';
  }
}

/** start() or a wait was aborted through its AbortSignal. */
export class P2PAbortedError extends P2PError {
  constructor(what: string, cause?: unknown) {
    super(`${what} aborted`, { cause });
    this.name = 'P2PAbortedError';
  }
}

/** A wait (e.g. whenStatus) ran past its time limit. */
export class P2PTimeoutError extends P2PError {
  constructor(what: string, ms: number) {
    super(`${what}: no result within ${ms} ms`);
    this.name = 'P2PTimeoutError';
  }
}

/** publish() was given more bytes than limits.maxMessageBytes: nothing was sent. */
export class P2PMessageTooLargeError extends P2PError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(`message of ${size} bytes is over the limit of ${limit} bytes`);
    this.name = 'P2PMessageTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/** libp2p failed to start (or to publish) for a reason of its own; `cause` holds it. */
export class P2PTransportError extends P2PError {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'P2PTransportError';
  }
}
