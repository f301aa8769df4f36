/**
 * The learning layer in the app: episodes from the person's feedback,
 * rollout jobs in the background, the experience library and its history,
 * conditioning of replies, and sharing through the execution layer.
 *
 * The person's chat always comes first: a reply preempts the job in
 * progress (it goes back to the queue) and no job starts while one is being
 * written.
 */
import type { Message } from '../lib/chat/types';
import type { ReplyConditioning } from './chat.svelte';
import type { ChatTurn, GenerateOptions } from '../lib/engine/contract';
import type { ActionResult } from '../services/action-executor';
import type { EvidenceRecord, EvidenceRef } from '../lib/governance/evidence';
import type { Policy } from '../lib/governance/policy';
import { recordOutcome, selectExperiences, updateAfterUse } from '../lib/learning/conditioning';
import { guessDomain } from '../lib/learning/domain-guess';
import { applySignal, createEpisode, worthLearning, type Episode, type EpisodeSignal, type Feedback } from '../lib/learning/episode';
import { createExperience, parseExperienceText, type Experience, type ExperienceDomain } from '../lib/learning/experience';
import { entriesOfStep, evidenceFor, type LearningLogEntry } from '../lib/learning/learning-log';
import { draftLesson } from '../lib/learning/lesson';
import { initialConfidence } from '../lib/learning/library-merge';
import { exportFinetuneDataset } from '../lib/learning/finetune-export';
import type { PrivateTermInput } from '../lib/learning/pii-detectors';
import { learnFromEpisode, type CandidateValidator, type LearnOutcome, type LearnProgress, type VerifyAnswer } from '../lib/learning/pipeline';
import type { ProjectionContext } from '../lib/learning/privacy-projection';
import { buildShareableArtifact, type SharingCheck, type SharingPolicy } from '../lib/learning/sharing';
import type { Verifier } from '../lib/learning/verifiers';
import { checkFromInput, type CheckKind } from '../lib/learning/check-input';
import type { Artifact, CompressedEmbedding } from '../lib/artifacts/schema';
import { canonicalJson, parseArtifact } from '../lib/artifacts/canonical';
import type { Job, JobClass } from '../lib/jobs/job';
import type { PlaybookStrategy } from '../lib/learning/consolidation';
import { readLastConsolidation, readPlaybooks, type ConsolidationRun } from '../services/background-jobs';
import type { H3lixDatabase } from '../services/db';
import { enqueueJob, jobsFor, listJobs } from '../services/job-queue';
import { JobRunner, PermanentJobError, type JobContext, type JobHandler, type JobProgress } from '../services/job-runner';
import * as learningRepo from '../services/learning-repository';
import type { SharingRecord } from '../services/learning-repository';

export interface LearningDeps {
  db: () => H3lixDatabase;
  /** Whole replies for background work (the engine client; never the chat's stream). */
  generate(turns: ChatTurn[], options: GenerateOptions, signal: AbortSignal): Promise<string>;
  /** A model is loaded and no reply is being written. */
  engineFree: () => boolean;
  listMessages: (conversationId: string) => Promise<Message[]>;
  evidenceOf: (messageId: string) => Promise<EvidenceRecord | undefined>;
  verify: VerifyAnswer;
  inferVerifier: (correction: string) => Verifier | null;
  validate: CandidateValidator;
  /**
   * The checks before sharing. strict: an automatic offer (the sharing
   * confidence and confirmed uses apply); not strict: the person's own Share
   * click, their decision standing in for the confirmed use.
   */
  validateForSharing: (experience: Experience, strict: boolean) => SharingCheck;
  projection: () => ProjectionContext;
  embedderId: () => string;
  embed: (text: string) => Promise<CompressedEmbedding | null>;
  sharePolicy: () => Policy;
  setSharePolicy: (policy: Policy) => Promise<string | null>;
  /** The execution layer: a click (origin person) or automatic under standing consent (origin policy). */
  runAction: (experienceId: string, origin: 'person' | 'policy') => Promise<ActionResult>;
  locks: LockManager | null;
  savePaused: (paused: boolean) => Promise<void>;
  /** Saves a file on this device (a download). */
  download: (name: string, text: string, type: string) => void;
  /** Hands an artifact to the network; null when this device is in no network (it then waits here). */
  publish: (artifact: Artifact) => Promise<{ sent: boolean } | null>;
  now: () => number;
  newId: () => string;
}

/** A lesson drafted from a correction, waiting for the person's review (keyed by the answer's message id). */
export interface LessonDraft {
  episodeId: string;
  text: string;
  domain: ExperienceDomain;
}

