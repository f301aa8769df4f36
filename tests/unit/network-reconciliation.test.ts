import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Artifact, ContentId } from '../../src/lib/artifacts/schema';
import type { Vote } from '../../src/lib/ccf/vote';
import { syncRequestSchema, type SyncRequestBody } from '../../src/lib/network/message-bodies';
import { answerSyncRequest, mergeItems, planSyncRequests } from '../../src/lib/network/reconciliation';
import { signArtifact, signVote, verifyItem, type VerifiedItem } from '../../src/lib/network/signed-item';
import { nodeIdOf, type SigningIdentity } from '../../src/lib/network/signing';

const NETWORK = '0123456789abcdef0123456789abcdef';
const HOUR = 3_600_000;

function identity(seed: number): SigningIdentity {
  const secret = new Uint8Array(32).fill(seed);
  const publicKey = ed25519.getPublicKey(secret);
  return { publicKey, nodeId: nodeIdOf(publicKey), sign: async (bytes) => ed25519.sign(bytes, secret) };
}
const authors = [identity(1), identity(2), identity(3)];
const A = authors[0]!.nodeId;
const B = authors[1]!.nodeId;

const artifact = (i: number): Artifact => ({
  schemaVersion: 1,
  kind: 'strategy',
  text: `Strategy number ${i}: check the units first.`,
  domain: 'units',
  confidence: 0.5,
  evidence: { groupSize: 4, rewardSpread: 0.2 },
  // Few distinct times, so ranges must split ties by item id.
  createdAt: 1_749_999_600_000 + (i % 3) * HOUR,
  embedderId: 'Xenova/all-MiniLM-L6-v2',
});

/** 24 artifacts and 18 votes, some of them older and newer votes of one (voter, artifact). */
let pool: VerifiedItem[] = [];
beforeAll(async () => {
  for (let i = 0; i < 24; i++) pool.push(await signArtifact(NETWORK, artifact(i), authors[i % 3]!));
  for (let i = 0; i < 18; i++) {
    const voter = authors[i % 3]!;
    const target = pool[i % 4]! as Extract<VerifiedItem, { kind: 'artifact' }>;
    const vote: Vote = { schemaVersion: 1, artifactId: target.contentId as ContentId, voter: voter.nodeId, value: i % 2 ? 'endorse' : 'reject', confidence: 0.5, at: 1_750_000_000_000 + i * 1000 };
    pool.push(await signVote(NETWORK, vote, voter));
  }
  pool = [...pool];
});

const ids = (items: readonly VerifiedItem[]) => items.map((i) => i.itemId).sort();
const verifyAll = (page: { items: unknown[] }) =>
  page.items.map((raw) => {
    const check = verifyItem(NETWORK, raw);
    if (!check.ok) throw new Error(check.detail);
    return check.verified;
  });

interface Caps {
  maxIds: number;
  maxPages: number;
  maxPageBytes: number;
}

/** `requester` asks `responder` once (every planned range) and merges the answers. */
function askOnce(requester: VerifiedItem[], requesterId: string, responder: VerifiedItem[], responderId: string, caps: Caps): VerifiedItem[] {
  let held = requester;
  for (const request of planSyncRequests(held, { target: responderId, since: 0, maxIds: caps.maxIds })) {
    expect(syncRequestSchema.safeParse(request).success).toBe(true);
    for (const page of answerSyncRequest(request, responder, { requester: requesterId, inReplyTo: 'AAAAAAAAAAAAAAAA', maxPages: caps.maxPages, maxPageBytes: caps.maxPageBytes })) {
      held = mergeItems(held, verifyAll(page)).items;
    }
  }
  return held;
}

const subset = (mask: boolean[]) => pool.filter((_, i) => mask[i]);

