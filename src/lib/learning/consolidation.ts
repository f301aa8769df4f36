/**
 * Consolidation (issue 7 item 4, DESIGN.md 2.3 and 2.6): the periodic job that
 * distils the local library's proven experiences and the network artifacts
 * the field accepted into compact per-domain **playbooks**, by small edits to
 * the previous playbooks, never by rewriting them.
 *
 * A playbook entry is one strategy with its provenance: the local experience
 * ids and artifact content ids that say it (near-identical sources share one
 * entry), the source whose wording it shows (`textFrom`), its confidence (the
 * best of its sources) and when it was added and last changed.
 *
 * Sources.
 * - A local experience is *proven* (may start or join an entry) with
 *   confidence ≥ PROVEN_CONFIDENCE (the sharing bar, 0.8) and at least
 *   MIN_CONFIRMED_SUCCESSES confirmed successful use; once in an entry it
 *   *stays* while its confidence is ≥ KEEP_CONFIDENCE (0.7) and it still has
 *   a success. The gap is hysteresis: an experience hovering around 0.8 does
 *   not make its entry flap in and out on every run.
 * - An accepted artifact is proven with acceptance (the field's weighted
 *   endorse share, which already weighs the voters' reputation) ≥ ACCEPT_SHARE
 *   (2/3, the field's own bar), and stays while it is still passed in with
 *   acceptance ≥ KEEP_ACCEPTANCE (0.5). Its confidence in the playbook is its
 *   acceptance. `policy` artifacts are never playbook entries: they are the
 *   field's directives (improvement-signal.ts) and are shown as such.
 * - A source belongs to the entry of its current domain only: an experience
 *   moved to another domain leaves its old entry and may join one there.
 *
 * One run, per domain, in this order (every step is a function of the inputs,
 * never of their order):
 * 1. Each previous entry keeps the sources that still hold (see above); one
 *    with none left is dropped, saying why (deleted, moved, confidence fell,
 *    no longer accepted). Its wording follows `textFrom` (an UPDATE that
 *    sharpened an experience's words shows up here); if that source went, the
 *    best remaining source's wording takes over.
 * 2. Entries that have become near-duplicates (similarity ≥ threshold; by
 *    default token Jaccard at NEAR_DUPLICATE_THRESHOLD, the library's own rule)
 *    are folded, the weaker into the stronger: sources united, the weaker
 *    dropped.
 * 3. Proven sources not in any entry, strongest first, join the most similar
 *    near-duplicate entry; else the first near-duplicate new group formed in
 *    this run; else they start a new group. A group is a candidate entry.
 * 4. Capacity (`maxPerDomain`): if the surviving entries alone exceed it, the
 *    weakest are dropped. New groups, strongest first, fill free places; when
 *    the playbook is full, a new group that ranks above the weakest entry
 *    displaces it, but at most `maxDisplacements` entries that are still
 *    valid are displaced per domain and run (the rest is counted in
 *    `deferred` and happens on later runs). This is the guarantee against a
 *    wholesale rewrite: however much the network's output changes, a run
 *    replaces at most that many valid entries per domain.
 * 5. Proven sources of entries dropped in step 4 join a remaining entry they
 *    are near-identical to, so that the result is already what a second run
 *    would make of it.
 * Rank: confidence (higher first), then id. The playbook is listed in rank
 * order. An entry's sources are capped (MAX_SOURCES_PER_ENTRY, the wording
 * source kept first, then the strongest).
 *
 * Edits, one per previous entry and one per added entry (so their number per
 * domain is at most the previous entries plus `maxPerDomain`): `added`,
 * `merged` (gained a source it did not have), `updated` (lost a source, or its
 * wording, kind or confidence changed), `dropped` (with the reason) and
 * `kept` (nothing changed). `updatedAt` moves to `now` only on a change.
 *
 * Idempotence: a run whose `deferred` is 0 is a fixed point: consolidating
 * again with the same library, artifacts and clock, and its playbooks as
 * `previous`, gives only `kept` edits and the same playbooks. With displacements
 * deferred, repeated runs reach such a fixed point, `maxDisplacements` at a time.
 * One known exception: an entry that gathers more than MAX_SOURCES_PER_ENTRY
 * near-identical sources lists only the strongest; a later run may hand a
 * left-out one to another near-identical entry (a provenance change, never a
 * change of what the playbook says).
 *
 * Also, outside the playbooks: `suggestLibraryMerges` proposes DELETE
 * operations for local experiences that are near-duplicates of a stronger one
 * in the same domain, as an OperationBatch for applyBatch (the learning layer
 * decides; consolidation never edits the library).
 *
 * Pure: the clock is passed in; no storage, no randomness.
 */