/** Most recent episodes the fine-tuning export looks at. */
const MAX_EXPORT_EPISODES = 5_000;

/** How long a rollout waits after the signal that queued it (a correction usually follows a thumbs-down within seconds). */
export const ROLLOUT_SETTLE_MS = 10_000;

/** Rollout sizes for the browser: small groups and short answers, so a job ends in minutes even on WASM. */
export const APP_GROUP_SIZE = 4;
const APP_ROLLOUT: GenerateOptions = { maxNewTokens: 160, temperature: 0.9, topP: 0.95 };
const APP_ADVANTAGE: GenerateOptions = { maxNewTokens: 320, temperature: 0.2, topP: 0.9 };

const POLICY_OF_SHARING: Record<SharingPolicy, Policy> = { ask: 'ask', auto: 'allow', never: 'deny' };
const SHARING_OF_POLICY: Record<Policy, SharingPolicy> = { ask: 'ask', allow: 'auto', deny: 'never' };

function stageText(p: LearnProgress): string {
  switch (p.stage) {
    case 'rollout':
      return `Sampling answers (${p.done} of ${p.total})`;
    case 'verify':
      return `Checking answers (${p.done} of ${p.total})`;
    case 'judge':
      return `Grading answers (${p.done} of ${p.total})`;
    case 'advantage':
      return 'Contrasting better and worse answers';
    case 'merge':
      return 'Updating the library';
  }
}

export class LearningState {
  experiences = $state.raw<Experience[]>([]);
  log = $state.raw<LearningLogEntry[]>([]);
  /** Episodes by the id of the answer they judge. */
  episodes = $state.raw<Map<string, Episode>>(new Map());
  jobs = $state.raw<Job[]>([]);
  sharing = $state.raw<Map<string, SharingRecord>>(new Map());
  drafts = $state.raw<Map<string, LessonDraft>>(new Map());
  current = $state.raw<{ job: Job; progress: JobProgress | null } | null>(null);
  /** The consolidated playbooks (every domain), and the last consolidation run. */
  playbooks = $state.raw<PlaybookStrategy[]>([]);
  lastConsolidation = $state.raw<ConsolidationRun | null>(null);
  paused = $state(false);
  /** This tab runs the background jobs (only one tab does). */
  runnerActive = $state(false);
  domainFilter = $state<ExperienceDomain | 'all'>('all');
  /** A status line for the Learning view (role status). */
  message = $state('');

  #runner: JobRunner | null = null;
  #deps: LearningDeps;
  #refreshQueued = false;

  constructor(deps: LearningDeps) {
    this.#deps = deps;
  }

