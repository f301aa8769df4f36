/**
 * The H3LIX export file: everything a person has (conversations, messages,
 * settings, memories, private documents and their chunks, the evidence kept
 * beside answers, the audit log, and the learning layer: episodes, the
 * experience library and its history, the job queue, sharing state) in one
 * JSON document they can keep, move or inspect. Not the node identity: its private key is non-extractable by
 * design, so a restored H3LIX is a new node with the same data.
 *
 * Versions: 1 (chat only), 2 (adding the knowledge and governance tables) and
 * 3 (this one, adding the learning layer's tables and evidence of kind
 * 'experience'). Older files still import: each is read with its own schema
 * and lifted to version 3 with empty new tables (`liftV1`, `liftV2`).
 * Learning records are checked with the learning layer's own strict schemas
 * (an experience whose text disagrees with its condition and strategy is
 * refused, as the repository would refuse it); a sharing record must belong
 * to an experience in the file, and a stored artifact must be the canonical
 * artifact its content id names. A job that was 'running' is written (and
 * read) as 'queued': the tab that ran it is gone, exactly as startup recovery
 * would put it back.
 * Embeddings are written as lists of exactly EMBEDDING_DIMENSION numbers,
 * each the shortest decimal that reads back to the same float32, so a round
 * trip is exact and the file stays as small as a list of numbers can be.
 *
 * Import is the one place where data written by someone else enters the
 * database, so a file is treated as hostile until proven otherwise: its size
 * is checked before it is parsed, every record must match a strict schema
 * (bounded strings and counts, finite numbers, known enums, no unknown keys),
 * keys that could touch prototypes are refused anywhere in the tree, and
 * references must hold (no duplicate ids, no message without its
 * conversation). Problems come back as sentences a person can read.
 *
 * Pure: no Dexie, no DOM. Reading and writing the database is in
 * src/services/backup.ts.
 */

import { z } from 'zod';
import type { Conversation, Message, MessageStats, MessageStatus, SettingRecord } from '../chat/types';
import { RISK_LEVELS } from '../governance/actions';
import type { AuditEntry, AuditOrigin, AuditOutcome } from '../governance/audit';
import type { ClaimMark, EvidenceKind, EvidenceRecord } from '../governance/evidence';
import type { DecisionKind, RefusalReason } from '../governance/policy';
import { MAX_ARTIFACT_BYTES, parseArtifact } from '../artifacts/canonical';
import { CONTENT_ID_PATTERN } from '../artifacts/schema';
import { jobSchema, requeueJob, type Job } from '../jobs/job';
import { episodeSchema, type Episode } from '../learning/episode';
import { MAX_SHAPE_DEPTH, parseVerifier } from '../learning/verifiers';
import { EXPERIENCE_ID_PATTERN, experienceSchema, type Experience } from '../learning/experience';
import { learningLogEntrySchema, type LearningLogEntry } from '../learning/learning-log';
import { SHARING_STATES, type SharingState } from '../learning/sharing';
import { shortestFloat32 } from '../memory/embedding';
import { EMBEDDING_DIMENSION, MEMORY_ORIGINS, MEMORY_STATUSES, type DocumentChunk, type Memory, type PrivateDocument } from '../memory/types';
import { formatBytes } from './format-bytes';

export const EXPORT_FORMAT_NAME = 'h3lix-export';
export const EXPORT_FORMAT_VERSION = 3;
/** Every version this code reads. */
export const READABLE_FORMAT_VERSIONS = [1, 2, 3] as const;

/**
 * Hard limits on what an import may contain. They bound the memory and time
 * a hostile file can cost, and the repository enforces the same string limits
 * on writes, so anything H3LIX stored can always be exported and read back.
 */
export const EXPORT_LIMITS = {
  /** Whole file, UTF-8 bytes. JSON.parse needs several times this in memory. */
  fileBytes: 100_000_000,
  conversations: 20_000,
  messages: 500_000,
  settings: 1_000,
  idChars: 128,
  titleChars: 1_000,
  systemPromptChars: 100_000,
  /** About 250k tokens: far beyond any reply a local model writes. */
  contentChars: 1_000_000,
  errorChars: 10_000,
  modelIdChars: 256,
  appFieldChars: 100,
  settingKeyChars: 128,
  /** A setting value is any JSON value within these bounds. */
  settingStringChars: 100_000,
  settingEntries: 1_000,
  settingDepth: 8,
  /** Largest valid JavaScript Date, ms. */
  maxTimestamp: 8.64e15,
  /** Token counts, durations, rates. */
  maxMeasure: 1e12,
  /** Errors listed before the rest are summarised. */
  reportedProblems: 50,
  // Version 2: memory, documents, evidence, audit.
  memories: 50_000,
  /** One remembered fact; explicit requests are capped lower (src/lib/memory/remember.ts). */
  memoryTextChars: 2_000,
  documents: 5_000,
  chunks: 200_000,
  documentNameChars: 1_000,
  mimeChars: 255,
  /** A chunk (the chunker makes at most 4,000; 800 by default). */
  chunkTextChars: 4_000,
  embedderIdChars: 256,
  /** One evidence record per answer at most. */
  evidence: 500_000,
  evidenceItems: 100,
  evidenceTitleChars: 1_000,
  evidenceSnippetChars: 2_000,
  endorsers: 1_000,
  audit: 100_000,
  auditTextChars: 2_000,
  // Version 3: the learning layer. Record fields are bounded by the learning
  // layer's own schemas (src/lib/learning, src/lib/jobs); these bound counts.
  /** One per judged answer at most. */
  episodes: 200_000,
  experiences: 20_000,
  learningLog: 500_000,
  jobs: 100_000,
  /** One per experience at most. */
  sharing: 20_000,
  sharingReasonChars: 2_000,
} as const;

const L = EXPORT_LIMITS;

/** Never valid as a key anywhere in an export (see `findForbiddenKeys`). */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The file nests at most ~6 levels (evidence provenance) plus a setting
 * value's depth, or an episode's verifier (data.episodes[i].verifier, then
 * about 3 levels per level of a JSON shape, as parseVerifier bounds it);
 * anything deeper is not ours.
 */
