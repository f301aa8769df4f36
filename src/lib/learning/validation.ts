/**
 * Validation of proposed experiences (issue 4, item 7; DESIGN.md 2.3): the
 * checks a candidate from the semantic advantage must pass before it enters
 * the local library, and, stricter, before an experience may be shared. A
 * rejected candidate stays local (or is dropped) with one of a fixed set of
 * reasons, so the Learning view can say why and tests can pin it.
 *
 * The checks, in the order they run (the first failure is returned):
 * 1. schema: the text reads "When <condition>, <strategy>"
 *    (parseExperienceText), the domain is in the taxonomy, the confidence is
 *    a number in 0..1;
 * 2. length: the text fits (MAX_EXPERIENCE_TEXT_LENGTH, the condition and
 *    strategy limits) and says something: at least MIN_CONTENT_WORDS content
 *    words (contentTokens);
 * 3. dual-use: no how-to for serious harm (`findDualUse`);
 * 4. language: the text is in the person's preferred language
 *    (`detectLanguage`; unknown or too short passes);
 * 5. inconsistent: it fits the episode it came from (`checkConsistency`);
 * 6. duplicate: not a near-duplicate of an experience in the library
 *    (tokenJaccard ≥ NEAR_DUPLICATE_THRESHOLD, or an embedding cosine ≥
 *    its threshold when embeddings are given);
 * 7. low-confidence: confidence at least MIN_CONFIDENCE (SHARE_CONFIDENCE_THRESHOLD
 *    and MIN_SHARE_SUCCESSES for sharing).
 *
 * Everything is untrusted model output: nothing here throws on any input.
 *
 * Pure: no DOM, no clock.
 */
import {
  contentTokens,
  EXPERIENCE_DOMAINS,
  experienceSchema,
  MAX_CONDITION_LENGTH,
  MAX_EXPERIENCE_TEXT_LENGTH,
  MAX_STRATEGY_LENGTH,
  MIN_CONDITION_LENGTH,
  MIN_STRATEGY_LENGTH,
  parseExperienceText,
  type Experience,
  type ExperienceDomain,
} from './experience';
import { NEAR_DUPLICATE_THRESHOLD, tokenJaccard } from './library-merge';
import { extractFinalNumber, extractNumbers, numberMatches, parseVerifier, type Verifier } from './verifiers';

export const VALIDATION_REASONS = ['schema', 'length', 'language', 'inconsistent', 'duplicate', 'dual-use', 'low-confidence'] as const;
export type ValidationReason = (typeof VALIDATION_REASONS)[number];

export type ValidationResult = { ok: true } | { ok: false; reason: ValidationReason; detail: string };

/**
 * Local library: below the no-evidence prior (0.5) a Beta belief says using
 * the advice hurts more often than it helps. Every fresh proposal starts at
 * 0.5 or more (initialConfidence), so this rejects only what was explicitly
 * proposed or edited with a lower one.
 */
export const MIN_CONFIDENCE = 0.5;
/**
 * Sharing: a proposal starts at most at 0.8 (INITIAL_CONFIDENCE_BASE +
 * INITIAL_CONFIDENCE_FROM_ADVANTAGE), from one contrast. An experience is
 * shared only when use has confirmed it: confidence at least 0.8 and at least
 * MIN_SHARE_SUCCESSES successful uses, so one lucky contrast never goes out
 * to the network.
 */
export const SHARE_CONFIDENCE_THRESHOLD = 0.8;
export const MIN_SHARE_SUCCESSES = 1;
/** Fewer content words than this is not advice ("When x, do y"). */
export const MIN_CONTENT_WORDS = 3;
/** Cosine similarity of two experience embeddings from which they count as duplicates (MiniLM paraphrases score about 0.85-0.95). */
export const EMBEDDING_DUPLICATE_THRESHOLD = 0.9;
/** Longest text looked at by the detectors (anything longer fails `length` first). */
const MAX_SCAN_CHARS = MAX_EXPERIENCE_TEXT_LENGTH * 2;

const ok: ValidationResult = { ok: true };
const reject = (reason: ValidationReason, detail: string): ValidationResult => ({ ok: false, reason, detail });

/*
 * Language.
 */

/**
 * Function words that are frequent in each language and rare as content in
 * the others. Words shared by several lists (la, de, que, …) are kept; they
 * count for each of their languages with weight 1/k (k = how many lists hold
 * them), so only words that tell the languages apart decide. Lower case,
 * NFC.
 */
