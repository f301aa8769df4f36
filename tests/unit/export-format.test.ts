/**
 * The export file format on plain data: building, parsing back, and the
 * sentences a person reads when a file is refused. (Hostile files against a
 * real database, with "nothing changed" checks, are in backup-import.test.ts.)
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
  settleStreaming,
  utf8ByteLength,
  validateExport,
  type ExportData,
} from '../../src/lib/data/export-format';
import type { Message } from '../../src/lib/chat/types';

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
    const empty = buildExport({ conversations: [], messages: [], settings: [] }, META);
    expect(JSON.parse(serializeExport(empty))).toEqual(empty);
  });

  it('parses back to the same data', () => {
    const text = serializeExport(buildExport(sampleData(), META));
    const result = parseExport(text);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.export.data).toEqual({ ...sampleData(), messages: sampleData().messages.map(settleStreaming) });
    expect(result.export.exportedAt).toBe('2026-11-22T10:30:00.000Z');
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
