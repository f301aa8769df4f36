/**
 * The Collective Context Field on this device (DESIGN.md 2.6): the
 * replicated set of signed artifacts and current votes (built from the
 * network's `netItems`), judged with this node's reputation ledger and
 * quarantine book (kept in `fieldState`, never replicated), and projected
 * into prompts as delimited priors.
 *
 * The loop (src/lib/ccf/README.md): every stored item is applied to the
 * field; soon after a change the field is aggregated, settled outcomes
 * move reputation, the anomaly detectors may quarantine peers, and the
 * projection index follows the accepted set. Everything here is domain
 * logic from src/lib/ccf wired to storage and the network; no thresholds
 * live in this file.
 */
import type { ContentId } from '../lib/artifacts/schema';
import { aggregateField, activeNodes, type Judgement } from '../lib/ccf/aggregation';
import { detectAnomalies } from '../lib/ccf/anomaly';
import { CollectiveField, roundOf } from '../lib/ccf/field';
import { improvementSignal, type CurriculumEntry } from '../lib/ccf/improvement-signal';
import type { AcceptedArtifact } from '../lib/learning/consolidation';
import { ledgerFromJson, ledgerToJson, quarantineFromJson, quarantineToJson } from '../lib/ccf/ledger-codec';
import { projectField, ProjectionIndex, type Projection } from '../lib/ccf/projection';
import { applyFlags, emptyQuarantine, quarantineByPerson, quarantinedPeers, releasePeer, type QuarantineBook } from '../lib/ccf/quarantine';
import {
  emptyLedger,
  isCalibrated,
  meetPeer,
  probationFactor,
  recordCalibration,
  reputationOf,
  settlementOutcome,
  settleOutcomes,
  voteWeight,
  vouchFor,
  withdrawVouch,
  decayedScore,
  type OutcomeToSettle,
  type ReputationLedger,
} from '../lib/ccf/reputation';
import type { NodeId, Vote, VoteValue } from '../lib/ccf/vote';
import type { VerifiedItem } from '../lib/network/signed-item';
import type { CalibrationAnswerBody, CalibrationTaskBody } from '../lib/network/message-bodies';
import {
  admitCalibrationTask,
  CALIBRATION_GENERATE_OPTIONS,
  calibrationPrompt,
  createCalibrationTask,
  emptyAnswerLog,
  emptyCalibrationBook,
  expireCalibrationTasks,
  extractCalibrationAnswer,
  isCalibrationTaskLive,
  issueCalibrationTask,
  planCalibration,
  resolveCalibrationAnswer,
  type CalibrationAnswerLog,
  type CalibrationBook,
} from '../lib/ccf/calibration';
import type { ChatTurn, GenerateOptions } from '../lib/engine/contract';
import type { DomainAcceptance, FieldArtifactView, FieldPeerView, FieldSnapshot, RoundAcceptance } from '../state/field-view';
import type { H3lixDatabase } from './db';

/** How a vote of this node was cast. */
export type VoteOrigin = 'person' | 'check';

/** A row of `fieldState`. */
export interface FieldStateRecord {
  key: 'ledger' | 'quarantine' | 'origins';
  value: unknown;
}

export interface FieldServiceDeps {
  db: () => H3lixDatabase;
  now: () => number;
  /** This node's id. */
  self: () => Promise<NodeId>;
  /** Every verified item held (network.heldItems). */
  heldItems: () => Promise<VerifiedItem[]>;
  /** Signs and publishes a vote (network.castVote); the stored item comes back through `apply`. */
  castVote: (vote: Vote) => Promise<unknown>;
  /** Display names members announced. */
  memberNames: () => ReadonlyMap<string, string | null>;
  /** The field changed (the view re-reads). */
  onChange: () => void;
  /** Wait this long after a change before aggregating (a burst of items is judged once). */
  settleDelayMs?: number;
  /** Members present now (announced on the discovery topic): only they are set calibration tasks. */
  present?: () => ReadonlySet<NodeId>;
  /** Publishes a calibration task (network.sendCalibrationTask). */
  sendCalibrationTask?: (task: CalibrationTaskBody) => Promise<unknown>;
  /** Publishes this node's answer to a member's task (network.sendCalibrationAnswer). */
  sendCalibrationAnswer?: (answer: CalibrationAnswerBody) => Promise<unknown>;
  /**
   * This device's model answers a calibration task in a fresh conversation
   * (no system prompt, memories, priors, tools or history); null when no
   * model is free now (the task lapses; that costs this node nothing).
   */
  answerWithModel?: (turns: ChatTurn[], options: GenerateOptions) => Promise<string> | null;
  /** Uniform in [0, 1) from a cryptographic source: calibration tasks must not be predictable. */
  random?: () => number;
}

