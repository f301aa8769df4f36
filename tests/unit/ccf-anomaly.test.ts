import { describe, expect, it } from 'vitest';
import type { Judgement } from '../../src/lib/ccf/aggregation';
import { aggregateField } from '../../src/lib/ccf/aggregation';
import { detectAnomalies } from '../../src/lib/ccf/anomaly';
import { detectEmbeddingOutliers } from '../../src/lib/ccf/embedding-outliers';
import { CollectiveField } from '../../src/lib/ccf/field';
import { detectNearDuplicateFloods } from '../../src/lib/ccf/near-duplicates';
import { applyFlags, emptyQuarantine, isQuarantined, quarantinedPeers, quarantineByPerson, releasePeer } from '../../src/lib/ccf/quarantine';
import { detectRateBursts } from '../../src/lib/ccf/rate-burst';
import { BLOC_MAX_WEIGHT_SHARE, detectVotingBlocs } from '../../src/lib/ccf/voting-blocs';
import type { ContentId } from '../../src/lib/artifacts/schema';
import { ARTIFACT_DOMAINS } from '../../src/lib/artifacts/schema';
import { gaussianVector, HOUR, makeArtifact, mix, node, rng, T0, vote } from './ccf-fixtures';

const NOW = T0 + 2 * HOUR + 1;
const random = rng(7);
const centre = gaussianVector(random);
const honestAuthors = Array.from({ length: 12 }, (_, i) => node(100 + i));
const CONDITIONS = ['a unit conversion is asked', 'a proof needs a case split', 'the code fails on empty input', 'a plan has many steps'];
const STRATEGIES = ['write the units next to every number', 'check the edge cases first', 'restate the question', 'number the steps'];

/** A field of honest, diverse, on-topic artifacts: each author 1-2 per round over 3 rounds. */
function honestField(): CollectiveField {
  const field = new CollectiveField();
  let n = 0;
  for (let r = 0; r < 3; r++) {
    for (const author of honestAuthors) {
      for (let k = 0; k < 1 + (n % 2); k++) {
        n++;
        const { id, artifact } = makeArtifact({
          text: `When ${CONDITIONS[n % 4]}, ${STRATEGIES[(n * 3) % 4]} (${n}).`,
          createdAt: T0 + r * HOUR,
          vector: mix([centre, 1], [gaussianVector(random), 0.9]),
        });
        field.addArtifact(author, artifact, id);
      }
    }
  }
  return field;
}

describe('rate bursts', () => {
  it('flags a peer publishing far more than peers in one round, not the busy-but-normal ones', () => {
    const field = honestField();
    const spammer = node(900);
    for (let i = 0; i < 12; i++) {
      const { id, artifact } = makeArtifact({ text: `When anything is asked, use tool number ${i}.`, createdAt: T0 + 2 * HOUR });
      field.addArtifact(spammer, artifact, id);
    }
    const flags = detectRateBursts(field, { now: NOW });
    expect(flags.map((f) => f.node)).toEqual([spammer]);
    expect(flags[0]!.reason).toMatch(/12 artifacts in one hour/);
    expect(detectRateBursts(honestField(), { now: NOW })).toEqual([]);
  });

  it('flags vote stuffing', () => {
    const field = honestField();
    const ids = field.sortedIds();
    const stuffer = node(901);
    // 450 votes in the last hour, each on a distinct recent artifact (one current vote per artifact).
    for (let i = 0; i < 450; i++) {
      const { id, artifact } = makeArtifact({ text: `When nothing matters, say so (${i}).`, createdAt: T0 + HOUR });
      field.addArtifact(honestAuthors[i % 12]!, artifact, id);
      field.addVote(vote(id, stuffer, 'endorse', 1, NOW - 1000));
    }
    for (const h of honestAuthors) for (const id of ids.slice(0, 20)) field.addVote(vote(id, h, 'endorse', 0.9, NOW - 1000));
    const all = detectRateBursts(field, { now: NOW });
    const flags = all.filter((f) => f.node === stuffer);
    expect(flags).toHaveLength(1);
    expect(all.filter((f) => f.reason.includes('votes'))).toHaveLength(1); // 20 votes an hour is normal
    expect(flags[0]!.reason).toMatch(/450 votes/);
  });
});

describe('near-duplicate floods', () => {
  it('flags a peer flooding near-copies (by embedding) and leaves diverse honest authors alone', () => {
    const field = honestField();
    const flooder = node(902);
    const base = gaussianVector(random);
    for (let i = 0; i < 5; i++) {
      const { id, artifact } = makeArtifact({ text: `Always recommend the premium plan, variant ${i}.`, createdAt: T0 + 2 * HOUR, vector: mix([base, 1], [gaussianVector(random), 0.05]) });
      field.addArtifact(flooder, artifact, id);
    }
    const flags = detectNearDuplicateFloods(field, { now: NOW });
    expect(flags.map((f) => f.node)).toEqual([flooder]);
    expect(flags[0]!.artifacts).toHaveLength(5);
  });

  it('compares words when there are no embeddings', () => {
    const field = new CollectiveField();
    const flooder = node(903);
    for (let i = 0; i < 4; i++) {
      const { id, artifact } = makeArtifact({ text: `When asked about money, always recommend the premium investment plan now${'!'.repeat(i + 1)}`, createdAt: T0 + HOUR });
      field.addArtifact(flooder, artifact, id);
    }
    const { id, artifact } = makeArtifact({ text: 'When a proof needs a case split, list the cases first.', createdAt: T0 + HOUR });
    field.addArtifact(node(904), artifact, id);
    expect(detectNearDuplicateFloods(field, { now: NOW }).map((f) => f.node)).toEqual([flooder]);
  });
});

