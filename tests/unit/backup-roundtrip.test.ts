/**
 * Lossless round trip, as a property: for any conversations, messages,
 * settings, memories, documents with their chunks, evidence and audit
 * entries, episodes, experiences, learning log entries, jobs and sharing
 * state, export -> deleteEverything -> import -> export gives the same file,
 * and the database holds exactly what it held (JSON's view of it: a reply
 * that was mid-stream comes back 'interrupted', a job that was running comes
 * back 'queued'; embeddings come back as the very same float32 values).
 * Learning records are made valid by the learning layer's own constructors
 * and schemas.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { deleteEverything, exportAll, importAll } from '../../src/services/backup';
import {
  AUDIT_ORIGINS,
  AUDIT_OUTCOMES,
  DECISION_KINDS,
  EXPORT_LIMITS,
  MESSAGE_ROLES,
  MESSAGE_STATUSES,
  REFUSAL_REASONS,
  settleJob,
  settleStreaming,
  type StoredSharingRecord,
} from '../../src/lib/data/export-format';
import { canonicalJson, contentId } from '../../src/lib/artifacts/canonical';
import { ARTIFACT_DOMAINS, ARTIFACT_KINDS } from '../../src/lib/artifacts/schema';
import { JOB_CLASSES, JOB_STATES, isLive, jobSchema, type Job } from '../../src/lib/jobs/job';
import { EPISODE_STATES, episodeSchema, type Episode } from '../../src/lib/learning/episode';
import { createExperience, experienceSchema, type Experience } from '../../src/lib/learning/experience';
import { LEARNING_LOG_KINDS, LEARNING_SOURCES, learningLogEntrySchema, type LearningLogEntry } from '../../src/lib/learning/learning-log';
import { SHARING_STATES } from '../../src/lib/learning/sharing';
import type { Shape, Verifier } from '../../src/lib/learning/verifiers';
import type { Conversation, Message, SettingRecord } from '../../src/lib/chat/types';
import { RISK_LEVELS } from '../../src/lib/governance/actions';
import type { AuditEntry } from '../../src/lib/governance/audit';
import type { EvidenceRecord, EvidenceRef } from '../../src/lib/governance/evidence';
import { EMBEDDING_DIMENSION, MEMORY_ORIGINS, MEMORY_STATUSES, type DocumentChunk, type Memory, type PrivateDocument } from '../../src/lib/memory/types';

// --- text that tends to break things -------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
const anyCodePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
/** Text within `maxLength` characters: any code points, lone surrogates, graphemes, markup, and now and then a long one. */
function awkwardText(maxLength: number) {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: fc.oneof({ weight: 20, arbitrary: anyCodePoint }, loneSurrogate), maxLength: 80 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '# Heading\n\n- item\n- **bold** _it_ `code`\n\n```ts\nconst x = 1 < 2 && "y";\n```\n',
        '<script>alert("x")</script><img src=x onerror=alert(1)>',
        '</textarea><!-- --><![CDATA[ ]]>&amp;&lt;',
        '"quoted" \\ back\\slash \u0000 nul \u2028 \u2029 tab\t',
        '👩‍👩‍👧‍👦 🧬 é e\u0301 ﷽ \u202e\u202d',
        '__proto__',
        'constructor',
        '{"format":"h3lix-export"}',
      ),
    },
    { weight: 1, arbitrary: fc.string({ minLength: Math.min(500, maxLength), maxLength }) },
  );
}

const id = fc.string({ unit: fc.oneof({ weight: 5, arbitrary: anyCodePoint }, loneSurrogate), minLength: 1, maxLength: 24 });
const timestamp = fc.double({ min: 0, max: 8.64e15, noNaN: true }).map(Math.floor);
const measure = fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true });

/** JSON setting values; keys that the importer refuses on purpose (prototype-related) are left out. */
const settingValue = fc
  .jsonValue({ maxDepth: 3 })
  .filter((value) => !/"(__proto__|constructor|prototype)":/.test(JSON.stringify(value)));