const MAX_FILE_DEPTH = Math.max(8 + L.settingDepth, 4 + MAX_SHAPE_DEPTH * 3 + 4);

export const MESSAGE_ROLES = ['user', 'assistant'] as const satisfies readonly Message['role'][];
export const MESSAGE_STATUSES = [
  'streaming',
  'complete',
  'stopped',
  'interrupted',
  'error',
] as const satisfies readonly MessageStatus[];

// ---------------------------------------------------------------------------
// Schema

const idSchema = z.string().min(1).max(L.idChars);
const timestampSchema = z.number().int().min(0).max(L.maxTimestamp);
// zod 4 numbers are finite: Infinity (JSON.parse turns 1e999 into it) fails.
const measureSchema = z.number().min(0).max(L.maxMeasure);

const statsSchema = z
  .object({
    tokens: z.number().int().min(0).max(L.maxMeasure),
    tokensPerSecond: measureSchema,
    ttftMs: measureSchema,
    totalMs: measureSchema,
  })
  .strict();

const conversationSchema = z
  .object({
    id: idSchema,
    title: z.string().max(L.titleChars),
    systemPrompt: z.string().max(L.systemPromptChars),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  })
  .strict();

const messageSchema = z
  .object({
    id: idSchema,
    conversationId: idSchema,
    role: z.enum(MESSAGE_ROLES),
    content: z.string().max(L.contentChars),
    createdAt: timestampSchema,
    status: z.enum(MESSAGE_STATUSES),
    modelId: z.string().max(L.modelIdChars).nullable(),
    stats: statsSchema.nullable(),
    error: z.string().max(L.errorChars).nullable(),
  })
  .strict();

const settingSchema = z
  .object({
    key: z.string().min(1).max(L.settingKeyChars),
    value: z.unknown().superRefine((value, ctx) => {
      for (const problem of jsonValueProblems(value)) {
        ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
      }
    }),
  })
  .strict();

/** An embedding in the file: exactly EMBEDDING_DIMENSION finite numbers (one clear sentence when not). */
const embeddingSchema = z.custom<number[]>().superRefine((value, ctx) => {
  const problem = embeddingProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const embedderIdSchema = z.string().min(1).max(L.embedderIdChars);

const memorySchema = z
  .object({
    id: idSchema,
    text: z.string().min(1).max(L.memoryTextChars),
    status: z.enum(MEMORY_STATUSES),
    origin: z.enum(MEMORY_ORIGINS),
    conversationId: idSchema.nullable(),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    embedding: embeddingSchema,
    embedderId: embedderIdSchema,
  })
  .strict();

const documentSchema = z
  .object({
    id: idSchema,
    name: z.string().max(L.documentNameChars),
    mime: z.string().max(L.mimeChars),
    bytes: z.number().int().min(0).max(L.maxMeasure),
    addedAt: timestampSchema,
    chunkCount: z.number().int().min(1).max(L.chunks),
    embedderId: embedderIdSchema,
  })
  .strict();

const chunkSchema = z
  .object({
    id: idSchema,
    documentId: idSchema,
    index: z.number().int().min(0).max(L.chunks),
    text: z.string().min(1).max(L.chunkTextChars),
    embedding: embeddingSchema,
  })
  .strict();

// Evidence: what an answer used (src/lib/governance/evidence.ts).
const claimMarkSchema = z.enum(['verified', 'disputed'] as const satisfies readonly Exclude<ClaimMark, null>[]);
/** Evidence kinds by format version ('experience' since version 3). */
const EVIDENCE_KINDS_V2 = ['memory', 'document', 'artifact'] as const satisfies readonly EvidenceKind[];
export const EVIDENCE_KINDS_V3 = [...EVIDENCE_KINDS_V2, 'experience'] as const satisfies readonly EvidenceKind[];
const evidenceRefFields = {
  id: idSchema,
  title: z.string().max(L.evidenceTitleChars),
  snippet: z.string().max(L.evidenceSnippetChars),
  score: z.number(),
  truncated: z.boolean(),
};
const memoryRefSchema = z
    .object({
      kind: z.literal('memory'),
      ...evidenceRefFields,
      provenance: z.object({ kind: z.literal('memory'), createdAt: timestampSchema, conversationId: idSchema.nullable() }).strict(),
    })
    .strict();
const documentRefSchema = z
    .object({
      kind: z.literal('document'),
      ...evidenceRefFields,
      provenance: z
        .object({
          kind: z.literal('document'),
          documentId: idSchema,
          documentName: z.string().max(L.documentNameChars),
          chunk: z.number().int().min(0).max(L.chunks),
        })
        .strict(),
    })
    .strict();
const artifactRefSchema = z
    .object({
      kind: z.literal('artifact'),
      ...evidenceRefFields,
      provenance: z
        .object({
          kind: z.literal('artifact'),
          artifactId: idSchema,
          author: idSchema,
          acceptance: z.number().min(0).max(1),
          endorsers: z.array(idSchema).max(L.endorsers),
        })
        .strict(),
    })
    .strict();
const experienceRefSchema = z
  .object({
    kind: z.literal('experience'),
    ...evidenceRefFields,
    provenance: z
      .object({
        kind: z.literal('experience'),
        domain: z.string().max(L.idChars),
        confidence: z.number().min(0).max(1),
        version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      })
      .strict(),
  })
  .strict();

const itemMarkFields = { id: idSchema, mark: claimMarkSchema, at: timestampSchema };

/** Version 2 evidence: no 'experience' items (read, never written). */
const evidenceSchemaV2 = z
  .object({
    messageId: idSchema,
    items: z.array(z.discriminatedUnion('kind', [memoryRefSchema, documentRefSchema, artifactRefSchema])).max(L.evidenceItems),
    createdAt: timestampSchema,
    mark: claimMarkSchema.nullable(),
    markedAt: timestampSchema.nullable(),
    itemMarks: z.array(z.object({ kind: z.enum(EVIDENCE_KINDS_V2), ...itemMarkFields }).strict()).max(L.evidenceItems),
  })
  .strict();

const evidenceSchema = z
  .object({
    messageId: idSchema,
    items: z
      .array(z.discriminatedUnion('kind', [memoryRefSchema, documentRefSchema, artifactRefSchema, experienceRefSchema]))
      .max(L.evidenceItems),
    createdAt: timestampSchema,
    mark: claimMarkSchema.nullable(),
    markedAt: timestampSchema.nullable(),
    itemMarks: z.array(z.object({ kind: z.enum(EVIDENCE_KINDS_V3), ...itemMarkFields }).strict()).max(L.evidenceItems),
  })
  .strict();

// The audit log (src/lib/governance/audit.ts).
export const AUDIT_OUTCOMES = ['done', 'failed', 'cancelled', 'refused'] as const satisfies readonly AuditOutcome[];
/** 'policy' (the app acting under a standing consent) since version 3; no earlier file holds it, and accepting it there costs nothing. */
export const AUDIT_ORIGINS = ['person', 'model', 'memory', 'document', 'peer', 'policy', 'unknown'] as const satisfies readonly AuditOrigin[];
export const DECISION_KINDS = ['run', 'confirm', 'refuse'] as const satisfies readonly DecisionKind[];
export const REFUSAL_REASONS = [
  'text-origin',
  'unknown-action',
  'not-available',
  'invalid-params',
  'denied',
] as const satisfies readonly RefusalReason[];

const auditSchema = z
  .object({
    id: idSchema,
    at: timestampSchema,
    actionId: z.string().max(L.idChars),
    risk: z.enum(RISK_LEVELS as readonly [AuditEntry['risk'] & string, ...(AuditEntry['risk'] & string)[]]).nullable(),
    origin: z.enum(AUDIT_ORIGINS),
    decision: z.enum(DECISION_KINDS),
    outcome: z.enum(AUDIT_OUTCOMES),
    summary: z.string().max(L.auditTextChars),
    reason: z.enum(REFUSAL_REASONS).optional(),
    error: z.string().max(L.auditTextChars).optional(),
  })
  .strict();

// The learning layer: its records are checked by its own strict schemas
// (episodeSchema, experienceSchema, learningLogEntrySchema, jobSchema), so the
// file accepts exactly what the repository would store. Sharing state has no
// domain schema; this is it (SharingRecord in src/services/learning-repository.ts).
const sharingSchema = z
  .object({
    experienceId: z.string().regex(EXPERIENCE_ID_PATTERN),
    experienceVersion: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    state: z.enum(SHARING_STATES),
    reason: z.string().max(L.sharingReasonChars),
    contentId: z.string().regex(CONTENT_ID_PATTERN).nullable(),
    /** The canonical JSON of the artifact. */
    artifact: z.string().max(MAX_ARTIFACT_BYTES).nullable(),
    bytes: z.number().int().min(0).max(MAX_ARTIFACT_BYTES).nullable(),
    updatedAt: timestampSchema,
  })
  .strict()
  .superRefine((record, ctx) => {
    if (record.artifact === null) return;
    // A stored artifact is what the outbox will send under `contentId`: it must
    // be the canonical form of a valid artifact, and that id and size must be its own.
    let parsed: ReturnType<typeof parseArtifact>;
    try {
      parsed = parseArtifact(record.artifact);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['artifact'], message: error instanceof Error ? truncate(error.message, 200) : 'not a valid artifact' });
      return;
    }
    if (record.contentId !== parsed.id) {
      ctx.addIssue({ code: 'custom', path: ['contentId'], message: `is not the content id of the stored artifact (that is '${parsed.id}')` });
    }
    if (record.bytes !== parsed.bytes.length) {
      ctx.addIssue({ code: 'custom', path: ['bytes'], message: `the stored artifact is ${parsed.bytes.length} bytes, found ${describe(record.bytes)}` });
    }
  });

