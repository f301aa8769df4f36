/**
 * A real, valid artifact for network tests (unit, e2e and benches): a lesson
 * with the given text through the same build the app uses for sharing.
 */
import type { Artifact } from '../../src/lib/artifacts/schema';
import { createExperience } from '../../src/lib/learning/experience';
import { buildShareableArtifact } from '../../src/lib/learning/sharing';

export function testArtifact(text: string): Artifact {
  const experience = createExperience({ id: `t${Math.random().toString(36).slice(2, 10)}`, text, domain: 'math', confidence: 0.9, episodeIds: [], now: Date.now() });
  const built = buildShareableArtifact(
    { experience, kind: 'strategy', evidence: { groupSize: 4, rewardSpread: 0.5 }, embedderId: 'fixtures/lexical-minilm-384' },
    () => ({ ok: true }),
    { privateVocabulary: [], now: Date.now(), random: Math.random },
  );
  if (!built.ok) throw new Error(`the test artifact was refused: ${built.reason}`);
  return built.artifact;
}