export const STOPWORDS: Readonly<Record<LatinLanguage, readonly string[]>> = {
  en: 'the and of to is are was be with that this it for not you your if before after then than or from by on each first always should instead them its which what have has do does at as all any into only every a an in use check when'.split(' '),
  de: 'der die das und ist nicht mit ein eine einen einem dem den des zu auf für von sich auch wenn dann oder aber immer zuerst vor nach bei werden wird sind kein keine im zum zur man dass als noch nur jede jeden jedes alle ob bevor sie es um an in erst prüfe'.split(' '),
  fr: 'le la les de des du un une et est pas pour dans que qui sur avec ce cette ces au aux il elle ne se son sa ses par plus ou toujours puis avant après chaque vous votre si d l qu n sont lorsque quand en faut tout'.split(' '),
  es: 'el la los las de del y en es un una con por para no se que lo al como más pero sus su este esta siempre cada antes después primero hay cuando si muy sin sobre también usted son está ser'.split(' '),
  it: 'il lo gli la le di e è che non per con una un del della dei delle al alla nel nella sono come più sempre prima dopo ogni quando se anche ma questo questa si da ad ed'.split(' '),
  nl: 'de het een en van is niet met voor op te dat die zijn wordt worden bij als of aan ook altijd eerst na elk elke wanneer je u uw naar om dan er maar nog deze dit geen'.split(' '),
  pt: 'o os a as do da dos das e é não um uma com para por que se no na nos nas mais como sempre antes depois cada quando ao à pelo pela ser está são seu sua também primeiro você em'.split(' '),
};

export const LATIN_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt'] as const;
export type LatinLanguage = (typeof LATIN_LANGUAGES)[number];

/** Scripts told apart, and the language a script alone gives (where one language dominates it). */
const SCRIPTS: readonly { script: string; test: RegExp; language: string | null }[] = [
  { script: 'Hangul', test: /\p{Script=Hangul}/u, language: 'ko' },
  { script: 'Kana', test: /[\p{Script=Hiragana}\p{Script=Katakana}]/u, language: 'ja' },
  { script: 'Han', test: /\p{Script=Han}/u, language: 'zh' },
  { script: 'Cyrillic', test: /\p{Script=Cyrillic}/u, language: null },
  { script: 'Greek', test: /\p{Script=Greek}/u, language: 'el' },
  { script: 'Arabic', test: /\p{Script=Arabic}/u, language: null },
  { script: 'Hebrew', test: /\p{Script=Hebrew}/u, language: 'he' },
  { script: 'Devanagari', test: /\p{Script=Devanagari}/u, language: null },
  { script: 'Thai', test: /\p{Script=Thai}/u, language: 'th' },
  { script: 'Latin', test: /\p{Script=Latin}/u, language: null },
];

/** The script each language is written in (primary subtag → script), for languages we can tell by script. */
const LANGUAGE_SCRIPT: Readonly<Record<string, string>> = {
  en: 'Latin', de: 'Latin', fr: 'Latin', es: 'Latin', it: 'Latin', nl: 'Latin', pt: 'Latin', pl: 'Latin', cs: 'Latin', sv: 'Latin', da: 'Latin', no: 'Latin', nb: 'Latin', fi: 'Latin', tr: 'Latin', ro: 'Latin', hu: 'Latin', id: 'Latin', vi: 'Latin', ca: 'Latin', hr: 'Latin', sk: 'Latin', sl: 'Latin', et: 'Latin', lv: 'Latin', lt: 'Latin', sw: 'Latin',
  ru: 'Cyrillic', uk: 'Cyrillic', bg: 'Cyrillic', sr: 'Cyrillic', mk: 'Cyrillic', be: 'Cyrillic', kk: 'Cyrillic',
  el: 'Greek', he: 'Hebrew', ar: 'Arabic', fa: 'Arabic', ur: 'Arabic', hi: 'Devanagari', mr: 'Devanagari', ne: 'Devanagari', th: 'Thai', ko: 'Hangul', ja: 'Kana', zh: 'Han',
};

/** Words needed before a Latin-script text is judged at all; fewer is "unknown". */
export const MIN_WORDS_FOR_LANGUAGE = 4;
/** Weighted stopword hits the best language needs, and its lead over the runner-up (as a factor). */
export const MIN_STOPWORD_SCORE = 2;
export const MIN_STOPWORD_LEAD = 1.5;
/** Letters of a script that make it the text's script: a share of all letters. */
const MIN_SCRIPT_SHARE = 0.3;

export interface LanguageGuess {
  /** A primary language subtag ('en', 'de', 'ja', …) or 'unknown'. */
  language: string;
  /** The dominant script ('Latin', 'Cyrillic', …) or 'unknown' when there are no letters. */
  script: string;
  /** Weighted stopword hits per Latin language (empty for other scripts). */
  scores: Partial<Record<LatinLanguage, number>>;
}