/**
 * An episode: the learning layer's schema, plus the bounds parseVerifier puts
 * on a verifier (shape depth and size), which the schema alone leaves open.
 */
const fileEpisodeSchema = episodeSchema.superRefine((episode, ctx) => {
  if (episode.verifier === null) return;
  const checked = parseVerifier(episode.verifier);
  if (!checked.ok) ctx.addIssue({ code: 'custom', path: ['verifier'], message: truncate(checked.reason, 300) });
});

/** A sharing record as the database holds it (SharingRecord in src/services/learning-repository.ts; backup.ts checks they agree). */
export type StoredSharingRecord = z.output<typeof sharingSchema>;
/** Its state, from the learning layer's list. */
export type { SharingState };

const appSchema = z
  .object({
    name: z.string().min(1).max(L.appFieldChars),
    version: z.string().max(L.appFieldChars),
  })
  .strict();

const chatTables = {
  conversations: z.array(conversationSchema).max(L.conversations),
  messages: z.array(messageSchema).max(L.messages),
  settings: z.array(settingSchema).max(L.settings),
};

const knowledgeTables = {
  memories: z.array(memorySchema).max(L.memories),
  documents: z.array(documentSchema).max(L.documents),
  chunks: z.array(chunkSchema).max(L.chunks),
  audit: z.array(auditSchema).max(L.audit),
};

/** Version 1: chat only. Read, never written. */
const exportSchemaV1 = z
  .object({
    format: z.literal(EXPORT_FORMAT_NAME),
    version: z.literal(1),
    exportedAt: z.iso.datetime(),
    app: appSchema,
    data: z.object(chatTables).strict(),
  })
  .strict();

/** Version 2: chat, knowledge and governance. Read, never written. */
const exportSchemaV2 = z
  .object({
    format: z.literal(EXPORT_FORMAT_NAME),
    version: z.literal(2),
    exportedAt: z.iso.datetime(),
    app: appSchema,
    data: z
      .object({
        ...chatTables,
        memories: knowledgeTables.memories,
        documents: knowledgeTables.documents,
        chunks: knowledgeTables.chunks,
        evidence: z.array(evidenceSchemaV2).max(L.evidence),
        audit: knowledgeTables.audit,
      })
      .strict(),
  })
  .strict();

const exportSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT_NAME),
    version: z.literal(EXPORT_FORMAT_VERSION),
    exportedAt: z.iso.datetime(),
    app: appSchema,
    data: z
      .object({
        ...chatTables,
        memories: knowledgeTables.memories,
        documents: knowledgeTables.documents,
        chunks: knowledgeTables.chunks,
        evidence: z.array(evidenceSchema).max(L.evidence),
        audit: knowledgeTables.audit,
        episodes: z.array(fileEpisodeSchema).max(L.episodes),
        experiences: z.array(experienceSchema).max(L.experiences),
        learningLog: z.array(learningLogEntrySchema).max(L.learningLog),
        jobs: z.array(jobSchema).max(L.jobs),
        sharing: z.array(sharingSchema).max(L.sharing),
      })
      .strict(),
  })
  .strict();

export type H3lixExport = z.output<typeof exportSchema>;
export type H3lixExportV2 = z.output<typeof exportSchemaV2>;
export type H3lixExportV1 = z.output<typeof exportSchemaV1>;

/** A record as the file holds it: embeddings as lists of numbers. */
export type Exported<T> = { [K in keyof T]: T[K] extends Float32Array ? number[] : T[K] };

/** Everything, as the database holds it. */
export interface ExportData {
  conversations: Conversation[];
  messages: Message[];
  settings: SettingRecord[];
  memories: Memory[];
  documents: PrivateDocument[];
  chunks: DocumentChunk[];
  evidence: EvidenceRecord[];
  audit: AuditEntry[];
  episodes: Episode[];
  experiences: Experience[];
  learningLog: LearningLogEntry[];
  jobs: Job[];
  sharing: StoredSharingRecord[];
}

/** What buildExport takes: the chat tables, and any of the others (a table left out is written empty). */
export type ExportInput = Pick<ExportData, 'conversations' | 'messages' | 'settings'> & Partial<ExportData>;

// The schema and the domain types must describe the same records: when
// types.ts gains a field, these stop compiling until the format follows.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
/** The domain's readonly arrays as the plain arrays a parser returns. */
type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
export type ExportSchemaMatchesDomain = [
  AssertTrue<Same<z.output<typeof conversationSchema>, Conversation>>,
  AssertTrue<Same<z.output<typeof messageSchema>, Message>>,
  AssertTrue<Same<z.output<typeof statsSchema>, MessageStats>>,
  AssertTrue<Same<z.output<typeof settingSchema>, SettingRecord>>,
  AssertTrue<Same<z.output<typeof memorySchema>, Exported<Memory>>>,
  AssertTrue<Same<z.output<typeof documentSchema>, PrivateDocument>>,
  AssertTrue<Same<z.output<typeof chunkSchema>, Exported<DocumentChunk>>>,
  AssertTrue<Same<z.output<typeof evidenceSchema>, Mutable<EvidenceRecord>>>,
  AssertTrue<Same<z.output<typeof auditSchema>, AuditEntry>>,
  AssertTrue<Same<z.output<typeof episodeSchema>, Episode>>,
  AssertTrue<Same<z.output<typeof experienceSchema>, Experience>>,
  AssertTrue<Same<z.output<typeof learningLogEntrySchema>, LearningLogEntry>>,
  AssertTrue<Same<z.output<typeof jobSchema>, Job>>,
  AssertTrue<Same<H3lixExport['data'], { [K in keyof ExportData]: Exported<ExportData[K][number]>[] } & { evidence: Mutable<EvidenceRecord>[] }>>,
];

// ---------------------------------------------------------------------------
// Building

export interface ExportMeta {
  /** ms since epoch */
  exportedAt: number;
  app: { name: string; version: string };
}

/**
 * The export document for `data`. Copies each record field by field, so a
 * stray property on a stored record cannot leak into (or invalidate) the
 * file, and settles replies that were mid-stream (see `settleStreaming`).
 */
export function buildExport(data: ExportInput, meta: ExportMeta): H3lixExport {
  return {
    format: EXPORT_FORMAT_NAME,
    version: EXPORT_FORMAT_VERSION,
    exportedAt: new Date(meta.exportedAt).toISOString(),
    app: { name: meta.app.name, version: meta.app.version },
    data: {
      conversations: data.conversations.map(copyConversation),
      messages: data.messages.map((message) => settleStreaming(copyMessage(message))),
      settings: data.settings.map((setting) => ({ key: setting.key, value: setting.value })),
      memories: (data.memories ?? []).map(copyMemory),
      documents: (data.documents ?? []).map(copyDocument),
      chunks: (data.chunks ?? []).map(copyChunk),
      evidence: (data.evidence ?? []).map(copyEvidence),
      audit: (data.audit ?? []).map(copyAudit),
      episodes: (data.episodes ?? []).map(copyEpisode),
      experiences: (data.experiences ?? []).map(copyExperience),
      learningLog: (data.learningLog ?? []).map(copyLogEntry),
      jobs: (data.jobs ?? []).map((job) => settleJob(copyJob(job))),
      sharing: (data.sharing ?? []).map(copySharing),
    },
  };
}

/**
 * The records of a parsed file as the database holds them: embeddings back
 * to Float32Array (exactly the floats that were exported).
 */
export function toStoredData(data: H3lixExport['data']): ExportData {
  return {
    conversations: data.conversations,
    messages: data.messages,
    settings: data.settings,
    memories: data.memories.map((m) => ({ ...m, embedding: Float32Array.from(m.embedding) })),
    documents: data.documents,
    chunks: data.chunks.map((c) => ({ ...c, embedding: Float32Array.from(c.embedding) })),
    evidence: data.evidence,
    audit: data.audit,
    episodes: data.episodes,
    experiences: data.experiences,
    learningLog: data.learningLog,
    jobs: data.jobs,
    sharing: data.sharing,
  };
}

/**
 * The file's text: valid JSON with one record per line. People do open
 * their exports (and diff or grep them); full indentation would add about a
 * third to the size of a large history, and the size is limited.
 */
