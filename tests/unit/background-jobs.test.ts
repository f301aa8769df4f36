/**
 * The consolidation and self-training job handlers (src/services/background-jobs.ts)
 * over a real (fake-indexeddb) database: playbooks stored and edited in small
 * steps, a damaged record replaced, library merges only on request, synthetic
 * episodes stored with their rollouts queued, and nothing stored when a job is
 * stopped half-way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexedDB, IDBKeyRange } from 'fake-indexeddb';
import type { ArtifactDomain, ContentId } from '../../src/lib/artifacts/schema';
import type { CurriculumEntry } from '../../src/lib/ccf/improvement-signal';
import { createJob, type Job } from '../../src/lib/jobs/job';
import { emptyPlaybooks, playbooksSchema, type AcceptedArtifact } from '../../src/lib/learning/consolidation';
import { worthLearning } from '../../src/lib/learning/episode';
import { createExperience, type Experience } from '../../src/lib/learning/experience';
import { generateTasks, isSyntheticEpisode, MAX_EPISODES_PER_RUN, type SelfTrainingResult } from '../../src/lib/learning/self-training';
import { runVerifier } from '../../src/lib/learning/verifiers';
import { seededRandom } from '../../src/lib/random/seeded';
import {
  createConsolidationHandler,
  createSelfTrainingHandler,
  LAST_RUN_KEY,
  PLAYBOOKS_KEY,
  readLastConsolidation,
  readPlaybooks,
  type ConsolidationJobDeps,
  type SelfTrainingJobDeps,
} from '../../src/services/background-jobs';
import { openDatabase, type H3lixDatabase } from '../../src/services/db';
import { enqueueJob, getJob, listJobs } from '../../src/services/job-queue';
import { JobRunner, type JobContext, type JobProgress } from '../../src/services/job-runner';
import { applyLibraryStep, listEpisodes, listExperiences, listLog } from '../../src/services/learning-repository';

const NOW = 1_760_000_000_000;

let db: H3lixDatabase;
let clock: number;
let ids: number;

beforeEach(async () => {
  db = await openDatabase(`background-jobs-${crypto.randomUUID()}`, { indexedDB, IDBKeyRange });
  clock = NOW;
  ids = 0;
});

afterEach(() => {
  db.close();
});

const now = (): number => clock;
const newId = (): string => `id-${++ids}`;

function context(signal: AbortSignal = new AbortController().signal): JobContext & { seen: JobProgress[]; paced: () => number } {
  const seen: JobProgress[] = [];
  let paced = 0;
  return {
    signal,
    progress: (p) => {
      seen.push(p);
    },
    pace: async () => {
      paced++;
      signal.throwIfAborted();
    },
    seen,
    paced: () => paced,
  };
}

const job = (jobClass: Job['jobClass'], subject: string): Job => createJob({ id: `job-${jobClass}`, jobClass, subject, now: NOW });

function proven(id: string, text: string, domain: ArtifactDomain = 'math', confidence = 0.9): Experience {
  const e = createExperience({ id, text, domain, confidence, episodeIds: [], now: NOW - 10_000 });
  return { ...e, usageCount: 3, successCount: 2 };
}

function cid(n: number): ContentId {
  const body = String(n).replace(/\d/g, (d) => 'abcdefghij'[Number(d)] as string).padEnd(51, 'z');
  return `h3x1-${body}a`;
}

const art = (n: number, text: string, domain: ArtifactDomain = 'math', acceptance = 0.8): AcceptedArtifact => ({ id: cid(n), kind: 'strategy', domain, text, acceptance });

async function seedLibrary(experiences: readonly Experience[]): Promise<void> {
  await applyLibraryStep(db, { put: experiences, remove: [], log: [] });
}

function consolidationDeps(accepted: AcceptedArtifact[] = [], over: Partial<ConsolidationJobDeps> = {}): ConsolidationJobDeps {
  return { db: () => db, acceptedArtifacts: () => accepted, now, newId, ...over };
}

const LIBRARY = [
  proven('x-frac', 'When adding fractions, find a common denominator first'),
  proven('x-units', 'When converting units, write the conversion factor as a fraction', 'units'),
  proven('x-code', 'When a function takes an array, handle the empty array first', 'coding'),
];

describe('consolidation job', () => {
  it('stores the playbooks and a last-run record, and says what changed in one line', async () => {
    await seedLibrary(LIBRARY);
    const accepted = [art(1, 'When estimating a product, round both factors first')];
    const ctx = context();
    const line = await createConsolidationHandler(consolidationDeps(accepted))(job('consolidation', 'playbooks'), ctx);
    expect(line).toBe('Playbooks: 4 added, 0 merged, 0 updated, 0 dropped, 0 kept.');
    expect(line).not.toContain('\n');
    const playbooks = await readPlaybooks(db);
    expect(playbooksSchema.safeParse(playbooks).success).toBe(true);
    expect(playbooks.math.map((e) => e.id).sort()).toEqual([`a-${cid(1)}`, 'x-x-frac']);
    expect(playbooks.units.map((e) => e.experienceIds)).toEqual([['x-units']]);
    expect(playbooks.coding).toHaveLength(1);
    expect(await readLastConsolidation(db)).toMatchObject({
      at: NOW,
      edits: { added: 4, merged: 0, updated: 0, dropped: 0, kept: 0 },
      previousDamaged: false,
      libraryMergesApplied: 0,
      line,
    });
    expect(ctx.seen.at(-1)).toEqual({ text: 'Playbooks stored', fraction: 1 });
  });

  it('a second run is a small edit of the first: unchanged entries kept as they were, one new source added', async () => {
    await seedLibrary(LIBRARY);
    const handler = createConsolidationHandler(consolidationDeps());
    await handler(job('consolidation', 'playbooks'), context());
    const first = await readPlaybooks(db);

    clock = NOW + 86_400_000;
    expect(await handler(job('consolidation', 'playbooks'), context())).toBe('Playbooks: 0 added, 0 merged, 0 updated, 0 dropped, 3 kept.');
    expect(await readPlaybooks(db)).toEqual(first);

    await seedLibrary([proven('x-pct', 'When a price drops by a percentage, multiply by one minus the rate')]);
    clock += 86_400_000;
    expect(await handler(job('consolidation', 'playbooks'), context())).toBe('Playbooks: 1 added, 0 merged, 0 updated, 0 dropped, 3 kept.');
    const third = await readPlaybooks(db);
    for (const domain of ['units', 'coding'] as const) expect(third[domain]).toEqual(first[domain]);
    expect(third.math.find((e) => e.id === 'x-x-frac')).toEqual(first.math.find((e) => e.id === 'x-x-frac'));
    expect(third.math.find((e) => e.id === 'x-x-pct')).toMatchObject({ addedAt: clock, updatedAt: clock });
    expect((await readLastConsolidation(db))?.at).toBe(clock);
  });

  it.each([
    ['a wrong shape', { math: 'garbage' }],
    ['an entry that fails its schema', { math: [{ id: 'x-x-frac', text: 42 }] }],
    ['not an object', 42],
    ['null', null],
  ])('a damaged stored playbooks record (%s) is replaced, not a crash', async (_what, value) => {
    await seedLibrary(LIBRARY);
    await db.table('consolidation').put({ key: PLAYBOOKS_KEY, value });
    expect(await readPlaybooks(db)).toEqual(emptyPlaybooks());
    const line = await createConsolidationHandler(consolidationDeps())(job('consolidation', 'playbooks'), context());
    expect(line).toContain('3 added');
    expect(line).toContain('the stored playbooks were damaged and were rebuilt');
    const stored = (await db.table('consolidation').get(PLAYBOOKS_KEY)) as { value: unknown };
    expect(playbooksSchema.safeParse(stored.value).success).toBe(true);
    expect(await readLastConsolidation(db)).toMatchObject({ previousDamaged: true });
  });

  it('a damaged last-run record reads as none', async () => {
    await db.table('consolidation').put({ key: LAST_RUN_KEY, value: { at: 'yesterday' } });
    expect(await readLastConsolidation(db)).toBeNull();
  });

  it('lists near-duplicate experiences by default and leaves the library alone', async () => {
    const twin = proven('x-frac2', 'When adding fractions, find the common denominator first', 'math', 0.85);
    await seedLibrary([...LIBRARY, twin]);
    const line = await createConsolidationHandler(consolidationDeps())(job('consolidation', 'playbooks'), context());
    expect(line).toContain('1 near-duplicate experience could be merged');
    expect((await listExperiences(db)).map((e) => e.id)).toContain('x-frac2');
    expect((await readLastConsolidation(db))?.libraryProposals).toEqual([{ drop: 'x-frac2', keep: 'x-frac', similarity: expect.any(Number) }]);
  });

  it('applies them through one library step only when asked, and the playbooks follow the new library', async () => {
    const twin = proven('x-frac2', 'When adding fractions, find the common denominator first', 'math', 0.85);
    await seedLibrary([...LIBRARY, twin]);
    const line = await createConsolidationHandler(consolidationDeps([], { applyLibraryMerges: true }))(job('consolidation', 'playbooks'), context());
    expect(line).toContain('1 near-duplicate experience merged into a stronger one');
    expect((await listExperiences(db)).map((e) => e.id)).not.toContain('x-frac2');
    const log = await listLog(db, { experienceId: 'x-frac2' });
    expect(log).toMatchObject([{ kind: 'DELETE', reason: expect.stringContaining('consolidation: near-duplicate of x-frac') }]);
    const playbooks = await readPlaybooks(db);
    expect(playbooks.math.flatMap((e) => e.experienceIds)).toEqual(['x-frac']);
    expect(await readLastConsolidation(db)).toMatchObject({ libraryMergesApplied: 1, libraryProposals: [] });
  });

  it('stopped before storing, it stores nothing', async () => {
    await seedLibrary(LIBRARY);
    const controller = new AbortController();
    const deps = consolidationDeps([], {
      acceptedArtifacts: () => {
        controller.abort(new Error('the person started a chat'));
        return [];
      },
    });
    await expect(createConsolidationHandler(deps)(job('consolidation', 'playbooks'), context(controller.signal))).rejects.toThrow('the person started a chat');
    expect(await db.table('consolidation').count()).toBe(0);
  });

  it('runs as a job on the runner', async () => {
    await seedLibrary(LIBRARY);
    const runner = new JobRunner({ db, now, handlers: { consolidation: createConsolidationHandler(consolidationDeps()) }, canRun: () => true, onChange: () => {}, locks: null, pollMs: 10 });
    const queued = await enqueueJob(db, { jobClass: 'consolidation', subject: 'playbooks' }, { now, newId });
    runner.start();
    for (let i = 0; i < 200 && (await getJob(db, queued.id))?.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 5));
    await runner.stop();
    expect(await getJob(db, queued.id)).toMatchObject({ state: 'done', result: 'Playbooks: 3 added, 0 merged, 0 updated, 0 dropped, 0 kept.' });
  });
});

describe('self-training job', () => {
  const curricula: CurriculumEntry[] = [{ domain: 'math', accepted: 0, rejected: 6, pending: 1, acceptanceRate: 0, reason: 'only 0 of 6 decided artifacts were accepted' }];

  function selfTrainingDeps(generate: SelfTrainingJobDeps['generate'], over: Partial<SelfTrainingJobDeps> = {}): SelfTrainingJobDeps {
    return {
      db: () => db,
      generate,
      runCheck: (verifier, answer, signal) => runVerifier(verifier, answer, undefined, signal),
      curricula: () => curricula,
      random: seededRandom(42),
      now,
      newId,
      ...over,
    };
  }

  it('stores the synthetic episodes as queued and queues a rollout for each', async () => {
    let done: SelfTrainingResult | null = null;
    const ctx = context();
    const line = await createSelfTrainingHandler(selfTrainingDeps(async () => 'I am not sure.', { rolloutDelayMs: 1000, onDone: (r) => (done = r) }))(job('self-training', 'curriculum'), ctx);
    const episodes = await listEpisodes(db);
    expect(episodes.length).toBe(4);
    expect(line).toBe('Self-training on 4 tasks (passed without → with experiences: math 0→0/4); 4 episodes to learn from.');
    expect(done).not.toBeNull();
    for (const e of episodes) {
      expect(isSyntheticEpisode(e)).toBe(true);
      expect(e.state).toBe('queued');
      expect(e.verifier).not.toBeNull();
      expect(worthLearning(e)).toBe(true);
    }
    const jobs = await listJobs(db);
    expect(jobs.map((j) => [j.jobClass, j.subject, j.state, j.notBefore]).sort()).toEqual(episodes.map((e) => ['rollouts', e.id, 'queued', NOW + 1000]).sort());
    expect(ctx.seen.at(-1)?.fraction).toBe(1);
    // Paced before every generation (no experience applies: one per task).
    expect(ctx.paced()).toBe(4);
  });

  it('stores nothing when every answer passes (nothing to learn)', async () => {
    const tasks = generateTasks('math', seededRandom(42), 4);
    const answers = new Map(tasks.map((t) => [t.prompt, t.reference]));
    const line = await createSelfTrainingHandler(selfTrainingDeps(async (turns) => answers.get(turns.at(-1)?.content ?? '') ?? '?'))(job('self-training', 'curriculum'), context());
    expect(line).toContain('math 4→4/4');
    expect(await listEpisodes(db)).toEqual([]);
    expect(await listJobs(db)).toEqual([]);
  });

  it('stopped mid-way, it leaves no episode and no rollout behind', async () => {
    const controller = new AbortController();
    let calls = 0;
    const generate: SelfTrainingJobDeps['generate'] = async () => {
      if (++calls === 3) controller.abort(new Error('preempted'));
      return 'I am not sure.';
    };
    await expect(createSelfTrainingHandler(selfTrainingDeps(generate))(job('self-training', 'curriculum'), context(controller.signal))).rejects.toThrow('preempted');
    expect(await listEpisodes(db)).toEqual([]);
    expect(await listJobs(db)).toEqual([]);
  });

  it('queues at most MAX_EPISODES_PER_RUN rollouts per run', async () => {
    const many: CurriculumEntry[] = (['math', 'units', 'reasoning'] as const).map((domain) => ({ ...curricula[0]!, domain }));
    await createSelfTrainingHandler(selfTrainingDeps(async () => 'no idea', { curricula: async () => many, options: { tasksPerDomain: 12 } }))(job('self-training', 'curriculum'), context());
    expect((await listEpisodes(db)).length).toBe(MAX_EPISODES_PER_RUN);
    expect((await listJobs(db)).filter((j) => j.jobClass === 'rollouts').length).toBe(MAX_EPISODES_PER_RUN);
  });
});