const WEIGHTS: ReadonlyMap<string, readonly { language: LatinLanguage; weight: number }[]> = (() => {
  const holders = new Map<string, LatinLanguage[]>();
  for (const language of LATIN_LANGUAGES) {
    for (const word of new Set(STOPWORDS[language])) holders.set(word, [...(holders.get(word) ?? []), language]);
  }
  const out = new Map<string, { language: LatinLanguage; weight: number }[]>();
  for (const [word, languages] of holders) out.set(word, languages.map((language) => ({ language, weight: 1 / languages.length })));
  return out;
})();

/**
 * Guesses a text's language. First the script: the script with most letters
 * (at least 30 % of them) decides; a script used by essentially one language
 * (Hangul, kana, Greek, Hebrew, Thai; Han without kana) gives the language.
 * For Latin script, function-word profiles for en, de, fr, es, it, nl and pt
 * decide: each word scores for the languages whose list holds it (1/k when k
 * lists do), plus the letters ß (de), ñ (es), ã and õ (pt), and the best
 * language must reach MIN_STOPWORD_SCORE and lead the next by
 * MIN_STOPWORD_LEAD times. Texts with fewer than MIN_WORDS_FOR_LANGUAGE words,
 * or without a clear winner, are 'unknown'. A leading "When" (every
 * experience starts with it, whatever its language) is not counted.
 */
export function detectLanguage(text: string): LanguageGuess {
  const unknown: LanguageGuess = { language: 'unknown', script: 'unknown', scores: {} };
  if (typeof text !== 'string') return unknown;
  const clean = text.slice(0, MAX_SCAN_CHARS).normalize('NFC').replace(/^\s*when\b/i, '');
  const letters = clean.match(/\p{L}/gu) ?? [];
  if (letters.length === 0) return unknown;
  const counts = new Map<string, number>();
  for (const ch of letters) {
    const found = SCRIPTS.find((s) => s.test.test(ch));
    if (found) counts.set(found.script, (counts.get(found.script) ?? 0) + 1);
  }
  // Japanese mixes kanji (Han) with kana: any real share of kana makes it Japanese.
  const kana = counts.get('Kana') ?? 0;
  let best = '';
  let bestCount = 0;
  for (const [script, n] of counts) {
    if (n > bestCount) {
      best = script;
      bestCount = n;
    }
  }
  if (best === 'Han' && kana >= 0.1 * letters.length) best = 'Kana';
  if (best === '' || (counts.get(best) ?? 0) + (best === 'Kana' ? counts.get('Han') ?? 0 : 0) < MIN_SCRIPT_SHARE * letters.length) return unknown;
  if (best !== 'Latin') {
    const language = SCRIPTS.find((s) => s.script === best)?.language ?? 'unknown';
    return { language, script: best, scores: {} };
  }
  const words = clean.toLowerCase().split(/[^\p{L}\p{M}]+/u).filter((w) => w !== '');
  if (words.length < MIN_WORDS_FOR_LANGUAGE) return { language: 'unknown', script: 'Latin', scores: {} };
  const scores: Record<LatinLanguage, number> = { en: 0, de: 0, fr: 0, es: 0, it: 0, nl: 0, pt: 0 };
  for (const word of words) for (const { language, weight } of WEIGHTS.get(word) ?? []) scores[language] += weight;
  const letterHint = (re: RegExp, language: LatinLanguage): void => {
    scores[language] += Math.min(2, (clean.match(re) ?? []).length);
  };
  letterHint(/ß/g, 'de');
  letterHint(/ñ/gi, 'es');
  letterHint(/[ãõ]/gi, 'pt');
  const ranked = LATIN_LANGUAGES.map((l) => ({ l, s: scores[l] })).sort((a, b) => b.s - a.s);
  const first = ranked[0];
  const second = ranked[1];
  if (!first || !second || first.s < MIN_STOPWORD_SCORE || first.s < MIN_STOPWORD_LEAD * second.s) return { language: 'unknown', script: 'Latin', scores };
  return { language: first.l, script: 'Latin', scores };
}

/** The primary subtag of a BCP 47 tag, lower case ('de-AT' → 'de'), or null. */
export function primaryLanguage(tag: string | null | undefined): string | null {
  if (typeof tag !== 'string') return null;
  const m = /^([A-Za-z]{2,3})(?:[-_]|$)/.exec(tag.trim());
  return m?.[1] ? m[1].toLowerCase() : null;
}

/**
 * Does the text fit the preferred language? Passes when either is unknown.
 * Fails when the scripts differ (a German speaker gets no Cyrillic advice), or
 * when both are profiled Latin languages (en, de, fr, es, it, nl, pt) and the
 * detector names another one. For a Latin-script language without a profile
 * (pl, sv, …) only the script is checked: its words could look like any of
 * ours.
 */
