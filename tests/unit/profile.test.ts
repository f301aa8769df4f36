import { describe, expect, it } from 'vitest';
import { profileInstructions, systemPromptFor } from '../../src/lib/governance/profile';

const empty = { profileName: '', profileLanguage: '', standingInstructions: '' };

describe('profile instructions', () => {
  it('are empty for an empty profile, leaving the conversation prompt alone', () => {
    expect(profileInstructions(empty)).toBe('');
    expect(systemPromptFor(empty, 'Be brief.')).toBe('Be brief.');
    expect(systemPromptFor(empty, '  ')).toBe('');
  });
  it('put name, language and standing instructions before the conversation prompt', () => {
    const p = { profileName: ' Ada ', profileLanguage: 'French', standingInstructions: 'Use metric units.' };
    expect(systemPromptFor(p, 'Be brief.')).toBe(
      'The person you are helping is called Ada.\nAnswer in French unless asked otherwise.\nUse metric units.\n\nBe brief.',
    );
  });
});
