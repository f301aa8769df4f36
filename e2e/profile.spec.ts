/**
 * The identity layer: a node identity made on first run that stays the same
 * across reloads, and a profile the person edits that is kept.
 */
import { expect, test } from '@playwright/test';
import { openReady } from './fixtures';

test('keeps the node identity and the profile across reloads', async ({ page }) => {
  await openReady(page);
  await page.getByRole('button', { name: 'Settings' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings' });
  const fingerprint = settings.getByLabel('Node fingerprint');
  await expect(fingerprint).toHaveText(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
  const id = await fingerprint.textContent();
  await expect(settings).toContainText('its private key cannot be read or exported');

  await settings.getByRole('textbox', { name: 'Your name' }).fill('Ada');
  await settings.getByRole('textbox', { name: 'Preferred language' }).fill('French');
  await settings.getByRole('textbox', { name: 'Standing instructions' }).fill('Use metric units.');
  await settings.getByRole('button', { name: 'Save profile' }).click();
  await expect(settings.getByRole('status').filter({ hasText: 'Profile saved' })).toBeVisible();

  await page.reload();
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(settings.getByLabel('Node fingerprint')).toHaveText(id!);
  await expect(settings.getByRole('textbox', { name: 'Your name' })).toHaveValue('Ada');
  await expect(settings.getByRole('textbox', { name: 'Preferred language' })).toHaveValue('French');
  await expect(settings.getByRole('textbox', { name: 'Standing instructions' })).toHaveValue('Use metric units.');
});