export function languageMatches(text: string, preferred: string | null | undefined): { ok: true } | { ok: false; detail: string } {
  const want = primaryLanguage(preferred);
  if (!want) return { ok: true };
  const guess = detectLanguage(text);
  if (guess.script === 'unknown') return { ok: true };
  const wantScript = LANGUAGE_SCRIPT[want];
  if (wantScript && guess.script !== wantScript && !(wantScript === 'Kana' && guess.script === 'Han')) {
    return { ok: false, detail: `written in ${guess.script} script, but the preferred language (${want}) is written in ${wantScript}` };
  }
  if (guess.language === 'unknown' || guess.language === want) return { ok: true };
  // Same script, another language: only nameable among the profiled Latin ones (other scripts map to one language each).
  const latin = LATIN_LANGUAGES as readonly string[];
  if (latin.includes(want) && latin.includes(guess.language)) {
    return { ok: false, detail: `looks like ${guess.language}, but the preferred language is ${want}` };
  }
  return { ok: true };
}

/*
 * Dual-use.
 */

export const DUAL_USE_CATEGORIES = ['weapons', 'explosives', 'malware', 'self-harm', 'evading-law-enforcement', 'bio-chem', 'drugs'] as const;
export type DualUseCategory = (typeof DUAL_USE_CATEGORIES)[number];

const MAKE = String.raw`(?:make|making|build|building|assemble|assembling|construct|constructing|manufacture|manufacturing|produce|producing|synthesi[sz]e|synthesi[sz]ing|cook|cooking|create|creating|brew|brewing|mix|mixing|prepare|preparing|print|printing|3d[- ]print)`;

/**
 * Phrases that describe how to do serious harm, by category. Each is a
 * regular expression matched case-insensitively on word boundaries, against
 * the normalised text (NFKC, lower case, runs of space collapsed). They name
 * harmful acts and objects together ("make a pipe bomb", "steal passwords",
 * "lethal dose"), never a single everyday word, so "kill the process", "shoot
 * a photo", "exploit symmetry", "inject dependencies" or "use a password
 * manager" pass. A list cannot be complete; it is a floor that catches the
 * obvious, not a judgement of intent.
 */