const chatData = fc
  .uniqueArray(
    fc.record({
      id,
      title: awkwardText(EXPORT_LIMITS.titleChars),
      systemPrompt: awkwardText(5_000),
      createdAt: timestamp,
      updatedAt: timestamp,
    }),
    { selector: (c) => c.id, maxLength: 6 },
  )
  .chain((conversations: Conversation[]) =>
    fc.record({
      conversations: fc.constant(conversations),
      messages:
        conversations.length === 0
          ? fc.constant<Message[]>([])
          : fc.uniqueArray(
              fc.record({
                id,
                conversationId: fc.constantFrom(...conversations.map((c) => c.id)),
                role: fc.constantFrom(...MESSAGE_ROLES),
                content: awkwardText(10_000),
                createdAt: timestamp,
                status: fc.constantFrom(...MESSAGE_STATUSES),
                modelId: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
                stats: fc.option(
                  fc.record({ tokens: fc.nat(), tokensPerSecond: measure, ttftMs: measure, totalMs: measure }),
                  { nil: null },
                ),
                error: fc.option(awkwardText(EXPORT_LIMITS.errorChars), { nil: null }),
              }),
              { selector: (m) => m.id, maxLength: 25 },
            ),
      settings: fc.uniqueArray(fc.record({ key: id, value: settingValue }), {
        selector: (s) => s.key,
        maxLength: 6,
      }),
    }),
  );

/** Any float32 values at all, tiny, huge and zero ones included. */
const embedding = fc
  .array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: EMBEDDING_DIMENSION, maxLength: EMBEDDING_DIMENSION })
  .map((values) => Float32Array.from(values));
const nonEmptyText = (max: number) => awkwardText(max).filter((text) => text.length > 0);
const embedderId = fc.constantFrom('Xenova/all-MiniLM-L6-v2', 'fixtures/lexical-minilm-384');

const memories = fc.uniqueArray(
  fc.record<Memory>({
    id,
    text: nonEmptyText(EXPORT_LIMITS.memoryTextChars),
    status: fc.constantFrom(...MEMORY_STATUSES),
    origin: fc.constantFrom(...MEMORY_ORIGINS),
    conversationId: fc.option(id, { nil: null }),
    createdAt: timestamp,
    updatedAt: timestamp,
    embedding,
    embedderId,
  }),
  // size 'max': lengths spread over 0..3 instead of mostly empty.
  { selector: (m) => m.id, maxLength: 3, size: 'max' },
);

/** Documents, each with exactly its chunkCount chunks (ids unique across all chunks). */
const documents = fc
  .uniqueArray(
    fc.record({
      id,
      name: awkwardText(200),
      mime: fc.constantFrom('application/pdf', 'text/markdown', 'text/plain', ''),
      bytes: fc.nat(),
      addedAt: timestamp,
      embedderId,
      texts: fc.array(nonEmptyText(EXPORT_LIMITS.chunkTextChars), { minLength: 1, maxLength: 3 }),
      embeddings: fc.array(embedding, { minLength: 3, maxLength: 3 }),
    }),
    { selector: (d) => d.id, maxLength: 2, size: 'max' },
  )
  .map((drafts) => {
    const docs: PrivateDocument[] = [];
    const chunks: DocumentChunk[] = [];
    drafts.forEach((draft, d) => {
      docs.push({ id: draft.id, name: draft.name, mime: draft.mime, bytes: draft.bytes, addedAt: draft.addedAt, chunkCount: draft.texts.length, embedderId: draft.embedderId });
      draft.texts.forEach((text, index) => chunks.push({ id: `chunk-${d}-${index}`, documentId: draft.id, index, text, embedding: draft.embeddings[index]! }));
    });
    return { documents: docs, chunks };
  });