export function serializeExport(document: H3lixExport): string {
  const records = (items: readonly unknown[]) =>
    items.length === 0 ? '[]' : `[\n${items.map((item) => `      ${JSON.stringify(item)}`).join(',\n')}\n    ]`;
  return [
    '{',
    `  "format": ${JSON.stringify(document.format)},`,
    `  "version": ${JSON.stringify(document.version)},`,
    `  "exportedAt": ${JSON.stringify(document.exportedAt)},`,
    `  "app": ${JSON.stringify(document.app)},`,
    '  "data": {',
    `    "conversations": ${records(document.data.conversations)},`,
    `    "messages": ${records(document.data.messages)},`,
    `    "settings": ${records(document.data.settings)},`,
    `    "memories": ${records(document.data.memories)},`,
    `    "documents": ${records(document.data.documents)},`,
    `    "chunks": ${records(document.data.chunks)},`,
    `    "evidence": ${records(document.data.evidence)},`,
    `    "audit": ${records(document.data.audit)},`,
    `    "episodes": ${records(document.data.episodes)},`,
    `    "experiences": ${records(document.data.experiences)},`,
    `    "learningLog": ${records(document.data.learningLog)},`,
    `    "jobs": ${records(document.data.jobs)},`,
    `    "sharing": ${records(document.data.sharing)}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * 'streaming' only means something to the tab that is writing the reply. In
 * a file (or after import) nobody will finish it, so it is 'interrupted',
 * exactly as startup recovery would mark it.
 */
export function settleStreaming(message: Message): Message {
  return message.status === 'streaming' ? { ...message, status: 'interrupted' } : message;
}

/**
 * 'running' only means something to the tab that runs the job. In a file (or
 * after import) that tab is gone, so the job is back in the queue and the cut
 * off try does not count, exactly as startup recovery would put it
 * (requeueJob in src/lib/jobs/job.ts; its time is left as it was).
 */
export function settleJob(job: Job): Job {
  return job.state === 'running' ? requeueJob(job, job.updatedAt) : job;
}

function copyConversation(c: Conversation): Conversation {
  return { id: c.id, title: c.title, systemPrompt: c.systemPrompt, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

function copyMessage(m: Message): Message {
  return {
    id: m.id,
    conversationId: m.conversationId,
    role: m.role,
    content: m.content,
    createdAt: m.createdAt,
    status: m.status,
    modelId: m.modelId ?? null,
    stats: m.stats
      ? {
          tokens: m.stats.tokens,
          tokensPerSecond: m.stats.tokensPerSecond,
          ttftMs: m.stats.ttftMs,
          totalMs: m.stats.totalMs,
        }
      : null,
    error: m.error ?? null,
  };
}

function toJsonVector(vector: Float32Array): number[] {
  return Array.from(vector, shortestFloat32);
}

function copyMemory(m: Memory): Exported<Memory> {
  return {
    id: m.id,
    text: m.text,
    status: m.status,
    origin: m.origin,
    conversationId: m.conversationId ?? null,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    embedding: toJsonVector(m.embedding),
    embedderId: m.embedderId,
  };
}

function copyDocument(d: PrivateDocument): PrivateDocument {
  return { id: d.id, name: d.name, mime: d.mime, bytes: d.bytes, addedAt: d.addedAt, chunkCount: d.chunkCount, embedderId: d.embedderId };
}

function copyChunk(c: DocumentChunk): Exported<DocumentChunk> {
  return { id: c.id, documentId: c.documentId, index: c.index, text: c.text, embedding: toJsonVector(c.embedding) };
}

function copyEvidence(e: EvidenceRecord): Mutable<EvidenceRecord> {
  return {
    messageId: e.messageId,
    items: e.items.map((item) => {
      const fields = { id: item.id, title: item.title, snippet: item.snippet, score: item.score, truncated: item.truncated };
      switch (item.kind) {
        case 'memory': {
          const p = item.provenance;
          return { kind: item.kind, ...fields, provenance: { kind: p.kind, createdAt: p.createdAt, conversationId: p.conversationId } };
        }
        case 'document': {
          const p = item.provenance;
          return {
            kind: item.kind,
            ...fields,
            provenance: { kind: p.kind, documentId: p.documentId, documentName: p.documentName, chunk: p.chunk },
          };
        }
        case 'artifact': {
          const p = item.provenance;
          return {
            kind: item.kind,
            ...fields,
            provenance: { kind: p.kind, artifactId: p.artifactId, author: p.author, acceptance: p.acceptance, endorsers: [...p.endorsers] },
          };
        }
        case 'experience': {
          const p = item.provenance;
          return { kind: item.kind, ...fields, provenance: { kind: p.kind, domain: p.domain, confidence: p.confidence, version: p.version } };
        }
      }
    }),
    createdAt: e.createdAt,
    mark: e.mark,
    markedAt: e.markedAt,
    itemMarks: e.itemMarks.map((m) => ({ kind: m.kind, id: m.id, mark: m.mark, at: m.at })),
  };
}

function copyEpisode(e: Episode): Episode {
  return {
    id: e.id,
    conversationId: e.conversationId,
    messageId: e.messageId,
    task: e.task,
    answer: e.answer,
    domain: e.domain,
    feedback: e.feedback,
    correction: e.correction,
    regenerations: e.regenerations,
    // The verifier's own schema (src/lib/learning/verifiers.ts) checks it on validation.
    verifier: e.verifier,
    usedExperienceIds: [...e.usedExperienceIds],
    state: e.state,
    stateReason: e.stateReason,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function copyExperience(e: Experience): Experience {
  return {
    id: e.id,
    condition: e.condition,
    strategy: e.strategy,
    text: e.text,
    domain: e.domain,
    confidence: e.confidence,
    usageCount: e.usageCount,
    successCount: e.successCount,
    failureCount: e.failureCount,
    episodeIds: [...e.episodeIds],
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    version: e.version,
  };
}

function copyLogEntry(e: LearningLogEntry): LearningLogEntry {
  return {
    id: e.id,
    at: e.at,
    kind: e.kind,
    source: e.source,
    experienceId: e.experienceId,
    episodeId: e.episodeId,
    before: e.before === null ? null : copyExperience(e.before),
    after: e.after === null ? null : copyExperience(e.after),
    reason: e.reason,
    detail: e.detail,
    groupSize: e.groupSize,
    rewardSpread: e.rewardSpread,
  };
}

function copyJob(j: Job): Job {
  return {
    id: j.id,
    jobClass: j.jobClass,
    subject: j.subject,
    state: j.state,
    attempts: j.attempts,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    notBefore: j.notBefore,
    deadline: j.deadline,
    lastError: j.lastError,
    result: j.result,
  };
}

function copySharing(s: StoredSharingRecord): StoredSharingRecord {
  return {
    experienceId: s.experienceId,
    experienceVersion: s.experienceVersion,
    state: s.state,
    reason: s.reason,
    contentId: s.contentId,
    artifact: s.artifact,
    bytes: s.bytes,
    updatedAt: s.updatedAt,
  };
}

function copyAudit(a: AuditEntry): AuditEntry {
  const entry: AuditEntry = {
    id: a.id,
    at: a.at,
    actionId: a.actionId,
    risk: a.risk,
    origin: a.origin,
    decision: a.decision,
    outcome: a.outcome,
    summary: a.summary,
  };
  // Absent rather than undefined, so the file (and a round trip) has no trace of them.
  if (a.reason !== undefined) entry.reason = a.reason;
  if (a.error !== undefined) entry.error = a.error;
  return entry;
}

// ---------------------------------------------------------------------------
// Parsing

export type ParseExportResult = { ok: true; export: H3lixExport } | { ok: false; errors: string[] };

/**
 * The size check alone, for callers that know a file's size before reading
 * it (File.size): refuse a 2 GB file without loading it into memory.
 */
export function checkExportFileSize(bytes: number): string | null {
  if (bytes <= L.fileBytes) return null;
  const size = formatBytes(bytes);
  const limit = formatBytes(L.fileBytes);
  // Just over the limit both round to the same text; then say it exactly.
  if (size === limit) {
    return `file is ${bytes.toLocaleString('en-US')} bytes; the limit is ${L.fileBytes.toLocaleString('en-US')} bytes`;
  }
  return `file is ${size}; the limit is ${limit}`;
}

/** Validates an export file's text. Never throws. */
export function parseExport(text: string): ParseExportResult {
  const sizeProblem = checkExportFileSize(utf8ByteLength(text));
  if (sizeProblem) return fail([sizeProblem]);
  if (text.trim() === '') return fail(['file is empty']);

  let json: unknown;
  try {
    // JSON.parse defines "__proto__" as an ordinary own property, so parsing
    // itself cannot pollute a prototype; validateExport refuses such keys.
    json = JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError) return fail(['file is nested too deeply to read']);
    const detail = error instanceof Error ? ` (${truncate(error.message, 120)})` : '';
    return fail([`file is not JSON${detail}`]);
  }
  return validateExport(json);
}

/** Validates an already-parsed export document (also used to check our own exports). Never throws. */
export function validateExport(json: unknown): ParseExportResult {
  const structureProblems = findForbiddenKeys(json);
  if (structureProblems.length > 0) return fail(structureProblems);

  const envelopeProblem = checkEnvelope(json);
  if (envelopeProblem) return fail([envelopeProblem]);

  // checkEnvelope has made sure the version is one we read.
  let document: H3lixExport;
  const version = (json as Record<string, unknown>)['version'];
  if (version === 1) {
    const parsed = exportSchemaV1.safeParse(json, { reportInput: true });
    if (!parsed.success) return fail(parsed.error.issues.map(formatIssue));
    document = liftV1(parsed.data);
  } else if (version === 2) {
    const parsed = exportSchemaV2.safeParse(json, { reportInput: true });
    if (!parsed.success) return fail(parsed.error.issues.map(formatIssue));
    document = liftV2(parsed.data);
  } else {
    const parsed = exportSchema.safeParse(json, { reportInput: true });
    if (!parsed.success) return fail(parsed.error.issues.map(formatIssue));
    document = parsed.data;
  }

  const referenceProblems = findReferenceProblems(document.data);
  if (referenceProblems.length > 0) return fail(referenceProblems);

  return {
    ok: true,
    export: {
      ...document,
      data: { ...document.data, messages: document.data.messages.map(settleStreaming), jobs: document.data.jobs.map(settleJob) },
    },
  };
}

/** The learning layer's tables, empty: what a file older than version 3 could not hold. */
function emptyLearningTables(): Pick<H3lixExport['data'], 'episodes' | 'experiences' | 'learningLog' | 'jobs' | 'sharing'> {
  return { episodes: [], experiences: [], learningLog: [], jobs: [], sharing: [] };
}

/** A version 1 file as version 3: the same chat data, and none of what version 1 could not hold. */
export function liftV1(document: H3lixExportV1): H3lixExport {
  return {
    ...document,
    version: EXPORT_FORMAT_VERSION,
    data: { ...document.data, memories: [], documents: [], chunks: [], evidence: [], audit: [], ...emptyLearningTables() },
  };
}

/** A version 2 file as version 3: the same data, and none of the learning layer's tables. */
export function liftV2(document: H3lixExportV2): H3lixExport {
  return { ...document, version: EXPORT_FORMAT_VERSION, data: { ...document.data, ...emptyLearningTables() } };
}

function fail(problems: string[]): ParseExportResult {
  const max = L.reportedProblems;
  if (problems.length <= max) return { ok: false, errors: problems };
  return { ok: false, errors: [...problems.slice(0, max), `…and ${problems.length - max} more problems`] };
}

/** UTF-8 size without encoding the whole string into a second buffer. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3; // includes lone surrogates, written as U+FFFD
  }
  return bytes;
}

/**
 * Walks the whole parsed tree (iteratively: a hostile file may nest deeply)
 * and refuses prototype-related keys anywhere, including inside setting
 * values that the schema otherwise lets through as free-form JSON.
 */
function findForbiddenKeys(root: unknown): string[] {
  const problems: string[] = [];
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0 && problems.length <= L.reportedProblems) {
    const { value, path } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (path.length > MAX_FILE_DEPTH) {
      problems.push(`${formatPath(path)}: nested too deeply (the limit is ${MAX_FILE_DEPTH} levels)`);
      continue;
    }
    // Only objects and lists are walked into: a file is mostly numbers (embeddings),
    // and a path per number would cost more than the whole parse.
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const item: unknown = value[i];
        if (typeof item === 'object' && item !== null) stack.push({ value: item, path: [...path, i] });
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        problems.push(`${formatPath(path)}: the key '${key}' is not allowed`);
        continue;
      }
      const field: unknown = (value as Record<string, unknown>)[key];
      if (typeof field === 'object' && field !== null) stack.push({ value: field, path: [...path, key] });
    }
  }
  return problems;
}

/** Format and version first, so a wrong or future file gets one clear sentence instead of a hundred field errors. */
function checkEnvelope(json: unknown): string | null {
  if (!isPlainObject(json)) {
    return `file is not an H3LIX export (expected a JSON object at the top, found ${describe(json)})`;
  }
  if (json['format'] !== EXPORT_FORMAT_NAME) {
    return `file is not an H3LIX export (format: expected '${EXPORT_FORMAT_NAME}', found ${describe(json['format'])})`;
  }
  const version = json['version'];
  if (typeof version === 'number' && Number.isInteger(version) && version > EXPORT_FORMAT_VERSION) {
    return (
      `file was made by a newer version of H3LIX (export format version ${version}); ` +
      `this version reads versions up to ${EXPORT_FORMAT_VERSION}. Update H3LIX, then import it again.`
    );
  }
  if (!(READABLE_FORMAT_VERSIONS as readonly unknown[]).includes(version)) {
    return `version: expected ${listAlternatives(READABLE_FORMAT_VERSIONS.map(String))}, found ${describe(version)}`;
  }
  return null;
}

function findReferenceProblems(data: H3lixExport['data']): string[] {
  const problems: string[] = [];
  const conversationIds = new Set<string>();
  data.conversations.forEach((conversation, i) => {
    if (conversationIds.has(conversation.id)) {
      problems.push(`conversations[${i}].id: ${quote(conversation.id)} appears more than once`);
    }
    conversationIds.add(conversation.id);
  });
  const messageIds = new Set<string>();
  data.messages.forEach((message, i) => {
    if (messageIds.has(message.id)) problems.push(`messages[${i}].id: ${quote(message.id)} appears more than once`);
    messageIds.add(message.id);
    if (!conversationIds.has(message.conversationId)) {
      problems.push(`messages[${i}].conversationId: no conversation with id ${quote(message.conversationId)} in the file`);
    }
  });
  const settingKeys = new Set<string>();
  data.settings.forEach((setting, i) => {
    if (settingKeys.has(setting.key)) problems.push(`settings[${i}].key: ${quote(setting.key)} appears more than once`);
    settingKeys.add(setting.key);
  });
  uniqueIds(data.memories, 'memories', (m) => m.id, problems);
  uniqueIds(data.audit, 'audit', (a) => a.id, problems);

  // A document's chunks are all in the file, numbered 0..chunkCount-1, each once.
  const documents = new Map<string, { chunkCount: number; indexes: Set<number> }>();
  data.documents.forEach((document, i) => {
    if (documents.has(document.id)) problems.push(`documents[${i}].id: ${quote(document.id)} appears more than once`);
    else documents.set(document.id, { chunkCount: document.chunkCount, indexes: new Set() });
  });
  uniqueIds(data.chunks, 'chunks', (c) => c.id, problems);
  data.chunks.forEach((chunk, i) => {
    const document = documents.get(chunk.documentId);
    if (!document) {
      problems.push(`chunks[${i}].documentId: no document with id ${quote(chunk.documentId)} in the file`);
      return;
    }
    if (chunk.index >= document.chunkCount) {
      problems.push(`chunks[${i}].index: ${chunk.index} is beyond its document's ${document.chunkCount} chunks`);
    } else if (document.indexes.has(chunk.index)) {
      problems.push(`chunks[${i}].index: chunk ${chunk.index} of document ${quote(chunk.documentId)} appears more than once`);
    }
    document.indexes.add(chunk.index);
  });
  data.documents.forEach((document, i) => {
    const found = documents.get(document.id)?.indexes.size ?? 0;
    if (found < document.chunkCount) {
      problems.push(`documents[${i}].chunkCount: ${document.chunkCount} chunks, but the file holds ${found} of them`);
    }
  });

  uniqueIds(data.episodes, 'episodes', (e) => e.id, problems);
  uniqueIds(data.learningLog, 'learningLog', (e) => e.id, problems);
  uniqueIds(data.jobs, 'jobs', (j) => j.id, problems);

  // One live job per class and subject: the queue relies on it (a rollout
  // runs once per episode).
  const liveJobs = new Map<string, number>();
  data.jobs.forEach((job, i) => {
    if (job.state !== 'queued' && job.state !== 'running') return;
    const key = JSON.stringify([job.jobClass, job.subject]);
    const first = liveJobs.get(key);
    if (first === undefined) liveJobs.set(key, i);
    else problems.push(`jobs[${i}]: a second unfinished '${job.jobClass}' job for ${quote(job.subject)} (jobs[${first}] is the first)`);
  });

  // Sharing state belongs to an experience in the file, about a version it has had.
  const experienceVersions = new Map<string, number>();
  data.experiences.forEach((experience, i) => {
    if (experienceVersions.has(experience.id)) problems.push(`experiences[${i}].id: ${quote(experience.id)} appears more than once`);
    else experienceVersions.set(experience.id, experience.version);
  });
  const shared = new Set<string>();
  data.sharing.forEach((record, i) => {
    if (shared.has(record.experienceId)) {
      problems.push(`sharing[${i}].experienceId: ${quote(record.experienceId)} appears more than once`);
    }
    shared.add(record.experienceId);
    const version = experienceVersions.get(record.experienceId);
    if (version === undefined) {
      problems.push(`sharing[${i}].experienceId: no experience with id ${quote(record.experienceId)} in the file`);
    } else if (record.experienceVersion > version) {
      problems.push(
        `sharing[${i}].experienceVersion: ${record.experienceVersion} is newer than experience ${quote(record.experienceId)} (version ${version})`,
      );
    }
  });

  const evidenceFor = new Set<string>();
  data.evidence.forEach((record, i) => {
    if (evidenceFor.has(record.messageId)) problems.push(`evidence[${i}].messageId: ${quote(record.messageId)} appears more than once`);
    evidenceFor.add(record.messageId);
    if (!messageIds.has(record.messageId)) {
      problems.push(`evidence[${i}].messageId: no message with id ${quote(record.messageId)} in the file`);
    }
  });
  return problems;
}

