/**
 * The discovery announcement: how members of a network tell each other that
 * they exist and where they can be dialled. (For docs/PROTOCOL.md.)
 *
 * Topic: chosen by the caller (`discovery.topic`), one per network, e.g.
 * `h3lix/<network id>/discovery/1`. Gossipsub, StrictSign: the gossip layer
 * signs every message with the sender's libp2p key, so `from` is
 * authenticated; an announcement whose `peer` differs from `from` is rejected.
 *
 * Payload (before the caller's optional `wrap`, e.g. encryption with the
 * network key): UTF-8 JSON, at most 4096 bytes, exactly these fields:
 *
 *   { "v": 1,                       // format version; other values are rejected
 *     "peer": "12D3KooW…",          // the announcing peer's id (base58btc)
 *     "addrs": ["/ip4/…/ws/p2p/<relay>/p2p-circuit/webrtc/p2p/<peer>", …],
 *                                   // 0–8 multiaddrs, ≤ 256 chars each, each
 *                                   // through a relay (contains /p2p-circuit)
 *                                   // and ending in /p2p/<peer>
 *     "known": ["12D3KooW…", …],    // 0–64 peer ids it is connected to
 *                                   // (peer exchange: a newcomer who hears one
 *                                   // announcement learns the whole group)
 *     "ts": 1767225600000 }         // sender's clock, ms since 1970 (integer);
 *                                   // also makes each announcement unique, as
 *                                   // message ids are content hashes
 *
 * Sent when the node gets its reservation, shortly after a peer subscribes to
 * the discovery topic, and every `announceIntervalMs` (default 30 s).
 * Receivers dial the announced peer (and the peers it knows) through the
 * relays they themselves use: `<relay>/p2p-circuit/webrtc/p2p/<peer>` first
 * (direct WebRTC, the relay only carries the signalling), then
 * `<relay>/p2p-circuit/p2p/<peer>` (relayed) if that fails. Addresses through
 * relays the receiver does not use are informational only: a node never
 * dials a host it learnt from a peer, so a hostile announcement cannot make
 * it connect anywhere new.
 */
import { peerIdFromString } from '@libp2p/peer-id';

export const DISCOVERY_VERSION = 1;
export const MAX_ANNOUNCEMENT_BYTES = 4096;
export const MAX_ANNOUNCED_ADDRS = 8;
export const MAX_ANNOUNCED_KNOWN = 64;
export const MAX_ADDR_CHARS = 256;

export interface Announcement {
  v: 1;
  peer: string;
  addrs: string[];
  known: string[];
  ts: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function isPeerIdString(s: unknown): s is string {
  if (typeof s !== 'string' || s.length < 40 || s.length > 64) return false;
  try {
    peerIdFromString(s);
    return true;
  } catch {
    return false;
  }
}

/** Encodes an announcement; trims addrs/known to their limits. */
export function encodeAnnouncement(a: Omit<Announcement, 'v'>): Uint8Array {
  const body: Announcement = {
    v: DISCOVERY_VERSION,
    peer: a.peer,
    addrs: a.addrs.filter((x) => x.length <= MAX_ADDR_CHARS).slice(0, MAX_ANNOUNCED_ADDRS),
    known: a.known.filter((k) => k !== a.peer).slice(0, MAX_ANNOUNCED_KNOWN),
    ts: Math.floor(a.ts),
  };
  let bytes = encoder.encode(JSON.stringify(body));
  // Long addresses could push it over the cap: drop known peers, then addresses.
  while (bytes.length > MAX_ANNOUNCEMENT_BYTES && (body.known.length > 0 || body.addrs.length > 0)) {
    if (body.known.length > 0) body.known.pop();
    else body.addrs.pop();
    bytes = encoder.encode(JSON.stringify(body));
  }
  return bytes;
}

export type AnnouncementError =
  | 'too_large'
  | 'not_json'
  | 'bad_version'
  | 'bad_fields'
  | 'bad_peer'
  | 'bad_addrs'
  | 'bad_known'
  | 'bad_ts'
  | 'not_sender';

/**
 * Decodes and checks an announcement received from `from` (the gossip
 * layer's authenticated sender). Never throws.
 */
export function decodeAnnouncement(
  bytes: Uint8Array,
  from: string,
): { ok: true; value: Announcement } | { ok: false; error: AnnouncementError } {
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) return { ok: false, error: 'too_large' };
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, error: 'not_json' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'bad_fields' };
  const o = raw as Record<string, unknown>;
  if (o.v !== DISCOVERY_VERSION) return { ok: false, error: 'bad_version' };
  const keys = Object.keys(o).sort().join(',');
  if (keys !== 'addrs,known,peer,ts,v') return { ok: false, error: 'bad_fields' };
  if (!isPeerIdString(o.peer)) return { ok: false, error: 'bad_peer' };
  if (o.peer !== from) return { ok: false, error: 'not_sender' };
  const peer = o.peer;
  if (
    !Array.isArray(o.addrs) ||
    o.addrs.length > MAX_ANNOUNCED_ADDRS ||
    !o.addrs.every(
      (a) =>
        typeof a === 'string' &&
        a.length <= MAX_ADDR_CHARS &&
        a.startsWith('/') &&
        a.includes('/p2p-circuit') &&
        a.endsWith(`/p2p/${peer}`),
    )
  ) {
    return { ok: false, error: 'bad_addrs' };
  }
  if (!Array.isArray(o.known) || o.known.length > MAX_ANNOUNCED_KNOWN || !o.known.every(isPeerIdString)) {
    return { ok: false, error: 'bad_known' };
  }
  if (typeof o.ts !== 'number' || !Number.isSafeInteger(o.ts) || o.ts < 0) return { ok: false, error: 'bad_ts' };
  return {
    ok: true,
    value: { v: 1, peer, addrs: o.addrs as string[], known: [...new Set(o.known as string[])].filter((k) => k !== peer), ts: o.ts },
  };
}

/** The relay peer id of a circuit address (`…/p2p/<relay>/p2p-circuit/…`), or null. */
export function relayOfCircuitAddr(addr: string): string | null {
  const m = /\/p2p\/([^/]+)\/p2p-circuit(?:\/|$)/.exec(addr);
  return m ? m[1]! : null;
}