import { z } from 'zod';
import { ACCEPT_SHARE } from '../ccf/aggregation';
import { PLAYBOOK_SIZE } from '../ccf/improvement-signal';
import { ARTIFACT_DOMAINS, ARTIFACT_KINDS, CONTENT_ID_PATTERN, MAX_TEXT_LENGTH, artifactTextSchema, type ArtifactDomain, type ArtifactKind, type ContentId } from '../artifacts/schema';
import { EXPERIENCE_ID_PATTERN, type Experience } from './experience';
import { DEFAULT_MAX_CHANGES, NEAR_DUPLICATE_THRESHOLD, tokenJaccard, type OperationBatch, type Similarity } from './library-merge';
import type { ExperienceOperation } from './semantic-advantage';
import { MIN_SHARE_SUCCESSES, SHARE_CONFIDENCE_THRESHOLD } from './validation';

/** A local experience may start or join an entry from this confidence (the sharing bar: confirmed by use, not one lucky contrast). */
export const PROVEN_CONFIDENCE = SHARE_CONFIDENCE_THRESHOLD;
/** Confirmed successful uses a local experience needs to start, join or stay in an entry. */
export const MIN_CONFIRMED_SUCCESSES = MIN_SHARE_SUCCESSES;
/** An experience already in an entry stays there down to this confidence (hysteresis against flapping around PROVEN_CONFIDENCE). */
export const KEEP_CONFIDENCE = 0.7;
/** An accepted artifact may start or join an entry from this acceptance (the field's own bar). */
export const PROVEN_ACCEPTANCE = ACCEPT_SHARE;
/** An artifact already in an entry stays there down to this acceptance. */
export const KEEP_ACCEPTANCE = 0.5;
/** Entries per domain playbook by default: the field view's playbook size. */
export const DEFAULT_MAX_PER_DOMAIN = PLAYBOOK_SIZE;
/** Valid entries that new ones may displace per domain and run: small steps, as in the library (applyBatch's K). */
export const DEFAULT_MAX_DISPLACEMENTS = 3;
/** Sources (experience and artifact ids together) kept per entry. */
export const MAX_SOURCES_PER_ENTRY = 64;
/** Longest entry id: 'a-' + a content id (57) + a '~n' suffix. */
export const MAX_ENTRY_ID_LENGTH = 80;
/** Library-merge proposals per run by default (applyBatch applies K = DEFAULT_MAX_CHANGES per step anyway). */
export const DEFAULT_MAX_LIBRARY_PROPOSALS = DEFAULT_MAX_CHANGES;

/** Artifact kinds a playbook holds: every kind but `policy` (directives). */
export const PLAYBOOK_KINDS = ARTIFACT_KINDS.filter((k): k is Exclude<ArtifactKind, 'policy'> => k !== 'policy');
export type PlaybookKind = (typeof PLAYBOOK_KINDS)[number];

const ENTRY_ID_PATTERN = /^[xa]-[A-Za-z0-9_-]{1,64}(?:~[0-9]{1,6})?$/;
const SOURCE_KEY_PATTERN = /^(?:x:[A-Za-z0-9_-]{1,64}|a:h3x1-[a-z2-7]{51}[aq])$/;
const timeSchema = z.int().min(0).max(8_640_000_000_000_000);
const isSortedUnique = (list: readonly string[]): boolean => list.every((x, i) => i === 0 || (list[i - 1] as string) < x);