function uniqueIds<T>(records: readonly T[], table: string, idOf: (record: T) => string, problems: string[]): void {
  const seen = new Set<string>();
  records.forEach((record, i) => {
    const id = idOf(record);
    if (seen.has(id)) problems.push(`${table}[${i}].id: ${quote(id)} appears more than once`);
    seen.add(id);
  });
}

/** Why `value` is not an embedding the file may hold, or null. */
function embeddingProblem(value: unknown): string | null {
  const expected = `expected a list of ${EMBEDDING_DIMENSION} finite numbers`;
  if (!Array.isArray(value)) return `${expected}, found ${describe(value)}`;
  if (value.length !== EMBEDDING_DIMENSION) return `${expected}, found ${value.length}`;
  for (let i = 0; i < value.length; i++) {
    const x: unknown = value[i];
    // float32 is what is stored: a finite double beyond its range would become Infinity.
    if (typeof x !== 'number' || !Number.isFinite(Math.fround(x))) return `${expected}; entry ${i} is ${describe(x)}`;
  }
  return null;
}

interface ValueProblem {
  path: PathSegment[];
  message: string;
}

/** A setting value must be plain JSON of bounded size and depth. */
function jsonValueProblems(root: unknown): ValueProblem[] {
  if (root === undefined) return [{ path: [], message: 'missing' }];
  const problems: ValueProblem[] = [];
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0 && problems.length < 5) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) problems.push({ path, message: 'expected a finite number' });
      continue;
    }
    if (typeof value === 'string') {
      if (value.length > L.settingStringChars) {
        problems.push({ path, message: tooLong(value.length, L.settingStringChars) });
      }
      continue;
    }
    if (path.length >= L.settingDepth) {
      problems.push({ path, message: `nested too deeply (the limit is ${L.settingDepth} levels)` });
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length > L.settingEntries) {
        problems.push({ path, message: `too many entries (${value.length}; the limit is ${L.settingEntries})` });
        continue;
      }
      value.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
      continue;
    }
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      if (keys.length > L.settingEntries) {
        problems.push({ path, message: `too many entries (${keys.length}; the limit is ${L.settingEntries})` });
        continue;
      }
      for (const key of keys) {
        if (key.length > L.settingKeyChars) problems.push({ path, message: `a key is ${tooLong(key.length, L.settingKeyChars)}` });
        else stack.push({ value: value[key], path: [...path, key] });
      }
      continue;
    }
    problems.push({ path, message: `expected a JSON value, found ${describe(value)}` });
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Messages for people

