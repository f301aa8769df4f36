/**
 * What a person's message says about remembering.
 *
 * (a) An explicit request ("remember that …", "remember: …", "please
 *     remember …", "don't forget that …", "could you remember that …"): the
 *     fact is stored as a memory at once, because the person asked.
 * (b) Self-descriptions ("my name is …", "I live in …", "I prefer …", "I'm
 *     allergic to …", "I work as/at/for …", "my X is …"): offered as
 *     proposals that the person accepts or dismisses. Nothing they did not
 *     confirm is ever used.
 *
 * Conservative by design, because a wrong memory costs more than a missed
 * one: only the person's own messages are analysed (never the model's, a
 * document's or a peer's text: the caller's duty); questions, hypotheticals
 * ("if my name were …", "imagine I live in …"), reported speech, negations
 * and code are skipped; secrets ("my password is …") are never proposed; a
 * phrase must start a sentence or clause; lengths are bounded. The fact is
 * kept in the person's words (first person), which is also what makes it
 * match their later questions.
 *
 * Pure: strings in, plain data out.
 */

/** Longest fact stored from one request, characters. */
export const MAX_FACT_CHARS = 500;
/** Longest proposal, characters (self-descriptions are short). */
export const MAX_PROPOSAL_CHARS = 200;
/** Most proposals offered for one message. */
export const MAX_PROPOSALS = 5;
/** Only the start of a very long message is analysed (a pasted document is not a self-description). */
export const MAX_ANALYSED_CHARS = 10_000;

export type RememberRequest =
  /** Store `fact` (the person's words, end punctuation and politeness trimmed). */
  | { kind: 'fact'; fact: string }
  /** They asked, but the fact is longer than MAX_FACT_CHARS: ask them to shorten it rather than cut it. */
  | { kind: 'too-long'; length: number; limit: number }
  /** "Remember that." with nothing to remember. */
  | { kind: 'empty' };

export type ProposalTopic = 'name' | 'home' | 'preference' | 'allergy' | 'work' | 'attribute';

export interface MemoryProposal {
  /** The fact as it would be stored ("My name is Ana"). */
  text: string;
  topic: ProposalTopic;
}

export interface MessageAnalysis {
  /** An explicit request to remember, if the message makes one. */
  remember: RememberRequest | null;
  /** Self-descriptions to offer, not already covered by the request. */
  proposals: MemoryProposal[];
}

/** Both at once: the request, and the proposals that it does not already cover. */
export function analyseMessage(message: string): MessageAnalysis {
  const remember = detectRememberRequest(message);
  const stored = remember?.kind === 'fact' ? comparable(remember.fact) : null;
  const proposals = proposeMemories(message).filter((p) => stored === null || !stored.includes(comparable(p.text)));
  return { remember, proposals };
}

// ---------------------------------------------------------------------------
// (a) Explicit requests

// Politeness and lead-ins allowed before the verb.
const LEAD = String.raw`(?:(?:ok(?:ay)?|hey|hi|so|also|and|oh|btw|by the way|one more thing)[,!.]?\s+)*`;
const PLEASE = String.raw`(?:please\s+|pls\s+|kindly\s+)?`;
const ASK = String.raw`(?:(?:can|could|would|will)\s+you\s+${PLEASE})`;
// "Remember that time we …" is reminiscing, not a request.
const NOT_A_FACT = String.raw`(?!(?:time|day|night|morning|evening|moment|one|place|song|movie|film|book|guy|girl|trip|party)\b)`;
// "Remember that." alone matches too, as an empty request the UI can ask about.
const INTRO = String.raw`(?:\s*[:—–-]\s*|\s*,\s*|\s+that\s+${NOT_A_FACT}|\s+that(?=[\s.!]*$))`;

interface RequestPattern {
  pattern: RegExp;
  /** The polite question form ("could you remember that …?"): the only one allowed to end in '?'. */
  asks: boolean;
}