export const playbookStrategySchema = z
  .strictObject({
    /** Stable for the entry's life: from the source that started it ('x-' experience id, 'a-' content id), '~n' when taken. */
    id: z.string().max(MAX_ENTRY_ID_LENGTH).regex(ENTRY_ID_PATTERN),
    domain: z.enum(ARTIFACT_DOMAINS),
    kind: z.enum(PLAYBOOK_KINDS),
    text: artifactTextSchema,
    /** Best confidence of its sources, 0..1. */
    confidence: z.number().min(0).max(1),
    /** Local experiences saying it, sorted. */
    experienceIds: z.array(z.string().regex(EXPERIENCE_ID_PATTERN)).max(MAX_SOURCES_PER_ENTRY),
    /** Accepted artifacts saying it, sorted. */
    artifactIds: z.array(z.string().regex(CONTENT_ID_PATTERN)).max(MAX_SOURCES_PER_ENTRY),
    /** The source whose wording `text` is: 'x:<experience id>' or 'a:<content id>'. */
    textFrom: z.string().regex(SOURCE_KEY_PATTERN),
    addedAt: timeSchema,
    updatedAt: timeSchema,
  })
  .superRefine((e, ctx) => {
    const sources = e.experienceIds.length + e.artifactIds.length;
    if (sources === 0) ctx.addIssue({ code: 'custom', path: ['experienceIds'], message: 'an entry needs at least one source' });
    if (sources > MAX_SOURCES_PER_ENTRY) ctx.addIssue({ code: 'custom', path: ['experienceIds'], message: `more than ${MAX_SOURCES_PER_ENTRY} sources` });
    if (!isSortedUnique(e.experienceIds) || !isSortedUnique(e.artifactIds)) ctx.addIssue({ code: 'custom', path: ['experienceIds'], message: 'source ids must be sorted and unique' });
    const keys = [...e.experienceIds.map((id) => `x:${id}`), ...e.artifactIds.map((id) => `a:${id}`)];
    if (!keys.includes(e.textFrom)) ctx.addIssue({ code: 'custom', path: ['textFrom'], message: 'textFrom is not one of the sources' });
    if (e.updatedAt < e.addedAt) ctx.addIssue({ code: 'custom', path: ['updatedAt'], message: 'updatedAt is before addedAt' });
  });

export type PlaybookStrategy = z.infer<typeof playbookStrategySchema>;
export type Playbooks = Record<ArtifactDomain, PlaybookStrategy[]>;

export const playbooksSchema = z.strictObject(
  Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, z.array(playbookStrategySchema).max(1000)])) as Record<ArtifactDomain, z.ZodArray<typeof playbookStrategySchema>>,
);

/** An artifact the field accepted, as consolidation needs it (improvement-signal's PlaybookEntry plus its domain fits). */
export interface AcceptedArtifact {
  id: ContentId;
  kind: ArtifactKind;
  domain: ArtifactDomain;
  text: string;
  /** The field's weighted endorse share (Judgement.endorseShare), 0..1. */
  acceptance: number;
}

export interface ConsolidationInput {
  library: readonly Experience[];
  accepted: readonly AcceptedArtifact[];
  /** The playbooks of the previous run; absent or partial for a first run. */
  previous?: Partial<Record<ArtifactDomain, readonly unknown[]>> | null;
  now: number;
  /** Default DEFAULT_MAX_PER_DOMAIN. */
  maxPerDomain?: number;
  /** Default DEFAULT_MAX_DISPLACEMENTS. */
  maxDisplacements?: number;
  /** Default token Jaccard; with another similarity pass its threshold too. */
  similarity?: Similarity;
  /** Default NEAR_DUPLICATE_THRESHOLD. */
  threshold?: number;
  /** Default DEFAULT_MAX_LIBRARY_PROPOSALS; 0 for none. */
  maxLibraryProposals?: number;
}

export type PlaybookEditKind = 'added' | 'merged' | 'updated' | 'dropped' | 'kept';

export interface PlaybookEdit {
  kind: PlaybookEditKind;
  domain: ArtifactDomain;
  entryId: string;
  /** One line for the person (ids and numbers, never more text than the entry itself). */
  reason: string;
  before: PlaybookStrategy | null;
  after: PlaybookStrategy | null;
}