  get sharingPolicy(): SharingPolicy {
    return SHARING_OF_POLICY[this.#deps.sharePolicy()];
  }

  visibleExperiences = $derived(this.domainFilter === 'all' ? this.experiences : this.experiences.filter((e) => e.domain === this.domainFilter));

  async load(): Promise<void> {
    const db = this.#deps.db();
    const [experiences, log, episodes, jobs, sharing, playbooks, lastConsolidation] = await Promise.all([
      learningRepo.listExperiences(db),
      learningRepo.listLog(db),
      learningRepo.listEpisodes(db, 500),
      listJobs(db),
      learningRepo.listSharing(db),
      readPlaybooks(db),
      readLastConsolidation(db),
    ]);
    this.playbooks = Object.values(playbooks).flat();
    this.lastConsolidation = lastConsolidation;
    this.experiences = experiences;
    this.log = log;
    this.episodes = new Map(episodes.map((e) => [e.messageId, e]));
    this.jobs = jobs.sort((a, b) => b.createdAt - a.createdAt);
    this.sharing = new Map(sharing.map((s) => [s.experienceId, s]));
  }

  #extraHandlers: Partial<Record<JobClass, JobHandler>> = {};

  /** Background work of other layers on the same runner (the field's artifact checks); before `start`. */
  registerJobHandler(jobClass: Exclude<JobClass, 'rollouts'>, handler: JobHandler): void {
    this.#extraHandlers[jobClass] = handler;
  }

  /** Queues background work of another layer (one live job per class and subject). */
  async enqueue(jobClass: Exclude<JobClass, 'rollouts'>, subject: string): Promise<void> {
    await enqueueJob(this.#deps.db(), { jobClass, subject }, { now: this.#deps.now, newId: this.#deps.newId });
    this.#runner?.poke();
  }

  /**
   * Energy-adaptive scheduling (set before `start`): which jobs may start now,
   * at what speed, and a wrapper that logs each run.
   */
  scheduling: {
    accept: (job: Job) => boolean;
    speed: (job: Job) => number;
    instrument: (handlers: Partial<Record<JobClass, JobHandler>>) => Partial<Record<JobClass, JobHandler>>;
  } | null = null;

  /** Starts the background runner (once, when storage is open). */
  start(paused: boolean): void {
    if (this.#runner) return;
    this.paused = paused;
    const handlers: Partial<Record<JobClass, JobHandler>> = { ...this.#extraHandlers, rollouts: (job, context) => this.#runRollout(job, context) };
    const scheduling = this.scheduling;
    this.#runner = new JobRunner({
      db: this.#deps.db(),
      now: this.#deps.now,
      handlers: scheduling ? scheduling.instrument(handlers) : handlers,
      ...(scheduling ? { accept: scheduling.accept, speed: scheduling.speed } : {}),
      canRun: this.#deps.engineFree,
      onChange: () => this.#onRunnerChange(),
      onFailed: (job, error) => this.#onJobFailed(job, error),
      locks: this.#deps.locks,
    });
    this.#runner.start(paused);
  }

  /** The engine became free (a model loaded, a reply ended): look for work. */
  poke(): void {
    this.#runner?.poke();
  }

  #onRunnerChange(): void {
    const runner = this.#runner;
    if (!runner) return;
    this.current = runner.current;
    this.paused = runner.paused;
    this.runnerActive = runner.active;
    // Coalesce: a job reports progress often, the lists need re-reading only once per burst.
    if (this.#refreshQueued) return;
    this.#refreshQueued = true;
    queueMicrotask(() => {
      this.#refreshQueued = false;
      void this.load().catch((err: unknown) => console.warn('Could not refresh the learning view', err));
    });
  }

  // -------------------------------------------------------------------------
  // Conditioning

  conditioning(): ReplyConditioning {
    return {
      yieldEngine: async () => {
        await this.#runner?.preempt();
      },
      select: (question, budget) => {
        const selection = selectExperiences(this.experiences, [question], budget);
        const refs: EvidenceRef[] = selection.experiences.map((e, i) => ({
          kind: 'experience',
          id: e.id,
          title: `${e.domain} lesson`,
          snippet: e.text.slice(0, 240),
          score: selection.scores[i] ?? 0,
          truncated: false,
          provenance: { kind: 'experience', domain: e.domain, confidence: e.confidence, version: e.version },
        }));
        return { block: selection.block, refs };
      },
      used: (ids) => this.#countUse(ids),
      regenerating: async (replaced) => {
        await this.signal(replaced, { type: 'regenerated' });
      },
    };
  }

  async #countUse(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const db = this.#deps.db();
    const now = this.#deps.now();
    const current = await learningRepo.listExperiences(db);
    const used = current.filter((e) => ids.includes(e.id)).map((e) => updateAfterUse(e, 'unknown', now));
    // Counting a use is bookkeeping, not a change worth a history line.
    await learningRepo.applyLibraryStep(db, { put: used, remove: [], log: [] });
    await this.load();
  }

  // -------------------------------------------------------------------------
  // Episodes and feedback

  /** The episode of an answer, created from storage on first feedback. */
  async #episodeFor(message: Message): Promise<Episode> {
    const db = this.#deps.db();
    const stored = await learningRepo.getEpisodeOfMessage(db, message.id);
    if (stored) return stored;
    const messages = await this.#deps.listMessages(message.conversationId);
    const at = messages.findIndex((m) => m.id === message.id);
    const question = messages.slice(0, at < 0 ? messages.length : at).findLast((m) => m.role === 'user');
    const evidence = await this.#deps.evidenceOf(message.id);
    const usedExperienceIds = (evidence?.items ?? []).filter((i) => i.kind === 'experience').map((i) => i.id);
    const task = question?.content ?? '';
    return createEpisode({
      id: this.#deps.newId(),
      conversationId: message.conversationId,
      messageId: message.id,
      task,
      answer: message.content,
      domain: guessDomain(task),
      usedExperienceIds,
      now: this.#deps.now(),
    });
  }

  /** Thumbs up or down (null takes the judgement back). */
  async feedback(message: Message, value: Feedback | null): Promise<void> {
    await this.signal(message, { type: 'feedback', value });
  }

