/**
 * The export file format on plain data: building, parsing back (version 3,
 * and version 1 files lifted to it; version 2 files and the learning tables
 * are in export-format-v3.test.ts), and the sentences a person reads when a
 * file is refused. (Hostile files against a real database, with "nothing
 * changed" checks, are in backup-import.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import {
  EXPORT_FORMAT_NAME,
  EXPORT_FORMAT_VERSION,
  EXPORT_LIMITS,
  buildExport,
  checkExportFileSize,
  parseExport,
  serializeExport,
  liftV1,
  settleStreaming,
  toStoredData,
  utf8ByteLength,
  validateExport,
  type ExportData,
} from '../../src/lib/data/export-format';
import type { Message } from '../../src/lib/chat/types';
import { EMBEDDING_DIMENSION } from '../../src/lib/memory/types';
import { vector } from './memory-vectors';

const META = { exportedAt: Date.UTC(2026, 10, 22, 10, 30), app: { name: 'H3LIX', version: '0.1.0' } };

function sampleData(): ExportData {
  return {
    conversations: [{ id: 'c1', title: 'Plans', systemPrompt: '', createdAt: 1, updatedAt: 5 }],
    messages: [
      {
        id: 'm1',
        conversationId: 'c1',
        role: 'user',
        content: 'Hi <b>there</b> **bold**',
        createdAt: 2,
        status: 'complete',
        modelId: null,
        stats: null,
        error: null,
      },
      {
        id: 'm2',
        conversationId: 'c1',
        role: 'assistant',
        content: 'Hel',
        createdAt: 3,
        status: 'streaming',
        modelId: 'qwen',
        stats: { tokens: 1, tokensPerSecond: 2.5, ttftMs: 100, totalMs: 400 },
        error: null,
      },
    ],
    settings: [{ key: 'modelId', value: 'qwen' }, { key: 'future', value: { nested: [1, 'two', null, true] } }],
    memories: [
      {
        id: 'mem1',
        text: 'I am allergic to peanuts',
        status: 'accepted',
        origin: 'person',
        conversationId: 'c1',
        createdAt: 4,
        updatedAt: 4,
        embedding: vector(1),
        embedderId: 'fixtures/lexical-minilm-384',
      },
      {
        id: 'mem2',
        text: 'My name is Ana',
        status: 'proposed',
        origin: 'proposal',
        conversationId: null,
        createdAt: 5,
        updatedAt: 6,
        embedding: vector(2),
        embedderId: 'Xenova/all-MiniLM-L6-v2',
      },
    ],
    documents: [{ id: 'd1', name: 'notes.pdf', mime: 'application/pdf', bytes: 700, addedAt: 7, chunkCount: 2, embedderId: 'fixtures/lexical-minilm-384' }],
    chunks: [
      { id: 'k0', documentId: 'd1', index: 0, text: 'The blue heron nests near the old mill.', embedding: vector(3) },
      { id: 'k1', documentId: 'd1', index: 1, text: 'Quarterly budgets and a red kite.', embedding: vector(4) },
    ],
    evidence: [
      {
        messageId: 'm2',
        items: [
          {
            kind: 'memory',
            id: 'mem1',
            title: 'I am allergic to peanuts',
            snippet: 'I am allergic to peanuts',
            score: 0.71,
            truncated: false,
            provenance: { kind: 'memory', createdAt: 4, conversationId: 'c1' },
          },
          {
            kind: 'document',
            id: 'k1',
            title: 'notes.pdf',
            snippet: 'Quarterly budgets…',
            score: 0.42,
            truncated: true,
            provenance: { kind: 'document', documentId: 'd1', documentName: 'notes.pdf', chunk: 1 },
          },
          {
            kind: 'artifact',
            id: 'a1',
            title: 'Peer tip',
            snippet: 'Herons nest in colonies.',
            score: 0.33,
            truncated: false,
            provenance: { kind: 'artifact', artifactId: 'a1', author: 'peer-1', acceptance: 0.8, endorsers: ['peer-2', 'peer-3'] },
          },
        ],
        createdAt: 8,
        mark: 'verified',
        markedAt: 9,
        itemMarks: [{ kind: 'memory', id: 'mem1', mark: 'disputed', at: 9 }],
      },
    ],
    audit: [
      {
        id: 'au1',
        at: 10,
        actionId: 'calculate',
        risk: 'local-read',
        origin: 'person',
        decision: 'run',
        outcome: 'done',
        summary: 'Calculate {expression: "2+2"} — done: = 4',
      },
      {
        id: 'au2',
        at: 11,
        actionId: 'share-artifact',
        risk: 'outward',
        origin: 'model',
        decision: 'refuse',
        outcome: 'refused',
        summary: 'Share artifact {} — refused: text cannot start actions',
        reason: 'text-origin',
      },
    ],
    // The learning layer's tables: export-format-v3.test.ts.
    episodes: [],
    experiences: [],
    learningLog: [],
    jobs: [],
    sharing: [],
  };
}

/** sampleData as version 1 held it. */
function sampleV1(): Record<string, unknown> {
  const { conversations, messages, settings } = sampleData();
  return {
    format: EXPORT_FORMAT_NAME,
    version: 1,
    exportedAt: '2026-11-22T10:30:00.000Z',
    app: { name: 'H3LIX', version: '0.1.0' },
    data: { conversations, messages: messages.map(settleStreaming), settings },
  };
}

