/**
 * The app's composition root: opens storage, starts the engine worker, reads
 * the deploy config and the person's settings, and wires the reactive states
 * together. Nothing here runs at import time; `start()` does it once.
 */
import type { UpdateHandle } from '../services/pwa';
import { EngineClient } from '../services/engine-client';
import { openDatabase, type H3lixDatabase } from '../services/db';
import * as repo from '../services/chat-repository';
import { exportAll, importAll, deleteEverything, suggestedExportFileName } from '../services/backup';
import { checkExportFileSize } from '../lib/data/export-format';
import { readStorageEstimate, requestPersistence } from '../services/storage-estimate';
import { DEFAULT_DEPLOY_CONFIG, loadDeployConfig, type DeployConfig } from '../services/deploy-config';
import { effectiveModelSource, normaliseMirrorUrl } from '../lib/engine/model-source';
import { findEntry } from '../lib/engine/catalogue';
import { EngineState } from './engine.svelte';
import { ChatState, type ChatStore } from './chat.svelte';
import { DataState } from './data.svelte';
import { ProfileState } from './profile.svelte';
import { loadOrCreateIdentity } from '../services/identity';
import { ActionsState } from './actions.svelte';
import type { ValidatedRequest } from '../lib/governance/actions';
import type { AuditEntry } from '../lib/governance/audit';
import type { EvidenceRecord } from '../lib/governance/evidence';
import { evaluateExpression, formatCalculatorResult } from '../lib/governance/calculator';
import { conversationToMarkdown, markdownFileName } from '../lib/chat/markdown-export';
import { ReminderScheduler, ensureNotificationPermission, showReminder, type Reminder } from '../services/reminders';
import { downloadText } from '../services/download';
import { MemoryState } from './memory.svelte';
import { EmbedderClient } from '../services/embedder-client';
import { KnowledgeBase } from '../services/knowledge';
import { listMemories } from '../services/memory-repository';
import { listDocuments } from '../services/document-repository';
import { extractPdfText } from '../services/pdf-text';
import { DEFAULT_EMBEDDER } from '../lib/memory/types';
import type { ModelSource } from '../lib/engine/contract';
import { LearningState } from './learning.svelte';
import { NetworkState } from './network.svelte';
import { NetworkService } from '../services/network';
import { FieldService } from '../services/field-service';
import { FieldState } from './field.svelte';
import { AUTO_VOTE_GENERATE_OPTIONS, judgeArtifactOnEpisodes } from '../lib/ccf/auto-vote';
import type { ContentId } from '../lib/artifacts/schema';
import type { ChatTurn, GenerateOptions } from '../lib/engine/contract';
import { PermanentJobError } from '../services/job-runner';
import { BackgroundSync, type NavigatorLike, type WindowLike } from '../services/background-sync';
import { listEpisodes } from '../services/learning-repository';
import { createConsolidationHandler, createSelfTrainingHandler, readLastConsolidation } from '../services/background-jobs';
import { EnergySignalsService, type NavigatorLike as EnergyNavigatorLike } from '../services/energy-signals';
import { EnergyScheduler } from '../services/energy-scheduler';
import { EnergyState } from './energy.svelte';
import { listJobs } from '../services/job-queue';
import type { ExtraRetrieval } from './memory.svelte';

/** Share of the context window the network's priors may take (beside memories and documents). */
const FIELD_SHARE = 0.1;
/** A calibration answer is a few tokens; one that takes longer than this is given up (the task lapses). */
const CALIBRATION_ANSWER_TIMEOUT_MS = 60_000;
/** A background flush waits this long for the transport to reach a member after the connection returns. */
const FLUSH_WAIT_FOR_PEER_MS = 20_000;
/** Playbooks are distilled once a day: the field changes over hours, not minutes. */
const CONSOLIDATION_EVERY_MS = 24 * 3_600_000;
/** Practice on weak domains at most once a day (a run is minutes of generation). */
const SELF_TRAINING_EVERY_MS = 24 * 3_600_000;