  /** The person's corrected answer: stored, scored against, and offered as a lesson to review. */
  async correct(message: Message, text: string): Promise<void> {
    const correction = text.trim();
    if (!correction) {
      this.message = 'Write the corrected answer first.';
      return;
    }
    const episode = await this.signal(message, { type: 'correction', text: correction });
    if (!episode) return;
    const verifier = episode.verifier ?? this.#deps.inferVerifier(correction);
    if (verifier && !episode.verifier) await this.setVerifier(episode.id, verifier);
    const draft = draftLesson(episode.task, correction);
    if (draft) this.drafts = new Map(this.drafts).set(message.id, { episodeId: episode.id, text: draft, domain: episode.domain });
  }

  /** Applies a signal, records the outcome on the experiences the answer used, queues a rollout if worth it. */
  async signal(message: Message, signal: EpisodeSignal): Promise<Episode | null> {
    try {
      const db = this.#deps.db();
      const before = await this.#episodeFor(message);
      let episode = applySignal(before, signal, this.#deps.now());
      // The first judgement of an answer is the outcome of the experiences it used.
      const judged = before.feedback === null && episode.feedback !== null;
      if (judged && episode.usedExperienceIds.length > 0) {
        const outcome = episode.feedback === 'up' ? 'success' : 'failure';
        const now = this.#deps.now();
        const library = await learningRepo.listExperiences(db);
        const touched = library.filter((e) => episode.usedExperienceIds.includes(e.id)).map((e) => recordOutcome(e, outcome, now));
        await learningRepo.applyLibraryStep(db, { put: touched, remove: [], log: [] });
      }
      if (worthLearning(episode)) episode = await this.#queueRollout(episode);
      await learningRepo.putEpisode(db, episode);
      if (judged && episode.feedback === 'up') await this.#offerForSharing(episode.usedExperienceIds);
      this.episodes = new Map(this.episodes).set(message.id, episode);
      this.message = signal.type === 'feedback' ? (signal.value ? 'Thanks: your feedback was saved.' : 'Feedback removed.') : this.message;
      await this.load();
      this.poke();
      return episode;
    } catch (err) {
      this.message = `Could not save your feedback: ${describe(err)}`;
      return null;
    }
  }

  /**
   * A rollout for the episode, due after a short pause: a thumbs-down is
   * often followed by a correction, and learning from both at once beats
   * learning twice. A job already running does not hold a new one back.
   */
  async #queueRollout(episode: Episode): Promise<Episode> {
    const now = this.#deps.now();
    await enqueueJob(this.#deps.db(), { jobClass: 'rollouts', subject: episode.id, notBefore: now + ROLLOUT_SETTLE_MS }, { now: this.#deps.now, newId: this.#deps.newId });
    return { ...episode, state: 'queued', stateReason: 'Waiting for a good moment to learn from it.' };
  }

  /** The person attaches a check to an answer (an expected number, a JSON example, unit tests). */
  async addCheck(message: Message, kind: CheckKind, text: string): Promise<boolean> {
    const check = checkFromInput(kind, text);
    if (!check.ok) {
      this.message = `The check was not saved: ${check.reason}`;
      return false;
    }
    const episode = await this.signal(message, { type: 'verifier', verifier: check.verifier });
    if (episode) this.message = 'Check saved: answers to this question will be scored by it.';
    return episode !== null;
  }

  async setVerifier(episodeId: string, verifier: Verifier | null): Promise<void> {
    const db = this.#deps.db();
    const episode = await learningRepo.getEpisode(db, episodeId);
    if (!episode) return;
    let next = applySignal(episode, { type: 'verifier', verifier }, this.#deps.now());
    if (worthLearning(next)) next = await this.#queueRollout(next);
    await learningRepo.putEpisode(db, next);
    await this.load();
    this.poke();
  }

  // -------------------------------------------------------------------------
  // Lessons (reviewed experiences from corrections)

  discardLesson(messageId: string): void {
    const next = new Map(this.drafts);
    next.delete(messageId);
    this.drafts = next;
  }

  /** The person reviewed the drafted lesson: validated like any proposal, then added with its history line. */
  async saveLesson(messageId: string, text: string, domain: ExperienceDomain): Promise<boolean> {
    const draft = this.drafts.get(messageId);
    if (!draft) return false;
    const parsed = parseExperienceText(text);
    if (!parsed.ok) {
      this.message = `This lesson cannot be saved: ${parsed.reason}`;
      return false;
    }
    const db = this.#deps.db();
    const episode = await learningRepo.getEpisode(db, draft.episodeId);
    const library = await learningRepo.listExperiences(db);
    if (episode) {
      const check = this.#deps.validate({ op: 'ADD', domain, text: parsed.text }, { episode, library, answers: [], advantage: 1 });
      if (!check.ok) {
        this.message = `This lesson cannot be saved (${check.reason}): ${check.detail}`;
        return false;
      }
    }
    const now = this.#deps.now();
    // A correction contrasts two answers: the one shown (0) and the person's (1).
    const experience = createExperience({ id: this.#deps.newId(), text: parsed.text, domain, confidence: initialConfidence(1), episodeIds: [draft.episodeId], now });
    const log: LearningLogEntry = {
      id: this.#deps.newId(),
      at: now,
      kind: 'ADD',
      source: 'lesson',
      experienceId: experience.id,
      episodeId: draft.episodeId,
      before: null,
      after: experience,
      reason: 'Lesson from your correction, reviewed by you',
      detail: '',
      groupSize: 2,
      rewardSpread: 1,
    };
    await learningRepo.applyLibraryStep(db, {
      put: [experience],
      remove: [],
      log: [log],
      ...(episode ? { episode: { ...episode, state: episode.state === 'queued' ? 'queued' : 'learned', stateReason: 'You saved a lesson from it.' } } : {}),
    });
    this.discardLesson(messageId);
    this.message = 'Lesson saved to your experience library.';
    await this.load();
    await this.#offerForSharing([experience.id]);
    return true;
  }

  // -------------------------------------------------------------------------
  // The library

  async edit(id: string, text: string, domain: ExperienceDomain): Promise<boolean> {
    const db = this.#deps.db();
    const current = this.experiences.find((e) => e.id === id);
    if (!current) return false;
    const parsed = parseExperienceText(text);
    if (!parsed.ok) {
      this.message = `Not saved: ${parsed.reason}`;
      return false;
    }
    const now = Math.max(this.#deps.now(), current.updatedAt);
    const after: Experience = { ...current, text: parsed.text, condition: parsed.condition, strategy: parsed.strategy, domain, updatedAt: now, version: current.version + 1 };
    try {
      await learningRepo.applyLibraryStep(
        db,
        {
          put: [after],
          remove: [],
          log: [{ id: this.#deps.newId(), at: now, kind: 'EDIT', source: 'person', experienceId: id, episodeId: null, before: current, after, reason: 'Edited by you', detail: '', groupSize: null, rewardSpread: null }],
        },
        new Map([[id, current.version]]),
      );
      // An edit makes an earlier sharing decision stale.
      const sharing = this.sharing.get(id);
      if (sharing && sharing.state !== 'shared') await learningRepo.putSharing(db, { ...sharing, state: 'local', reason: 'Edited since', experienceVersion: after.version, updatedAt: now });
      this.message = 'Experience saved.';
      return true;
    } catch (err) {
      this.message = describe(err);
      return false;
    } finally {
      await this.load();
    }
  }

  async remove(id: string): Promise<void> {
    const db = this.#deps.db();
    const current = this.experiences.find((e) => e.id === id);
    if (!current) return;
    const now = this.#deps.now();
    try {
      await learningRepo.applyLibraryStep(
        db,
        {
          put: [],
          remove: [id],
          log: [{ id: this.#deps.newId(), at: now, kind: 'DELETE', source: 'person', experienceId: id, episodeId: null, before: current, after: null, reason: 'Deleted by you', detail: '', groupSize: null, rewardSpread: null }],
        },
        new Map([[id, current.version]]),
      );
      this.message = 'Experience deleted.';
    } catch (err) {
      this.message = describe(err);
    } finally {
      await this.load();
    }
  }

  historyOf(id: string): LearningLogEntry[] {
    return this.log.filter((e) => e.experienceId === id);
  }

  // -------------------------------------------------------------------------
  // Sharing

  async setSharingPolicy(policy: SharingPolicy): Promise<void> {
    const problem = await this.#deps.setSharePolicy(POLICY_OF_SHARING[policy]);
    this.message = problem ?? `Sharing: ${policy === 'auto' ? 'automatic' : policy === 'ask' ? 'ask each time' : 'never'}.`;
  }

  /** The person's Share click: through the execution layer (confirmation when the policy asks). */
  async share(id: string): Promise<void> {
    const result = await this.#deps.runAction(id, 'person');
    await this.#afterShareAction(id, result);
  }

  async #afterShareAction(id: string, result: ActionResult): Promise<void> {
    if (result.outcome === 'cancelled' || (result.outcome === 'refused' && this.sharingPolicy === 'never')) {
      const experience = this.experiences.find((e) => e.id === id);
      if (experience) {
        await this.#setSharing(experience, result.outcome === 'cancelled' ? 'declined' : 'local', result.message).catch(() => {});
      }
    }
    this.message = result.outcome === 'done' ? result.result : result.message;
    await this.load();
  }

  /**
   * The share-artifact action's effect (called by the execution layer only):
   * validate for sharing, project for privacy, build the canonical artifact,
   * queue it for the network. Throws with the reason when it is blocked.
   */
  async queueArtifact(experienceId: string): Promise<string> {
    const db = this.#deps.db();
    const experience = (await learningRepo.listExperiences(db)).find((e) => e.id === experienceId);
    if (!experience) throw new Error('That experience no longer exists.');
    const log = await learningRepo.listLog(db, { experienceId, limit: 1000 });
    const embedding = await this.#deps.embed(experience.text).catch(() => null);
    const built = buildShareableArtifact(
      { experience, kind: log.some((l) => l.source === 'lesson') ? 'correction' : 'strategy', evidence: evidenceFor(experienceId, log), embedderId: this.#deps.embedderId(), ...(embedding ? { embedding } : {}) },
      (e) => this.#deps.validateForSharing(e, false),
      this.#deps.projection(),
    );
    if (!built.ok) {
      const reason = `Kept on this device: ${built.stage === 'privacy' ? 'the privacy filter' : built.stage === 'validation' ? 'validation' : 'the artifact schema'} refused it (${built.reason}${built.detail ? `: ${built.detail}` : ''}).`;
      await this.#setSharing(experience, 'blocked', reason);
      throw new Error(reason);
    }
    const now = this.#deps.now();
    await learningRepo.putSharing(
      db,
      { experienceId, experienceVersion: experience.version, state: 'queued', reason: 'Waiting for a network to send it to.', contentId: built.contentId, artifact: canonicalJson(built.artifact), bytes: built.bytes, updatedAt: now },
      this.#sharingLog(
        experience,
        `Queued for your network as ${built.contentId.slice(0, 14)}… (${built.bytes} bytes${built.redactions.length ? `, ${built.redactions.reduce((n, r) => n + r.count, 0)} private details removed` : ''}${built.ldp ? `, embedding bits randomised with ε = ${built.ldp.epsilonPerBit} per bit` : ''})`,
      ),
    );
    const ldp = built.ldp ? `, embedding bits randomised with ε = ${built.ldp.epsilonPerBit} per bit` : '';
    const handed = await this.#publishQueued();
    return handed > 0
      ? `Shared with your network (${built.bytes} bytes, privacy-filtered${ldp}).`
      : `Queued for your network (${built.bytes} bytes, privacy-filtered${ldp}); it is sent once you are in a network.`;
  }

  /**
   * The fine-tuning dataset (JSONL in chat format, with provenance): the
   * person's corrections and the answers they approved or a check passed,
   * privacy-checked (secrets drop a line, personal data is replaced).
   * Checks are re-run here on the stored answers; code checks in the sandbox.
   */
  async fineTuningData(): Promise<{ jsonl: string; summary: string } | null> {
    try {
      const db = this.#deps.db();
      const episodes = await learningRepo.listEpisodes(db, MAX_EXPORT_EPISODES);
      const checks = new Map<string, boolean>();
      for (const e of episodes) {
        if (!e.verifier) continue;
        const result = await this.#deps.verify(e.verifier, e.answer).catch(() => null);
        if (result) checks.set(e.id, result.score >= 1);
      }
      const { jsonl, report } = exportFinetuneDataset({
        episodes,
        experiences: await learningRepo.listExperiences(db),
        checks,
        privateVocabulary: this.#deps.projection().privateVocabulary as readonly PrivateTermInput[],
      });
      const dropped = Object.entries(report.dropped).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`);
      const redactions = Object.values(report.redactions).reduce((a, b) => a + b, 0);
      const summary =
        `${report.written} example${report.written === 1 ? '' : 's'} from ${report.considered} episode${report.considered === 1 ? '' : 's'}` +
        (dropped.length ? `; left out: ${dropped.join(', ')}` : '') +
        (redactions ? `; ${redactions} private detail${redactions === 1 ? '' : 's'} replaced` : '') +
        '.';
      this.message = `Fine-tuning data: ${summary}`;
      return { jsonl, summary };
    } catch (err) {
      this.message = `Could not build the fine-tuning data: ${describe(err)}`;
      return null;
    }
  }

  /** Builds the fine-tuning data and saves it as a file on this device. */
  async downloadFineTuningData(): Promise<void> {
    const data = await this.fineTuningData();
    if (data) this.#deps.download(`h3lix-finetune-${new Date(this.#deps.now()).toISOString().slice(0, 10)}.jsonl`, data.jsonl, 'application/jsonl');
  }

  /** Artifacts queued while this device was in no network go out now (after a join, at startup). */
  async publishQueued(): Promise<number> {
    try {
      return await this.#publishQueued();
    } finally {
      await this.load();
    }
  }

  async #publishQueued(): Promise<number> {
    const db = this.#deps.db();
    let handed = 0;
    for (const record of await learningRepo.listSharing(db)) {
      if (record.state !== 'queued' || !record.artifact) continue;
      const parsed = (() => {
        try {
          return parseArtifact(record.artifact);
        } catch {
          return null;
        }
      })();
      if (!parsed) continue;
      const result = await this.#deps.publish(parsed.artifact);
      if (!result) return handed;
      handed++;
      await learningRepo.putSharing(db, {
        ...record,
        state: 'shared',
        reason: result.sent ? 'Sent to your network.' : 'In the network outbox: it goes out when a member is online.',
        updatedAt: this.#deps.now(),
      });
    }
    return handed;
  }

  #sharingLog(experience: Experience, reason: string): LearningLogEntry {
    return { id: this.#deps.newId(), at: this.#deps.now(), kind: 'SHARING', source: 'person', experienceId: experience.id, episodeId: null, before: null, after: null, reason, detail: '', groupSize: null, rewardSpread: null };
  }

  async #setSharing(experience: Experience, state: SharingRecord['state'], reason: string): Promise<void> {
    await learningRepo.putSharing(
      this.#deps.db(),
      { experienceId: experience.id, experienceVersion: experience.version, state, reason, contentId: null, artifact: null, bytes: null, updatedAt: this.#deps.now() },
      this.#sharingLog(experience, reason),
    );
  }

  /** After learning: share automatically (standing consent), wait for approval (ask), or stay local (never). */
  async #offerForSharing(ids: readonly string[]): Promise<void> {
    const policy = this.sharingPolicy;
    if (policy === 'never') return;
    const library = await learningRepo.listExperiences(this.#deps.db());
    for (const id of ids) {
      const experience = library.find((e) => e.id === id);
      if (!experience) continue;
      const current = await learningRepo.getSharing(this.#deps.db(), id);
      // Already decided for this version: offered, queued, shared or declined.
      if (current && current.experienceVersion === experience.version && current.state !== 'local' && current.state !== 'blocked') continue;
      const check = this.#deps.validateForSharing(experience, true);
      // Not proven yet (too few confirmed uses): it stays local quietly and is offered again after a good outcome.
      if (!check.ok && check.reason === 'low-confidence') continue;
      if (!check.ok) {
        await this.#setSharing(experience, 'blocked', `Kept on this device: ${check.reason} (${check.detail}).`).catch(() => {});
        continue;
      }
      if (policy === 'auto') {
        const result = await this.#deps.runAction(id, 'policy');
        if (result.outcome !== 'done') this.message = result.message;
      } else {
        await this.#setSharing(experience, 'awaiting-approval', 'Waiting for you to approve sharing it.').catch(() => {});
      }
    }
    await this.load();
  }

  // -------------------------------------------------------------------------
  // Jobs

  async pause(): Promise<void> {
    await this.#runner?.pause();
    this.paused = true;
    await this.#deps.savePaused(true).catch(() => {});
    this.message = 'Background learning paused.';
  }

  resume(): void {
    this.#runner?.resume();
    this.paused = false;
    void this.#deps.savePaused(false).catch(() => {});
    this.message = 'Background learning resumed.';
  }

  /** Stops the job in progress and waits (before an import or "delete everything"). */
  async settle(): Promise<void> {
    await this.#runner?.preempt();
  }

  async runNow(jobId: string): Promise<void> {
    if (!this.#runner) return;
    await this.#runner.runNow(jobId);
    this.message = 'The job will run as soon as the model is free.';
  }

  async #runRollout(job: Job, context: JobContext): Promise<string> {
    const db = this.#deps.db();
    const episode = await learningRepo.getEpisode(db, job.subject);
    if (!episode) throw new PermanentJobError('Its episode was deleted.');
    const library = await learningRepo.listExperiences(db);
    const outcome = await learnFromEpisode(
      episode,
      library,
      {
        // A throttled run (its deadline passed in a bad window) spaces its generations out.
        generator: {
          generate: async (turns, options, signal) => {
            await context.pace();
            return this.#deps.generate(turns, options, signal ?? context.signal);
          },
        },
        now: this.#deps.now,
        newId: this.#deps.newId,
        verify: this.#deps.verify,
        validate: this.#deps.validate,
        onProgress: (p) => context.progress({ text: stageText(p), fraction: p.total > 0 ? p.done / p.total : null }),
        signal: context.signal,
      },
      // The judge grades answers only where no check or correction can (8 tokens each).
      { groupSize: APP_GROUP_SIZE, rollout: APP_ROLLOUT, advantage: APP_ADVANTAGE, judge: true },
    );
    return this.#storeOutcome(episode, library, outcome);
  }

  async #storeOutcome(snapshot: Episode, library: readonly Experience[], outcome: LearnOutcome): Promise<string> {
    const db = this.#deps.db();
    const now = this.#deps.now();
    // Signals may have arrived while the job ran (a correction): never write over them,
    // and when they queued another run, the episode stays queued for it.
    const episode = (await learningRepo.getEpisode(db, snapshot.id)) ?? snapshot;
    const requeued = (await jobsFor(db, 'rollouts', episode.id)).some((j) => j.state === 'queued');
    const stateAfter = (state: Episode['state']): Episode['state'] => (requeued ? 'queued' : state);
    const base = { at: now, source: 'rollout' as const, episodeId: episode.id, groupSize: Math.min(64, outcome.group.length), rewardSpread: Math.min(1, Math.max(0, outcome.advantage.spread)) };
    // How the group was scored, for the person: which answer got what, and why.
    const summary = outcome.group
      .map((m, i) => `${m.origin === 'correction' ? 'your correction' : m.origin === 'shown' ? 'the answer you saw' : `sample ${i + 1}`}: ${m.score.toFixed(2)} (${m.detail || m.source})`)
      .join('\n');
    const rejectedEntries: LearningLogEntry[] = outcome.rejected.map((r) => ({
      id: this.#deps.newId(),
      ...base,
      kind: 'REJECTED',
      experienceId: null,
      before: null,
      after: null,
      reason: `Proposal rejected (${r.reason}): ${r.detail}`.slice(0, 2000),
      detail: r.op.text.slice(0, 4000),
    }));
    if (outcome.status === 'learned') {
      const changed = outcome.merge.log;
      const put = changed.flatMap((l) => (l.after ? [l.after] : []));
      const remove = changed.filter((l) => l.after === null).map((l) => l.id);
      const versions = new Map(changed.flatMap((l) => (l.before ? [[l.id, l.before.version] as const] : [])));
      const reason = `Learned: ${changed.map((l) => l.op).join(', ')}`;
      await learningRepo.applyLibraryStep(
        db,
        {
          put,
          remove,
          log: [...entriesOfStep(changed, { ...base, newId: this.#deps.newId }).map((e) => ({ ...e, detail: summary.slice(0, 4000) })), ...rejectedEntries],
          episode: { ...episode, state: stateAfter('learned'), stateReason: reason, updatedAt: Math.max(now, episode.updatedAt) },
        },
        versions,
      );
      await this.#offerForSharing(put.map((e) => e.id));
      void library;
      return reason;
    }
    const kind = outcome.status === 'rejected' ? 'REJECTED' : 'NOTHING';
    const entry: LearningLogEntry = {
      id: this.#deps.newId(),
      ...base,
      kind,
      experienceId: null,
      before: null,
      after: null,
      reason: outcome.reason.slice(0, 2000),
      detail: [summary, ...(outcome.status === 'rejected' ? [outcome.reasons.slice(0, 5).join('; ')] : []), outcome.output ?? ''].filter(Boolean).join('\n---\n').slice(0, 4000),
    };
    await learningRepo.addLogEntries(db, [entry, ...rejectedEntries], {
      ...episode,
      state: stateAfter(outcome.status === 'rejected' ? 'rejected' : 'nothing-to-learn'),
      stateReason: outcome.reason.slice(0, 2000),
      updatedAt: Math.max(now, episode.updatedAt),
    });
    return outcome.reason;
  }

  async #onJobFailed(job: Job, error: string): Promise<void> {
    const db = this.#deps.db();
    const episode = await learningRepo.getEpisode(db, job.subject);
    const now = this.#deps.now();
    await learningRepo.addLogEntries(
      db,
      [{ id: this.#deps.newId(), at: now, kind: 'FAILED', source: 'rollout', experienceId: null, episodeId: episode?.id ?? null, before: null, after: null, reason: `Learning failed: ${error}`.slice(0, 2000), detail: '', groupSize: null, rewardSpread: null }],
      episode ? { ...episode, state: 'failed', stateReason: error.slice(0, 2000), updatedAt: Math.max(now, episode.updatedAt) } : undefined,
    );
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
