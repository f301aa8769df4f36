/**
 * The field on one device: real signed items (as the network stores them),
 * real (fake-indexeddb) storage, the real domain. The network is replaced by
 * a test double that hands items over and records the votes cast.
 */
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { FieldService } from '../../src/services/field-service';
import { signArtifact, signVote, type VerifiedItem } from '../../src/lib/network/signed-item';
import { nodeIdOf, type SigningIdentity } from '../../src/lib/network/signing';
import type { Vote } from '../../src/lib/ccf/vote';
import { testArtifact } from './test-artifact';

const NETWORK = 'a'.repeat(32);

function identity(): SigningIdentity {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  return { nodeId: nodeIdOf(publicKey), publicKey, sign: async (bytes) => ed25519.sign(bytes, secret) };
}

interface Harness {
  db: H3lixDatabase;
  service: FieldService;
  self: SigningIdentity;
  held: VerifiedItem[];
  cast: Vote[];
}

async function harness(db?: H3lixDatabase, self: SigningIdentity = identity(), held: VerifiedItem[] = []): Promise<Harness> {
  db ??= await openDatabase(`field-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  const cast: Vote[] = [];
  const h: Harness = { db, self, held, cast, service: null as unknown as FieldService };
  h.service = new FieldService({
    db: () => db,
    now: Date.now,
    self: async () => self.nodeId,
    heldItems: async () => h.held,
    castVote: async (vote) => {
      cast.push(vote);
      h.held.push(await signVote(NETWORK, vote, self));
    },
    memberNames: () => new Map(),
    onChange: () => {},
    settleDelayMs: 0,
  });
  await h.service.load();
  return h;
}

const vote = (voter: SigningIdentity, artifactId: string, value: Vote['value'] = 'endorse'): Vote =>
  ({ schemaVersion: 1, artifactId, voter: voter.nodeId, value, confidence: 0.9, at: Date.now() }) as Vote;

describe('field service', () => {
  it('accepts an artifact endorsed by this node and two vouched members, and projects it into prompts; never its own', async () => {
    const author = identity();
    const bo = identity();
    const nia = identity();
    const lesson = await signArtifact(NETWORK, testArtifact('When multiplying two-digit numbers, split one factor into tens and units'), author);
    if (lesson.kind !== 'artifact') throw new Error('not an artifact');
    const h = await harness(undefined, identity(), [lesson]);
    await h.service.reload();
    expect(h.service.snapshot().artifacts[0]).toMatchObject({ status: 'pending', own: false });

    for (const voter of [bo, nia]) h.service.apply(await signVote(NETWORK, vote(voter, lesson.contentId), voter));
    await h.service.vote(lesson.contentId, 'endorse', 'person');
    // Strangers' votes do not count yet: only this node's.
    expect(h.service.judgement(lesson.contentId)?.status).toBe('pending');
    expect(h.service.project('How do I multiply two-digit numbers?', 500).items).toHaveLength(0);

    await h.service.vouch(bo.nodeId);
    await h.service.vouch(nia.nodeId);
    expect(h.service.judgement(lesson.contentId)?.status).toBe('accepted');
    const projection = h.service.project('How do I multiply two-digit numbers with tens and units?', 500);
    expect(projection.items.map((i) => i.id)).toEqual([lesson.contentId]);
    expect(projection.evidence[0]?.provenance).toMatchObject({ kind: 'artifact', acceptance: 1 });
    expect(h.cast).toHaveLength(1);
    expect(h.service.snapshot().artifacts[0]?.myVote).toMatchObject({ value: 'endorse', origin: 'person' });

    // Its own artifacts are never projected back to it, and it cannot vote on them.
    const mine = await signArtifact(NETWORK, testArtifact('When dividing by five, double the number and divide by ten'), h.self);
    if (mine.kind !== 'artifact') throw new Error('not an artifact');
    h.service.apply(mine);
    await h.service.recompute();
    await expect(h.service.vote(mine.contentId, 'endorse', 'person')).rejects.toThrow(/your own artifact/);
  });

  it('keeps the ledger, the quarantine and how votes were cast across a restart; a damaged record starts fresh', async () => {
    const bo = identity();
    const author = identity();
    const lesson = await signArtifact(NETWORK, testArtifact('When adding fractions, find a common denominator first'), author);
    if (lesson.kind !== 'artifact') throw new Error('not an artifact');
    const first = await harness(undefined, identity(), [lesson]);
    await first.service.reload();
    await first.service.vouch(bo.nodeId);
    await first.service.quarantine(author.nodeId);
    await first.service.vote(lesson.contentId, 'veto', 'person');

    const again = await harness(first.db, first.self, first.held);
    const snap = again.service.snapshot();
    expect(snap.peers.find((p) => p.nodeId === bo.nodeId)).toMatchObject({ vouched: true, calibrated: true });
    expect(snap.peers.find((p) => p.nodeId === author.nodeId)?.quarantine).toMatchObject({ cause: 'person' });
    expect(snap.artifacts[0]).toMatchObject({ status: 'excluded', quarantinedAuthor: true, myVote: { value: 'veto', origin: 'person' } });

    await again.service.release(author.nodeId);
    expect(again.service.snapshot().artifacts[0]?.status).toBe('vetoed');

    await first.db.table('fieldState').put({ key: 'ledger', value: { hostile: '<script>' } });
    const damaged = await harness(first.db, first.self, first.held);
    expect(damaged.service.snapshot().peers.find((p) => p.nodeId === bo.nodeId)?.vouched ?? false).toBe(false);
  });

  it('an automatic check never overrides the person\'s vote', async () => {
    const author = identity();
    const lesson = await signArtifact(NETWORK, testArtifact('When converting units, write the factor as a fraction'), author);
    if (lesson.kind !== 'artifact') throw new Error('not an artifact');
    const h = await harness(undefined, identity(), [lesson]);
    await h.service.reload();
    await h.service.vote(lesson.contentId, 'reject', 'person');
    await h.service.vote(lesson.contentId, 'endorse', 'check', 0.8);
    expect(h.cast.map((v) => v.value)).toEqual(['reject']);
  });

  it('quarantines a peer flooding near-copies, and a release holds while the evidence is the same', async () => {
    const quill = identity();
    const flood: VerifiedItem[] = [];
    for (const w of ['carefully', 'quickly', 'always', 'first', 'then'])
      flood.push(await signArtifact(NETWORK, testArtifact(`When estimating a product, round both factors to the nearest ten and multiply the rounded numbers ${w}`), quill));
    const h = await harness(undefined, identity(), flood);
    await h.service.reload();
    const q = h.service.snapshot().peers.find((p) => p.nodeId === quill.nodeId);
    expect(q?.quarantine).toMatchObject({ cause: 'near-duplicate-flood' });
    expect(q?.quarantine?.reason).toMatch(/near-copies/);
    await h.service.release(quill.nodeId);
    await h.service.recompute();
    expect(h.service.snapshot().peers.find((p) => p.nodeId === quill.nodeId)).toMatchObject({ quarantine: null, released: true });
  });
});

describe('calibration between two devices', () => {
  it('a stranger that answers its tasks right becomes calibrated; one that answers wrong does not; the expected answer never travels', async () => {
    const { createCalibrationTask } = await import('../../src/lib/ccf/calibration');
    const { seededRandom } = await import('../../src/lib/random/seeded');
    const run = async (capable: boolean) => {
      const asker = identity();
      const answerer = identity();
      const sent: unknown[] = [];
      // The same seed as the asker's: the test knows which tasks it will set (a capable model double answers them).
      const mirror = seededRandom(7);
      const expectedByPrompt = new Map<string, string>();
      const db = await openDatabase(`field-cal-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
      let answering: FieldService | null = null;
      const asking = new FieldService({
        db: () => db,
        now: Date.now,
        self: async () => asker.nodeId,
        heldItems: async () => [],
        castVote: async () => {},
        memberNames: () => new Map(),
        onChange: () => {},
        settleDelayMs: 0,
        present: () => new Set([answerer.nodeId]),
        random: seededRandom(7),
        sendCalibrationTask: async (task) => {
          sent.push(task);
          const mirrored = createCalibrationTask(mirror, Date.now());
          const e = mirrored.expected;
          expectedByPrompt.set(task.prompt, e.kind === 'number' ? String(e.value) : e.kind === 'sequence' ? e.values.join(', ') : e.value);
          await answering!.onCalibrationTask({ sender: asker.nodeId, task });
        },
      });
      const db2 = await openDatabase(`field-cal2-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
      answering = new FieldService({
        db: () => db2,
        now: Date.now,
        self: async () => answerer.nodeId,
        heldItems: async () => [],
        castVote: async () => {},
        memberNames: () => new Map(),
        onChange: () => {},
        sendCalibrationAnswer: async (answer) => {
          sent.push(answer);
          await asking.onCalibrationAnswer({ sender: answerer.nodeId, answer });
        },
        answerWithModel: (turns) => {
          const text = turns.map((t) => t.content).join('\n');
          const prompt = [...expectedByPrompt.keys()].find((p) => text.includes(p));
          return Promise.resolve(capable && prompt ? `The answer is ${expectedByPrompt.get(prompt)}.` : 'I am not sure, maybe 12345.');
        },
      });
      for (let i = 0; i < 3; i++) await asking.calibrate();
      const peer = asking.snapshot().peers.find((p) => p.nodeId === answerer.nodeId);
      return { peer, sent };
    };
    const good = await run(true);
    expect(good.peer).toMatchObject({ calibrated: true, calibrationPassed: 3 });
    const bad = await run(false);
    expect(bad.peer).toMatchObject({ calibrated: false, calibrationFailed: 3 });
    for (const message of [...good.sent, ...bad.sent]) expect(JSON.stringify(message)).not.toContain('expected');
  });
});
