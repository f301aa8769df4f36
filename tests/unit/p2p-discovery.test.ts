import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import {
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  relayOfCircuitAddr,
} from '../../src/services/p2p/discovery';

async function newId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
}

describe('P2P discovery announcement', async () => {
  const me = await newId();
  const relay = await newId();
  const other = await newId();
  const addr = `/ip4/127.0.0.1/tcp/4174/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${me}`;
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

  it('round-trips and is sent by its own peer', () => {
    const bytes = encodeAnnouncement({ peer: me, addrs: [addr], known: [other, me], ts: 1_700_000_000_000 });
    const d = decodeAnnouncement(bytes, me);
    expect(d).toEqual({ ok: true, value: { v: 1, peer: me, addrs: [addr], known: [other], ts: 1_700_000_000_000 } });
    expect(decodeAnnouncement(bytes, other)).toEqual({ ok: false, error: 'not_sender' });
    expect(relayOfCircuitAddr(addr)).toBe(relay);
    expect(relayOfCircuitAddr('/ip4/1.2.3.4/tcp/1/ws')).toBeNull();
  });

  it('stays under its size cap however many peers it knows', async () => {
    const many = await Promise.all(Array.from({ length: 80 }, newId));
    const bytes = encodeAnnouncement({ peer: me, addrs: Array(12).fill(addr), known: many, ts: 1 });
    expect(bytes.length).toBeLessThanOrEqual(MAX_ANNOUNCEMENT_BYTES);
    const d = decodeAnnouncement(bytes, me);
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.value.known.length).toBeLessThanOrEqual(64);
      expect(d.value.addrs.length).toBeLessThanOrEqual(8);
    }
  });

  it('rejects malformed, foreign and hostile announcements without throwing', () => {
    const good = { v: 1, peer: me, addrs: [addr], known: [other], ts: 5 };
    const cases: [unknown, string][] = [
      ['not json', 'not_json'],
      [[1, 2], 'bad_fields'],
      [{ ...good, v: 2 }, 'bad_version'],
      [{ ...good, extra: 1 }, 'bad_fields'],
      [{ ...good, peer: 'Qm-not-a-peer' }, 'bad_peer'],
      [{ ...good, addrs: ['/ip4/10.0.0.1/tcp/22'] }, 'bad_addrs'], // not through a relay
      [{ ...good, addrs: [addr.replace(me, other)] }, 'bad_addrs'], // someone else's address
      [{ ...good, addrs: [`${'/x'.repeat(200)}/p2p-circuit/p2p/${me}`] }, 'bad_addrs'],
      [{ ...good, known: ['<script>'] }, 'bad_known'],
      [{ ...good, ts: -1 }, 'bad_ts'],
      [{ ...good, ts: 1.5 }, 'bad_ts'],
    ];
    for (const [body, error] of cases) {
      const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : enc(body);
      expect(decodeAnnouncement(bytes, me), JSON.stringify(body).slice(0, 80)).toEqual({ ok: false, error });
    }
    expect(decodeAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1), me)).toEqual({ ok: false, error: 'too_large' });
    expect(decodeAnnouncement(new Uint8Array([0xff, 0xfe]), me)).toEqual({ ok: false, error: 'not_json' });
  });
});