type PathSegment = string | number;

/** ['data', 'messages', 3, 'role'] -> "messages[3].role" (records live under data; saying so adds nothing). */
function formatPath(path: readonly PropertyKey[]): string {
  const segments = path[0] === 'data' && path.length > 1 ? path.slice(1) : path;
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$]*$/.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${quote(String(segment))}]`;
  }
  return text || 'file';
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  // JSON has no undefined: an undefined input is a field that is not there.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    return `${where}: missing`;
  }
  switch (issue.code) {
    case 'invalid_type':
      return `${where}: expected ${expectedName(issue.expected)}, found ${describe(issue.input)}`;
    case 'invalid_value':
      return `${where}: expected ${listAlternatives(issue.values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))))}, found ${describe(issue.input)}`;
    case 'unrecognized_keys': {
      const keys = issue.keys.map(quote);
      return `${where}: unknown ${keys.length === 1 ? 'field' : 'fields'} ${keys.join(', ')}`;
    }
    case 'too_big':
      if (issue.origin === 'string' && typeof issue.input === 'string') {
        return `${where}: ${tooLong(issue.input.length, Number(issue.maximum))}`;
      }
      if (issue.origin === 'array' && Array.isArray(issue.input)) {
        return `${where}: too many entries (${issue.input.length}; the limit is ${issue.maximum})`;
      }
      return `${where}: must be at most ${issue.maximum}, found ${describe(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'string') return `${where}: must not be empty`;
      return `${where}: must be at least ${issue.minimum}, found ${describe(issue.input)}`;
    case 'invalid_format':
      if (issue.format === 'datetime') return `${where}: expected a date and time like '2026-11-22T10:00:00.000Z'`;
      if (issue.format === 'regex' && 'pattern' in issue) {
        const found = describe(issue.input);
        if (issue.pattern === String(EXPERIENCE_ID_PATTERN)) return `${where}: expected an id of 1 to 64 letters, digits, _ or -, found ${found}`;
        if (issue.pattern === String(CONTENT_ID_PATTERN)) return `${where}: expected a content id ('h3x1-' and 52 letters and digits), found ${found}`;
        return `${where}: not in the expected form, found ${found}`;
      }
      return `${where}: not a valid ${issue.format}`;
    case 'custom':
      return `${where}: ${issue.message}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

function expectedName(expected: string): string {
  switch (expected) {
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `text of ${value.length} characters` : quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : `${value} (not a finite number)`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function listAlternatives(options: string[]): string {
  if (options.length <= 1) return options.join('');
  return `${options.slice(0, -1).join(', ')} or ${options[options.length - 1]}`;
}

function tooLong(length: number, limit: number): string {
  return `too long (${length.toLocaleString('en-US')} characters; the limit is ${limit.toLocaleString('en-US')})`;
}

/** A value from the file, shortened and with control characters made visible. */
function quote(value: string): string {
  const short = truncate(value, 40);
  return `'${short.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
