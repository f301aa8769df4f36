/**
 * A first guess at an episode's domain, from its question, so experiences
 * can be filtered and routed before any model looked at them. Keyword cues
 * per domain, scored by how many cues a text hits; ties go to the earlier
 * domain in CUES. The person can change the domain of any experience in the
 * Learning view, and the model names the domain of what it proposes, so a
 * wrong guess costs little.
 */
import type { ExperienceDomain } from './experience';

const CUES: readonly (readonly [ExperienceDomain, RegExp])[] = [
  ['coding', /\b(code|function|bug|debug|compile|javascript|typescript|python|java|rust|sql|regex|api|class|variable|array|loop|exception|stack trace|npm|git)\b|```/gi],
  ['units', /\b(convert|conversion|units?|km|kilometers?|kilometres?|miles?|meters?|metres?|feet|foot|inch(es)?|pounds?|kg|kilograms?|grams?|celsius|fahrenheit|kelvin|liters?|litres?|gallons?|mph|km\/h)\b/gi],
  ['math', /\b(calculate|compute|sum|product|equation|solve|percent(age)?|fraction|multiply|divide|integral|derivative|algebra|average|mean|median|how many|how much)\b|\d\s*[-+*/×÷^]\s*\d/gi],
  ['language', /\b(translate|translation|grammar|spell(ing)?|synonym|vocabulary|in (french|german|spanish|italian|english|dutch|portuguese))\b/gi],
  ['writing', /\b(write|rewrite|draft|essay|email|letter|tone|paragraph|summari[sz]e|summary|proofread|edit)\b/gi],
  ['planning', /\b(plan|schedule|itinerary|steps?|roadmap|timeline|organi[sz]e|prioriti[sz]e|checklist|deadline)\b/gi],
  ['reasoning', /\b(puzzle|riddle|logic|deduce|if .* then|prove|why does|reason)\b/gi],
  ['safety', /\b(dangerous|harm|weapon|hack|illegal|privacy|password|safe to)\b/gi],
  ['facts', /\b(who|what|when|where|which|capital|history|population|define|definition)\b/gi],
];

export function guessDomain(text: string): ExperienceDomain {
  const sample = text.slice(0, 4000);
  let best: ExperienceDomain = 'other';
  let bestHits = 0;
  for (const [domain, cue] of CUES) {
    const hits = sample.match(cue)?.length ?? 0;
    if (hits > bestHits) {
      best = domain;
      bestHits = hits;
    }
  }
  return best;
}
