import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ACCEPT_SHARE,
  aggregateField,
  judgeArtifact,
  MIN_ENDORSERS,
  MIN_MEDIAN_CONFIDENCE,
  STATUS_RANK,
  type AggregationContext,
} from '../../src/lib/ccf/aggregation';
import { CollectiveField, roundOf, type FieldMessage } from '../../src/lib/ccf/field';
import { parseVote, VOTE_VALUES, type Vote } from '../../src/lib/ccf/vote';
import { HOUR, makeArtifact, node, T0, vote } from './ccf-fixtures';

const artifacts = [0, 1, 2].map((i) => makeArtifact({ text: `When a unit conversion is asked, write the units next to every number (${i}).`, createdAt: T0 + i * HOUR }));
const AUTHOR = node(999);
const voters = Array.from({ length: 8 }, (_, i) => node(i + 1));
const weights = new Map(voters.map((v, i) => [v, [1, 0.8, 0.5, 0.3, 0.1, 0.9, 0.05, 0.6][i] as number]));
const weightOf = (n: string): number => weights.get(n) ?? 0;
const NOW = T0 + 5 * HOUR;

const voteArb = fc.record({
  artifact: fc.integer({ min: 0, max: 2 }),
  voter: fc.integer({ min: 0, max: voters.length - 1 }),
  value: fc.constantFrom(...VOTE_VALUES),
  confidence: fc.double({ min: 0, max: 1, noNaN: true }),
  at: fc.integer({ min: 0, max: 4 }),
});
type VoteSpec = { artifact: number; voter: number; value: Vote['value']; confidence: number; at: number };
const toVote = (s: VoteSpec): Vote => vote(artifacts[s.artifact]!.id, voters[s.voter]!, s.value, s.confidence, T0 + s.at * 600_000);

function fieldOf(messages: readonly FieldMessage[]): CollectiveField {
  const field = new CollectiveField();
  for (const m of messages) field.apply(m);
  return field;
}

const artifactMessages: FieldMessage[] = artifacts.map(({ id, artifact }) => ({ type: 'artifact', author: AUTHOR, artifact, id }));

function judgementsOf(field: CollectiveField) {
  return [...aggregateField(field, { now: NOW, weightOf }).values()];
}

describe('field state', () => {
  it('keeps the newest vote per voter and artifact, with a deterministic tie-break', () => {
    const a = artifacts[0]!.id;
    const field = new CollectiveField();
    expect(field.addVote(vote(a, voters[0]!, 'endorse', 0.9, T0 + 10))).toBe(true);
    expect(field.addVote(vote(a, voters[0]!, 'reject', 0.9, T0 + 5))).toBe(false); // older
    expect(field.addVote(vote(a, voters[0]!, 'reject', 0.9, T0 + 20))).toBe(true);
    expect(field.votesOn(a).get(voters[0]!)?.value).toBe('reject');
    expect(field.votes).toBe(1);
    // Same time, different content: both orders keep the same one.
    const x = vote(a, voters[1]!, 'endorse', 0.7, T0 + 30);
    const y = vote(a, voters[1]!, 'reject', 0.7, T0 + 30);
    const f1 = fieldOf([{ type: 'vote', vote: x }, { type: 'vote', vote: y }]);
    const f2 = fieldOf([{ type: 'vote', vote: y }, { type: 'vote', vote: x }]);
    expect(f1.votesOn(a).get(voters[1]!)).toEqual(f2.votesOn(a).get(voters[1]!));
  });

  it('holds the round tuple of participating nodes and merges copies as a union', () => {
    const f1 = fieldOf([artifactMessages[0]!, { type: 'artifact', author: node(5), artifact: artifacts[1]!.artifact, id: artifacts[1]!.id }]);
    const f2 = fieldOf([artifactMessages[2]!, { type: 'artifact', author: node(6), artifact: artifacts[0]!.artifact, id: artifacts[0]!.id }]);
    f1.merge(f2);
    expect(f1.size).toBe(3);
    expect(f1.artifact(artifacts[0]!.id)?.authors).toEqual([node(6), AUTHOR].sort());
    expect(f1.roundTuple(roundOf(T0))).toEqual([[node(6), [artifacts[0]!.id]], [AUTHOR, [artifacts[0]!.id]]].sort((p, q) => (p[0]! < q[0]! ? -1 : 1)));
    expect(f1.rounds()).toEqual([roundOf(T0), roundOf(T0) + 1, roundOf(T0) + 2]);
    const copy = new CollectiveField();
    for (const m of f1.messages()) copy.apply(m);
    expect(copy.fingerprint()).toBe(f1.fingerprint());
  });

  it('validates untrusted votes', () => {
    expect(parseVote(vote(artifacts[0]!.id, voters[0]!, 'endorse')).ok).toBe(true);
    expect(parseVote({ ...vote(artifacts[0]!.id, voters[0]!, 'endorse'), confidence: 2 }).ok).toBe(false);
    expect(parseVote({ ...vote(artifacts[0]!.id, 'NOT-A-NODE', 'endorse') }).ok).toBe(false);
    expect(parseVote({ ...vote(artifacts[0]!.id, voters[0]!, 'endorse'), extra: 1 }).ok).toBe(false);
  });
});