export interface LibraryMergeProposal {
  /** The weaker experience, to delete. */
  drop: string;
  /** The stronger near-duplicate, which stays. */
  keep: string;
  similarity: number;
}

export interface ConsolidationResult {
  playbooks: Playbooks;
  /** Per domain in taxonomy order; within a domain by entry id. */
  edits: PlaybookEdit[];
  /** Counts of `edits` by kind. */
  summary: Record<PlaybookEditKind, number>;
  /** Per domain: new entries that would have displaced a valid one beyond maxDisplacements (they come on later runs). */
  deferred: Record<ArtifactDomain, number>;
  /** Previous entries that failed the schema (or repeated an id) and were dropped. */
  invalidPrevious: number;
  libraryProposals: LibraryMergeProposal[];
  /** The proposals as one batch for applyBatch, or null when there are none. */
  libraryBatch: OperationBatch | null;
}

/*
 * Sources.
 */

interface Source {
  key: string;
  text: string;
  kind: PlaybookKind;
  confidence: number;
}

type SourceState = { live: true; source: Source } | { live: false; why: string };

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byStrength = (a: Source, b: Source): number => b.confidence - a.confidence || cmp(a.key, b.key);
const pct = (x: number): string => x.toFixed(2);

function checkInput(input: ConsolidationInput) {
  const maxPerDomain = input.maxPerDomain ?? DEFAULT_MAX_PER_DOMAIN;
  const maxDisplacements = input.maxDisplacements ?? DEFAULT_MAX_DISPLACEMENTS;
  const threshold = input.threshold ?? NEAR_DUPLICATE_THRESHOLD;
  const maxLibraryProposals = input.maxLibraryProposals ?? DEFAULT_MAX_LIBRARY_PROPOSALS;
  if (!Number.isInteger(input.now) || input.now < 0) throw new RangeError(`consolidate: now (${input.now}) is not a time`);
  if (!Number.isInteger(maxPerDomain) || maxPerDomain < 1 || maxPerDomain > 1000) throw new RangeError(`consolidate: maxPerDomain ${maxPerDomain} is not in 1..1000`);
  if (!Number.isInteger(maxDisplacements) || maxDisplacements < 0) throw new RangeError(`consolidate: maxDisplacements ${maxDisplacements} is not a whole number ≥ 0`);
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`consolidate: threshold ${threshold} is not in (0, 1]`);
  if (!Number.isInteger(maxLibraryProposals) || maxLibraryProposals < 0) throw new RangeError(`consolidate: maxLibraryProposals ${maxLibraryProposals} is not a whole number ≥ 0`);
  return { maxPerDomain, maxDisplacements, threshold, maxLibraryProposals, similarity: input.similarity ?? tokenJaccard };
}

/** Text fit for an entry (the artifact text rules), or null. */
function entryText(text: string): string | null {
  return artifactTextSchema.safeParse(text).success ? text : null;
}