export class FieldStateError extends Error {
  override readonly name = 'FieldStateError';
}

/** A person's vote is their own judgement, so it carries full confidence. */
export const PERSON_VOTE_CONFIDENCE = 1;

/** Aggregate at most this often after changes: cheap (bench:ccf), but items arrive in bursts. */
const DEFAULT_SETTLE_DELAY_MS = 300;

export class FieldService {
  #deps: FieldServiceDeps;
  #field = new CollectiveField();
  #ledger: ReputationLedger = emptyLedger(null);
  #book: QuarantineBook = emptyQuarantine();
  #origins = new Map<ContentId, VoteOrigin>();
  #judgements = new Map<ContentId, Judgement>();
  #index = new ProjectionIndex();
  #self: NodeId | null = null;
  #aggregatedAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #loaded: Promise<void> | null = null;
  #calibration: CalibrationBook = emptyCalibrationBook();
  #answers: CalibrationAnswerLog = emptyAnswerLog();
  /** One calibration answer at a time: the model is shared with the person's chat. */
  #answering = false;
  #calibrationTimer: ReturnType<typeof setInterval> | null = null;
  /** New artifacts from peers: candidates for the automatic check. */
  #listeners = new Set<(id: ContentId) => void>();

  constructor(deps: FieldServiceDeps) {
    this.#deps = deps;
  }

  get field(): CollectiveField {
    return this.#field;
  }

  get ledger(): ReputationLedger {
    return this.#ledger;
  }

  get quarantineBook(): QuarantineBook {
    return this.#book;
  }

  judgement(id: ContentId): Judgement | undefined {
    return this.#judgements.get(id);
  }