describe('aggregation properties', () => {
  it('does not depend on message order and ignores duplicates', () => {
    fc.assert(
      fc.property(fc.array(voteArb, { maxLength: 40 }), fc.integer(), (specs, seed) => {
        const messages: FieldMessage[] = [...artifactMessages, ...specs.map((s) => ({ type: 'vote', vote: toVote(s) }) as FieldMessage)];
        const shuffled = fc.sample(fc.shuffledSubarray(messages, { minLength: messages.length, maxLength: messages.length }), { seed, numRuns: 1 })[0]!;
        const withDuplicates = [...shuffled, ...shuffled.slice(0, Math.floor(shuffled.length / 2)), ...messages];
        const a = fieldOf(messages);
        const b = fieldOf(withDuplicates);
        expect(b.fingerprint()).toBe(a.fingerprint());
        expect(judgementsOf(b)).toEqual(judgementsOf(a));
        // Merging a copy into itself changes nothing (idempotent).
        expect(b.merge(a)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('is monotone in honest votes: an endorsement never lowers the status, a rejection never raises it', () => {
    fc.assert(
      fc.property(
        fc.array(voteArb.map((s) => ({ ...s, artifact: 0 })), { maxLength: 20 }),
        fc.integer({ min: 0, max: voters.length - 1 }),
        fc.double({ min: MIN_MEDIAN_CONFIDENCE, max: 1, noNaN: true }),
        (specs, who, confidence) => {
          const field = fieldOf([artifactMessages[0]!, ...specs.map((s) => ({ type: 'vote', vote: toVote(s) }) as FieldMessage)]);
          const before = judgementsOf(field)[0]!;
          const endorsed = fieldOf([...field.messages()]);
          endorsed.addVote(vote(artifacts[0]!.id, voters[who]!, 'endorse', confidence, T0 + HOUR));
          expect(STATUS_RANK[judgementsOf(endorsed)[0]!.status]).toBeGreaterThanOrEqual(STATUS_RANK[before.status]);
          expect(judgementsOf(endorsed)[0]!.endorseShare).toBeGreaterThanOrEqual(before.endorseShare - 1e-12);
          const rejected = fieldOf([...field.messages()]);
          rejected.addVote(vote(artifacts[0]!.id, voters[who]!, 'reject', confidence, T0 + HOUR));
          expect(STATUS_RANK[judgementsOf(rejected)[0]!.status]).toBeLessThanOrEqual(STATUS_RANK[before.status]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bounds the influence of any one identity to its weight over the total', () => {
    fc.assert(
      fc.property(
        fc.array(voteArb.map((s) => ({ ...s, artifact: 0 })), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: voters.length - 1 }),
        (specs, who) => {
          const base = specs.map(toVote);
          const entry = { id: artifacts[0]!.id, artifact: artifacts[0]!.artifact, authors: [AUTHOR] };
          const ctx: AggregationContext = { weightOf };
          const withValue = (value: Vote['value']) => {
            const field = fieldOf([artifactMessages[0]!, ...base.map((v) => ({ type: 'vote', vote: v }) as FieldMessage)]);
            field.addVote(vote(artifacts[0]!.id, voters[who]!, value, 0.9, T0 + HOUR));
            return judgeArtifact(entry, field.votesOn(entry.id).values(), ctx);
          };
          const e = withValue('endorse');
          const r = withValue('reject');
          const w = weightOf(voters[who]!);
          expect(Math.abs(e.endorseShare - r.endorseShare)).toBeLessThanOrEqual(w / e.totalWeight + 1e-9) // weights are quantised to 2^-32;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('needs a 2/3 weighted majority, a median confidence and several endorsers', () => {
    const field = fieldOf([artifactMessages[0]!]);
    const id = artifacts[0]!.id;
    // One heavy voter alone cannot accept.
    field.addVote(vote(id, voters[0]!, 'endorse', 1));
    expect(judgementsOf(field)[0]!.status).toBe('pending');
    field.addVote(vote(id, voters[1]!, 'endorse', 0.9));
    field.addVote(vote(id, voters[2]!, 'endorse', 0.9));
    expect(MIN_ENDORSERS).toBe(3);
    expect(judgementsOf(field)[0]!.status).toBe('accepted');
    // Rejections worth more than 1/3 of the weight block it.
    field.addVote(vote(id, voters[5]!, 'reject', 0.9)); // 0.9
    field.addVote(vote(id, voters[7]!, 'reject', 0.9)); // 0.6
    const j = judgementsOf(field)[0]!;
    expect(j.endorseShare).toBeLessThan(ACCEPT_SHARE);
    expect(j.status).toBe('pending');
  });

  it('a lukewarm majority (low median confidence) does not accept', () => {
    const field = fieldOf([artifactMessages[0]!]);
    for (const v of voters.slice(0, 5)) field.addVote(vote(artifacts[0]!.id, v, 'endorse', 0.55));
    const j = judgementsOf(field)[0]!;
    expect(j.endorseShare).toBe(1);
    expect(j.status).toBe('pending');
  });

  it('ignores authors voting on their own artifact, identities without weight, and quarantined peers', () => {
    const field = fieldOf([artifactMessages[0]!]);
    const id = artifacts[0]!.id;
    field.addVote(vote(id, AUTHOR, 'endorse', 1));
    // A Sybil flood of uncalibrated identities (weight 0).
    for (let i = 100; i < 200; i++) field.addVote(vote(id, node(i), 'endorse', 1));
    expect(judgementsOf(field)[0]!.totalWeight).toBe(0);
    for (const v of voters.slice(0, 3)) field.addVote(vote(id, v, 'endorse', 0.9));
    expect(judgementsOf(field)[0]!.status).toBe('accepted');
    const excluded = new Set([voters[0]!]);
    const j = aggregateField(field, { now: NOW, weightOf, excluded }).get(id)!;
    expect(j.status).toBe('pending'); // two endorsers left
    expect(aggregateField(field, { now: NOW, weightOf, excluded: new Set([AUTHOR]) }).get(id)!.status).toBe('excluded');
  });

  it("a remote veto is a reject; the person's own veto holds locally", () => {
    const field = fieldOf([artifactMessages[0]!]);
    const id = artifacts[0]!.id;
    for (const v of voters.slice(0, 4)) field.addVote(vote(id, v, 'endorse', 0.9));
    field.addVote(vote(id, voters[6]!, 'veto', 1)); // weight 0.05: one identity cannot block
    expect(aggregateField(field, { now: NOW, weightOf }).get(id)!.status).toBe('accepted');
    expect(aggregateField(field, { now: NOW, weightOf, localNode: voters[6]! }).get(id)!.status).toBe('vetoed');
  });
});