/** The state of every source in `domain`, by key; only sources that parse are known at all. */
function sourcesOf(library: readonly Experience[], accepted: readonly AcceptedArtifact[]) {
  const experiences = new Map<string, Experience>();
  for (const e of library) if (EXPERIENCE_ID_PATTERN.test(e.id) && !experiences.has(e.id)) experiences.set(e.id, e);
  const artifacts = new Map<string, AcceptedArtifact>();
  for (const a of accepted) {
    if (!CONTENT_ID_PATTERN.test(a.id)) continue;
    const held = artifacts.get(a.id);
    // The same id twice: one artifact, so the same text; keep the higher acceptance (order-independent).
    if (!held || a.acceptance > held.acceptance) artifacts.set(a.id, a);
  }

  /** Whether the source may stay in an entry of `domain` (`proven`: may start or join one). */
  const state = (key: string, domain: ArtifactDomain, proven: boolean): SourceState => {
    if (key.startsWith('x:')) {
      const e = experiences.get(key.slice(2));
      if (!e) return { live: false, why: `experience ${key.slice(2)} was deleted` };
      if (e.domain !== domain) return { live: false, why: `experience ${e.id} moved to ${e.domain}` };
      const bar = proven ? PROVEN_CONFIDENCE : KEEP_CONFIDENCE;
      if (!(e.confidence >= bar)) return { live: false, why: `experience ${e.id}'s confidence ${pct(e.confidence)} is below ${pct(bar)}` };
      if (e.successCount < MIN_CONFIRMED_SUCCESSES) return { live: false, why: `experience ${e.id} has no confirmed success` };
      const text = entryText(e.text);
      if (text === null) return { live: false, why: `experience ${e.id} has no usable text` };
      return { live: true, source: { key, text, kind: 'strategy', confidence: e.confidence } };
    }
    const a = artifacts.get(key.slice(2));
    if (!a) return { live: false, why: `artifact ${key.slice(2)} is no longer accepted` };
    if (a.kind === 'policy') return { live: false, why: `artifact ${a.id} is a policy (a directive, not a playbook entry)` };
    if (a.domain !== domain) return { live: false, why: `artifact ${a.id} is in ${a.domain}` };
    const bar = proven ? PROVEN_ACCEPTANCE : KEEP_ACCEPTANCE;
    if (!(Number.isFinite(a.acceptance) && a.acceptance >= bar && a.acceptance <= 1)) return { live: false, why: `artifact ${a.id}'s acceptance ${pct(a.acceptance)} is below ${pct(bar)}` };
    const text = entryText(a.text);
    if (text === null) return { live: false, why: `artifact ${a.id} has no usable text` };
    return { live: true, source: { key, text, kind: a.kind, confidence: a.acceptance } };
  };

  /** Keys of the proven sources of `domain`, strongest first. */
  const proven = (domain: ArtifactDomain): Source[] => {
    const out: Source[] = [];
    for (const id of experiences.keys()) {
      const s = state(`x:${id}`, domain, true);
      if (s.live) out.push(s.source);
    }
    for (const id of artifacts.keys()) {
      const s = state(`a:${id}`, domain, true);
      if (s.live) out.push(s.source);
    }
    return out.sort(byStrength);
  };
  return { state, proven };
}

/*
 * Entries in the making.
 */

interface Draft {
  id: string;
  before: PlaybookStrategy | null;
  /** Live sources by key. */
  sources: Map<string, Source>;
  textFrom: string;
  addedAt: number;
  notes: string[];
}

const draftConfidence = (d: Draft): number => Math.max(...[...d.sources.values()].map((s) => s.confidence));
const draftText = (d: Draft): string => (d.sources.get(d.textFrom) as Source).text;
const byRank = (a: Draft, b: Draft): number => draftConfidence(b) - draftConfidence(a) || cmp(a.id, b.id);

const sourceKeys = (e: PlaybookStrategy): string[] => [...e.experienceIds.map((id) => `x:${id}`), ...e.artifactIds.map((id) => `a:${id}`)];

/** The draft as an entry: sources capped (wording source first, then the strongest), lists sorted. */
function finish(d: Draft, domain: ArtifactDomain, now: number): PlaybookStrategy {
  const wording = d.sources.get(d.textFrom) as Source;
  const rest = [...d.sources.values()].filter((s) => s.key !== d.textFrom).sort(byStrength);
  const kept = [wording, ...rest].slice(0, MAX_SOURCES_PER_ENTRY);
  const experienceIds = kept.filter((s) => s.key.startsWith('x:')).map((s) => s.key.slice(2)).sort(cmp);
  const artifactIds = kept.filter((s) => s.key.startsWith('a:')).map((s) => s.key.slice(2)).sort(cmp);
  const entry: PlaybookStrategy = {
    id: d.id,
    domain,
    kind: wording.kind,
    text: wording.text,
    confidence: Math.max(...kept.map((s) => s.confidence)),
    experienceIds,
    artifactIds,
    textFrom: d.textFrom,
    addedAt: d.addedAt,
    updatedAt: d.before ? d.before.updatedAt : now,
  };
  if (d.before && !sameEntry(d.before, entry)) entry.updatedAt = Math.max(now, d.before.updatedAt);
  return entry;
}