  /** Called with each new artifact from a peer (the automatic vote queues a check). */
  onArtifact(listener: (id: ContentId) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the local state and the held items; aggregates once. */
  load(): Promise<void> {
    this.#loaded ??= this.#load();
    return this.#loaded;
  }

  /** Reads everything again (after the membership was loaded, or the device joined a network). */
  reload(): Promise<void> {
    this.#field = new CollectiveField();
    this.#index = new ProjectionIndex();
    this.#judgements = new Map();
    this.#loaded = this.#load();
    return this.#loaded;
  }

  /** Accepted artifacts this node could project (its own included). */
  get acceptedCount(): number {
    return this.#index.size;
  }

  async #load(): Promise<void> {
    this.#self = await this.#deps.self();
    const table = this.#deps.db().table<FieldStateRecord, string>('fieldState');
    const [ledgerRow, bookRow, originsRow] = await Promise.all([table.get('ledger'), table.get('quarantine'), table.get('origins')]);
    this.#ledger = emptyLedger(this.#self);
    if (ledgerRow) {
      const read = ledgerFromJson(ledgerRow.value);
      // A damaged record costs the standing this node had learned, never the app.
      if (read.ok && read.value.owner === this.#self) this.#ledger = read.value;
      else console.warn('The reputation ledger could not be read; starting a fresh one', read.ok ? 'owner differs' : read.error);
    }
    if (bookRow) {
      const read = quarantineFromJson(bookRow.value);
      if (read.ok) this.#book = read.value;
      else console.warn('The quarantine book could not be read; starting a fresh one', read.error);
    }
    if (originsRow && Array.isArray(originsRow.value)) {
      for (const pair of originsRow.value) {
        if (Array.isArray(pair) && typeof pair[0] === 'string' && (pair[1] === 'person' || pair[1] === 'check')) this.#origins.set(pair[0] as ContentId, pair[1]);
      }
    }
    for (const item of await this.#deps.heldItems()) this.#applyItem(item, false);
    await this.recompute();
  }

  /** A stored item (ours or a peer's): applied now, judged soon. */
  apply(item: VerifiedItem): void {
    void this.load().then(() => {
      if (this.#applyItem(item, true)) this.#schedule();
    });
  }

  #applyItem(item: VerifiedItem, announce: boolean): boolean {
    const now = this.#deps.now();
    if (item.kind === 'artifact') {
      if (item.authorId !== this.#self) this.#ledger = meetPeer(this.#ledger, item.authorId, now);
      const changed = this.#field.apply({ type: 'artifact', author: item.authorId, artifact: item.artifact, id: item.contentId });
      if (changed && announce && item.authorId !== this.#self) for (const l of this.#listeners) l(item.contentId);
      return changed;
    }
    if (item.vote.voter !== this.#self) this.#ledger = meetPeer(this.#ledger, item.vote.voter, now);
    return this.#field.apply({ type: 'vote', vote: item.vote });
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.recompute().catch((err: unknown) => console.warn('Could not aggregate the field', err));
    }, this.#deps.settleDelayMs ?? DEFAULT_SETTLE_DELAY_MS);
  }

  /** Aggregates, settles reputation, runs the detectors, and refreshes the projection index. */
  async recompute(): Promise<void> {
    const now = this.#deps.now();
    const self = this.#self ?? undefined;
    const excluded = quarantinedPeers(this.#book);
    const weightOf = (n: NodeId): number => voteWeight(this.#ledger, n, now);
    const judgements = aggregateField(this.#field, { now, weightOf, excluded, ...(self ? { localNode: self } : {}) });
    const outcomes: OutcomeToSettle[] = [];
    for (const [id, j] of judgements) {
      if (this.#ledger.settled.has(id)) continue;
      const entry = this.#field.artifact(id);
      if (!entry) continue;
      const outcome = settlementOutcome(j, entry.artifact.createdAt, now);
      if (outcome) outcomes.push({ artifactId: id, outcome, votes: [...this.#field.votesOn(id).values()], authors: entry.authors });
    }
    const ledgerBefore = this.#ledger;
    this.#ledger = settleOutcomes(this.#ledger, outcomes, now);
    const flags = detectAnomalies(this.#field, { now, judgements, weightOf, skip: new Set([...(self ? [self] : []), ...excluded]) });
    const bookBefore = this.#book;
    this.#book = applyFlags(this.#book, flags, now);
    this.#judgements = judgements;
    this.#aggregatedAt = now;
    this.#syncIndex();
    if (this.#ledger !== ledgerBefore) await this.#saveLedger();
    if (this.#book !== bookBefore) await this.#saveBook();
    this.#deps.onChange();
  }

  /** The projection index holds exactly the accepted artifacts, with their current acceptance. */
  #syncIndex(): void {
    const accepted = new Set<ContentId>();
    for (const [id, j] of this.#judgements) {
      if (j.status !== 'accepted') continue;
      const entry = this.#field.artifact(id);
      if (!entry) continue;
      accepted.add(id);
      const held = this.#index.entry(id);
      // Re-indexing decodes the embedding again: only when what the prior shows changed.
      if (held && held.acceptance === j.endorseShare && held.endorsers.join() === j.endorsers.join() && held.authors.join() === entry.authors.join()) continue;
      this.#index.upsert({ id, artifact: entry.artifact, authors: entry.authors, acceptance: j.endorseShare, endorsers: j.endorsers });
    }
    for (const id of this.#index.ids()) if (!accepted.has(id)) this.#index.remove(id);
  }

  /** The priors for one task within a budget (never this node's own artifacts, never a quarantined author's). */
  project(text: string, budgetTokens: number, embedding?: ArrayLike<number>): Projection {
    const now = this.#deps.now();
    return projectField(this.#index, {
      self: this.#self ?? '',
      text,
      ...(embedding ? { embedding } : {}),
      now,
      budgetTokens,
      reputationOf: (n) => reputationOf(this.#ledger, n, now),
      excluded: quarantinedPeers(this.#book),
    });
  }

  /** This node votes on an artifact (the person in the Field view, or an automatic check). */
  async vote(artifactId: ContentId, value: VoteValue, origin: VoteOrigin, confidence = PERSON_VOTE_CONFIDENCE): Promise<void> {
    await this.load();
    const self = this.#self;
    if (!self) throw new FieldStateError('This device has no identity yet.');
    const entry = this.#field.artifact(artifactId);
    if (!entry) throw new FieldStateError('That artifact is not in the field (any more).');
    if (entry.authors.includes(self)) throw new FieldStateError('You cannot vote on your own artifact.');
    // A person's vote is never overwritten by an automatic check.
    if (origin === 'check' && this.#origins.get(artifactId) === 'person') return;
    const previous = this.#field.votesOn(artifactId).get(self);
    // Votes are ordered by time; a second vote in the same millisecond must still be newer.
    const at = Math.max(this.#deps.now(), previous ? previous.at + 1 : 0);
    const vote: Vote = { schemaVersion: 1, artifactId, voter: self, value, confidence: Math.min(1, Math.max(0, confidence)), at } as Vote;
    this.#origins.set(artifactId, origin);
    await this.#saveOrigins();
    await this.#deps.castVote(vote);
    // The stored item normally comes back through `apply`; applying here too is idempotent.
    this.#field.apply({ type: 'vote', vote });
    await this.recompute();
  }

  voteOrigin(artifactId: ContentId): VoteOrigin | null {
    return this.#origins.get(artifactId) ?? null;
  }

  async vouch(node: NodeId): Promise<void> {
    await this.load();
    this.#ledger = vouchFor(this.#ledger, node, this.#deps.now());
    await this.#saveLedger();
    await this.recompute();
  }

  async withdrawVouch(node: NodeId): Promise<void> {
    await this.load();
    this.#ledger = withdrawVouch(this.#ledger, node, this.#deps.now());
    await this.#saveLedger();
    await this.recompute();
  }

  async quarantine(node: NodeId, reason = 'Quarantined by you.'): Promise<void> {
    await this.load();
    this.#book = quarantineByPerson(this.#book, node, reason, this.#deps.now());
    await this.#saveBook();
    await this.recompute();
  }

  async release(node: NodeId): Promise<void> {
    await this.load();
    this.#book = releasePeer(this.#book, node, this.#deps.now());
    await this.#saveBook();
    await this.recompute();
  }

  // -------------------------------------------------------------------------
  // Calibration: proof of capability before a stranger's votes count.

  /**
   * The field's clock: every `everyMs`, aggregate again (outcomes settle into
   * reputation SETTLEMENT_DELAY_MS after an artifact's creation, standing
   * decays, detectors look at sliding windows: all of it moves with time,
   * not only with new items) and set calibration tasks to present members.
   */
  start(everyMs = 60_000): void {
    if (this.#calibrationTimer) return;
    const round = () => {
      void this.recompute().catch((err: unknown) => console.warn('Could not aggregate the field', err));
      void this.calibrate().catch((err: unknown) => console.warn('Calibration round failed', err));
    };
    this.#calibrationTimer = setInterval(round, everyMs);
    round();
  }

  /** One calibration round: lapsed tasks expire, the planner picks peers, each gets a fresh task. */
  async calibrate(): Promise<number> {
    const send = this.#deps.sendCalibrationTask;
    const present = this.#deps.present?.();
    if (!send || !present || present.size === 0) return 0;
    await this.load();
    const now = this.#deps.now();
    this.#calibration = expireCalibrationTasks(this.#calibration, now).book;
    for (const node of present) if (node !== this.#self) this.#ledger = meetPeer(this.#ledger, node, now);
    const peers = new Map([...this.#ledger.peers].filter(([id]) => present.has(id)));
    const chosen = planCalibration({ peers, pending: this.#calibration, now, quarantined: quarantinedPeers(this.#book), self: this.#self });
    const random = this.#deps.random ?? cryptoRandom;
    for (const peer of chosen) {
      const task = createCalibrationTask(random, now);
      this.#calibration = issueCalibrationTask(this.#calibration, peer, task);
      // The expected answer never leaves this device.
      await send({ target: peer, taskId: task.id, prompt: task.prompt, expiresAt: task.expiresAt });
    }
    return chosen.length;
  }

  /** A member answered a task this node set: checked here, recorded in the ledger. */
  async onCalibrationAnswer(message: { sender: NodeId; answer: CalibrationAnswerBody }): Promise<void> {
    await this.load();
    const now = this.#deps.now();
    const resolution = resolveCalibrationAnswer(this.#calibration, { sender: message.sender, taskId: message.answer.taskId, answer: message.answer.answer }, now);
    this.#calibration = resolution.book;
    if (!resolution.result) return;
    this.#ledger = recordCalibration(this.#ledger, resolution.result.peer, resolution.result.passed, now);
    await this.#saveLedger();
    await this.recompute();
  }

  /**
   * A member set this node a task: admitted within limits, answered by the
   * model in a fresh conversation (the task is untrusted text, delimited;
   * the reply goes only back to the network, never to the chat or the
   * action executor), dropped when no model is free or the task lapsed.
   */
  async onCalibrationTask(message: { sender: NodeId; task: CalibrationTaskBody }): Promise<boolean> {
    const send = this.#deps.sendCalibrationAnswer;
    const answer = this.#deps.answerWithModel;
    if (!send || !answer || this.#answering) return false;
    await this.load();
    const self = this.#self;
    if (!self) return false;
    const admission = admitCalibrationTask(this.#answers, { asker: message.sender, target: message.task.target, expiresAt: message.task.expiresAt }, self, this.#deps.now());
    if (!admission.admit) return false;
    this.#answers = admission.log;
    const pending = answer(calibrationPrompt(message.task.prompt), CALIBRATION_GENERATE_OPTIONS);
    if (!pending) return false;
    this.#answering = true;
    try {
      const reply = await pending;
      if (!isCalibrationTaskLive(message.task, this.#deps.now())) return false;
      await send({ target: message.sender, taskId: message.task.taskId, answer: extractCalibrationAnswer(reply) });
      return true;
    } catch (err) {
      console.warn('Could not answer a calibration task', err);
      return false;
    } finally {
      this.#answering = false;
    }
  }

  /** Accepted artifacts with their acceptance (consolidation distils them into playbooks). */
  acceptedArtifacts(): AcceptedArtifact[] {
    const out: AcceptedArtifact[] = [];
    for (const [id, j] of this.#judgements) {
      if (j.status !== 'accepted') continue;
      const entry = this.#field.artifact(id);
      if (entry) out.push({ id, kind: entry.artifact.kind, domain: entry.artifact.domain, text: entry.artifact.text, acceptance: j.endorseShare });
    }
    return out;
  }

  /** The field's curricula: domains where the network's artifacts fail most (self-training practises them). */
  curricula(): CurriculumEntry[] {
    return improvementSignal(this.#field, this.#judgements).curricula;
  }

  /** What the Field view shows. */
  snapshot(): FieldSnapshot {
    const now = this.#deps.now();
    const self = this.#self ?? '';
    const names = this.#deps.memberNames();
    const excluded = quarantinedPeers(this.#book);
    const artifacts: FieldArtifactView[] = [];
    const byDomain = new Map<string, DomainAcceptance>();
    const byRound = new Map<number, RoundAcceptance>();
    const counts = { artifacts: 0, accepted: 0, pending: 0, rejected: 0, votes: this.#field.votes, activeNodes: 0 };
    for (const entry of this.#field.artifacts()) {
      const j = this.#judgements.get(entry.id);
      const status = j?.status ?? 'pending';
      const votes = this.#field.votesOn(entry.id);
      const mine = self ? votes.get(self) : undefined;
      const author = entry.authors[0] ?? '';
      artifacts.push({
        id: entry.id,
        kind: entry.artifact.kind,
        domain: entry.artifact.domain,
        text: entry.artifact.text,
        createdAt: entry.artifact.createdAt,
        authorId: author,
        authorName: names.get(author) ?? null,
        own: entry.authors.includes(self),
        status,
        endorseShare: j?.endorseShare ?? 0,
        rejectShare: j?.rejectShare ?? 0,
        medianConfidence: j && Number.isFinite(j.medianConfidence) ? j.medianConfidence : null,
        sybilWeight: j?.sybilWeight ?? 0,
        endorsers: j?.endorsers.length ?? 0,
        rejecters: j?.rejecters ?? 0,
        votes: votes.size,
        myVote: mine ? { value: mine.value, confidence: mine.confidence, at: mine.at, origin: this.#origins.get(entry.id) ?? 'person' } : null,
        quarantinedAuthor: entry.authors.some((a) => excluded.has(a)),
      });
      counts.artifacts++;
      const d = byDomain.get(entry.artifact.domain) ?? { domain: entry.artifact.domain, accepted: 0, pending: 0, rejected: 0 };
      const round = roundOf(entry.artifact.createdAt);
      const r = byRound.get(round) ?? { round, accepted: 0, pending: 0, rejected: 0 };
      const bucket = status === 'accepted' ? 'accepted' : status === 'rejected' || status === 'vetoed' || status === 'excluded' ? 'rejected' : 'pending';
      counts[bucket]++;
      d[bucket]++;
      r[bucket]++;
      byDomain.set(entry.artifact.domain, d);
      byRound.set(round, r);
    }
    artifacts.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    counts.activeNodes = activeNodes(this.#field, now, (n) => voteWeight(this.#ledger, n, now), excluded).size;

    const peers: FieldPeerView[] = [];
    for (const [nodeId, p] of this.#ledger.peers) {
      const q = this.#book.get(nodeId);
      peers.push({
        nodeId,
        displayName: names.get(nodeId) ?? null,
        reputation: decayedScore(p, now),
        weight: voteWeight(this.#ledger, nodeId, now),
        calibrated: isCalibrated(p),
        calibrationPassed: p.calibrationPassed,
        calibrationFailed: p.calibrationFailed,
        vouched: p.vouchedAt !== null,
        probation: probationFactor(p, now),
        agreements: p.agreements,
        disagreements: p.disagreements,
        acceptedContributions: p.acceptedContributions,
        rejectedContributions: p.rejectedContributions,
        quarantine: q && q.releasedAt === null ? { cause: q.cause, reason: q.reason, since: q.since } : null,
        released: q !== undefined && q.releasedAt !== null,
      });
    }
    peers.sort((a, b) => (a.displayName ?? '~').localeCompare(b.displayName ?? '~') || (a.nodeId < b.nodeId ? -1 : 1));

    const signal = improvementSignal(this.#field, this.#judgements);
    const playbooks = Object.entries(signal.playbooks)
      .filter(([, entries]) => entries.length > 0)
      .map(([domain, entries]) => ({ domain: domain as FieldSnapshot['playbooks'][number]['domain'], entries }));
    return {
      self,
      artifacts,
      peers,
      counts,
      acceptanceByDomain: [...byDomain.values()].sort((a, b) => a.domain.localeCompare(b.domain)),
      acceptanceByRound: [...byRound.values()].sort((a, b) => a.round - b.round),
      rounds: signal.spread,
      playbooks,
      curricula: signal.curricula,
      directives: signal.directives,
      aggregatedAt: this.#aggregatedAt,
    };
  }

  async #saveLedger(): Promise<void> {
    await this.#deps.db().table<FieldStateRecord, string>('fieldState').put({ key: 'ledger', value: ledgerToJson(this.#ledger) });
  }

  async #saveBook(): Promise<void> {
    await this.#deps.db().table<FieldStateRecord, string>('fieldState').put({ key: 'quarantine', value: quarantineToJson(this.#book) });
  }

  async #saveOrigins(): Promise<void> {
    await this.#deps.db().table<FieldStateRecord, string>('fieldState').put({ key: 'origins', value: [...this.#origins] });
  }

  /** Stops pending work (tests, leaving). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#calibrationTimer) clearInterval(this.#calibrationTimer);
    this.#calibrationTimer = null;
  }
}

/** Uniform in [0, 1) from the platform's cryptographic source. */
function cryptoRandom(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] as number) / 2 ** 32;
}