function errorsOf(text: string): string[] {
  const result = parseExport(text);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

describe('buildExport', () => {
  it('wraps the data with format, version, time and app', () => {
    const doc = buildExport(sampleData(), META);
    expect(doc.format).toBe(EXPORT_FORMAT_NAME);
    expect(doc.version).toBe(EXPORT_FORMAT_VERSION);
    expect(doc.exportedAt).toBe('2026-11-22T10:30:00.000Z');
    expect(doc.app).toEqual({ name: 'H3LIX', version: '0.1.0' });
    expect(doc.data.settings).toEqual(sampleData().settings);
  });

  it('writes a reply that was mid-stream as interrupted', () => {
    const doc = buildExport(sampleData(), META);
    expect(doc.data.messages.map((m) => m.status)).toEqual(['complete', 'interrupted']);
    expect(doc.data.messages[1]?.content).toBe('Hel');
  });

  it('copies known fields only, so stray properties neither leak nor break the file', () => {
    const data = sampleData();
    (data.messages[0] as Message & { draftHtml?: string }).draftHtml = '<p>x</p>';
    const doc = buildExport(data, META);
    expect(Object.keys(doc.data.messages[0]!)).not.toContain('draftHtml');
    expect(validateExport(doc).ok).toBe(true);
  });

  it('serializes to JSON equal to the document, one record per line', () => {
    const doc = buildExport(sampleData(), META);
    const text = serializeExport(doc);
    expect(JSON.parse(text)).toEqual(doc);
    const lines = text.split('\n');
    for (const m of doc.data.messages) expect(lines).toContain(`      ${JSON.stringify(m)},`.replace(/,$/, m === doc.data.messages.at(-1) ? '' : ','));
    for (const c of doc.data.chunks) expect(lines.some((line) => line.startsWith(`      ${JSON.stringify(c)}`))).toBe(true);
    const empty = buildExport({ conversations: [], messages: [], settings: [] }, META);
    expect(JSON.parse(serializeExport(empty))).toEqual(empty);
    expect(empty.data).toMatchObject({ memories: [], documents: [], chunks: [], evidence: [], audit: [], episodes: [], experiences: [], learningLog: [], jobs: [], sharing: [] });
  });

  it('parses back to the same data, embeddings to exactly the same floats', () => {
    const text = serializeExport(buildExport(sampleData(), META));
    const result = parseExport(text);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.export.version).toBe(3);
    const stored = toStoredData(result.export.data);
    expect(stored).toEqual({ ...sampleData(), messages: sampleData().messages.map(settleStreaming) });
    expect(stored.memories[0]!.embedding).toBeInstanceOf(Float32Array);
    expect(Array.from(stored.chunks[1]!.embedding)).toEqual(Array.from(vector(4)));
    expect(result.export.exportedAt).toBe('2026-11-22T10:30:00.000Z');
  });

  it('writes each embedding as 384 short numbers (at most 9 significant digits)', () => {
    const doc = buildExport(sampleData(), META);
    const written = doc.data.memories[0]!.embedding;
    expect(written).toHaveLength(EMBEDDING_DIMENSION);
    for (const x of written) expect(String(x).replace(/^-?0?\.?0*|e.*$|\./g, '').length).toBeLessThanOrEqual(9);
    // Shorter than the default double rendering of the same floats.
    expect(JSON.stringify(written).length).toBeLessThan(JSON.stringify(Array.from(vector(1))).length * 0.75);
  });

  it('leaves out absent optional audit fields rather than writing undefined', () => {
    const doc = buildExport(sampleData(), META);
    expect(Object.keys(doc.data.audit[0]!)).not.toContain('reason');
    expect(doc.data.audit[1]!.reason).toBe('text-origin');
  });
});

