/**
 * Shared steps of the end-to-end tests, written as a person would do them:
 * by accessible names, never by CSS classes.
 */
import { expect, type Page } from '@playwright/test';

export const FIXTURE_LABEL = /Test fixture/i;

/** Opens the app and waits until the fixture model (auto-loaded by the test server's deploy config) is ready. */
export async function openReady(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.getByRole('status').first()).toContainText(/is ready/i, { timeout: 60_000 });
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

export function log(page: Page) {
  return page.getByRole('log', { name: 'Conversation' });
}

/** Waits for the current reply to finish (Send comes back once Stop is gone). */
export async function waitForReply(page: Page): Promise<void> {
  await expect(page.getByRole('button', { name: 'Stop' })).toHaveCount(0, { timeout: 60_000 });
  await expect(log(page).getByRole('article', { name: 'Assistant' }).last()).toHaveAttribute('aria-busy', 'false');
}