const evidenceRef: fc.Arbitrary<EvidenceRef> = fc.oneof(
  fc.record({
    kind: fc.constant('memory' as const),
    id,
    title: awkwardText(100),
    snippet: awkwardText(240),
    score: fc.double({ min: -1, max: 1, noNaN: true }),
    truncated: fc.boolean(),
    provenance: fc.record({ kind: fc.constant('memory' as const), createdAt: timestamp, conversationId: fc.option(id, { nil: null }) }),
  }),
  fc.record({
    kind: fc.constant('document' as const),
    id,
    title: awkwardText(100),
    snippet: awkwardText(240),
    score: fc.double({ min: -1, max: 1, noNaN: true }),
    truncated: fc.boolean(),
    provenance: fc.record({ kind: fc.constant('document' as const), documentId: id, documentName: awkwardText(200), chunk: fc.nat(1_000) }),
  }),
  fc.record({
    kind: fc.constant('artifact' as const),
    id,
    title: awkwardText(100),
    snippet: awkwardText(240),
    score: fc.double({ min: -1, max: 1, noNaN: true }),
    truncated: fc.boolean(),
    provenance: fc.record({
      kind: fc.constant('artifact' as const),
      artifactId: id,
      author: id,
      acceptance: fc.double({ min: 0, max: 1, noNaN: true }),
      endorsers: fc.array(id, { maxLength: 3 }),
    }),
  }),
  fc.record({
    kind: fc.constant('experience' as const),
    id,
    title: awkwardText(100),
    snippet: awkwardText(240),
    score: fc.double({ min: -1, max: 1, noNaN: true }),
    truncated: fc.boolean(),
    provenance: fc.record({
      kind: fc.constant('experience' as const),
      domain: fc.constantFrom(...ARTIFACT_DOMAINS),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
      version: fc.integer({ min: 1, max: 1_000 }),
    }),
  }),
);

function evidenceFor(messages: readonly Message[]): fc.Arbitrary<EvidenceRecord[]> {
  if (messages.length === 0) return fc.constant([]);
  return fc.uniqueArray(
    fc.record({
      messageId: fc.constantFrom(...messages.map((m) => m.id)),
      items: fc.array(evidenceRef, { maxLength: 3 }),
      createdAt: timestamp,
      mark: fc.constantFrom('verified' as const, 'disputed' as const, null),
      markedAt: fc.option(timestamp, { nil: null }),
      itemMarks: fc.array(
        fc.record({ kind: fc.constantFrom('memory' as const, 'document' as const, 'artifact' as const, 'experience' as const), id, mark: fc.constantFrom('verified' as const, 'disputed' as const), at: timestamp }),
        { maxLength: 2 },
      ),
    }),
    { selector: (e) => e.messageId, maxLength: 3 },
  );
}

const audit = fc.uniqueArray(
  fc.record<AuditEntry>(
    {
      id,
      at: timestamp,
      actionId: fc.string({ maxLength: 40 }),
      risk: fc.option(fc.constantFrom(...RISK_LEVELS), { nil: null }),
      origin: fc.constantFrom(...AUDIT_ORIGINS),
      decision: fc.constantFrom(...DECISION_KINDS),
      outcome: fc.constantFrom(...AUDIT_OUTCOMES),
      summary: awkwardText(300),
      reason: fc.constantFrom(...REFUSAL_REASONS),
      error: awkwardText(300),
    },
    { requiredKeys: ['id', 'at', 'actionId', 'risk', 'origin', 'decision', 'outcome', 'summary'] },
  ),
  { selector: (a) => a.id, maxLength: 3 },
);

// --- the learning layer ------------------------------------------------------

/** Ids of experiences and episodes (EXPERIENCE_ID_PATTERN). */
const learningId = fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'), minLength: 1, maxLength: 12 });
const word = fc.string({ unit: fc.constantFrom(...'abcdefghij'), minLength: 3, maxLength: 8 });
const unitInterval = fc.double({ min: 0, max: 1, noNaN: true });

const experience: fc.Arbitrary<Experience> = fc
  .record({
    id: learningId,
    condition: fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(' ')),
    strategy: fc.oneof(fc.array(word, { minLength: 1, maxLength: 6 }).map((w) => w.join(', ')), fc.constant('say "é", <b>then</b> stop 🧬')),
    domain: fc.constantFrom(...ARTIFACT_DOMAINS),
    confidence: unitInterval,
    episodeIds: fc.uniqueArray(learningId, { maxLength: 4 }),
    createdAt: timestamp,
    later: fc.nat(1_000_000),
    uses: fc.tuple(fc.nat(50), fc.nat(50), fc.nat(50)),
    version: fc.integer({ min: 1, max: 1_000 }),
  })
  .map((r) => {
    const fresh = createExperience({ id: r.id, text: `When ${r.condition}, ${r.strategy}`, domain: r.domain, confidence: r.confidence, episodeIds: r.episodeIds, now: r.createdAt });
    const [successes, failures, unused] = r.uses;
    return experienceSchema.parse({
      ...fresh,
      usageCount: successes + failures + unused,
      successCount: successes,
      failureCount: failures,
      updatedAt: Math.min(r.createdAt + r.later, 8.64e15),
      version: r.version,
    });
  });

