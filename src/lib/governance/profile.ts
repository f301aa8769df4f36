/**
 * The person's profile as instructions for the model: who they are, the
 * language they want, and their standing instructions. Prompt assembly puts
 * them after each conversation's own system prompt. Pure.
 */
export interface ProfileFields {
  profileName: string;
  profileLanguage: string;
  standingInstructions: string;
}

export function profileInstructions(p: ProfileFields): string {
  const lines: string[] = [];
  if (p.profileName.trim()) lines.push(`The person you are helping is called ${p.profileName.trim()}.`);
  if (p.profileLanguage.trim()) lines.push(`Answer in ${p.profileLanguage.trim()} unless asked otherwise.`);
  if (p.standingInstructions.trim()) lines.push(p.standingInstructions.trim());
  return lines.join('\n');
}
