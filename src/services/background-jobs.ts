/**
 * Job handlers for the background runner (job-runner.ts) beyond rollouts:
 *
 * - consolidation: the library's proven experiences and the field's accepted
 *   artifacts distilled into per-domain playbooks (lib/learning/consolidation.ts)
 *   by small edits to the previous playbooks, stored in the `consolidation`
 *   table (schema version 7) under 'playbooks', with a 'lastRun' record;
 * - self-training: practice on checkable synthetic tasks in weak domains
 *   (lib/learning/self-training.ts); the episodes it produces are stored and
 *   a rollout is queued for each, so the ordinary rollout job learns from them.
 *
 * Factories, not a class: the app passes what each needs (storage, the engine,
 * the field's view) and registers the handlers with
 * `LearningState.registerJobHandler`. Nothing is stored before a handler's
 * work is done: a job stopped half-way (the person's chat preempts it, the
 * tab closes) leaves storage as it was and runs again from the start.
 */
import { z } from 'zod';
import { ARTIFACT_DOMAINS } from '../lib/artifacts/schema';
import type { CurriculumEntry } from '../lib/ccf/improvement-signal';
import type { ChatTurn, GenerateOptions } from '../lib/engine/contract';
import {
  consolidate,
  emptyPlaybooks,
  playbooksSchema,
  proposalBatch,
  suggestLibraryMerges,
  type AcceptedArtifact,
  type ConsolidationInput,
  type ConsolidationResult,
  type LibraryMergeProposal,
  type PlaybookEditKind,
  type Playbooks,
} from '../lib/learning/consolidation';
import { entriesOfStep } from '../lib/learning/learning-log';
import { applyBatch } from '../lib/learning/library-merge';
import type { VerifyAnswer } from '../lib/learning/pipeline';
import { runSelfTraining, type SelfTrainingOptions, type SelfTrainingResult } from '../lib/learning/self-training';
import { toWriteError, type H3lixDatabase } from './db';
import { enqueueJob } from './job-queue';
import { PermanentJobError, type JobContext, type JobHandler } from './job-runner';
import * as learningRepo from './learning-repository';

/*
 * The consolidation table.
 */

/** Key of the stored playbooks (value: Playbooks, validated with playbooksSchema on read). */
export const PLAYBOOKS_KEY = 'playbooks';
/** Key of the record of the last consolidation run. */
export const LAST_RUN_KEY = 'lastRun';

interface KeyValueRecord {
  key: string;
  value: unknown;
}

const table = (db: H3lixDatabase) => db.table<KeyValueRecord, string>('consolidation');

const EDIT_KINDS = ['added', 'merged', 'updated', 'dropped', 'kept'] as const satisfies readonly PlaybookEditKind[];
const timeSchema = z.int().min(0).max(8_640_000_000_000_000);
const countSchema = z.int().min(0).max(1_000_000);

export const consolidationRunSchema = z.strictObject({
  at: timeSchema,
  /** Edits of the run by kind. */
  edits: z.strictObject(Object.fromEntries(EDIT_KINDS.map((k) => [k, countSchema])) as Record<PlaybookEditKind, typeof countSchema>),
  /** New entries held back by the per-run displacement limit (they come on later runs). */
  deferred: countSchema,
  /** Previous entries that failed their schema and were dropped. */
  invalidPrevious: countSchema,
  /** The stored playbooks did not parse and were replaced (started from empty). */
  previousDamaged: z.boolean(),
  /** Near-duplicate library experiences proposed for merging (not applied). */
  libraryProposals: z
    .array(z.strictObject({ drop: z.string().max(64), keep: z.string().max(64), similarity: z.number().min(0).max(1) }))
    .max(100),
  /** Proposed merges that were applied to the library in this run. */
  libraryMergesApplied: countSchema,
  /** The line the job ended with. */
  line: z.string().max(2000),
});

export type ConsolidationRun = z.infer<typeof consolidationRunSchema>;

export interface StoredPlaybooks {
  playbooks: Playbooks;
  /** 'none': never stored; 'damaged': a record that did not parse (read as empty). */
  status: 'ok' | 'none' | 'damaged';
}

async function readStoredPlaybooks(db: H3lixDatabase): Promise<StoredPlaybooks> {
  const record = await table(db).get(PLAYBOOKS_KEY);
  if (!record) return { playbooks: emptyPlaybooks(), status: 'none' };
  const parsed = playbooksSchema.safeParse(record.value);
  return parsed.success ? { playbooks: parsed.data, status: 'ok' } : { playbooks: emptyPlaybooks(), status: 'damaged' };
}

/** The stored playbooks for the view: empty lists when none were made yet or the record is damaged. */
export async function readPlaybooks(db: H3lixDatabase): Promise<Playbooks> {
  return (await readStoredPlaybooks(db)).playbooks;
}

