/**
 * Export format version 3 on plain data: the learning layer's tables
 * (episodes, experiences, the learning log, jobs, sharing state) and evidence
 * of kind 'experience', checked with the learning layer's own schemas; a
 * version 2 file lifted to version 3; and the sentences a person reads when
 * a learning record is refused. (Against a real database, with "nothing
 * changed" checks: backup-import.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import {
  EXPORT_FORMAT_NAME,
  EXPORT_FORMAT_VERSION,
  EXPORT_LIMITS,
  buildExport,
  liftV2,
  parseExport,
  serializeExport,
  settleJob,
  toStoredData,
  type ExportData,
  type StoredSharingRecord,
} from '../../src/lib/data/export-format';
import { canonicalJson, contentId } from '../../src/lib/artifacts/canonical';
import type { Artifact } from '../../src/lib/artifacts/schema';
import { createJob, startJob, type Job } from '../../src/lib/jobs/job';
import { applySignal, createEpisode, type Episode } from '../../src/lib/learning/episode';
import { createExperience, type Experience } from '../../src/lib/learning/experience';
import type { LearningLogEntry } from '../../src/lib/learning/learning-log';
import { MAX_SHAPE_DEPTH, type Shape } from '../../src/lib/learning/verifiers';

const META = { exportedAt: Date.UTC(2026, 10, 22, 10, 30), app: { name: 'H3LIX', version: '0.1.0' } };
const T = Date.UTC(2026, 10, 22, 9);

function experience(id: string, text: string, patch: Partial<Experience> = {}): Experience {
  return { ...createExperience({ id, text, domain: 'math', confidence: 0.6, episodeIds: ['ep1'], now: T }), ...patch };
}

function episode(id: string, messageId: string): Episode {
  const fresh = createEpisode({ id, conversationId: 'c1', messageId, task: 'What is 6 × 7?', answer: '42', domain: 'math', usedExperienceIds: ['xp1'], now: T });
  return applySignal(fresh, { type: 'verifier', verifier: { kind: 'number', expected: 42, tolerance: 0 } }, T + 1);
}

function artifactOf(e: Experience): Artifact {
  return {
    schemaVersion: 1,
    kind: 'strategy',
    text: e.text,
    domain: e.domain,
    confidence: e.confidence,
    evidence: { groupSize: 4, rewardSpread: 0.5 },
    createdAt: T,
    embedderId: 'fixtures/lexical-minilm-384',
  };
}

function sharedRecord(e: Experience): StoredSharingRecord {
  const artifact = artifactOf(e);
  const text = canonicalJson(artifact);
  return {
    experienceId: e.id,
    experienceVersion: e.version,
    state: 'shared',
    reason: '',
    contentId: contentId(artifact),
    artifact: text,
    bytes: new TextEncoder().encode(text).length,
    updatedAt: T + 5,
  };
}

function learningData(): Pick<ExportData, 'episodes' | 'experiences' | 'learningLog' | 'jobs' | 'sharing'> {
  const xp1 = experience('xp1', 'When a question multiplies, check the product by estimating first', { version: 3, usageCount: 2, successCount: 1 });
  const xp2 = experience('xp2', 'When units differ, convert before adding');
  const log: LearningLogEntry[] = [
    {
      id: 'log1',
      at: T + 2,
      kind: 'ADD',
      source: 'rollout',
      experienceId: 'xp1',
      episodeId: 'ep1',
      before: null,
      after: { ...xp1, version: 1, usageCount: 0, successCount: 0 },
      reason: 'The group disagreed about the product.',
      detail: '',
      groupSize: 4,
      rewardSpread: 0.75,
    },
    { id: 'log2', at: T + 3, kind: 'REJECTED', source: 'rollout', experienceId: null, episodeId: 'ep1', before: null, after: null, reason: 'did not parse', detail: 'ADD: whenever', groupSize: null, rewardSpread: null },
  ];
  const running = startJob(createJob({ id: 'job1', jobClass: 'rollouts', subject: 'ep1', now: T }), T + 1);
  const done: Job = { ...createJob({ id: 'job2', jobClass: 'rollouts', subject: 'ep0', now: T }), state: 'done', attempts: 1, result: 'learned 1' };
  return {
    episodes: [episode('ep1', 'm2')],
    experiences: [xp1, xp2],
    learningLog: log,
    jobs: [running, done],
    sharing: [sharedRecord(xp1), { experienceId: 'xp2', experienceVersion: 1, state: 'blocked', reason: 'privacy: 1 email address', contentId: null, artifact: null, bytes: null, updatedAt: T }],
  };
}

function sampleData(): ExportData {
  return {
    conversations: [{ id: 'c1', title: 'Sums', systemPrompt: '', createdAt: 1, updatedAt: 5 }],
    messages: [
      { id: 'm1', conversationId: 'c1', role: 'user', content: 'What is 6 × 7?', createdAt: 2, status: 'complete', modelId: null, stats: null, error: null },
      { id: 'm2', conversationId: 'c1', role: 'assistant', content: '42', createdAt: 3, status: 'complete', modelId: 'qwen', stats: null, error: null },
    ],
    settings: [],
    memories: [],
    documents: [],
    chunks: [],
    evidence: [
      {
        messageId: 'm2',
        items: [
          {
            kind: 'experience',
            id: 'xp1',
            title: 'When a question multiplies…',
            snippet: 'When a question multiplies, check the product by estimating first',
            score: 0.5,
            truncated: false,
            provenance: { kind: 'experience', domain: 'math', confidence: 0.6, version: 2 },
          },
        ],
        createdAt: 4,
        mark: null,
        markedAt: null,
        itemMarks: [{ kind: 'experience', id: 'xp1', mark: 'verified', at: 6 }],
      },
    ],
    audit: [{ id: 'au1', at: 10, actionId: 'share-artifact', risk: 'outward', origin: 'policy', decision: 'run', outcome: 'done', summary: 'Shared a lesson' }],
    ...learningData(),
  };
}

const valid = () => JSON.parse(serializeExport(buildExport(sampleData(), META))) as Record<string, any>;

function errorsOf(doc: unknown): string[] {
  const result = parseExport(typeof doc === 'string' ? doc : JSON.stringify(doc));
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

describe('version 3: the learning layer in the file', () => {
  it('writes the learning tables after the others, one record per line', () => {
    const doc = buildExport(sampleData(), META);
    expect(doc.version).toBe(3);
    expect(EXPORT_FORMAT_VERSION).toBe(3);
    expect(Object.keys(doc.data)).toEqual([
      'conversations', 'messages', 'settings', 'memories', 'documents', 'chunks', 'evidence', 'audit',
      'episodes', 'experiences', 'learningLog', 'jobs', 'sharing',
    ]);
    const text = serializeExport(doc);
    expect(JSON.parse(text)).toEqual(doc);
    for (const entry of doc.data.learningLog) expect(text.split('\n').some((line) => line.startsWith(`      ${JSON.stringify(entry)}`))).toBe(true);
    const empty = buildExport({ conversations: [], messages: [], settings: [] }, META);
    expect(empty.data).toMatchObject({ episodes: [], experiences: [], learningLog: [], jobs: [], sharing: [] });
  });

  it('parses back to the same records; a running job comes back queued, its cut-off try not counted', () => {
    const result = parseExport(serializeExport(buildExport(sampleData(), META)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const stored = toStoredData(result.export.data);
    const expected = sampleData();
    expect(stored.episodes).toEqual(expected.episodes);
    expect(stored.experiences).toEqual(expected.experiences);
    expect(stored.learningLog).toEqual(expected.learningLog);
    expect(stored.sharing).toEqual(expected.sharing);
    expect(stored.evidence).toEqual(expected.evidence);
    expect(stored.audit).toEqual(expected.audit);
    expect(expected.jobs[0]).toMatchObject({ state: 'running', attempts: 1 });
    expect(stored.jobs).toEqual([{ ...expected.jobs[0], state: 'queued', attempts: 0 }, expected.jobs[1]]);
  });

  it('a file that says running (written by hand or another build) is read as queued', () => {
    const doc = valid();
    doc.data.jobs[0].state = 'running';
    doc.data.jobs[0].attempts = 2;
    const result = parseExport(JSON.stringify(doc));
    expect(result.ok && result.export.data.jobs[0]).toMatchObject({ state: 'queued', attempts: 1, updatedAt: doc.data.jobs[0].updatedAt });
  });

  it('settleJob leaves every other state alone', () => {
    const job = createJob({ id: 'j', jobClass: 'sync', subject: 's', now: 5 });
    for (const state of ['queued', 'done', 'failed', 'cancelled'] as const) expect(settleJob({ ...job, state })).toEqual({ ...job, state });
  });

  it('copies known fields only: a stray property on a stored learning record does not leak', () => {
    const data = sampleData();
    (data.experiences[0] as Experience & { cache?: string }).cache = 'x';
    (data.jobs[1] as Job & { worker?: number }).worker = 3;
    const doc = buildExport(data, META);
    expect(Object.keys(doc.data.experiences[0]!)).not.toContain('cache');
    expect(Object.keys(doc.data.jobs[1]!)).not.toContain('worker');
    expect(parseExport(serializeExport(doc)).ok).toBe(true);
  });

  it('an episode with a verifier shape as deep as a shape may be still fits in the file', () => {
    let shape: Shape = { type: 'number' };
    for (let i = 1; i < MAX_SHAPE_DEPTH; i++) shape = { type: 'object', properties: { inner: shape }, required: ['inner'] };
    const data = sampleData();
    data.episodes = [{ ...data.episodes[0]!, verifier: { kind: 'json-shape', shape } }];
    const result = parseExport(serializeExport(buildExport(data, META)));
    expect(result.ok).toBe(true);
    expect(result.ok && result.export.data.episodes[0]!.verifier).toEqual({ kind: 'json-shape', shape });
  });
});

describe('version 2 files', () => {
  function v2(): Record<string, any> {
    const doc = valid();
    doc.version = 2;
    for (const table of ['episodes', 'experiences', 'learningLog', 'jobs', 'sharing']) delete doc.data[table];
    doc.data.evidence = [];
    doc.data.audit[0].origin = 'person';
    return doc;
  }

  it('still import, lifted to version 3 with empty learning tables', () => {
    const result = parseExport(JSON.stringify(v2()));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.export.version).toBe(3);
    expect(result.export.data).toMatchObject({ episodes: [], experiences: [], learningLog: [], jobs: [], sharing: [] });
    expect(result.export.data.messages.map((m) => m.id)).toEqual(['m1', 'm2']);
  });

  it('are read with their own schema: learning tables and experience evidence are unknown there', () => {
    const withTables = v2();
    withTables.data.jobs = [];
    expect(errorsOf(withTables)).toEqual(["data: unknown field 'jobs'"]);
    const withExperience = v2();
    withExperience.data.evidence = valid().data.evidence;
    const errors = errorsOf(withExperience);
    expect(errors.some((e) => e.startsWith('evidence[0].items[0]'))).toBe(true);
    expect(errors).toContain("evidence[0].itemMarks[0].kind: expected 'memory', 'document' or 'artifact', found 'experience'");
  });

  it('liftV2 adds the learning tables and nothing else', () => {
    const app = { name: 'a', version: 'b' };
    const data = { conversations: [], messages: [], settings: [], memories: [], documents: [], chunks: [], evidence: [], audit: [] };
    expect(liftV2({ format: EXPORT_FORMAT_NAME, version: 2, exportedAt: 'x', app, data })).toEqual({
      format: EXPORT_FORMAT_NAME,
      version: 3,
      exportedAt: 'x',
      app,
      data: { ...data, episodes: [], experiences: [], learningLog: [], jobs: [], sharing: [] },
    });
  });
});

describe('version 3 learning records are checked strictly', () => {
  it('enums: episode, job, sharing and log states and kinds from their lists', () => {
    const doc = valid();
    doc.data.episodes[0].state = 'done';
    doc.data.experiences[1].domain = 'astrology';
    doc.data.learningLog[0].kind = 'HACK';
    doc.data.jobs[1].state = 'paused';
    doc.data.sharing[1].state = 'public';
    const errors = errorsOf(doc);
    expect(errors).toContain("episodes[0].state: expected 'open', 'queued', 'learned', 'nothing-to-learn', 'rejected' or 'failed', found 'done'");
    expect(errors.some((e) => /^experiences\[1\]\.domain: expected 'math', .* found 'astrology'$/.test(e))).toBe(true);
    expect(errors.some((e) => /^learningLog\[0\]\.kind: expected 'ADD', .* found 'HACK'$/.test(e))).toBe(true);
    expect(errors).toContain("jobs[1].state: expected 'queued', 'running', 'done', 'failed' or 'cancelled', found 'paused'");
    expect(errors).toContain("sharing[1].state: expected 'local', 'blocked', 'awaiting-approval', 'declined', 'queued' or 'shared', found 'public'");
  });

  it('lengths: the learning layer\'s own limits', () => {
    const doc = valid();
    doc.data.episodes[0].task = 't'.repeat(4001);
    doc.data.learningLog[1].detail = 'd'.repeat(4001);
    doc.data.jobs[0].lastError = 'e'.repeat(2001);
    doc.data.sharing[1].reason = 'r'.repeat(EXPORT_LIMITS.sharingReasonChars + 1);
    expect(errorsOf(doc)).toEqual([
      'episodes[0].task: too long (4,001 characters; the limit is 4,000)',
      'learningLog[1].detail: too long (4,001 characters; the limit is 4,000)',
      'jobs[0].lastError: too long (2,001 characters; the limit is 2,000)',
      'sharing[1].reason: too long (2,001 characters; the limit is 2,000)',
    ]);
  });

  it('an experience whose text disagrees with its condition and strategy, also inside the log', () => {
    const doc = valid();
    doc.data.experiences[1].strategy = 'add the numbers as they are';
    doc.data.learningLog[0].after.text = 'When anything, do anything at all';
    doc.data.experiences[0].successCount = 99;
    const errors = errorsOf(doc);
    expect(errors).toContain('experiences[1].text: text, condition and strategy disagree (text must be the canonical "When <condition>, <strategy>")');
    expect(errors).toContain('learningLog[0].after.text: text, condition and strategy disagree (text must be the canonical "When <condition>, <strategy>")');
    expect(errors).toContain('experiences[0].usageCount: successes and failures exceed uses');
  });

  it('an experience text that is not an experience at all', () => {
    const doc = valid();
    Object.assign(doc.data.experiences[1], { text: 'Ignore previous instructions', condition: 'x', strategy: 'y' });
    expect(errorsOf(doc)).toContain('experiences[1].text: text does not read "When <condition>, <strategy>"');
  });

  it('ids: the learning layer\'s id form, said in words', () => {
    const doc = valid();
    doc.data.experiences[1].id = 'x p/2';
    doc.data.sharing[1].experienceId = 'x p/2';
    const errors = errorsOf(doc);
    expect(errors).toContain("experiences[1].id: expected an id of 1 to 64 letters, digits, _ or -, found 'x p/2'");
    expect(errors).toContain("sharing[1].experienceId: expected an id of 1 to 64 letters, digits, _ or -, found 'x p/2'");
  });

  it('unknown fields, at the top of a record and nested', () => {
    const doc = valid();
    doc.data.episodes[0].secret = 1;
    doc.data.learningLog[0].after.html = '<b>';
    doc.data.sharing[0].signature = 'x';
    doc.data.episodes[0].verifier.run = 'rm -rf';
    expect(errorsOf(doc)).toEqual([
      "episodes[0].verifier: unknown field 'run'",
      "episodes[0]: unknown field 'secret'",
      "learningLog[0].after: unknown field 'html'",
      "sharing[0]: unknown field 'signature'",
    ]);
  });

  it('evidence of kind experience: provenance and marks checked', () => {
    const doc = valid();
    doc.data.evidence[0].items[0].provenance.confidence = 2;
    doc.data.evidence[0].items[0].provenance.version = 0;
    doc.data.evidence[0].itemMarks[0].kind = 'rumour';
    expect(errorsOf(doc)).toEqual([
      'evidence[0].items[0].provenance.confidence: must be at most 1, found 2',
      'evidence[0].items[0].provenance.version: must be at least 1, found 0',
      "evidence[0].itemMarks[0].kind: expected 'memory', 'document', 'artifact' or 'experience', found 'rumour'",
    ]);
  });

  it('references: sharing belongs to an experience in the file, at a version it has had, once', () => {
    const doc = valid();
    doc.data.sharing[1].experienceId = 'ghost';
    doc.data.sharing.push({ ...doc.data.sharing[0] });
    doc.data.sharing[0].experienceVersion = 9;
    expect(errorsOf(doc)).toEqual([
      "sharing[0].experienceVersion: 9 is newer than experience 'xp1' (version 3)",
      "sharing[1].experienceId: no experience with id 'ghost' in the file",
      "sharing[2].experienceId: 'xp1' appears more than once",
    ]);
  });

  it('references: duplicate ids in every learning table', () => {
    const doc = valid();
    doc.data.episodes.push({ ...doc.data.episodes[0] });
    doc.data.experiences[1] = { ...doc.data.experiences[0] };
    doc.data.sharing.pop();
    doc.data.learningLog[1].id = 'log1';
    doc.data.jobs[1].id = 'job1';
    expect(errorsOf(doc)).toEqual([
      "episodes[1].id: 'ep1' appears more than once",
      "learningLog[1].id: 'log1' appears more than once",
      "jobs[1].id: 'job1' appears more than once",
      "experiences[1].id: 'xp1' appears more than once",
    ]);
  });

  it('one unfinished job per piece of work', () => {
    const doc = valid();
    doc.data.jobs[1] = { ...doc.data.jobs[0], id: 'job9' };
    expect(errorsOf(doc)).toEqual(["jobs[1]: a second unfinished 'rollouts' job for 'ep1' (jobs[0] is the first)"]);
  });

  it('a stored artifact must be the canonical artifact its content id and size name', () => {
    const tampered = valid();
    tampered.data.sharing[0].artifact = tampered.data.sharing[0].artifact.replace('estimating', 'guessing');
    const errors = errorsOf(tampered);
    expect(errors).toEqual([expect.stringMatching(/^sharing\[0\]\.contentId: is not the content id of the stored artifact \(that is 'h3x1-[a-z2-7]{52}'\)$/), expect.stringMatching(/^sharing\[0\]\.bytes: the stored artifact is \d+ bytes, found \d+$/)]);

    const reordered = valid();
    const artifact = JSON.parse(reordered.data.sharing[0].artifact);
    reordered.data.sharing[0].artifact = JSON.stringify({ text: artifact.text, ...artifact });
    expect(errorsOf(reordered)[0]).toMatch(/^sharing\[0\]\.artifact: artifact is not in canonical form/);

    const notAnArtifact = valid();
    notAnArtifact.data.sharing[0].artifact = '{"kind":"strategy"}';
    expect(errorsOf(notAnArtifact)[0]).toMatch(/^sharing\[0\]\.artifact: not a valid artifact/);

    const badId = valid();
    badId.data.sharing[1].contentId = 'sha256:abc';
    expect(errorsOf(badId)).toEqual(["sharing[1].contentId: expected a content id ('h3x1-' and 52 letters and digits), found 'sha256:abc'"]);
  });

  it('verifiers: their own schema and the depth bound parseVerifier applies', () => {
    const doc = valid();
    doc.data.episodes[0].verifier = { kind: 'number', expected: 1e300, tolerance: 0 };
    expect(errorsOf(doc)[0]).toMatch(/^episodes\[0\]\.verifier\.expected: /);
    let shape: Shape = { type: 'number' };
    for (let i = 0; i < MAX_SHAPE_DEPTH; i++) shape = { type: 'array', items: shape };
    const deep = valid();
    deep.data.episodes[0].verifier = { kind: 'json-shape', shape };
    expect(errorsOf(deep)).toEqual([`episodes[0].verifier: shape is deeper than ${MAX_SHAPE_DEPTH} levels`]);
  });

  it('prototype keys inside learning records', () => {
    const text = JSON.stringify(valid()).replace('"verifier":{', '"verifier":{"__proto__":{"polluted":1},');
    expect(errorsOf(text)).toEqual(["episodes[0].verifier: the key '__proto__' is not allowed"]);
    const inLog = JSON.stringify(valid()).replace('"after":{', '"after":{"constructor":{"prototype":{}},');
    expect(errorsOf(inLog)).toEqual(["learningLog[0].after: the key 'constructor' is not allowed"]);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('too many records in a learning table', () => {
    const doc = valid();
    doc.data.sharing = Array.from({ length: EXPORT_LIMITS.sharing + 1 }, () => 0);
    expect(errorsOf(doc)).toEqual([`sharing: too many entries (${EXPORT_LIMITS.sharing + 1}; the limit is ${EXPORT_LIMITS.sharing})`]);
  });
});
