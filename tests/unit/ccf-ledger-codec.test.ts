/**
 * Persistence of the reputation ledger and the quarantine book
 * (src/lib/ccf/ledger-codec.ts): round trips through JSON (a fast-check
 * property over generated ledgers and books, and ledgers built by
 * reputation.ts itself), damaged and hostile records refused with a reason
 * and never a throw, and ledgers written before `vouchedAt` existed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContentId } from '../../src/lib/artifacts/schema';
import { DETECTORS, MAX_FLAG_EVIDENCE, type AnomalyFlag } from '../../src/lib/ccf/anomaly';
import {
  LEDGER_CODEC_VERSION,
  LEDGER_FORMAT,
  LedgerCodecError,
  ledgerFromJson,
  ledgerToJson,
  MAX_FLAG_PEERS,
  MAX_LEDGER_PEERS,
  MAX_QUARANTINE_REASON_CHARS,
  MAX_SETTLED_ARTIFACTS,
  QUARANTINE_FORMAT,
  quarantineFromJson,
  quarantineToJson,
  type CodecResult,
} from '../../src/lib/ccf/ledger-codec';
import { applyFlags, emptyQuarantine, quarantineByPerson, releasePeer, type QuarantineBook, type QuarantineEntry } from '../../src/lib/ccf/quarantine';
import {
  emptyLedger,
  meetPeer,
  recordCalibration,
  settleOutcome,
  voteWeight,
  vouchFor,
  withdrawVouch,
  type PeerReputation,
  type ReputationLedger,
} from '../../src/lib/ccf/reputation';
import { HOUR, makeArtifact, node, T0, vote } from './ccf-fixtures';

const ME = node(1);
const ART = makeArtifact({ text: 'When a unit is missing, ask which one is meant.' }).id;

/** Through JSON text, as IndexedDB (structured clone) or an export would see it. */
const viaText = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function ok<T>(result: CodecResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.message}`);
  return result.value;
}

function refused<T>(result: CodecResult<T>): LedgerCodecError {
  if (result.ok) throw new Error('expected the record to be refused');
  expect(result.error).toBeInstanceOf(LedgerCodecError);
  expect(result.error.name).toBe('LedgerCodecError');
  expect(result.error.issues.length).toBeGreaterThan(0);
  return result.error;
}

/*
 * Generators.
 */

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
const contentIdArb: fc.Arbitrary<ContentId> = fc.stringMatching(/^h3x1-[a-z2-7]{51}[aq]$/) as fc.Arbitrary<ContentId>;
const time = fc.integer({ min: 0, max: T0 * 2 });
const count = fc.nat({ max: 10_000 });

const peerArb: fc.Arbitrary<PeerReputation> = fc.record({
  score: fc.double({ min: 0, max: 1, noNaN: true }),
  firstSeen: time,
  at: time,
  calibrationPassed: count,
  calibrationFailed: count,
  agreements: count,
  disagreements: count,
  acceptedContributions: count,
  rejectedContributions: count,
  vouchedAt: fc.option(time, { nil: null }),
});

const ledgerArb: fc.Arbitrary<ReputationLedger> = fc.record({
  owner: fc.option(hex32, { nil: null }),
  peers: fc.uniqueArray(fc.tuple(hex32, peerArb), { selector: ([n]) => n, maxLength: 20 }).map((pairs) => new Map(pairs)),
  settled: fc.uniqueArray(contentIdArb, { maxLength: 20 }).map((ids) => new Set(ids)),
});

const reasonArb = fc.string({ maxLength: 200 });

function flagArb(nodeId: string, detector: AnomalyFlag['detector']): fc.Arbitrary<AnomalyFlag> {
  return fc.record({
    node: fc.constant(nodeId),
    detector: fc.constant(detector),
    reason: reasonArb,
    at: time,
    artifacts: fc.array(contentIdArb, { maxLength: MAX_FLAG_EVIDENCE }),
    peers: fc.array(hex32, { maxLength: 8 }),
  });
}

const entryArb = (nodeId: string): fc.Arbitrary<QuarantineEntry> =>
  fc.oneof(fc.constant('person' as const), fc.constantFrom(...DETECTORS)).chain((cause) =>
    fc.record({
      node: fc.constant(nodeId),
      cause: fc.constant(cause),
      reason: reasonArb,
      flag: cause === 'person' ? fc.constant(null) : flagArb(nodeId, cause),
      since: time,
      releasedAt: fc.option(time, { nil: null }),
    }),
  );

const bookArb: fc.Arbitrary<QuarantineBook> = fc
  .uniqueArray(hex32, { maxLength: 15 })
  .chain((nodes) => fc.tuple(...nodes.map(entryArb)))
  .map((entries) => new Map(entries.map((e) => [e.node, e])));

/*
 * Round trips.
 */

describe('ledger codec: round trip', () => {
  it('any ledger reads back equal after JSON text (property)', () => {
    fc.assert(
      fc.property(ledgerArb, (ledger) => {
        const back = ok(ledgerFromJson(viaText(ledgerToJson(ledger))));
        expect(back).toEqual(ledger);
        // Same ledger, same JSON: the encoding is sorted, whatever the insertion order.
        expect(ledgerToJson(back)).toEqual(ledgerToJson(ledger));
      }),
      { numRuns: 200 },
    );
  });

  it('any quarantine book reads back equal after JSON text (property)', () => {
    fc.assert(
      fc.property(bookArb, (book) => {
        const back = ok(quarantineFromJson(viaText(quarantineToJson(book))));
        expect(back).toEqual(book);
      }),
      { numRuns: 200 },
    );
  });

  it('a ledger built by reputation.ts keeps its weights, vouches and settled set', () => {
    const peer = node(2);
    const voucher = node(3);
    let l = meetPeer(emptyLedger(ME), peer, T0);
    for (let i = 0; i < 4; i++) l = recordCalibration(l, peer, i !== 1, T0 + i);
    l = vouchFor(l, voucher, T0 + HOUR);
    l = vouchFor(l, node(4), T0 + HOUR);
    l = withdrawVouch(l, node(4), T0 + 2 * HOUR);
    l = settleOutcome(l, ART, 'accepted', [vote(ART, peer, 'endorse'), vote(ART, voucher, 'reject')], [node(5)], T0 + 5 * HOUR);
    const back = ok(ledgerFromJson(viaText(ledgerToJson(l))));
    expect(back).toEqual(l);
    for (const n of [peer, voucher, node(4), node(5), ME]) expect(voteWeight(back, n, T0 + 30 * HOUR)).toBe(voteWeight(l, n, T0 + 30 * HOUR));
    expect(back.peers.get(voucher)?.vouchedAt).toBe(T0 + HOUR);
    expect(back.settled.has(ART)).toBe(true);
  });

  it('a book built by quarantine.ts keeps reasons, flags and releases', () => {
    const flag: AnomalyFlag = { node: node(7), detector: 'rate-burst', reason: 'published 40 artifacts in one hour', at: T0, artifacts: [ART], peers: [] };
    let book = applyFlags(emptyQuarantine(), [flag], T0 + 1);
    book = quarantineByPerson(book, node(8), 'I do not know this one.', T0 + 2);
    book = releasePeer(book, node(7), T0 + 3);
    expect(ok(quarantineFromJson(viaText(quarantineToJson(book))))).toEqual(book);
  });

  it('stores a bloc flag with all its peers (so a released bloc stays released after a restart) and trims over-long reasons', () => {
    const others = Array.from({ length: 300 }, (_, i) => node(100 + i));
    const flag: AnomalyFlag = { node: node(9), detector: 'voting-bloc', reason: 'x'.repeat(5000), at: T0, artifacts: [], peers: others };
    let book = applyFlags(emptyQuarantine(), [flag], T0);
    book = releasePeer(book, node(9), T0 + HOUR);
    book = quarantineByPerson(book, node(10), `${'y'.repeat(MAX_QUARANTINE_REASON_CHARS - 1)}😀`, T0);
    const back = ok(quarantineFromJson(viaText(quarantineToJson(book))));
    expect(back.get(node(9))?.flag?.peers).toEqual(others);
    expect(back.get(node(9))?.flag?.reason).toHaveLength(MAX_QUARANTINE_REASON_CHARS);
    // Never half a surrogate pair.
    expect(back.get(node(10))?.reason).toBe('y'.repeat(MAX_QUARANTINE_REASON_CHARS - 1));
    // The detector re-raises the same flag later: the person's release holds on the reloaded book too.
    expect(applyFlags(back, [{ ...flag, at: T0 + 2 * HOUR }], T0 + 2 * HOUR)).toBe(back);
  });

  it('refuses to store a flag beyond its bounds rather than write a record it could not read', () => {
    const flag: AnomalyFlag = { node: node(9), detector: 'rate-burst', reason: 'r', at: T0, artifacts: new Array(MAX_FLAG_EVIDENCE + 1).fill(ART), peers: [] };
    expect(() => quarantineToJson(applyFlags(emptyQuarantine(), [flag], T0))).toThrow(LedgerCodecError);
  });
});

/*
 * Older records.
 */

describe('ledger codec: records from before vouching', () => {
  it('reads a peer without vouchedAt as not vouched', () => {
    const l = recordCalibration(meetPeer(emptyLedger(ME), node(2), T0), node(2), true, T0);
    const json = viaText(ledgerToJson(l)) as { peers: Record<string, unknown>[] };
    for (const p of json.peers) delete p.vouchedAt;
    const back = ok(ledgerFromJson(json));
    expect(back.peers.get(node(2))?.vouchedAt).toBeNull();
    expect(back).toEqual(l);
  });

  it('still refuses a vouchedAt that is present but wrong', () => {
    const json = viaText(ledgerToJson(vouchFor(emptyLedger(ME), node(2), T0))) as { peers: Record<string, unknown>[] };
    json.peers[0]!.vouchedAt = 'yesterday';
    expect(refused(ledgerFromJson(json)).message).toMatch(/peers\.0\.vouchedAt/);
  });
});

/*
 * Damaged and hostile records.
 */

function validLedgerJson(): Record<string, unknown> {
  let l = meetPeer(emptyLedger(ME), node(2), T0);
  l = settleOutcome(l, ART, 'accepted', [vote(ART, node(2), 'endorse')], [], T0 + 5 * HOUR);
  return viaText(ledgerToJson(l)) as Record<string, unknown>;
}

function validBookJson(): Record<string, unknown> {
  const flag: AnomalyFlag = { node: node(7), detector: 'near-duplicate-flood', reason: 'near-copies', at: T0, artifacts: [ART], peers: [node(8)] };
  return viaText(quarantineToJson(applyFlags(emptyQuarantine(), [flag], T0))) as Record<string, unknown>;
}

type Mutation = [string, (j: any) => unknown, RegExp];

describe('ledger codec: damaged or hostile ledgers are refused with a reason', () => {
  const cases: Mutation[] = [
    ['not an object', () => 'ledger', /expected object/i],
    ['null', () => null, /expected object/i],
    ['an array', () => [], /expected object/i],
    ['an unknown format', (j) => ({ ...j, format: 'something-else' }), /format/],
    ['a future version', (j) => ({ ...j, version: LEDGER_CODEC_VERSION + 1 }), /version/],
    ['an unknown key', (j) => ({ ...j, extra: 1 }), /extra/],
    ['an own __proto__ key', (j) => JSON.parse(JSON.stringify(j).replace('{', '{"__proto__":{"polluted":true},')), /__proto__/],
    ['a badly spelled owner', (j) => ({ ...j, owner: 'ABC' }), /owner/],
    ['a score above the maximum', (j) => ({ ...j, peers: [{ ...j.peers[0], score: 1.5 }] }), /peers\.0\.score/],
    ['a negative score', (j) => ({ ...j, peers: [{ ...j.peers[0], score: -0.1 }] }), /peers\.0\.score/],
    ['a score as text', (j) => ({ ...j, peers: [{ ...j.peers[0], score: '0.5' }] }), /peers\.0\.score/],
    ['a fractional counter', (j) => ({ ...j, peers: [{ ...j.peers[0], agreements: 1.5 }] }), /peers\.0\.agreements/],
    ['a negative time', (j) => ({ ...j, peers: [{ ...j.peers[0], firstSeen: -1 }] }), /peers\.0\.firstSeen/],
    ['a missing field', (j) => ({ ...j, peers: [{ ...j.peers[0], at: undefined }] }), /peers\.0\.at/],
    ['an unknown peer field', (j) => ({ ...j, peers: [{ ...j.peers[0], trusted: true }] }), /trusted/],
    ['a repeated peer', (j) => ({ ...j, peers: [j.peers[0], j.peers[0]] }), /appears twice/],
    ['a settled id that is no content id', (j) => ({ ...j, settled: ['h3x1-nope'] }), /settled\.0/],
    ['a repeated settled id', (j) => ({ ...j, settled: [ART, ART] }), /appears twice/],
    ['settled as an object', (j) => ({ ...j, settled: { [ART]: true } }), /settled/],
  ];
  for (const [name, mutate, reason] of cases) {
    it(name, () => {
      const error = refused(ledgerFromJson(mutate(validLedgerJson())));
      expect(error.message).toMatch(reason);
    });
  }

  it('refuses too many peers or settled ids before parsing them', () => {
    const j = validLedgerJson();
    const peers = new Array(MAX_LEDGER_PEERS + 1).fill(0);
    expect(refused(ledgerFromJson({ ...j, peers })).message).toMatch(/peers: 100001 entries/);
    const settled = new Array(MAX_SETTLED_ARTIFACTS + 1).fill(ART);
    expect(refused(ledgerFromJson({ ...j, settled })).message).toMatch(/settled: \d+ entries/);
  });

  it('never throws, whatever the value (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        const result = ledgerFromJson(value);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });

  it('never throws on a value whose getters throw', () => {
    const hostile = { format: LEDGER_FORMAT, version: 1, owner: null, settled: [] };
    Object.defineProperty(hostile, 'peers', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(refused(ledgerFromJson(hostile)).message).toMatch(/boom/);
  });

  it('refuses to store a ledger that could not be read back', () => {
    const l = meetPeer(emptyLedger(ME), node(2), T0);
    const broken: ReputationLedger = { ...l, peers: new Map([[node(2), { ...l.peers.get(node(2))!, score: Number.NaN }]]) };
    expect(() => ledgerToJson(broken)).toThrow(LedgerCodecError);
  });
});

describe('ledger codec: damaged or hostile quarantine books are refused with a reason', () => {
  const cases: Mutation[] = [
    ['not an object', () => 42, /expected object/i],
    ['a ledger in place of a book', () => validLedgerJson(), /format|entries/],
    ['a future version', (j) => ({ ...j, version: 2 }), /version/],
    ['an unknown cause', (j) => ({ ...j, entries: [{ ...j.entries[0], cause: 'hunch' }] }), /entries\.0\.cause/],
    ['a detector entry without its flag', (j) => ({ ...j, entries: [{ ...j.entries[0], flag: null }] }), /must keep its flag/],
    ['a person entry with a flag', (j) => ({ ...j, entries: [{ ...j.entries[0], cause: 'person' }] }), /has no flag/],
    ['a flag of another detector', (j) => ({ ...j, entries: [{ ...j.entries[0], cause: 'rate-burst' }] }), /differs from the cause/],
    ['a flag about another node', (j) => ({ ...j, entries: [{ ...j.entries[0], flag: { ...j.entries[0].flag, node: node(99) } }] }), /differs from the entry/],
    ['too much flag evidence', (j) => ({ ...j, entries: [{ ...j.entries[0], flag: { ...j.entries[0].flag, artifacts: new Array(MAX_FLAG_EVIDENCE + 1).fill(ART) } }] }), /artifacts/],
    ['too many flag peers', (j) => ({ ...j, entries: [{ ...j.entries[0], flag: { ...j.entries[0].flag, peers: new Array(MAX_FLAG_PEERS + 1).fill(node(8)) } }] }), /peers/],
    ['an over-long reason', (j) => ({ ...j, entries: [{ ...j.entries[0], reason: 'x'.repeat(MAX_QUARANTINE_REASON_CHARS + 1) }] }), /entries\.0\.reason/],
    ['a release time as text', (j) => ({ ...j, entries: [{ ...j.entries[0], releasedAt: 'now' }] }), /releasedAt/],
    ['a repeated node', (j) => ({ ...j, entries: [j.entries[0], j.entries[0]] }), /appears twice/],
    ['an unknown entry key', (j) => ({ ...j, entries: [{ ...j.entries[0], note: 'hi' }] }), /note/],
  ];
  for (const [name, mutate, reason] of cases) {
    it(name, () => {
      expect(refused(quarantineFromJson(mutate(validBookJson()))).message).toMatch(reason);
    });
  }

  it('never throws, whatever the value (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        expect(typeof quarantineFromJson(value).ok).toBe('boolean');
      }),
    );
  });

  it('the empty book and the empty ledger round trip', () => {
    expect(ok(quarantineFromJson(viaText(quarantineToJson(emptyQuarantine()))))).toEqual(new Map());
    expect(quarantineToJson(emptyQuarantine())).toEqual({ format: QUARANTINE_FORMAT, version: LEDGER_CODEC_VERSION, entries: [] });
    expect(ok(ledgerFromJson(viaText(ledgerToJson(emptyLedger()))))).toEqual(emptyLedger());
  });
});