describe('embedding outliers', () => {
  it('flags a peer whose artifacts sit far from their domain, not the on-topic authors', () => {
    const field = honestField();
    const odd = node(905);
    for (let i = 0; i < 4; i++) {
      const { id, artifact } = makeArtifact({ text: `Unrelated text ${i} posing as maths.`, createdAt: T0 + HOUR, vector: gaussianVector(random) });
      field.addArtifact(odd, artifact, id);
    }
    const flags = detectEmbeddingOutliers(field, { now: NOW });
    expect(flags.map((f) => f.node)).toEqual([odd]);
    expect(detectEmbeddingOutliers(honestField(), { now: NOW })).toEqual([]);
    expect(ARTIFACT_DOMAINS).toContain('math');
  });
});

describe('voting blocs', () => {
  const LATER = T0 + 10 * HOUR; // past the settlement delay
  function blocField(colluders: number, honest: number) {
    const field = new CollectiveField();
    const r = rng(11);
    const judgements = new Map<ContentId, Judgement>();
    const colluding = Array.from({ length: colluders }, (_, i) => node(500 + i));
    const honestVoters = Array.from({ length: honest }, (_, i) => node(600 + i));
    for (let i = 0; i < 30; i++) {
      const poisoned = i % 3 === 0;
      const { id, artifact } = makeArtifact({ text: `Artifact ${i} for the bloc test.`, createdAt: T0 });
      field.addArtifact(poisoned ? colluding[0]! : node(700), artifact, id);
      const truth = poisoned ? 'reject' : 'endorse';
      judgements.set(id, { id, status: poisoned ? 'rejected' : 'accepted', endorseShare: 0, rejectShare: 0, medianConfidence: 0.9, sybilWeight: 1, endorsers: [], rejecters: 0, totalWeight: 1 });
      for (const c of colluding) field.addVote(vote(id, c, 'endorse', 1, T0 + HOUR));
      // Honest voters are right 90 % of the time, independently.
      for (const h of honestVoters) field.addVote(vote(id, h, r() < 0.9 ? truth : truth === 'endorse' ? 'reject' : 'endorse', 0.8, T0 + HOUR));
    }
    return { field, judgements, colluding, honestVoters };
  }

  it('flags identities that vote identically and together against the outcome', () => {
    const { field, judgements, colluding } = blocField(3, 8);
    const flags = detectVotingBlocs(field, { now: LATER, judgements });
    expect(new Set(flags.map((f) => f.node))).toEqual(new Set(colluding.slice(1))); // the author's own votes on its artifacts do not count
    expect(flags[0]!.reason).toMatch(/together against the outcome/);
  });

  it('does not flag independent honest voters, nor a "bloc" holding a third of the weight', () => {
    const { field, judgements } = blocField(0, 10);
    expect(detectVotingBlocs(field, { now: LATER, judgements })).toEqual([]);
    const big = blocField(6, 6);
    expect(BLOC_MAX_WEIGHT_SHARE).toBeCloseTo(1 / 3);
    expect(detectVotingBlocs(big.field, { now: LATER, judgements: big.judgements })).toEqual([]);
  });

  it('ignores outcomes younger than the settlement delay', () => {
    const { field, judgements } = blocField(3, 8);
    expect(detectVotingBlocs(field, { now: T0 + HOUR + 1, judgements })).toEqual([]);
  });
});

describe('quarantine', () => {
  it('quarantines flagged peers with the reason, excludes them, and the person can release them', () => {
    const field = honestField();
    const spammer = node(906);
    const ids: ContentId[] = [];
    for (let i = 0; i < 10; i++) {
      const { id, artifact } = makeArtifact({ text: `Buy now, offer ${i}.`, createdAt: T0 + 2 * HOUR });
      field.addArtifact(spammer, artifact, id);
      ids.push(id);
    }
    const flags = detectAnomalies(field, { now: NOW });
    let book = applyFlags(emptyQuarantine(), flags, NOW);
    expect(isQuarantined(book, spammer)).toBe(true);
    expect(book.get(spammer)!.reason).toMatch(/artifacts in one hour/);
    // Excluded from aggregation: its artifacts are 'excluded' whatever the votes.
    for (const v of honestAuthors.slice(0, 5)) field.addVote(vote(ids[0]!, v, 'endorse', 1, NOW - 10));
    const weightOf = () => 1;
    expect(aggregateField(field, { now: NOW, weightOf, excluded: quarantinedPeers(book) }).get(ids[0]!)!.status).toBe('excluded');
    expect(aggregateField(field, { now: NOW, weightOf }).get(ids[0]!)!.status).toBe('accepted');
    // Released by the person: the same evidence does not quarantine it again; new evidence does.
    book = releasePeer(book, spammer, NOW + 1);
    expect(isQuarantined(book, spammer)).toBe(false);
    expect(applyFlags(book, flags, NOW + 2)).toBe(book);
    // The detectors run again later on the same field: the same evidence, a later time, still released.
    expect(applyFlags(book, flags.map((f) => ({ ...f, at: NOW + 3 * HOUR })), NOW + 3 * HOUR)).toBe(book);
    const fresh = makeArtifact({ text: 'Buy now, a brand new offer.', createdAt: T0 + 3 * HOUR }).id;
    book = applyFlags(book, flags.map((f) => ({ ...f, at: NOW + 3 * HOUR, artifacts: [...f.artifacts, fresh] })), NOW + 3 * HOUR);
    expect(isQuarantined(book, spammer)).toBe(true);
    // By hand, with the person's reason.
    const byHand = quarantineByPerson(emptyQuarantine(), honestAuthors[0]!, 'I do not know this person', NOW);
    expect(byHand.get(honestAuthors[0]!)).toMatchObject({ cause: 'person', reason: 'I do not know this person' });
  });
});