function sameEntry(a: PlaybookStrategy, b: PlaybookStrategy): boolean {
  return (
    a.id === b.id &&
    a.domain === b.domain &&
    a.kind === b.kind &&
    a.text === b.text &&
    a.confidence === b.confidence &&
    a.textFrom === b.textFrom &&
    a.addedAt === b.addedAt &&
    a.updatedAt === b.updatedAt &&
    sameList(a.experienceIds, b.experienceIds) &&
    sameList(a.artifactIds, b.artifactIds)
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A fresh entry id for a group started by `key`, unique among `taken`. */
function newEntryId(key: string, taken: ReadonlySet<string>): string {
  const base = `${key[0]}-${key.slice(2)}`;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const id = `${base}~${n}`;
    if (!taken.has(id)) return id;
  }
}

/*
 * The run.
 */

export function consolidate(input: ConsolidationInput): ConsolidationResult {
  const { maxPerDomain, maxDisplacements, threshold, maxLibraryProposals, similarity } = checkInput(input);
  const { now } = input;
  const near = (a: string, b: string): number => similarity(a, b);
  const { state, proven } = sourcesOf(input.library, input.accepted);

  // Previous entries: schema-checked; an id used twice keeps its first (taxonomy order, then list order).
  let invalidPrevious = 0;
  const previous = new Map<ArtifactDomain, PlaybookStrategy[]>();
  const takenIds = new Set<string>();
  for (const domain of ARTIFACT_DOMAINS) {
    const list: PlaybookStrategy[] = [];
    for (const raw of input.previous?.[domain] ?? []) {
      const parsed = playbookStrategySchema.safeParse(raw);
      if (!parsed.success || parsed.data.domain !== domain || takenIds.has(parsed.data.id)) {
        invalidPrevious++;
        continue;
      }
      takenIds.add(parsed.data.id);
      list.push(parsed.data);
    }
    previous.set(domain, list);
  }

  const playbooks = Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, [] as PlaybookStrategy[]])) as Playbooks;
  const deferred = Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, 0])) as Record<ArtifactDomain, number>;
  const edits: PlaybookEdit[] = [];

  for (const domain of ARTIFACT_DOMAINS) {
    const domainEdits: PlaybookEdit[] = [];
    const drop = (d: Draft, reason: string): void => {
      if (d.before) domainEdits.push({ kind: 'dropped', domain, entryId: d.id, reason, before: d.before, after: null });
    };
    const claimed = new Set<string>();

    // 1. Previous entries keep the sources that still hold.
    let survivors: Draft[] = [];
    for (const before of previous.get(domain) ?? []) {
      const sources = new Map<string, Source>();
      const gone: string[] = [];
      for (const key of sourceKeys(before)) {
        if (claimed.has(key)) continue;
        const s = state(key, domain, false);
        if (s.live) sources.set(key, s.source);
        else gone.push(s.why);
      }
      if (sources.size === 0) {
        domainEdits.push({ kind: 'dropped', domain, entryId: before.id, reason: `no source left: ${summarise(gone)}`, before, after: null });
        continue;
      }
      for (const key of sources.keys()) claimed.add(key);
      const notes = gone.length > 0 ? [`lost ${gone.length} source${gone.length === 1 ? '' : 's'}: ${summarise(gone)}`] : [];
      let textFrom = before.textFrom;
      if (!sources.has(textFrom)) {
        textFrom = ([...sources.values()].sort(byStrength)[0] as Source).key;
        notes.push(`now worded as ${textFrom}`);
      }
      survivors.push({ id: before.id, before, sources, textFrom, addedAt: before.addedAt, notes });
    }

    // 2. Fold entries that have become near-duplicates, the weaker into the stronger.
    survivors.sort(byRank);
    const folded: Draft[] = [];
    for (const d of survivors) {
      const into = mostSimilar(draftText(d), folded, near, threshold);
      if (!into) {
        folded.push(d);
        continue;
      }
      for (const [k, s] of d.sources) into.sources.set(k, s);
      into.notes.push(`absorbed entry ${d.id}`);
      drop(d, `merged into ${into.id} (near-duplicate)`);
    }
    survivors = folded;

    // 3. Unclaimed proven sources join an entry or a new group.
    const groups: Draft[] = [];
    for (const s of proven(domain)) {
      if (claimed.has(s.key)) continue;
      claimed.add(s.key);
      const into = mostSimilar(s.text, survivors, near, threshold);
      if (into) {
        into.sources.set(s.key, s);
        into.notes.push(`gained ${s.key}`);
        continue;
      }
      const group = groups.find((g) => near(s.text, draftText(g)) >= threshold);
      if (group) group.sources.set(s.key, s);
      else groups.push({ id: '', before: null, sources: new Map([[s.key, s]]), textFrom: s.key, addedAt: now, notes: [] });
    }

    // 4. Capacity.
    survivors.sort(byRank);
    const released: Draft[] = [];
    while (survivors.length > maxPerDomain) {
      const weakest = survivors.pop() as Draft;
      released.push(weakest);
      drop(weakest, `over the cap of ${maxPerDomain} entries per domain`);
    }
    const added: Draft[] = [];
    let displaced = 0;
    for (const g of groups) {
      // Groups were formed strongest first, so they come in rank order (ids are not assigned yet; ties go to the earlier group).
      if (survivors.length + added.length < maxPerDomain) {
        added.push(g);
        continue;
      }
      const weakest = survivors[survivors.length - 1];
      if (!weakest || !(draftConfidence(g) > draftConfidence(weakest))) break;
      if (displaced >= maxDisplacements) {
        deferred[domain]++;
        continue;
      }
      survivors.pop();
      displaced++;
      released.push(weakest);
      g.notes.push(`displaced ${weakest.id}`);
      drop(weakest, `displaced by a stronger new entry (confidence ${pct(draftConfidence(g))} over ${pct(draftConfidence(weakest))})`);
      added.push(g);
    }
    for (const g of added) {
      g.id = newEntryId(g.textFrom, takenIds);
      takenIds.add(g.id);
    }

    // 5. Proven sources of dropped entries join a remaining near-identical entry.
    const remaining = [...survivors, ...added];
    for (const d of released) {
      for (const s of [...d.sources.values()].sort(byStrength)) {
        if (!state(s.key, domain, true).live) continue;
        const into = mostSimilar(s.text, remaining, near, threshold);
        if (into && !into.sources.has(s.key)) {
          into.sources.set(s.key, s);
          if (into.before) into.notes.push(`gained ${s.key}`);
        }
      }
    }

    // Entries, edits, order.
    const entries: PlaybookStrategy[] = [];
    for (const d of survivors) {
      const after = finish(d, domain, now);
      const before = d.before as PlaybookStrategy;
      entries.push(after);
      if (sameEntry(before, after)) {
        domainEdits.push({ kind: 'kept', domain, entryId: d.id, reason: 'unchanged', before, after });
        continue;
      }
      const beforeKeys = new Set(sourceKeys(before));
      const gained = sourceKeys(after).filter((k) => !beforeKeys.has(k));
      const changes = [...d.notes];
      if (after.confidence !== before.confidence) changes.push(`confidence ${pct(before.confidence)} → ${pct(after.confidence)}`);
      if (after.text !== before.text && after.textFrom === before.textFrom) changes.push(`wording of ${after.textFrom} changed`);
      domainEdits.push({ kind: gained.length > 0 ? 'merged' : 'updated', domain, entryId: d.id, reason: changes.join('; ') || 'refreshed', before, after });
    }
    for (const g of added) {
      const after = finish(g, domain, now);
      entries.push(after);
      const what = [`new from ${after.experienceIds.length} local experience(s) and ${after.artifactIds.length} accepted artifact(s), confidence ${pct(after.confidence)}`, ...g.notes];
      domainEdits.push({ kind: 'added', domain, entryId: g.id, reason: what.join('; '), before: null, after });
    }
    playbooks[domain] = entries.sort((a, b) => b.confidence - a.confidence || cmp(a.id, b.id));
    edits.push(...domainEdits.sort((a, b) => cmp(a.entryId, b.entryId) || cmp(a.kind, b.kind)));
  }

  const summary: Record<PlaybookEditKind, number> = { added: 0, merged: 0, updated: 0, dropped: 0, kept: 0 };
  for (const e of edits) summary[e.kind]++;
  const libraryProposals = suggestLibraryMerges(input.library, { similarity, threshold, max: maxLibraryProposals });
  return { playbooks, edits, summary, deferred, invalidPrevious, libraryProposals, libraryBatch: proposalBatch(libraryProposals) };
}

