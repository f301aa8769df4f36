/**
 * The P2P transport (see node.ts for what it does and why, discovery.ts for
 * the discovery announcement). The app's network state uses createP2PNode();
 * tests, the hostile test peer and the network bench use the same code in Node.
 */
export {
  createP2PNode,
  DEFAULT_LIMITS,
  DEFAULT_TIMING,
  type DropReason,
  type MessageHandler,
  type MessageValidator,
  type P2PClock,
  type P2PDiscoveryOptions,
  type P2PEvents,
  type P2PLimits,
  type P2PLogger,
  type P2PNode,
  type P2PNodeOptions,
  type P2PPeer,
  type P2PStatus,
  type P2PTiming,
  type P2PTraffic,
  type PeerKind,
  type RelayState,
} from './node.ts';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
export {
  decodeAnnouncement,
  encodeAnnouncement,
  DISCOVERY_VERSION,
  MAX_ANNOUNCEMENT_BYTES,
  type Announcement,
  type AnnouncementError,
} from './discovery.ts';
export {
  P2PAbortedError,
  P2PConfigError,
  P2PError,
  P2PMessageTooLargeError,
  P2PNotStartedError,
  P2PTimeoutError,
  P2PTransportError,
} from './errors.ts';