/** Uniform in [0, 1) from the platform's cryptographic source. */
function cryptoRandom(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] as number) / 2 ** 32;
}
import { runVerifier, inferVerifier } from '../lib/learning/verifiers';
import { validateCandidate, validateForSharing } from '../lib/learning/validation';
import { privateTermsFrom } from '../lib/learning/private-terms';
import { initialConfidence } from '../lib/learning/library-merge';
import { languageTagOf } from '../lib/learning/language-tag';
import { compressEmbedding } from '../lib/artifacts/embedding-codec';
import { CodeSandbox } from '../services/code-sandbox';

/** Randomised response on the shared embedding bits: ε per bit (shown with each share). */
export const SHARE_LDP_EPSILON = 2;

const now = () => Date.now();
const newId = () => crypto.randomUUID();

function createEmbedderWorker(): Worker {
  return new Worker(new URL('../workers/embedder.worker.ts', import.meta.url), { type: 'module', name: 'h3lix-embedder' });
}

async function readFileText(file: File, signal: AbortSignal): Promise<string> {
  const isPdf = file.type === 'application/pdf' || file.name.toLowerCase().endsWith('.pdf');
  if (isPdf) return (await extractPdfText(new Uint8Array(await file.arrayBuffer()), { fileName: file.name, signal })).text;
  return file.text();
}