/** The last consolidation run, or null (never run, or a damaged record). */
export async function readLastConsolidation(db: H3lixDatabase): Promise<ConsolidationRun | null> {
  const record = await table(db).get(LAST_RUN_KEY);
  const parsed = consolidationRunSchema.safeParse(record?.value);
  return parsed.success ? parsed.data : null;
}

/*
 * Consolidation.
 */

export interface ConsolidationJobDeps {
  db: () => H3lixDatabase;
  /** The artifacts the field accepted, with their domain and acceptance (from the field view's judgements). */
  acceptedArtifacts: () => readonly AcceptedArtifact[] | Promise<readonly AcceptedArtifact[]>;
  now: () => number;
  newId: () => string;
  /**
   * Apply consolidation's library-merge proposals (DELETE of the weaker of two
   * near-duplicate experiences) as one library step before consolidating.
   * Default false: they are only listed in the last-run record and the line
   * (the person decides). See the note at `applyMerges`.
   */
  applyLibraryMerges?: boolean;
  /** Passed to `consolidate` (defaults: its own). */
  consolidation?: Pick<ConsolidationInput, 'maxPerDomain' | 'maxDisplacements' | 'similarity' | 'threshold' | 'maxLibraryProposals'>;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Applies the proposed merges through applyBatch and the repository's library
 * step (all or nothing, versions checked). The learning log has no
 * 'consolidation' source (LEARNING_SOURCES is rollout, person, lesson), so the
 * entries are logged as 'rollout' with consolidation's own reason
 * ("consolidation: near-duplicate of …"). Returns how many experiences were
 * removed; 0 when the library changed meanwhile (the next run proposes again).
 */
async function applyMerges(db: H3lixDatabase, proposals: readonly LibraryMergeProposal[], deps: ConsolidationJobDeps): Promise<number> {
  const batch = proposalBatch(proposals);
  if (!batch) return 0;
  const library = await learningRepo.listExperiences(db);
  const options = deps.consolidation ?? {};
  const merge = applyBatch(library, [batch], {
    now: deps.now(),
    newId: deps.newId,
    ...(options.similarity ? { similarity: options.similarity } : {}),
    ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
  });
  if (merge.log.length === 0) return 0;
  const versions = new Map(merge.log.flatMap((l) => (l.before ? [[l.id, l.before.version] as const] : [])));
  const log = entriesOfStep(merge.log, { at: deps.now(), source: 'rollout', episodeId: null, groupSize: null, rewardSpread: null, newId: deps.newId });
  try {
    await learningRepo.applyLibraryStep(
      db,
      { put: merge.log.flatMap((l) => (l.after ? [l.after] : [])), remove: merge.log.filter((l) => l.after === null).map((l) => l.id), log },
      versions,
    );
  } catch (error) {
    if (error instanceof learningRepo.ExperienceConflictError || error instanceof learningRepo.ExperienceNotFoundError) return 0;
    throw error;
  }
  return merge.log.filter((l) => l.after === null).length;
}

/**
 * The consolidation job: previous playbooks (damaged: start from empty),
 * library and accepted artifacts in, new playbooks and a last-run record out,
 * one line for the person. The job's subject is not used (enqueue it with a
 * fixed subject such as 'playbooks', so only one is ever queued).
 */
export function createConsolidationHandler(deps: ConsolidationJobDeps): JobHandler {
  return async (_job, context: JobContext) => {
    const { signal } = context;
    const db = deps.db();
    signal.throwIfAborted();
    context.progress({ text: 'Reading the library and the accepted artifacts', fraction: 0 });
    const stored = await readStoredPlaybooks(db);
    const accepted = [...(await deps.acceptedArtifacts())];
    let library = await learningRepo.listExperiences(db);
    signal.throwIfAborted();

    const options = deps.consolidation ?? {};
    let applied = 0;
    let proposals: LibraryMergeProposal[] = [];
    if (deps.applyLibraryMerges) {
      context.progress({ text: 'Merging near-duplicate experiences', fraction: 0.3 });
      const wanted = suggestLibraryMerges(library, {
        ...(options.similarity ? { similarity: options.similarity } : {}),
        ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
        ...(options.maxLibraryProposals !== undefined ? { max: options.maxLibraryProposals } : {}),
      });
      applied = await applyMerges(db, wanted, deps);
      if (applied > 0) library = await learningRepo.listExperiences(db);
      signal.throwIfAborted();
    }

    // Reading and merging were the work so far; rest here if the energy window is bad.
    await context.pace();
    context.progress({ text: 'Consolidating the playbooks', fraction: 0.6 });
    let result: ConsolidationResult;
    try {
      result = consolidate({ library, accepted, previous: stored.playbooks, now: deps.now(), ...options });
    } catch (error) {
      // Only bad options throw: retrying cannot help.
      if (error instanceof RangeError) throw new PermanentJobError(error.message);
      throw error;
    }
    proposals = result.libraryProposals;
    const deferred = ARTIFACT_DOMAINS.reduce((n, d) => n + result.deferred[d], 0);
    const s = result.summary;
    const parts = [`Playbooks: ${s.added} added, ${s.merged} merged, ${s.updated} updated, ${s.dropped} dropped, ${s.kept} kept`];
    if (deferred > 0) parts.push(`${deferred} new ${deferred === 1 ? 'entry' : 'entries'} deferred to later runs`);
    if (stored.status === 'damaged') parts.push('the stored playbooks were damaged and were rebuilt');
    if (applied > 0) parts.push(`${plural(applied, 'near-duplicate experience')} merged into a stronger one`);
    if (proposals.length > 0) parts.push(`${plural(proposals.length, 'near-duplicate experience')} could be merged`);
    const line = `${parts.join('; ')}.`.slice(0, 2000);
    const run: ConsolidationRun = consolidationRunSchema.parse({
      at: deps.now(),
      edits: { ...s },
      deferred,
      invalidPrevious: result.invalidPrevious,
      previousDamaged: stored.status === 'damaged',
      libraryProposals: proposals.slice(0, 100),
      libraryMergesApplied: applied,
      line,
    });
    const playbooks = playbooksSchema.parse(result.playbooks);

    // Stopped before storing: nothing changes (the merges, if any, are a step of their own).
    signal.throwIfAborted();
    try {
      await db.transaction('rw', db.table('consolidation'), async () => {
        await table(db).put({ key: PLAYBOOKS_KEY, value: playbooks });
        await table(db).put({ key: LAST_RUN_KEY, value: run });
      });
    } catch (error) {
      throw toWriteError(error);
    }
    context.progress({ text: 'Playbooks stored', fraction: 1 });
    return line;
  };
}

/*
 * Self-training.
 */

export interface SelfTrainingJobDeps {
  db: () => H3lixDatabase;
  /** Whole replies from the engine; must honour the signal. */
  generate(turns: ChatTurn[], options: GenerateOptions, signal: AbortSignal): Promise<string>;
  /** Runs a verifier on an answer (the app's `verify`: runVerifier with the code sandbox). */
  runCheck: VerifyAnswer;
  /** The field's current curricula (improvement-signal.ts), weakest first; [] when in no network. */
  curricula: () => readonly CurriculumEntry[] | Promise<readonly CurriculumEntry[]>;
  /** Random source for drawing tasks (Math.random or a crypto-based one). */
  random: () => number;
  now: () => number;
  newId: () => string;
  options?: SelfTrainingOptions;
  /** How long the queued rollouts wait (default 0: the runner takes them after this job). */
  rolloutDelayMs?: number;
  /** Called with the run's result after its episodes and rollouts are stored (e.g. to poke the runner, log the summary). */
  onDone?: (result: SelfTrainingResult) => void;
}

/** Most recent episodes read to find this node's own weak domains when the curriculum names none. */
export const SELF_TRAINING_EPISODES_READ = 500;

/**
 * The self-training job: runs `runSelfTraining`, then stores its synthetic
 * episodes (state 'queued') and queues a rollout for each, all in one
 * transaction. The job's subject is not used (enqueue it with a fixed subject
 * such as 'curriculum', so only one is ever queued).
 */
export function createSelfTrainingHandler(deps: SelfTrainingJobDeps): JobHandler {
  return async (_job, context: JobContext) => {
    const { signal } = context;
    const db = deps.db();
    signal.throwIfAborted();
    const [curricula, episodes, library] = await Promise.all([
      deps.curricula(),
      learningRepo.listEpisodes(db, SELF_TRAINING_EPISODES_READ),
      learningRepo.listExperiences(db),
    ]);
    const result = await runSelfTraining(
      { curricula, episodes, library, ...(deps.options ? { options: deps.options } : {}) },
      {
        generate: (turns, options, s) => deps.generate(turns, options, s ?? signal),
        runCheck: deps.runCheck,
        random: deps.random,
        now: deps.now,
        newId: deps.newId,
        signal,
        onProgress: (p) => context.progress({ text: p.text, fraction: p.total > 0 ? p.done / p.total : null }),
        pace: () => context.pace(),
      },
    );
    // Stopped after the last check but before storing: nothing is stored.
    signal.throwIfAborted();
    if (result.episodes.length > 0) {
      const notBefore = deps.now() + Math.max(0, deps.rolloutDelayMs ?? 0);
      try {
        await db.transaction('rw', [db.table('jobs'), db.table('episodes')], async () => {
          for (const episode of result.episodes) {
            // Queued first, as the app does: an episode marked queued always has its job.
            await enqueueJob(db, { jobClass: 'rollouts', subject: episode.id, notBefore }, { now: deps.now, newId: deps.newId });
            await learningRepo.putEpisode(db, { ...episode, state: 'queued' });
          }
        });
      } catch (error) {
        throw toWriteError(error);
      }
    }
    deps.onDone?.(result);
    return result.summary;
  };
}