describe('reconciliation', () => {
  it('plans ranges that cover everything held, each within the id cap', () => {
    const requests = planSyncRequests(pool, { target: B, since: 0, maxIds: 5 });
    expect(requests.every((r) => r.have.length <= 5)).toBe(true);
    expect(requests.flatMap((r) => r.have).sort()).toEqual(ids(pool));
    expect(requests[0]!.until).toBeNull();
    expect(requests.at(-1)!.from).toBeNull();
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.until).toEqual(requests[i - 1]!.from);
    expect(planSyncRequests([], { target: B, since: 0 })).toEqual([{ target: B, from: null, until: null, have: [] }]);
  });

  it('answers with exactly what the requester lacks in the range', () => {
    const mine = pool.slice(0, 10);
    const [request] = planSyncRequests(mine, { target: B, since: 0 }) as [SyncRequestBody];
    const pages = answerSyncRequest(request, pool, { requester: A, inReplyTo: 'AAAAAAAAAAAAAAAA' });
    expect(pages.at(-1)!.last).toBe(true);
    expect(pages.flatMap((p) => verifyAll(p)).map((i) => i.itemId).sort()).toEqual(ids(pool.slice(10)));
    // Nothing missing: one empty last page.
    expect(answerSyncRequest(planSyncRequests(pool, { target: B, since: 0 })[0]!, pool, { requester: A, inReplyTo: 'AAAAAAAAAAAAAAAA' })).toEqual([
      { target: A, inReplyTo: 'AAAAAAAAAAAAAAAA', page: 0, last: true, items: [] },
    ]);
  });

  it('leaves out items by revoked members, and items before the horizon', () => {
    const pages = answerSyncRequest({ target: B, from: null, until: null, have: [] }, pool, { requester: A, inReplyTo: 'AAAAAAAAAAAAAAAA', isRevoked: (id) => id === authors[2]!.nodeId });
    expect(pages.flatMap((p) => verifyAll(p)).some((i) => i.authorId === authors[2]!.nodeId)).toBe(false);
    const since = 1_750_000_000_000;
    const requests = planSyncRequests(pool, { target: B, since });
    expect(requests.flatMap((r) => r.have).length).toBe(pool.filter((i) => i.time >= since).length);
  });

  it('merging is idempotent and order-independent, and keeps one current vote per voter and artifact', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(pool), fc.shuffledSubarray(pool), (x, y) => {
        const xy = mergeItems(mergeItems([], x).items, y).items;
        const yx = mergeItems(mergeItems([], y).items, x).items;
        expect(ids(xy)).toEqual(ids(yx));
        expect(ids(mergeItems(xy, y).items)).toEqual(ids(xy));
        expect(mergeItems(xy, [...x, ...y]).added).toEqual([]);
        const keys = xy.filter((i) => i.kind === 'vote').map((i) => (i.kind === 'vote' ? `${i.vote.artifactId}/${i.vote.voter}` : ''));
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: 100 },
    );
  });

  it('two nodes converge on the join of their sets: in one exchange each way with the default caps', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 42, maxLength: 42 }), fc.array(fc.boolean(), { minLength: 42, maxLength: 42 }), (ma, mb) => {
        const a0 = mergeItems([], subset(ma)).items;
        const b0 = mergeItems([], subset(mb)).items;
        const join = ids(mergeItems(a0, b0).items);
        const caps = { maxIds: 512, maxPages: 16, maxPageBytes: 65_536 };
        const a1 = askOnce(a0, A, b0, B, caps);
        const b1 = askOnce(b0, B, a1, A, caps);
        expect(ids(a1)).toEqual(join);
        expect(ids(b1)).toEqual(join);
      }),
      { numRuns: 25 },
    );
  });

  it('two nodes converge within a bounded number of exchanges under tiny caps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 42, maxLength: 42 }),
        fc.array(fc.boolean(), { minLength: 42, maxLength: 42 }),
        fc.record({ maxIds: fc.integer({ min: 1, max: 6 }), maxPages: fc.integer({ min: 1, max: 3 }), maxPageBytes: fc.integer({ min: 1200, max: 4000 }) }),
        (ma, mb, caps) => {
          let a = mergeItems([], subset(ma)).items;
          let b = mergeItems([], subset(mb)).items;
          const join = ids(mergeItems(a, b).items);
          // Each request is answered with at least one missing item, so the missing count strictly drops every round.
          const bound = pool.length + 1;
          let rounds = 0;
          while ((ids(a).join() !== join.join() || ids(b).join() !== join.join()) && rounds < bound) {
            a = askOnce(a, A, b, B, caps);
            b = askOnce(b, B, a, A, caps);
            rounds++;
          }
          expect(ids(a)).toEqual(join);
          expect(ids(b)).toEqual(join);
          expect(rounds).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('a cut-short answer says so', () => {
    const pages = answerSyncRequest({ target: B, from: null, until: null, have: [] }, pool, { requester: A, inReplyTo: 'AAAAAAAAAAAAAAAA', maxPages: 2, maxPageBytes: 1500 });
    expect(pages).toHaveLength(2);
    expect(pages.every((p) => !p.last)).toBe(true);
  });
});