describe('version 1 files', () => {
  it('still import: the chat data, and empty new tables', () => {
    const result = parseExport(JSON.stringify(sampleV1()));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.export.version).toBe(EXPORT_FORMAT_VERSION);
    const { conversations, messages, settings } = sampleData();
    expect(result.export.data).toEqual({
      conversations,
      messages: messages.map(settleStreaming),
      settings,
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
    });
    expect(result.export.app).toEqual({ name: 'H3LIX', version: '0.1.0' });
  });

  it('are checked by their own schema: version 2 tables are unknown there', () => {
    const v1 = sampleV1() as { data: Record<string, unknown> };
    v1.data['memories'] = [];
    expect(errorsOf(JSON.stringify(v1))).toEqual(["data: unknown field 'memories'"]);
  });

  it('liftV1 adds the newer tables and nothing else', () => {
    const lifted = liftV1({ format: 'h3lix-export', version: 1, exportedAt: 'x', app: { name: 'a', version: 'b' }, data: { conversations: [], messages: [], settings: [] } });
    expect(lifted).toEqual({
      format: 'h3lix-export',
      version: 3,
      exportedAt: 'x',
      app: { name: 'a', version: 'b' },
      data: {
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
      },
    });
  });
});

describe('parseExport refusals read like sentences', () => {
  const valid = () => JSON.parse(serializeExport(buildExport(sampleData(), META))) as Record<string, any>;

  it('not JSON, empty', () => {
    expect(errorsOf('hello')[0]).toMatch(/^file is not JSON/);
    expect(errorsOf('  \n')).toEqual(['file is empty']);
  });

  it('a wrong field names the field and the allowed values', () => {
    const doc = valid();
    doc.data.messages[1].role = 'system';
    expect(errorsOf(JSON.stringify(doc))).toEqual(["messages[1].role: expected 'user' or 'assistant', found 'system'"]);
  });

  it('missing, unknown, mistyped fields', () => {
    const doc = valid();
    delete doc.data.messages[0].content;
    doc.data.conversations[0].color = 'red';
    doc.data.messages[1].createdAt = 'yesterday';
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      "conversations[0]: unknown field 'color'",
      'messages[0].content: missing',
      "messages[1].createdAt: expected a number, found 'yesterday'",
    ]);
  });

  it('numbers that are not finite (JSON.parse turns 1e999 into Infinity)', () => {
    const text = JSON.stringify(valid()).replace('"ttftMs":100', '"ttftMs":1e999');
    expect(errorsOf(text)).toEqual(['messages[1].stats.ttftMs: expected a number, found Infinity (not a finite number)']);
  });

  it('too long strings say how long and the limit', () => {
    const doc = valid();
    doc.data.conversations[0].title = 't'.repeat(EXPORT_LIMITS.titleChars + 5);
    expect(errorsOf(JSON.stringify(doc))).toEqual(['conversations[0].title: too long (1,005 characters; the limit is 1,000)']);
  });

  it('a size over the limit is refused before parsing', () => {
    expect(checkExportFileSize(80_000_000)).toBeNull();
    expect(checkExportFileSize(120_000_000)).toBe('file is 120 MB; the limit is 100 MB');
    expect(checkExportFileSize(EXPORT_LIMITS.fileBytes + 1)).toBe(
      'file is 100,000,001 bytes; the limit is 100,000,000 bytes',
    );
  });

  it('lists at most a bounded number of problems', () => {
    const doc = valid();
    doc.data.messages = Array.from({ length: 200 }, (_, i) => ({ ...doc.data.messages[0], id: `m${i}`, role: 'robot' }));
    const errors = errorsOf(JSON.stringify(doc));
    expect(errors).toHaveLength(EXPORT_LIMITS.reportedProblems + 1);
    expect(errors[errors.length - 1]).toBe('…and 150 more problems');
  });

  it('quotes values from the file short and with control characters visible', () => {
    const doc = valid();
    doc.data.messages[0].conversationId = 'evil\u0007\nid';
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      "messages[0].conversationId: no conversation with id 'evil\\u0007\\u000aid' in the file",
    ]);
  });
});

