import { describe, expect, it } from 'vitest';
import { profileInstructions } from '../../src/lib/governance/profile';

describe('profile instructions', () => {
  it('are empty for an empty profile', () => {
    expect(profileInstructions({ profileName: ' ', profileLanguage: '', standingInstructions: '' })).toBe('');
  });
  it('say the name, the language and the standing instructions', () => {
    const p = { profileName: ' Ada ', profileLanguage: 'French', standingInstructions: 'Use metric units.' };
    expect(profileInstructions(p)).toBe(
      'The person you are helping is called Ada.\nAnswer in French unless asked otherwise.\nUse metric units.',
    );
  });
});