const REQUESTS: readonly RequestPattern[] = [
  // could you (please) remember that X / remember that X / please remember: X / don't forget that X
  { pattern: new RegExp(String.raw`^${LEAD}${ASK}(?:always\s+)?(?:remember|keep\s+in\s+mind|make\s+a\s+note)${INTRO}`, 'i'), asks: true },
  { pattern: new RegExp(String.raw`^${LEAD}${PLEASE}(?:always\s+)?(?:remember|keep\s+in\s+mind|make\s+a\s+note)${INTRO}`, 'i'), asks: false },
  { pattern: new RegExp(String.raw`^${LEAD}${PLEASE}(?:do\s*n[o']?t|never)\s+forget${INTRO}`, 'i'), asks: false },
  // please remember X (bare, only with please: "Remember the Alamo" is no request)
  {
    pattern: new RegExp(String.raw`^${LEAD}(?:please|pls|kindly)\s+(?:always\s+)?remember\s+(?!(?:that|when|how|what|who|where|why|if|to|me|this|it)\b)`, 'i'),
    asks: false,
  },
];

/** The explicit request to remember in `message`, or null when it makes none. */
export function detectRememberRequest(message: string): RememberRequest | null {
  const text = prepare(message);
  for (const sentence of sentencesOf(text)) {
    for (const { pattern, asks } of REQUESTS) {
      const match = pattern.exec(sentence.text);
      if (!match) continue;
      // "Remember that I'm vegan?" is not a request; "Could you remember that …?" is.
      if (sentence.question && !asks) continue;
      // The fact runs to the end of the sentence: "Remember that I'm vegan. What should I cook?"
      let fact = cleanFact(sentence.text.slice(match[0].length));
      // "Remember:" followed by a list on the next lines.
      if (fact === '' && /[:—–-]\s*$/.test(match[0])) fact = listAfter(text, sentence.end);
      if (fact === '') return { kind: 'empty' };
      if (fact.length > MAX_FACT_CHARS) return { kind: 'too-long', length: fact.length, limit: MAX_FACT_CHARS };
      return { kind: 'fact', fact };
    }
  }
  return null;
}

/** The lines after `from` up to the next blank line, bullets off, joined with '; '. */
function listAfter(text: string, from: number): string {
  const block = text.slice(from).replace(/^\s*\n/, '').split(/\n\s*\n/)[0] ?? '';
  const items = block
    .split('\n')
    .map((line) => cleanFact(line.replace(/^\s*(?:[-*•+]|\d+[.)])\s+/, '')))
    .filter((item) => item !== '');
  return items.join('; ');
}

/**
 * Trailing politeness, end punctuation and wrapping quotes off; whitespace
 * collapsed. Otherwise the person's words as they wrote them ("my dog is
 * called Biscuit"), so what they see stored is what they said.
 */