describe('knowledge and governance records (since version 2) are checked strictly', () => {
  const valid = () => JSON.parse(serializeExport(buildExport(sampleData(), META))) as Record<string, any>;

  it('embeddings: exactly 384 finite numbers', () => {
    const doc = valid();
    doc.data.memories[0].embedding = [1, 2, 3];
    doc.data.chunks[0].embedding = 'AAAA';
    doc.data.chunks[1].embedding[5] = 1e300;
    doc.data.memories[1].embedding[0] = 'x';
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      'memories[0].embedding: expected a list of 384 finite numbers, found 3',
      "memories[1].embedding: expected a list of 384 finite numbers; entry 0 is 'x'",
      "chunks[0].embedding: expected a list of 384 finite numbers, found 'AAAA'",
      'chunks[1].embedding: expected a list of 384 finite numbers; entry 5 is 1e+300',
    ]);
  });

  it('memory and chunk fields: enums, lengths, no empty text, no unknown fields', () => {
    const doc = valid();
    doc.data.memories[0].status = 'maybe';
    doc.data.memories[1].text = '';
    doc.data.memories[1].origin = 'model';
    doc.data.chunks[0].text = 'x'.repeat(EXPORT_LIMITS.chunkTextChars + 1);
    doc.data.documents[0].secret = true;
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      "memories[0].status: expected 'accepted' or 'proposed', found 'maybe'",
      'memories[1].text: must not be empty',
      "memories[1].origin: expected 'person' or 'proposal', found 'model'",
      "documents[0]: unknown field 'secret'",
      'chunks[0].text: too long (4,001 characters; the limit is 4,000)',
    ]);
  });

  it('references: chunks belong to a document in the file, numbered once each, all present', () => {
    const orphan = valid();
    orphan.data.chunks[0].documentId = 'ghost';
    expect(errorsOf(JSON.stringify(orphan))).toEqual([
      "chunks[0].documentId: no document with id 'ghost' in the file",
      'documents[0].chunkCount: 2 chunks, but the file holds 1 of them',
    ]);
    const twice = valid();
    twice.data.chunks[1].index = 0;
    expect(errorsOf(JSON.stringify(twice))).toEqual([
      "chunks[1].index: chunk 0 of document 'd1' appears more than once",
      'documents[0].chunkCount: 2 chunks, but the file holds 1 of them',
    ]);
    const beyond = valid();
    beyond.data.chunks[1].index = 5;
    expect(errorsOf(JSON.stringify(beyond))).toContain("chunks[1].index: 5 is beyond its document's 2 chunks");
    const duplicates = valid();
    duplicates.data.memories[1].id = 'mem1';
    duplicates.data.documents.push({ ...duplicates.data.documents[0] });
    expect(errorsOf(JSON.stringify(duplicates))).toEqual([
      "memories[1].id: 'mem1' appears more than once",
      "documents[1].id: 'd1' appears more than once",
    ]);
  });

  it('references: evidence belongs to a message in the file, once', () => {
    const doc = valid();
    doc.data.evidence.push({ ...doc.data.evidence[0] });
    doc.data.evidence[1].messageId = 'gone';
    doc.data.evidence.push({ ...doc.data.evidence[0] });
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      "evidence[1].messageId: no message with id 'gone' in the file",
      "evidence[2].messageId: 'm2' appears more than once",
    ]);
  });

  it('evidence: provenance must be of the item\'s kind; marks and scores are checked', () => {
    const doc = valid();
    doc.data.evidence[0].items[0].provenance = { kind: 'document', documentId: 'd1', documentName: 'x', chunk: 0 };
    doc.data.evidence[0].items[2].provenance.acceptance = 1.5;
    doc.data.evidence[0].mark = 'true';
    const errors = errorsOf(JSON.stringify(doc));
    expect(errors).toContain("evidence[0].items[0].provenance.kind: expected 'memory', found 'document'");
    expect(errors).toContain('evidence[0].items[2].provenance.acceptance: must be at most 1, found 1.5');
    expect(errors).toContain("evidence[0].mark: expected 'verified' or 'disputed', found 'true'");
  });

  it('audit: decisions, outcomes, origins, reasons from their lists', () => {
    const doc = valid();
    doc.data.audit[0].outcome = 'exploded';
    doc.data.audit[1].reason = 'because';
    doc.data.audit[1].origin = 'root';
    expect(errorsOf(JSON.stringify(doc))).toEqual([
      "audit[0].outcome: expected 'done', 'failed', 'cancelled' or 'refused', found 'exploded'",
      "audit[1].origin: expected 'person', 'model', 'memory', 'document', 'peer', 'policy' or 'unknown', found 'root'",
      "audit[1].reason: expected 'text-origin', 'unknown-action', 'not-available', 'invalid-params' or 'denied', found 'because'",
    ]);
  });

  it('a version this code does not know says which it reads', () => {
    const doc = valid();
    doc.version = 0;
    expect(errorsOf(JSON.stringify(doc))).toEqual(['version: expected 1, 2 or 3, found 0']);
  });
});

describe('prototype safety', () => {
  it('refuses __proto__ keys without ever polluting Object.prototype', () => {
    const text = JSON.stringify({ format: EXPORT_FORMAT_NAME }).replace(
      '{',
      '{"__proto__":{"polluted":true},"x":{"constructor":{"prototype":{"polluted":true}}},',
    );
    const errors = errorsOf(text);
    expect(errors).toContain("file: the key '__proto__' is not allowed");
    expect(errors).toContain("x: the key 'constructor' is not allowed");
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('utf8ByteLength', () => {
  it('matches TextEncoder, surrogate pairs and lone surrogates included', () => {
    for (const text of ['', 'abc', 'é', '中文', '🧬👨‍👩‍👧', 'a\ud800b', '\udc00', 'x\ud83d']) {
      expect(utf8ByteLength(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).length);
    }
  });
});