/** The draft most similar to `text` at or above the threshold (ties: the earlier, i.e. stronger, one), or null. */
function mostSimilar(text: string, drafts: readonly Draft[], near: Similarity, threshold: number): Draft | null {
  let best: Draft | null = null;
  let bestScore = -Infinity;
  for (const d of drafts) {
    const s = near(text, draftText(d));
    if (s >= threshold && s > bestScore) {
      best = d;
      bestScore = s;
    }
  }
  return best;
}

/** At most three reasons and a count, so one reason line stays short. */
function summarise(reasons: readonly string[]): string {
  const unique = [...new Set(reasons)].sort(cmp);
  const shown = unique.slice(0, 3).join('; ');
  return unique.length > 3 ? `${shown}; and ${unique.length - 3} more` : shown;
}

/*
 * Library proposals.
 */

/** Strongest first: confidence, confirmed successes, uses, then the older, then id. */
function byExperienceStrength(a: Experience, b: Experience): number {
  return b.confidence - a.confidence || b.successCount - a.successCount || b.usageCount - a.usageCount || a.createdAt - b.createdAt || cmp(a.id, b.id);
}

/**
 * Near-duplicate local experiences in the same domain: each is proposed for
 * deletion in favour of the strongest near-identical one kept before it (its
 * wording, counts and links stay; the weaker one's are given up, which is why
 * this is a proposal for the learning layer and not an edit made here). At
 * most `max` proposals, strongest pairs first. Across domains nothing is
 * proposed: the same words may be meant for two kinds of task.
 */