export const DUAL_USE_PATTERNS: Readonly<Record<DualUseCategory, readonly RegExp[]>> = {
  weapons: [
    new RegExp(String.raw`\b${MAKE}\s+(?:a|an|your own|my own|the)?\s*(?:gun|firearm|pistol|rifle|shotgun|silencer|suppressor|zip gun)s?\b`, 'i'),
    /\b(?:ghost gun|untraceable (?:gun|firearm|weapon)s?|auto sear|bump stock conversion)\b/i,
    /\bconvert(?:ing)?\s+(?:a|an|the|your)?\s*(?:semi[- ]?auto(?:matic)?|rifle|pistol|ar-?15)\s+(?:\w+\s+)?(?:to|into)\s+(?:full[- ]?auto|fully automatic|automatic)\b/i,
    /\b(?:file|remove|grind off)\s+(?:the\s+)?serial numbers?\b/i,
  ],
  explosives: [
    new RegExp(String.raw`\b${MAKE}\s+(?:a|an|the|your own)?\s*(?:bomb|pipe bomb|explosive|explosives|detonator|ied|grenade|molotov(?: cocktail)?|napalm|thermite charge)s?\b`, 'i'),
    /\b(?:pipe bomb|tatp|acetone peroxide|nitroglycerin|ammonium nitrate (?:and|\+) (?:fuel|diesel)|anfo|car bomb|suicide vest|improvised explosive)\b/i,
    /\bblow up (?:a|the) (?:building|car|plane|bridge|crowd|person|house)\b/i,
  ],
  malware: [
    /\b(?:keylogger|ransomware|rootkit|credential stealer|infostealer|botnet|remote access trojan|cryptojacker)s?\b/i,
    new RegExp(String.raw`\b(?:write|writing|${MAKE}|develop|developing|deploy|deploying|spread|spreading)\s+(?:a|an|the|your own)?\s*(?:virus|worm|trojan|malware|spyware|backdoor)s?\b`, 'i'),
    /\b(?:steal|stealing|harvest|harvesting|exfiltrate|exfiltrating|dump|dumping|sniff|sniffing)\s+(?:the\s+|their\s+|user\s+|users'?\s+|someone'?s\s+|other people'?s\s+)?(?:passwords?|credentials?|login details|session (?:cookies|tokens)|cookies|credit card (?:numbers|details)|2fa codes)\b/i,
    /\b(?:phishing (?:page|kit|site|email|campaign)s?|credential (?:harvesting|stuffing|phishing))\b/i,
    /\b(?:evade|evading|bypass|bypassing|disable|disabling)\s+(?:the\s+)?(?:antivirus|anti-virus|edr|endpoint detection|windows defender)\b/i,
    /\b(?:hack|hacking|break|breaking) into (?:someone'?s|another person'?s|their|his|her|an? ex'?s?) (?:account|email|phone|computer)\b/i,
  ],
  'self-harm': [
    /\b(?:kill|killing|hang|hanging|poison|poisoning|hurt|hurting|cut|cutting|harm|harming)\s+(?:yourself|myself|themselves|himself|herself|oneself)\b/i,
    /\b(?:suicide (?:method|methods|technique|note)s?|ways to (?:die|commit suicide)|commit suicide|end (?:your|my|their) (?:own )?life)\b/i,
    /\b(?:lethal|fatal|deadly) (?:dose|amount|overdose)s?\b/i,
    /\boverdose on\b/i,
    /\bself[- ]harm (?:method|technique|tip)s?\b/i,
  ],
  'evading-law-enforcement': [
    /\b(?:evade|evading|escape|escaping|avoid|avoiding|outrun|outrunning|hide from|hiding from)\s+(?:the\s+)?(?:police|cops|law enforcement|authorities|fbi|detection by (?:the )?police)\b/i,
    /\b(?:launder|laundering)\s+(?:the\s+)?(?:money|cash|proceeds|funds)\b/i,
    /\bmoney laundering\b/i,
    /\b(?:dispose of|get rid of|hide|hiding|dissolve|dissolving|bury|burying) (?:a|the) (?:body|corpse|dead body)\b/i,
    /\b(?:destroy|destroying|tamper with|tampering with) (?:the\s+)?evidence\b/i,
    /\b(?:fake|forged?|counterfeit|forging)\s+(?:a\s+)?(?:passports?|ids?|id cards?|driver'?s licen[cs]es?|identity documents?|banknotes?|currency|money)\b/i,
  ],
  'bio-chem': [
    /\b(?:sarin|soman|tabun|vx nerve agent|novichok|nerve agents?|ricin|abrin|anthrax|botulinum toxin|mustard gas|sulfur mustard|phosgene|chemical weapons?|biological weapons?|bioweapons?|weaponi[sz]ed (?:pathogen|virus|agent)s?)\b/i,
    /\bweaponi[sz](?:e|ing) (?:a |the )?(?:pathogen|virus|bacteria|bacterium|toxin|agent|disease)s?\b/i,
    /\b(?:increase|enhance|increasing|enhancing|boost|boosting) (?:the\s+)?(?:transmissibility|virulence|lethality|pathogenicity) of\b/i,
    new RegExp(String.raw`\b${MAKE}\s+(?:a|an|the)?\s*(?:toxin|poison gas|toxic gas|chlorine gas|nerve gas)s?\b`, 'i'),
  ],
  drugs: [
    new RegExp(String.raw`\b${MAKE}\s+(?:some\s+)?(?:meth|methamphetamine|crystal meth|fentanyl|heroin|crack cocaine|mdma|lsd|ghb)\b`, 'i'),
  ],
};

/**
 * A strategy that turns down or redirects harm: "When asked how to make a pipe
 * bomb, decline and …". The condition of a safety experience names the harm;
 * its strategy must not teach it.
 */
const DECLINES =
  /\b(?:decline|declining|refuse|refusing|do not (?:help|provide|give|explain|assist|describe|share)|don't (?:help|provide|give|explain|assist|describe|share)|never (?:help|provide|give|explain|assist|describe|share)|say no|won't help|cannot help|can't help|not help|point (?:them|the person) to|refer (?:them|the person) to|offer (?:support|help|crisis)|crisis (?:line|hotline|resources?)|emergency services|(?:suggest|recommend) (?:professional|a professional|a doctor|a counsellor|a counselor|a therapist)|stay safe|safety resources|express concern)\b/i;

export interface DualUseHit {
  category: DualUseCategory;
  /** The matched words, for the detail (lower case, at most 60 characters). */
  match: string;
}

/** Normalises for matching: NFKC (full-width letters, ligatures), lower case, apostrophes unified, whitespace collapsed. */
function normaliseForSafety(text: string): string {
  return text.slice(0, MAX_SCAN_CHARS).normalize('NFKC').toLowerCase().replace(/[\u2018\u2019\u02bc]/g, "'").replace(/\s+/g, ' ');
}

/** Every harmful phrase in a text, by category (first hit per category). */
export function findDualUse(text: string): DualUseHit[] {
  if (typeof text !== 'string') return [];
  const clean = normaliseForSafety(text);
  const hits: DualUseHit[] = [];
  for (const category of DUAL_USE_CATEGORIES) {
    for (const pattern of DUAL_USE_PATTERNS[category]) {
      const m = pattern.exec(clean);
      if (m) {
        hits.push({ category, match: m[0].slice(0, 60) });
        break;
      }
    }
  }
  return hits;
}

/**
 * The dual-use rule for an experience: a harmful phrase in the strategy
 * rejects it; one only in the condition is allowed when the strategy declines
 * or redirects (DECLINES), since that is how the assistant learns to refuse.
 * A text that is not in the experience form is scanned whole.
 */
export function checkDualUse(text: string): { ok: true } | { ok: false; detail: string } {
  const parsed = parseExperienceText(text);
  const describe = (h: DualUseHit): string => `${h.category} ("${h.match}")`;
  if (!parsed.ok) {
    const hit = findDualUse(text)[0];
    return hit ? { ok: false, detail: `harmful how-to: ${describe(hit)}` } : { ok: true };
  }
  const inStrategy = findDualUse(parsed.strategy)[0];
  if (inStrategy) return { ok: false, detail: `the strategy gives harmful how-to: ${describe(inStrategy)}` };
  const inCondition = findDualUse(parsed.condition)[0];
  if (inCondition && !DECLINES.test(normaliseForSafety(parsed.strategy))) {
    return { ok: false, detail: `the condition is about ${describe(inCondition)} and the strategy does not decline or redirect` };
  }
  // Harm spread across both parts ("When making a pipe, add a bomb…") is caught on the whole text too.
  const whole = findDualUse(parsed.text)[0];
  if (whole && !inCondition) return { ok: false, detail: `harmful how-to: ${describe(whole)}` };
  return { ok: true };
}

/*
 * Consistency with the episode.
 */

/** The episode a candidate came from, as far as validation needs it (an Episode fits). */
export interface EpisodeEvidence {
  task: string;
  /** The answer the person judged. */
  answer?: string;
  /** Rollout answers of the group the candidate was learned from. */
  answers?: readonly string[];
  correction?: string | null;
  domain?: ExperienceDomain | null;
  verifier?: Verifier | null;
}

/** Result words that introduce a claimed result: "= 400", "the answer is 400", "result: 400". */
const RESULT_CLAIM = /(?:=|≈|\b(?:answer|result|total|sum|product)\b(?:\s+(?:is|was|will be|should be|equals|of))?\s*[:=]?)\s*$/i;

/**
 * A candidate is inconsistent with its episode when either holds:
 *
 * (a) Off topic: it shares no content word (contentTokens, plural folded)
 *     with the episode's task, answers and correction, AND the episode's
 *     domain is known and differs from the candidate's. A general lesson may
 *     use none of the task's words ("When adding fractions, …" for "What is
 *     1/3 + 1/4?"), which is why a matching domain is enough; with no words
 *     and no domain in common, nothing ties it to the episode. An unknown
 *     episode domain never fails this rule.
 *
 * (b) Contradicts a verified result: the episode has a number verifier
 *     (expected E, tolerance t) and the candidate
 *     - contains a number that is the final number of an answer the verifier
 *       rejects (it repeats a result known to be wrong), or
 *     - claims a result ("= N", "answer is N", "result: N", "total of N") with
 *       N outside E ± t,
 *     where in both cases N does not occur in the task (numbers taken from
 *     the question are context, not claims) and N is not within E ± t.
 *     Shape and code verifiers carry no single right value, so only (a)
 *     applies to them.
 */
export function checkConsistency(
  candidate: { text: string; domain: string },
  episode: EpisodeEvidence,
): { ok: true } | { ok: false; detail: string } {
  const text = String(candidate.text).slice(0, MAX_SCAN_CHARS);
  const answers = [...(episode.answer !== undefined ? [episode.answer] : []), ...(episode.answers ?? [])];
  const episodeText = [episode.task, ...answers, episode.correction ?? ''].map((s) => String(s).slice(0, 50_000)).join('\n');

  const mine = contentTokens(text);
  const theirs = contentTokens(episodeText);
  let shared = 0;
  for (const t of mine) if (theirs.has(t)) shared++;
  if (shared === 0 && episode.domain && episode.domain !== candidate.domain) {
    return { ok: false, detail: `shares no words with the episode and its domain (${candidate.domain}) is not the episode's (${episode.domain})` };
  }

  const verifier = episode.verifier ? parseVerifier(episode.verifier) : null;
  if (verifier?.ok && verifier.verifier.kind === 'number') {
    const { expected, tolerance } = verifier.verifier;
    const inTask = extractNumbers(String(episode.task)).map((n) => n.value);
    const fromTask = (n: number): boolean => inTask.some((x) => numberMatches(n, x, 0));
    const wrong: number[] = [];
    for (const a of answers) {
      const n = extractFinalNumber(String(a));
      if (n !== null && !numberMatches(n, expected, tolerance)) wrong.push(n);
    }
    for (const token of extractNumbers(text)) {
      const n = token.value;
      if (numberMatches(n, expected, tolerance) || fromTask(n)) continue;
      if (wrong.some((w) => numberMatches(n, w, 0))) {
        return { ok: false, detail: `repeats ${token.text.trim()}, an answer the verifier rejected (expected ${expected})` };
      }
      if (RESULT_CLAIM.test(text.slice(Math.max(0, token.start - 40), token.start))) {
        return { ok: false, detail: `claims the result ${token.text.trim()}, but the verified answer is ${expected}` };
      }
    }
  }
  return { ok: true };
}

/*
 * Duplicates.
 */

/** Optional embedding check: the candidate's vector and the library's by id. */
export interface EmbeddingDuplicateCheck {
  candidate: ArrayLike<number>;
  library: ReadonlyMap<string, ArrayLike<number>>;
  /** Default EMBEDDING_DUPLICATE_THRESHOLD. */
  threshold?: number;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  const r = dot / Math.sqrt(na * nb);
  return Number.isFinite(r) ? r : 0;
}

function findDuplicate(
  text: string,
  ignoreId: string | undefined,
  library: readonly Pick<Experience, 'id' | 'text'>[],
  embedding: EmbeddingDuplicateCheck | undefined,
): string | null {
  for (const e of library) {
    if (e.id === ignoreId) continue;
    const s = tokenJaccard(text, e.text);
    if (s >= NEAR_DUPLICATE_THRESHOLD) return `near-duplicate of ${e.id} (word overlap ${s.toFixed(2)})`;
    const vector = embedding?.library.get(e.id);
    if (embedding && vector) {
      const c = cosine(embedding.candidate, vector);
      const threshold = embedding.threshold ?? EMBEDDING_DUPLICATE_THRESHOLD;
      if (c >= threshold) return `near-duplicate of ${e.id} (embedding similarity ${c.toFixed(2)})`;
    }
  }
  return null;
}

/*
 * The checks.
 */

/** A proposed ADD or UPDATE. */
export interface CandidateExperience {
  /** For an UPDATE: the experience being edited (not its own duplicate). */
  id?: string;
  text: string;
  domain: string;
  confidence: number;
}

export interface ValidationContext {
  /** The person's preferred language (BCP 47, e.g. 'de-AT'); absent: no language check. */
  preferredLanguage?: string | null;
  /** The library to check duplicates against. */
  library?: readonly Pick<Experience, 'id' | 'text'>[];
  /** The episode the candidate came from; absent: no consistency check. */
  episode?: EpisodeEvidence;
  embedding?: EmbeddingDuplicateCheck;
  /** Default MIN_CONFIDENCE. */
  minConfidence?: number;
}

function checkSchema(c: unknown): ValidationResult {
  if (typeof c !== 'object' || c === null) return reject('schema', 'the candidate is not an object');
  const { text, domain, confidence } = c as Record<string, unknown>;
  if (typeof text !== 'string') return reject('schema', 'the text is not a string');
  if (typeof domain !== 'string' || !(EXPERIENCE_DOMAINS as readonly string[]).includes(domain)) {
    return reject('schema', `the domain ${JSON.stringify(String(domain).slice(0, 40))} is not in the taxonomy (${EXPERIENCE_DOMAINS.join(', ')})`);
  }
  if (typeof confidence !== 'number' || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    return reject('schema', 'the confidence is not a number in 0..1');
  }
  return ok;
}

const FORM = /^when\s+([^,]+?),\s+(.+)$/i;

function checkLength(text: string): ValidationResult {
  const clean = text.slice(0, MAX_SCAN_CHARS + 1).replace(/\s+/g, ' ').trim();
  if (text.length > MAX_SCAN_CHARS || clean.length > MAX_EXPERIENCE_TEXT_LENGTH) {
    return reject('length', `the text is longer than ${MAX_EXPERIENCE_TEXT_LENGTH} characters`);
  }
  const m = FORM.exec(clean);
  if (m) {
    const condition = (m[1] ?? '').trim();
    const strategy = (m[2] ?? '').trim();
    if (condition.length < MIN_CONDITION_LENGTH || condition.length > MAX_CONDITION_LENGTH) {
      return reject('length', `the condition has ${condition.length} characters (${MIN_CONDITION_LENGTH}-${MAX_CONDITION_LENGTH} allowed)`);
    }
    if (strategy.length < MIN_STRATEGY_LENGTH || strategy.length > MAX_STRATEGY_LENGTH) {
      return reject('length', `the strategy has ${strategy.length} characters (${MIN_STRATEGY_LENGTH}-${MAX_STRATEGY_LENGTH} allowed)`);
    }
  }
  return ok;
}

function checkWords(text: string): ValidationResult {
  const words = contentTokens(text).size;
  return words < MIN_CONTENT_WORDS ? reject('length', `only ${words} content words; advice needs at least ${MIN_CONTENT_WORDS}`) : ok;
}

function guarded(run: () => ValidationResult): ValidationResult {
  try {
    return run();
  } catch (e) {
    // Not expected; a validator must still answer, and refusing is the safe answer.
    return reject('schema', `the candidate could not be checked: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Validates a candidate from the semantic advantage (an ADD, or an UPDATE's
 * new text) before it enters the local library. Returns the first failing
 * check in the order of the module comment. Never throws.
 */
export function validateCandidate(candidate: CandidateExperience, context: ValidationContext = {}): ValidationResult {
  return guarded(() => {
    const schema = checkSchema(candidate);
    if (!schema.ok) return schema;
    const length = checkLength(candidate.text);
    if (!length.ok) return length;
    const parsed = parseExperienceText(candidate.text);
    if (!parsed.ok) return reject('schema', parsed.reason);
    const words = checkWords(parsed.text);
    if (!words.ok) return words;
    const safety = checkDualUse(parsed.text);
    if (!safety.ok) return reject('dual-use', safety.detail);
    const language = languageMatches(parsed.text, context.preferredLanguage);
    if (!language.ok) return reject('language', language.detail);
    if (context.episode) {
      const consistent = checkConsistency({ text: parsed.text, domain: candidate.domain }, context.episode);
      if (!consistent.ok) return reject('inconsistent', consistent.detail);
    }
    const duplicate = findDuplicate(parsed.text, candidate.id, context.library ?? [], context.embedding);
    if (duplicate) return reject('duplicate', duplicate);
    const min = context.minConfidence ?? MIN_CONFIDENCE;
    if (candidate.confidence < min) return reject('low-confidence', `confidence ${candidate.confidence.toFixed(2)} is below ${min}`);
    return ok;
  });
}

export interface SharingValidationContext {
  preferredLanguage?: string | null;
  /** Experiences already shared (or offered): sharing a near-copy again adds nothing. The experience itself is skipped by id. */
  shared?: readonly Pick<Experience, 'id' | 'text'>[];
  /** The episode it came from, when still known: checked for consistency too. */
  episode?: EpisodeEvidence;
  embedding?: EmbeddingDuplicateCheck;
  /** Default SHARE_CONFIDENCE_THRESHOLD. */
  minConfidence?: number;
  /** Default MIN_SHARE_SUCCESSES. */
  minSuccesses?: number;
}

/**
 * The checks before an experience may be shared: it must be a valid stored
 * experience (experienceSchema), and pass length, dual-use, language,
 * consistency (when the episode is given), duplicates among what was already
 * shared, and the sharing confidence: at least SHARE_CONFIDENCE_THRESHOLD and
 * MIN_SHARE_SUCCESSES confirmed uses. The privacy projection runs after this
 * (sharing.ts). Never throws.
 */
export function validateForSharing(experience: Experience, context: SharingValidationContext = {}): ValidationResult {
  return guarded(() => {
    const parsed = experienceSchema.safeParse(experience);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reject('schema', `not a valid experience: ${issue ? `${issue.path.map(String).join('.')}: ${issue.message}` : 'unknown problem'}`);
    }
    const e = parsed.data;
    const base = validateCandidate(
      { id: e.id, text: e.text, domain: e.domain, confidence: e.confidence },
      {
        preferredLanguage: context.preferredLanguage ?? null,
        library: context.shared ?? [],
        ...(context.episode ? { episode: context.episode } : {}),
        ...(context.embedding ? { embedding: context.embedding } : {}),
        minConfidence: context.minConfidence ?? SHARE_CONFIDENCE_THRESHOLD,
      },
    );
    if (!base.ok) return base;
    const minSuccesses = context.minSuccesses ?? MIN_SHARE_SUCCESSES;
    if (e.successCount < minSuccesses) {
      return reject('low-confidence', `${e.successCount} successful uses; sharing needs at least ${minSuccesses}`);
    }
    return ok;
  });
}