function createWorker(): Worker {
  return new Worker(new URL('../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'h3lix-engine' });
}

export class AppState {
  /** Set when storage cannot be opened at all (private mode, disabled IndexedDB). */
  fatal = $state<string | null>(null);
  started = $state(false);
  /** A passing message about storage (another tab blocking an upgrade). */
  notice = $state<string | null>(null);
  update = $state.raw<UpdateHandle | null>(null);
  deployConfig = $state.raw<DeployConfig>(DEFAULT_DEPLOY_CONFIG);
  personalMirror = $state<string | null>(null);

  readonly engine: EngineState;
  readonly chat: ChatState;
  readonly data: DataState;
  readonly profile: ProfileState;
  readonly actions: ActionsState;
  readonly memory: MemoryState;
  readonly learning: LearningState;
  readonly network: NetworkState;
  readonly field: FieldState;
  readonly energy: EnergyState;

  #db: H3lixDatabase | null = null;
  #fieldService: FieldService | null = null;
  #energySignals: EnergySignalsService | null = null;
  #energyScheduler: EnergyScheduler | null = null;
  /** Stops a calibration answer in progress (the person's reply comes first). */
  #calibrationAbort: AbortController | null = null;
  #embedder: EmbedderClient | null = null;
  #knowledge: KnowledgeBase | null = null;
  #client: EngineClient;

  constructor() {
    this.#client = new EngineClient(createWorker);
    this.engine = new EngineState(this.#client);
    const store: ChatStore = {
      listConversations: () => repo.listConversations(this.#requireDb()),
      createConversation: (init) => repo.createConversation(this.#requireDb(), init, { now, newId }),
      renameConversation: (id, title) => repo.renameConversation(this.#requireDb(), id, title, now),
      setSystemPrompt: (id, text) => repo.setSystemPrompt(this.#requireDb(), id, text, now),
      deleteConversation: (id) => repo.deleteConversation(this.#requireDb(), id),
      listMessages: (id) => repo.listMessages(this.#requireDb(), id),
      addMessage: (m) => repo.addMessage(this.#requireDb(), m, { now, newId }),
      updateMessage: (id, patch) => repo.updateMessage(this.#requireDb(), id, patch),
      saveStreamingProgress: (id, content) => repo.saveStreamingProgress(this.#requireDb(), id, content),
      deleteMessages: (ids) => repo.deleteMessages(this.#requireDb(), ids),
      recoverInterrupted: () => repo.recoverInterrupted(this.#requireDb()),
      getEvidence: async (ids) =>
        (await this.#requireDb().table<EvidenceRecord, string>('evidence').bulkGet(ids)).filter(
          (r): r is EvidenceRecord => r !== undefined,
        ),
      putEvidence: async (record) => {
        await this.#requireDb().table<EvidenceRecord, string>('evidence').put(record);
      },
    };
    this.profile = new ProfileState({
      loadIdentity: () => loadOrCreateIdentity(this.#requireDb(), now),
      loadProfile: async () => {
        const s = await repo.getSettings(this.#requireDb());
        return { profileName: s.profileName, profileLanguage: s.profileLanguage, standingInstructions: s.standingInstructions };
      },
      saveProfile: async (p) => {
        const db = this.#requireDb();
        await repo.setSetting(db, 'profileName', p.profileName);
        await repo.setSetting(db, 'profileLanguage', p.profileLanguage);
        await repo.setSetting(db, 'standingInstructions', p.standingInstructions);
      },
    });
    this.memory = new MemoryState({
      knowledge: () => this.#knowledge,
      embedder: () => this.#embedder,
      listMemories: () => listMemories(this.#requireDb()),
      listDocuments: () => listDocuments(this.#requireDb()),
      readFileText,
      now,
      newId,
    });
    // The network's accepted artifacts are retrieved with the memories, as delimited priors.
    const fieldRetrieval: ExtraRetrieval = {
      active: () => this.#fieldService !== null && this.#fieldService.acceptedCount > 0,
      retrieve: (question, vector, contextWindow) =>
        this.#fieldService?.project(question, Math.floor(contextWindow * FIELD_SHARE), vector ?? undefined).items ?? [],
    };
    this.chat = new ChatState(store, this.engine, () => this.profile.profile, this.memory.retriever(fieldRetrieval), now, (text, conversationId) =>
      this.memory.handlePersonMessage(text, conversationId),
    );
    const codeSandbox = new CodeSandbox();
    const backgroundGenerate = async (turns: ChatTurn[], options: GenerateOptions, signal: AbortSignal): Promise<string> => {
      const result = await this.#client.generate(turns, options, { signal });
      // A stop asked for by the runner (the person's reply comes first) is not an answer.
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('Stopped', 'AbortError');
      return result.text;
    };
    this.learning = new LearningState({
      db: () => this.#requireDb(),
      generate: backgroundGenerate,
      engineFree: () => this.engine.loaded !== null && this.engine.status === 'ready' && !this.chat.busy,
      listMessages: (id) => repo.listMessages(this.#requireDb(), id),
      evidenceOf: (id) => this.#requireDb().table<EvidenceRecord, string>('evidence').get(id),
      verify: async (verifier, answer, signal) => {
        const r = await runVerifier(verifier, answer, codeSandbox, signal);
        return { score: r.score, detail: r.detail };
      },
      inferVerifier,
      validate: (op, { episode, library, answers, advantage }) =>
        validateCandidate(
          {
            text: op.text,
            domain: op.op === 'ADD' ? op.domain : (op.domain ?? library.find((e) => e.id === op.id)?.domain ?? 'other'),
            confidence: initialConfidence(advantage),
            ...(op.op === 'UPDATE' ? { id: op.id } : {}),
          },
          // Near-copies of existing lessons are not refused here: applyBatch merges them
          // into the existing one (repeated evidence raises its confidence).
          { episode: { ...episode, answers }, library: [], preferredLanguage: this.#languageTag() },
        ),
      validateForSharing: (experience, strict) => {
        const offered = new Set([...this.learning.sharing.values()].filter((r) => r.state === 'queued' || r.state === 'shared').map((r) => r.experienceId));
        return validateForSharing(experience, {
          preferredLanguage: this.#languageTag(),
          shared: this.learning.experiences.filter((e) => offered.has(e.id)),
          ...(strict ? {} : { minSuccesses: 0 }),
        });
      },
      projection: () => ({
        privateVocabulary: privateTermsFrom(this.profile.profile.profileName, this.memory.memories.map((m) => m.text)),
        now: now(),
        random: Math.random,
        ldp: { epsilon: SHARE_LDP_EPSILON },
      }),
      embedderId: () => this.deployConfig.embedder ?? DEFAULT_EMBEDDER,
      embed: async (text) => {
        const [vector] = (await this.#embedder?.embed([text])) ?? [];
        return vector ? compressEmbedding(vector) : null;
      },
      sharePolicy: () => this.actions.policyOf(this.actions.actions.find((a) => a.id === 'share-artifact')!),
      setSharePolicy: (policy) => this.actions.setPolicy('share-artifact', policy),
      runAction: (id, origin) =>
        origin === 'person' ? this.actions.run('share-artifact', { artifactId: id }) : this.actions.runAutomatically('share-artifact', { artifactId: id }),
      locks: typeof navigator !== 'undefined' && 'locks' in navigator ? navigator.locks : null,
      savePaused: (paused) => repo.setSetting(this.#requireDb(), 'learningPaused', paused),
      publish: (artifact) => this.network.share(artifact),
      download: downloadText,
      now,
      newId,
    });
    const learningConditioning = this.learning.conditioning();
    this.chat.setConditioning({
      ...learningConditioning,
      // The person's reply comes first: a calibration answer for a peer stops too.
      yieldEngine: async () => {
        this.#calibrationAbort?.abort(new DOMException('The person is asking', 'AbortError'));
        await learningConditioning.yieldEngine();
      },
    });
    let identity: Promise<import('../services/identity').NodeIdentity> | null = null;
    const networkService = new NetworkService({
      db: () => this.#requireDb(),
      identity: () => (identity ??= loadOrCreateIdentity(this.#requireDb(), now)),
      displayName: () => this.profile.profile.profileName,
      now,
      defaultRelays: () => this.deployConfig.relays ?? [],
      onChange: () => this.network.changed(),
      onStored: (item) => this.#fieldService?.apply(item),
      onCalibrationTask: (message) => void this.#fieldService?.onCalibrationTask(message),
      onCalibrationAnswer: (message) => void this.#fieldService?.onCalibrationAnswer(message),
    });
    this.network = new NetworkState(networkService, () => `${location.origin}/`);
    // The outbox and the service worker: a sync event (after a connection comes back, even
    // with the tab in the background) or the page's online event flushes what waits.
    if (typeof navigator !== 'undefined' && 'serviceWorker' in navigator) {
      this.network.backgroundSync = new BackgroundSync({
        navigator: navigator as unknown as NavigatorLike,
        window: window as unknown as WindowLike,
        flush: async () => {
          if (!networkService.membership) return { sent: 0, left: 0 };
          // Woken as the connection comes back: give the transport a moment to reach a member first.
          for (let waited = 0; networkService.peerCount() === 0 && waited < FLUSH_WAIT_FOR_PEER_MS; waited += 500) await new Promise((r) => setTimeout(r, 500));
          const sent = await networkService.flush();
          return { sent, left: await this.#requireDb().table('outbox').count() };
        },
        wakeJobs: async () => {
          await this.#energyScheduler?.evaluate();
          this.learning.poke();
        },
        onChange: () => this.network.changed(),
        now,
      });
    }
    this.#fieldService = new FieldService({
      db: () => this.#requireDb(),
      now,
      self: () => networkService.selfId(),
      heldItems: () => networkService.heldItems(),
      castVote: (vote) => networkService.castVote(vote),
      memberNames: () => networkService.memberNames(),
      onChange: () => this.field.changed(),
      present: () => new Set(networkService.memberNames().keys()),
      sendCalibrationTask: (task) => networkService.sendCalibrationTask(task),
      sendCalibrationAnswer: (answer) => networkService.sendCalibrationAnswer(answer),
      answerWithModel: (turns, options) => {
        // Only an idle model answers: never during the person's reply or a learning job.
        const free = this.engine.loaded !== null && this.engine.status === 'ready' && !this.chat.busy && this.learning.current === null;
        if (!free || this.#calibrationAbort) return null;
        const abort = new AbortController();
        this.#calibrationAbort = abort;
        const timeout = setTimeout(() => abort.abort(new DOMException('Calibration answer took too long', 'TimeoutError')), CALIBRATION_ANSWER_TIMEOUT_MS);
        return this.#client
          .generate(turns, options, { signal: abort.signal })
          .then((r) => {
            if (abort.signal.aborted) throw abort.signal.reason instanceof Error ? abort.signal.reason : new DOMException('Stopped', 'AbortError');
            return r.text;
          })
          .finally(() => {
            clearTimeout(timeout);
            if (this.#calibrationAbort === abort) this.#calibrationAbort = null;
          });
      },
    });
    this.field = new FieldState(this.#fieldService);
    // The automatic vote: each new artifact from a peer is tried on this node's own
    // checkable episodes in a deferrable background job (the person's vote always wins).
    const fieldService = this.#fieldService;
    this.learning.registerJobHandler('artifact-check', async (job, context) => {
      const entry = fieldService.field.artifact(job.subject as ContentId);
      if (!entry) throw new PermanentJobError('The artifact is no longer in the field.');
      if (fieldService.voteOrigin(entry.id) === 'person') return 'You already voted on it.';
      context.progress({ text: 'Trying the artifact on your own checked answers', fraction: null });
      const decision = await judgeArtifactOnEpisodes({
        artifact: entry.artifact,
        episodes: await listEpisodes(this.#requireDb()),
        generate: async (turns, signal) => {
          await context.pace();
          return backgroundGenerate(turns, AUTO_VOTE_GENERATE_OPTIONS, signal ?? context.signal);
        },
        runCheck: async (verifier, answer, signal) => ({ passed: (await runVerifier(verifier, answer, codeSandbox, signal)).score >= 1 }),
        signal: context.signal,
      });
      if (!decision.vote) return `No vote: ${decision.reason}`;
      await fieldService.vote(entry.id, decision.vote.value, 'check', decision.vote.confidence);
      return `Voted ${decision.vote.value} (confidence ${decision.vote.confidence.toFixed(2)}): ${decision.reason}`;
    });
    fieldService.onArtifact((id) => void this.learning.enqueue('artifact-check', id).catch((err: unknown) => console.warn('Could not queue the artifact check', err)));
    // Consolidation (playbooks from proven lessons and accepted artifacts) and self-training
    // (practice on the field's weak domains): heavy, deferrable, scheduled by the energy policy.
    this.learning.registerJobHandler(
      'consolidation',
      createConsolidationHandler({ db: () => this.#requireDb(), acceptedArtifacts: () => fieldService.acceptedArtifacts(), now, newId }),
    );
    this.learning.registerJobHandler(
      'self-training',
      createSelfTrainingHandler({
        db: () => this.#requireDb(),
        generate: backgroundGenerate,
        runCheck: async (verifier, answer, signal) => {
          const r = await runVerifier(verifier, answer, codeSandbox, signal);
          return { score: r.score, detail: r.detail };
        },
        curricula: () => fieldService.curricula(),
        random: cryptoRandom,
        now,
        newId,
        onDone: () => this.learning.poke(),
      }),
    );

    // Energy-adaptive scheduling: background jobs wait for power to spare and a clean grid.
    const energyDb = () => this.#requireDb();
    this.#energySignals = new EnergySignalsService({
      db: energyDb,
      now,
      navigator: typeof navigator !== 'undefined' ? (navigator as unknown as EnergyNavigatorLike) : null,
      events: typeof window !== 'undefined' ? window : null,
      fetch: (url, init) => fetch(url, init),
    });
    this.#energyScheduler = new EnergyScheduler({ db: energyDb, now, signals: this.#energySignals, jobs: () => listJobs(this.#requireDb()) });
    const scheduler = this.#energyScheduler;
    this.learning.scheduling = {
      accept: (job) => scheduler.accept(job),
      speed: (job) => scheduler.speed(job),
      instrument: (handlers) => scheduler.instrument(handlers),
    };
    scheduler.onWake(() => this.learning.poke());
    this.energy = new EnergyState({ signals: this.#energySignals, scheduler, overrides: () => ({ paused: this.learning.paused, runNow: [] }) });
    this.network.onMember = async () => {
      await this.field.reload();
      await this.learning.publishQueued();
    };
    this.actions = new ActionsState(
      {
        loadPolicies: () => repo.getSetting(this.#requireDb(), 'actionPolicies'),
        savePolicies: (o) => repo.setSetting(this.#requireDb(), 'actionPolicies', { ...o }),
        loadAudit: (limit) => this.#requireDb().table<AuditEntry, string>('audit').orderBy('at').reverse().limit(limit).toArray(),
        appendAudit: async (entry) => {
          await this.#requireDb().table<AuditEntry, string>('audit').put(entry);
        },
      },
      { run: (request) => this.#runAction(request) },
      now,
      newId,
    );
    this.data = new DataState(
      {
        exportAll: () => exportAll(this.#requireDb(), now),
        suggestedFileName: () => suggestedExportFileName(now),
        importAll: (text) => importAll(this.#requireDb(), text),
        checkImportSize: checkExportFileSize,
        deleteEverything: () => deleteEverything(this.#requireDb()),
        requestPersistence,
        readEstimate: readStorageEstimate,
      },
      async () => {
        await this.chat.stopAndSettle();
        await this.learning.settle();
      },
      async () => {
        await this.chat.reload();
        await this.learning.load();
        await this.profile.load();
        await this.actions.load();
        await this.#knowledge?.reload();
        await this.memory.load();
        this.#reminders.cancelAll();
        this.#reminders.sync(await repo.getSetting(this.#requireDb(), 'reminders'));
        await this.#applySettings();
      },
    );
  }

  /** Reminder bookkeeping runs one step at a time, so two reminders due together cannot undo each other's removal. */
  #reminderQueue: Promise<void> = Promise.resolve();
  #reminders = new ReminderScheduler(
    (r, late) =>
      (this.#reminderQueue = this.#reminderQueue.then(async () => {
        try {
          await showReminder(r, late);
        } catch (err) {
          console.warn('Could not show a reminder', err);
        }
        const db = this.#requireDb();
        const pending = await repo.getSetting(db, 'reminders');
        await repo.setSetting(db, 'reminders', pending.filter((x) => x.id !== r.id));
      }).catch((err: unknown) => console.warn('Could not update reminders', err))),
    now,
  );

  /** The actions themselves; reached only through the execution layer's gate (ActionsState.run). */
  async #runAction(request: ValidatedRequest): Promise<string> {
    const db = this.#requireDb();
    switch (request.actionId) {
      case 'calculate': {
        const { expression } = request.params;
        return `${expression} = ${formatCalculatorResult(evaluateExpression(expression))}`;
      }
      case 'save-conversation-markdown': {
        const conversation = await repo.getConversation(db, request.params.conversationId);
        if (!conversation) throw new Error('That conversation no longer exists.');
        const messages = await repo.listMessages(db, conversation.id);
        const name = markdownFileName(conversation);
        downloadText(name, conversationToMarkdown(conversation, messages, Intl.DateTimeFormat().resolvedOptions().timeZone), 'text/markdown');
        return `Saved ${name}`;
      }
      case 'remind': {
        const { text, at } = request.params;
        if (at <= now()) throw new Error('That time has already passed.');
        await ensureNotificationPermission();
        const reminder: Reminder = { id: newId(), text, at };
        const pending = await repo.getSetting(db, 'reminders');
        await repo.setSetting(db, 'reminders', [...pending, reminder]);
        this.#reminders.sync([reminder]);
        return `Reminder set for ${new Date(at).toLocaleString()}`;
      }
      case 'share-artifact':
        return this.learning.queueArtifact(request.params.artifactId);
      case 'ask-network':
        throw new Error('This action arrives with the network.');
    }
  }

  #requireDb(): H3lixDatabase {
    if (!this.#db) throw new Error('Storage is not open yet.');
    return this.#db;
  }

  /** Starts everything; a failure is shown, never left as an endless "Starting…". */
  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (err) {
      this.fatal = `H3LIX could not start: ${err instanceof Error ? err.message : String(err)}. Reload the page to try again.`;
      console.error(err);
    }
  }

  async #start(): Promise<void> {
    const [db, deployConfig] = await Promise.all([
      openDatabase(undefined, {
        onBlocked: () => {
          this.notice = 'H3LIX is open in another tab with an older version. Close that tab to finish updating.';
        },
        onVersionChange: (reason) => {
          this.fatal =
            reason === 'delete'
              ? 'The data was deleted in another tab. Reload this page to start again.'
              : 'H3LIX was updated in another tab. Reload this page to continue.';
        },
      }).catch((err: unknown) => {
        this.fatal = `Your data cannot be stored in this browser: ${err instanceof Error ? err.message : String(err)}`;
        return null;
      }),
      loadDeployConfig(),
    ]);
    this.deployConfig = deployConfig;
    if (!db) return;
    this.#db = db;
    this.notice = null;
    // Keep the partial reply when the tab is hidden or closed mid-stream.
    addEventListener('pagehide', () => this.chat.flush());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.chat.flush();
    });

    await Promise.all([this.chat.init(), this.profile.load(), this.actions.load()]);
    this.#reminders.sync(await repo.getSetting(db, 'reminders'));
    this.started = true;
    performance.mark('h3lix:interactive');
    void requestPersistence().then(() => this.data.refresh());

    const source = await this.#applySettings();
    const preferred =
      (await repo.getSetting(db, 'modelId')) ?? deployConfig.defaultModel ?? null;
    await this.engine.detect(source, preferred);
    if (preferred) this.engine.select(preferred);
    // Memory is optional for chatting: if it cannot open, say so and carry on.
    try {
      this.#knowledge = await KnowledgeBase.open(db, this.deployConfig.embedder ?? DEFAULT_EMBEDDER);
      await this.memory.load();
    } catch (err) {
      this.memory.message = `Memory and documents are unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }

    // Learning: the library, and the background runner (one tab runs it).
    try {
      await this.learning.load();
      // The scheduler reads its settings and signals first (until then: the offline estimate, battery unknown).
      await this.#energySignals?.start().catch((err: unknown) => console.warn('Energy signals unavailable', err));
      await this.#energyScheduler?.start().catch((err: unknown) => console.warn('Energy scheduler unavailable', err));
      this.learning.start(await repo.getSetting(db, 'learningPaused'));
      this.#pokeLearningWhenFree();
      await this.#queuePeriodicJobs();
    } catch (err) {
      this.learning.message = `Learning is unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }

    // The network: reconnect when this device is a member; an invite link in the address bar is shown, never followed blindly.
    const openInvite = async (): Promise<void> => {
      if (!/#join=/.test(location.hash)) return;
      await this.network.openFromLocation(location.href);
      // The link holds the network key: keep it out of the address bar and history.
      history.replaceState(null, '', location.pathname + location.search);
    };
    // An invite opened in a tab where H3LIX already runs changes only the fragment.
    addEventListener('hashchange', () => void openInvite());
    try {
      // The service worker's messages must find a listener before the outbox is re-armed.
      this.network.backgroundSync?.start();
      void this.network.backgroundSync?.registerPeriodic();
      await this.network.load();
      await openInvite();
      await this.field.reload();
      this.#fieldService?.start();
      if (this.network.member) await this.learning.publishQueued();
    } catch (err) {
      this.network.message = `The network is unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }

    // Load without asking only what the person loaded before (it is cached),
    // or when this deployment says so (its own mirror).
    const lastLoaded = await repo.getSetting(db, 'lastLoadedModelId');
    const auto = lastLoaded ? findEntry(lastLoaded) : deployConfig.autoLoad ? this.engine.selected : null;
    if (auto) {
      const ok = await this.engine.load(auto);
      if (ok) await repo.setSetting(db, 'lastLoadedModelId', auto.id);
    }
    this.#rememberLoads();
  }

  /** The profile's preferred language ("German", "de-AT", '') as a tag validation understands, or null. */
  #languageTag(): string | null {
    return languageTagOf(this.profile.profile.profileLanguage);
  }

  /** Background jobs wait for a loaded model and a quiet chat: look for work whenever that becomes true. */
  /**
   * Consolidation once a day, and self-training when there is something to
   * practise; both wait in the queue for a good energy window.
   */
  async #queuePeriodicJobs(): Promise<void> {
    try {
      const last = await readLastConsolidation(this.#requireDb());
      if (!last || now() - last.at > CONSOLIDATION_EVERY_MS) await this.learning.enqueue('consolidation', 'playbooks');
      const weak = this.#fieldService?.curricula() ?? [];
      const lastPractice = await repo.getSetting(this.#requireDb(), 'lastSelfTrainingQueuedAt');
      if (weak.length > 0 && (!lastPractice || now() - lastPractice > SELF_TRAINING_EVERY_MS)) {
        await this.learning.enqueue('self-training', 'curriculum');
        await repo.setSetting(this.#requireDb(), 'lastSelfTrainingQueuedAt', now());
      }
    } catch (err) {
      console.warn('Could not queue consolidation or self-training', err);
    }
  }

  #pokeLearningWhenFree(): void {
    $effect.root(() => {
      $effect(() => {
        const free = this.engine.loaded !== null && this.engine.status === 'ready' && !this.chat.busy;
        if (free) this.learning.poke();
      });
    });
  }

  /** Persists the chosen and loaded model so the next visit starts with it. */
  #rememberLoads(): void {
    $effect.root(() => {
      $effect(() => {
        const loaded = this.engine.loaded?.entry.id;
        const db = this.#db;
        if (loaded && db) {
          void repo.setSetting(db, 'lastLoadedModelId', loaded);
          void repo.setSetting(db, 'modelId', loaded);
        }
      });
    });
  }

  async #applySettings() {
    const db = this.#requireDb();
    this.personalMirror = (await repo.getSetting(db, 'modelMirror')) ?? null;
    let source;
    try {
      source = effectiveModelSource(this.personalMirror, this.deployConfig.modelMirror, location.href);
    } catch {
      source = effectiveModelSource(null, this.deployConfig.modelMirror, location.href);
    }
    this.engine.setSource(source);
    this.#useEmbedder(source);
    return source;
  }

  /** The embedder follows the model source; a changed source gets a fresh worker. */
  #useEmbedder(source: ModelSource): void {
    const embedderId = this.deployConfig.embedder ?? DEFAULT_EMBEDDER;
    this.#embedder?.dispose();
    this.#embedder = new EmbedderClient(createEmbedderWorker, { embedderId, source });
  }

  /** Saves the person's mirror ('' clears it); returns a message to show. */
  async setPersonalMirror(input: string): Promise<string> {
    const db = this.#requireDb();
    const trimmed = input.trim();
    if (!trimmed) {
      await repo.setSetting(db, 'modelMirror', null);
      await this.#applySettings();
      return this.deployConfig.modelMirror
        ? `Mirror cleared: using this server's mirror ${this.deployConfig.modelMirror}.`
        : 'Mirror cleared: models come from the public hubs.';
    }
    try {
      const url = normaliseMirrorUrl(trimmed, location.href);
      await repo.setSetting(db, 'modelMirror', url);
      await this.#applySettings();
      return `Models will come from ${url}. Load a model to use it.`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
}