export function suggestLibraryMerges(
  library: readonly Experience[],
  options: { similarity?: Similarity; threshold?: number; max?: number } = {},
): LibraryMergeProposal[] {
  const similarity = options.similarity ?? tokenJaccard;
  const threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
  const max = options.max ?? DEFAULT_MAX_LIBRARY_PROPOSALS;
  const seen = new Set<string>();
  const unique = library.filter((e) => EXPERIENCE_ID_PATTERN.test(e.id) && !seen.has(e.id) && seen.add(e.id));
  const kept: Experience[] = [];
  const out: LibraryMergeProposal[] = [];
  for (const e of [...unique].sort(byExperienceStrength)) {
    let keep: Experience | null = null;
    let best = -Infinity;
    for (const k of kept) {
      if (k.domain !== e.domain) continue;
      const s = similarity(e.text, k.text);
      if (s >= threshold && s > best) {
        keep = k;
        best = s;
      }
    }
    if (!keep) kept.push(e);
    else if (out.length < max) out.push({ drop: e.id, keep: keep.id, similarity: best });
  }
  return out;
}

/** The proposals as one batch for applyBatch (advantage 0: no rollout group stands behind them; no episodes). */
export function proposalBatch(proposals: readonly LibraryMergeProposal[]): OperationBatch | null {
  if (proposals.length === 0) return null;
  const ops: ExperienceOperation[] = proposals.map((p) => ({
    op: 'DELETE',
    id: p.drop,
    reason: `consolidation: near-duplicate of ${p.keep} (similarity ${p.similarity.toFixed(2)})`,
  }));
  return { ops, advantage: 0, episodeIds: [] };
}

/** Empty playbooks, one list per domain: a first run's `previous`. */
export function emptyPlaybooks(): Playbooks {
  return Object.fromEntries(ARTIFACT_DOMAINS.map((d) => [d, [] as PlaybookStrategy[]])) as Playbooks;
}

/** Longest text an entry may show (the artifact limit; every experience fits). */
export const MAX_ENTRY_TEXT_LENGTH = MAX_TEXT_LENGTH;
