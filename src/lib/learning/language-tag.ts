/**
 * The profile's preferred language is free text in the person's words
 * ("German", "Deutsch", "pt-BR", "français"); validation needs a language
 * tag. Names of the languages validation can tell apart, in English and in
 * the language itself, map to their tag; a tag passes through; anything
 * else is unknown (null), and unknown never blocks a lesson.
 */
const NAMES: Readonly<Record<string, string>> = {
  english: 'en', anglais: 'en', englisch: 'en', inglés: 'en', ingles: 'en', inglese: 'en', engels: 'en', inglês: 'en',
  german: 'de', deutsch: 'de', allemand: 'de', alemán: 'de', aleman: 'de', tedesco: 'de', duits: 'de', alemão: 'de',
  french: 'fr', français: 'fr', francais: 'fr', französisch: 'fr', francés: 'fr', frances: 'fr', francese: 'fr', frans: 'fr', francês: 'fr',
  spanish: 'es', español: 'es', espanol: 'es', castellano: 'es', espagnol: 'es', spanisch: 'es', spagnolo: 'es', spaans: 'es', espanhol: 'es',
  italian: 'it', italiano: 'it', italien: 'it', italienisch: 'it', italiaans: 'it',
  dutch: 'nl', nederlands: 'nl', néerlandais: 'nl', niederländisch: 'nl', holandés: 'nl', olandese: 'nl', holandês: 'nl',
  portuguese: 'pt', português: 'pt', portugues: 'pt', portugais: 'pt', portugiesisch: 'pt', portugués: 'pt', portoghese: 'pt', portugees: 'pt',
  russian: 'ru', русский: 'ru', greek: 'el', ελληνικά: 'el', japanese: 'ja', 日本語: 'ja', chinese: 'zh', 中文: 'zh', korean: 'ko', 한국어: 'ko',
  arabic: 'ar', العربية: 'ar', hebrew: 'he', עברית: 'he', hindi: 'hi', हिन्दी: 'hi', polish: 'pl', polski: 'pl', swedish: 'sv', svenska: 'sv',
};

export function languageTagOf(preferred: string): string | null {
  const text = preferred.trim().toLowerCase();
  if (!text) return null;
  if (/^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$/i.test(text)) return text;
  const first = text.split(/[\s,;(]+/)[0] ?? '';
  return NAMES[text] ?? NAMES[first] ?? null;
}