function cleanFact(raw: string): string {
  let fact = raw.replace(/\s+/g, ' ').trim();
  fact = fact.replace(/[\s,]*(?:please|pls|thanks|thank you|ok\??|okay\??)[\s.!]*$/i, '');
  fact = fact.replace(/[\s.!?;:,]+$/u, '');
  const quoted = /^["“'‘](.*)["”'’]$/u.exec(fact);
  if (quoted) fact = (quoted[1] ?? '').trim();
  return fact;
}

// ---------------------------------------------------------------------------
// (b) Proposals from self-descriptions

interface ProposalPattern {
  topic: ProposalTopic;
  /** Matches at the start of a clause; group 1 is the object (what the fact is about). */
  pattern: RegExp;
  /** The stored fact from the clause's own words. */
  render: (clause: string) => string;
}

const ADVERB = String.raw`(?:(?:really|actually|currently|now|still|usually|generally|always|mostly|also|severely|very|mildly|quite)\s+)?`;

const PROPOSALS: readonly ProposalPattern[] = [
  { topic: 'name', pattern: /^my\s+(?:full\s+|first\s+|last\s+|nick)?name\s+is\s+(.+)$/i, render: capitalise },
  // Only a capitalised name: "call me tomorrow" is not one.
  { topic: 'name', pattern: /^(?:[Yy]ou\s+can\s+)?[Cc]all\s+me\s+(\p{Lu}[\p{L}'-]*(?:\s+\p{Lu}[\p{L}'-]*){0,2})$/u, render: (c) => capitalise(c.replace(/^you\s+can\s+/i, '')) },
  { topic: 'home', pattern: new RegExp(String.raw`^I\s+${ADVERB}live\s+in\s+(.+)$`, 'i'), render: capitalise },
  { topic: 'preference', pattern: new RegExp(String.raw`^I\s+${ADVERB}prefer\s+(.+)$`, 'i'), render: capitalise },
  {
    topic: 'allergy',
    pattern: new RegExp(String.raw`^I(?:'m|\s+am)\s+${ADVERB}allergic\s+to\s+(.+)$`, 'i'),
    render: capitalise,
  },
  { topic: 'allergy', pattern: /^I\s+have\s+an?\s+(\S+(?:\s+\S+)?\s+allergy)$/i, render: capitalise },
  { topic: 'work', pattern: new RegExp(String.raw`^I\s+${ADVERB}work\s+(?:as|at|for)\s+(.+)$`, 'i'), render: capitalise },
  // my X is Y, X one to three words ("my favourite colour", "my wife's name").
  { topic: 'attribute', pattern: /^my\s+((?:[\p{L}'’-]+\s+){0,2}[\p{L}'’-]+)\s+is\s+(.+)$/iu, render: capitalise },
];

/** Conversation words, not facts about the person ("my question is …"), and anything secret. */
const NOT_ATTRIBUTES = new Set([
  'question', 'problem', 'issue', 'point', 'guess', 'bad', 'fault', 'pleasure', 'turn', 'answer', 'code', 'error',
  'request', 'output', 'input', 'understanding', 'mistake', 'concern', 'idea', 'suggestion', 'worry', 'feeling',
  'opinion', 'thought', 'first question', 'last question', 'next question', 'main question', 'only question',
  'message', 'prompt', 'task', 'text', 'essay', 'homework', 'computer', 'internet', 'phone', 'laptop', 'battery',
  'head', 'back', 'stomach', 'day', 'week', 'mood', 'time', 'bad english', 'english',
]);
const SECRET = /pass(?:word|code|phrase)|\bpin\b|social\s+security|\bssn\b|credit\s+card|card\s+number|\bcvv\b|\bcvc\b|bank\s+account|account\s+number|\biban\b|routing|api\s*key|token|secret|private\s+key|seed\s+phrase|recovery|login|username|security\s+(?:question|answer)|licen[cs]e\s+number|passport/i;
/** The sentence is not the person stating a fact about themselves now. */
const HYPOTHETICAL =
  /\b(?:if|suppose|supposing|imagine|pretend|let'?s\s+say|say\s+that|what\s+if|assume|assuming|hypothetically|were|would|wish|used\s+to|anymore|no\s+longer|not|never|role-?play|story|character|example|quote|quoting|said|says|told|tells|asks?|asked)\b|n't\b|\be\.g\./i;
const QUESTION_START = /^(?:what|who|whom|whose|where|when|why|how|which|is|are|am|was|were|do|does|did|can|could|would|will|should|shall|may|might|have|has|had|isn't|aren't|don't|doesn't)\b/i;
// Where a clause may start inside a sentence: after these, "I live in …" is a statement of its own.
// Where a clause may start inside a sentence: after these, "I live in …" is a statement of its own.
// A bare comma does not split ("I live in Lisbon, Portugal") unless a new clause about the person follows.
const CLAUSE_BREAK = /\s*(?:;|,\s*(?:and|but|so|also)\b|,(?=\s*(?:I|I'm|my|call\s+me)\b)|\s(?:and|but|so|also)(?=\s+(?:I|I'm|my)\b))\s*/i;
const CLAUSE_LEAD = /^(?:(?:hi|hello|hey|well|ok(?:ay)?|so|also|and|but|oh|btw|by the way|fyi|for the record|just so you know|for context|as you know)[,!.:]?\s+)+/i;

/** Self-descriptions in `message` worth offering as memories, at most MAX_PROPOSALS, without duplicates. */
export function proposeMemories(message: string): MemoryProposal[] {
  const proposals: MemoryProposal[] = [];
  const seen = new Set<string>();
  for (const sentence of sentencesOf(prepare(message))) {
    if (sentence.question || QUESTION_START.test(sentence.text)) continue;
    const clauses = sentence.text.split(CLAUSE_BREAK);
    for (let i = 0; i < clauses.length; i++) {
      // A hypothetical, negation or reported speech before or in the clause disqualifies it
      // ("If I lived in Rome, I live in …", "My name is not Bob"); one after it does not
      // ("my name is Ana and I wonder if …").
      if (HYPOTHETICAL.test(clauses.slice(0, i + 1).join(' '))) break;
      const proposal = proposalOf((clauses[i] as string).replace(CLAUSE_LEAD, '').trim());
      if (!proposal) continue;
      const key = comparable(proposal.text);
      if (seen.has(key)) continue;
      seen.add(key);
      proposals.push(proposal);
      if (proposals.length >= MAX_PROPOSALS) return proposals;
    }
  }
  return proposals;
}

function proposalOf(clause: string): MemoryProposal | null {
  const text = clause.replace(/[\s.!;:,]+$/u, '');
  if (text.length < 8 || text.length > MAX_PROPOSAL_CHARS) return null;
  if (SECRET.test(text)) return null;
  for (const { topic, pattern, render } of PROPOSALS) {
    const match = pattern.exec(text);
    if (!match) continue;
    if (topic === 'attribute') {
      const subject = (match[1] ?? '').toLowerCase().replace(/’/g, "'");
      if (NOT_ATTRIBUTES.has(subject) || /^(?:name|full name|first name|last name)$/.test(subject)) continue;
    }
    const object = (topic === 'attribute' ? match[2] : match[1]) ?? '';
    // An object that is a pronoun or a filler says nothing ("my name is it", "I prefer that").
    if (/^(?:it|this|that|these|those|them|something|nothing|anything|one|so|too|fine|ok|okay)$/i.test(object.trim())) continue;
    return { text: render(text), topic };
  }
  return null;
}

// ---------------------------------------------------------------------------
// Shared text handling

interface Sentence {
  text: string;
  /** Ended with a question mark. */
  question: boolean;
  /** Offset in the prepared text just after the sentence. */
  end: number;
}

/** Code, quotes and markup out; curly apostrophes straightened; bounded length. */
function prepare(message: string): string {
  return message
    .slice(0, MAX_ANALYSED_CHARS)
    .replace(/```[\s\S]*?(?:```|$)/g, '\n') // fenced code: not the person talking about themselves
    .replace(/`[^`\n]*`/g, ' ')
    .replace(/^\s*>.*$/gm, '\n') // quoted text (Markdown block quotes)
    .replace(/[’‘]/g, "'")
    .replace(/[“”]/g, '"')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0009\u000B-\u001F\u007F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g, ' ');
}

const ABBREVIATIONS = /\b(?:mr|mrs|ms|dr|prof|st|sr|jr|vs|etc|e\.g|i\.e|approx|dept|mt|ft|inc|ltd)\.$/i;

/** Sentences, split at . ! ? and line breaks (not after common abbreviations like "Dr."). */
function sentencesOf(text: string): Sentence[] {
  const sentences: Sentence[] = [];
  let start = 0;
  const push = (end: number, question: boolean): void => {
    const piece = text.slice(start, end).trim();
    if (piece !== '') sentences.push({ text: piece, question, end });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      push(i, false);
      start = i + 1;
      continue;
    }
    if (c !== '.' && c !== '!' && c !== '?') continue;
    // Keep "?!" and "..." together with the sentence they end.
    let end = i + 1;
    while (end < text.length && /[.!?]/.test(text[end] as string)) end++;
    // Only at the end of a word followed by space or the end: not "3.5", "example.com" or "v2.0".
    const next = text[end];
    if (next !== undefined && !/\s/.test(next)) {
      i = end - 1;
      continue;
    }
    if (c === '.' && end === i + 1 && ABBREVIATIONS.test(text.slice(Math.max(start, i - 6), i + 1))) continue;
    push(end, text.slice(i, end).includes('?'));
    start = end;
    i = end - 1;
  }
  push(text.length, false);
  return sentences;
}

function capitalise(text: string): string {
  const trimmed = text.replace(/\s+/g, ' ').trim();
  return trimmed.length > 0 ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : '';
}

/** For duplicate checks: case, punctuation and spacing do not make a fact different. */
function comparable(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}