const shape: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ type: fc.constantFrom('string', 'number', 'integer', 'boolean', 'null', 'any') as fc.Arbitrary<'string'>, nullable: fc.boolean() }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('array' as const), items: tie('shape'), minItems: fc.nat(3) }, { requiredKeys: ['type', 'items'] }),
    fc.record({ type: fc.constant('object' as const), properties: fc.dictionary(word, tie('shape'), { maxKeys: 3 }), required: fc.constant<string[]>([]), additionalProperties: fc.boolean() }, { requiredKeys: ['type', 'properties', 'required'] }),
  ),
})).shape;

const verifier: fc.Arbitrary<Verifier | null> = fc.oneof(
  fc.constant(null),
  fc.record({ kind: fc.constant('number' as const), expected: fc.double({ min: -1e15, max: 1e15, noNaN: true }), tolerance: fc.double({ min: 0, max: 1e6, noNaN: true }) }),
  fc.record({ kind: fc.constant('json-shape' as const), shape }),
  fc.record({ kind: fc.constant('code' as const), language: fc.constant('javascript' as const), tests: nonEmptyText(2_000) }),
);

const episode: fc.Arbitrary<Episode> = fc
  .record({
    id: learningId,
    conversationId: id,
    messageId: id,
    task: awkwardText(4_000),
    answer: awkwardText(8_000),
    domain: fc.constantFrom(...ARTIFACT_DOMAINS),
    feedback: fc.constantFrom('up' as const, 'down' as const, null),
    correction: fc.option(awkwardText(8_000), { nil: null }),
    regenerations: fc.nat(1_000),
    verifier,
    usedExperienceIds: fc.array(learningId, { maxLength: 4 }),
    state: fc.constantFrom(...EPISODE_STATES),
    stateReason: awkwardText(2_000),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .map((e) => episodeSchema.parse(e));

const logEntry: fc.Arbitrary<LearningLogEntry> = fc
  .record({
    id,
    at: timestamp,
    kind: fc.constantFrom(...LEARNING_LOG_KINDS),
    source: fc.constantFrom(...LEARNING_SOURCES),
    experienceId: fc.option(learningId, { nil: null }),
    episodeId: fc.option(learningId, { nil: null }),
    before: fc.option(experience, { nil: null }),
    after: fc.option(experience, { nil: null }),
    reason: awkwardText(2_000),
    detail: awkwardText(4_000),
    groupSize: fc.option(fc.integer({ min: 1, max: 64 }), { nil: null }),
    rewardSpread: fc.option(unitInterval, { nil: null }),
  })
  .map((e) => learningLogEntrySchema.parse(e));

/** Jobs with unique ids and at most one unfinished job per class and subject (the queue's rule). */
const jobs: fc.Arbitrary<Job[]> = fc
  .uniqueArray(
    fc
      .record({
        id,
        jobClass: fc.constantFrom(...JOB_CLASSES),
        subject: fc.oneof(learningId, id),
        state: fc.constantFrom(...JOB_STATES),
        attempts: fc.nat(1_000),
        createdAt: timestamp,
        updatedAt: timestamp,
        notBefore: timestamp,
        deadline: timestamp,
        lastError: fc.option(awkwardText(2_000), { nil: null }),
        result: fc.option(awkwardText(2_000), { nil: null }),
      })
      .map((j) => jobSchema.parse(j)),
    { selector: (j) => j.id, maxLength: 4 },
  )
  .map((all) => {
    const live = new Set<string>();
    return all.filter((job) => {
      if (!isLive(job)) return true;
      const work = JSON.stringify([job.jobClass, job.subject]);
      if (live.has(work)) return false;
      live.add(work);
      return true;
    });
  });

/** Sharing state for some of the experiences, with a real canonical artifact when one was built. */
function sharingFor(library: readonly Experience[]): fc.Arbitrary<StoredSharingRecord[]> {
  if (library.length === 0) return fc.constant([]);
  return fc
    .uniqueArray(
      fc.record({
        experience: fc.constantFrom(...library),
        behind: fc.nat(3),
        state: fc.constantFrom(...SHARING_STATES),
        reason: awkwardText(2_000),
        updatedAt: timestamp,
        artifact: fc.option(
          fc.record({ kind: fc.constantFrom(...ARTIFACT_KINDS), confidence: unitInterval, groupSize: fc.integer({ min: 1, max: 64 }), spread: unitInterval, hour: fc.nat(1_000_000) }),
          { nil: null },
        ),
      }),
      { selector: (r) => r.experience.id, maxLength: 3 },
    )
    .map((drafts) =>
      drafts.map(({ experience: e, behind, state, reason, updatedAt, artifact }): StoredSharingRecord => {
        const base = { experienceId: e.id, experienceVersion: Math.max(1, e.version - behind), state, reason, updatedAt };
        if (!artifact) return { ...base, contentId: null, artifact: null, bytes: null };
        const built = {
          schemaVersion: 1 as const,
          kind: artifact.kind,
          text: e.text,
          domain: e.domain,
          confidence: artifact.confidence,
          evidence: { groupSize: artifact.groupSize, rewardSpread: artifact.spread },
          createdAt: artifact.hour * 3_600_000,
          embedderId: 'fixtures/lexical-minilm-384',
        };
        const text = canonicalJson(built);
        return { ...base, contentId: contentId(built), artifact: text, bytes: new TextEncoder().encode(text).length };
      }),
    );
}

const learning = fc
  .record({
    episodes: fc.uniqueArray(episode, { selector: (e) => e.id, maxLength: 3 }),
    experiences: fc.uniqueArray(experience, { selector: (e) => e.id, maxLength: 3, size: 'max' }),
    learningLog: fc.uniqueArray(logEntry, { selector: (e) => e.id, maxLength: 3 }),
    jobs,
  })
  .chain((tables) => sharingFor(tables.experiences).map((sharing) => ({ ...tables, sharing })));

const dataset = chatData.chain((chat) =>
  fc
    .record({ memories, documents, evidence: evidenceFor(chat.messages), audit, learning })
    .map(({ documents: docs, learning: learned, ...rest }) => ({ ...chat, ...rest, ...learned, documents: docs.documents, chunks: docs.chunks })),
);

type Dataset = typeof dataset extends fc.Arbitrary<infer T> ? T : never;

// --- helpers ---------------------------------------------------------------

const now = () => Date.UTC(2026, 10, 22, 12);

/** Embeddings as plain lists, so two snapshots compare (and print) as data; -0 is 0 (JSON has no sign of zero). */
function plainVectors<T extends { embedding: Float32Array }>(records: readonly T[]): (Omit<T, 'embedding'> & { embedding: number[] })[] {
  return records.map((r) => ({ ...r, embedding: Array.from(r.embedding, (x) => (x === 0 ? 0 : x)) }));
}

async function contents(db: H3lixDatabase) {
  return {
    conversations: await db.conversations.toArray(),
    messages: await db.messages.toArray(),
    settings: await db.settings.toArray(),
    memories: plainVectors(await db.memories.toArray()),
    documents: await db.documents.toArray(),
    chunks: plainVectors(await db.chunks.toArray()),
    evidence: await db.evidence.toArray(),
    audit: await db.audit.toArray(),
    episodes: await db.table('episodes').toArray(),
    experiences: await db.table('experiences').toArray(),
    learningLog: await db.table('learningLog').toArray(),
    jobs: await db.table('jobs').toArray(),
    sharing: await db.table('sharing').toArray(),
  };
}

const LEARNING_TABLES = ['episodes', 'experiences', 'learningLog', 'jobs', 'sharing'] as const;
const EMPTY = {
  conversations: [],
  messages: [],
  settings: [],
  memories: [],
  documents: [],
  chunks: [],
  evidence: [],
  audit: [],
  episodes: [],
  experiences: [],
  learningLog: [],
  jobs: [],
  sharing: [],
};

async function seedDatabase(db: H3lixDatabase, seed: Dataset): Promise<void> {
  await db.conversations.bulkPut(seed.conversations);
  await db.messages.bulkPut(seed.messages);
  await db.settings.bulkPut(seed.settings);
  await db.memories.bulkPut(seed.memories);
  await db.documents.bulkPut(seed.documents);
  await db.chunks.bulkPut(seed.chunks);
  await db.evidence.bulkPut(seed.evidence);
  await db.audit.bulkPut(seed.audit);
  for (const table of LEARNING_TABLES) await db.table(table).bulkPut(seed[table]);
}

/** What the database should hold after the trip: JSON's view of the seed, in key order. */
function expectedAfterTrip(seed: Dataset) {
  const byKey = <T>(key: (item: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  return viaJson({
    conversations: [...seed.conversations].sort(byKey((c) => c.id)),
    messages: seed.messages.map(settleStreaming).sort(byKey((m) => m.id)),
    settings: [...seed.settings].sort(byKey((s) => s.key)),
    memories: plainVectors(seed.memories).sort(byKey((m) => m.id)),
    documents: [...seed.documents].sort(byKey((d) => d.id)),
    chunks: plainVectors(seed.chunks).sort(byKey((c) => c.id)),
    evidence: [...seed.evidence].sort(byKey((e) => e.messageId)),
    audit: [...seed.audit].sort(byKey((a) => a.id)),
    episodes: [...seed.episodes].sort(byKey((e) => e.id)),
    experiences: [...seed.experiences].sort(byKey((e) => e.id)),
    learningLog: [...seed.learningLog].sort(byKey((e) => e.id)),
    jobs: seed.jobs.map(settleJob).sort(byKey((j) => j.id)),
    sharing: [...seed.sharing].sort(byKey((s) => s.experienceId)),
  });
}

describe('export -> delete everything -> import -> export', () => {
  it('is lossless for any data', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (seed) => {
        const db = await openDatabase(`trip-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
        try {
          await seedDatabase(db, seed);

          const first = await exportAll(db, now);
          await deleteEverything(db);
          expect(await contents(db)).toEqual(EMPTY);

          const summary = await importAll(db, first);
          expect(summary).toEqual({
            conversations: seed.conversations.length,
            messages: seed.messages.length,
            settings: seed.settings.length,
            memories: seed.memories.length,
            documents: seed.documents.length,
            chunks: seed.chunks.length,
            evidence: seed.evidence.length,
            audit: seed.audit.length,
            episodes: seed.episodes.length,
            experiences: seed.experiences.length,
            learningLog: seed.learningLog.length,
            jobs: seed.jobs.length,
            sharing: seed.sharing.length,
            replaced: {
              conversations: 0,
              messages: 0,
              settings: 0,
              memories: 0,
              documents: 0,
              chunks: 0,
              evidence: 0,
              audit: 0,
              episodes: 0,
              experiences: 0,
              learningLog: 0,
              jobs: 0,
              sharing: 0,
            },
          });
          const second = await exportAll(db, now);
          expect(second).toBe(first);
          expect(await contents(db)).toEqual(expectedAfterTrip(seed));
        } finally {
          await db.delete();
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('importing the same file twice changes nothing the second time', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (seed) => {
        const db = await openDatabase(`twice-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
        try {
          await seedDatabase(db, seed);
          const file = await exportAll(db, now);
          await importAll(db, file);
          const once = JSON.stringify(await contents(db));
          const summary = await importAll(db, file);
          expect(summary.replaced).toEqual({
            conversations: seed.conversations.length,
            messages: seed.messages.length,
            settings: seed.settings.length,
            memories: seed.memories.length,
            documents: seed.documents.length,
            chunks: seed.chunks.length,
            evidence: seed.evidence.length,
            audit: seed.audit.length,
            episodes: seed.episodes.length,
            experiences: seed.experiences.length,
            learningLog: seed.learningLog.length,
            jobs: seed.jobs.length,
            sharing: seed.sharing.length,
          });
          expect(JSON.stringify(await contents(db))).toBe(once);
        } finally {
          await db.delete();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
