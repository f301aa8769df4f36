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

/** Sends a message and waits until it shows in the conversation with its reply started. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const questions = log(page).getByRole('article', { name: 'You' });
  const before = await questions.count();
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(questions).toHaveCount(before + 1);
  // The reply's article appears once retrieval is done; after a reload that
  // includes starting the embedder, which takes a while on a loaded machine.
  await expect(log(page).getByRole('article', { name: 'Assistant' })).toHaveCount(before + 1, { timeout: 60_000 });
}

export function log(page: Page) {
  return page.getByRole('log', { name: 'Conversation' });
}

/** Waits until every question has its answer and none is still being written. */
export async function waitForReply(page: Page): Promise<void> {
  const questions = await log(page).getByRole('article', { name: 'You' }).count();
  await expect(log(page).getByRole('article', { name: 'Assistant' })).toHaveCount(questions, { timeout: 30_000 });
  await expect(log(page).locator('article[aria-busy="true"]')).toHaveCount(0, { timeout: 120_000 });
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
}

/** A lesson from a correction, shared through the execution layer (the policy asks; the person confirms). */
export async function shareLesson(page: Page, question: string, correction: string, lessonText: string) {
  await sendMessage(page, question);
  await waitForReply(page);
  const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
  await answer.getByRole('button', { name: 'Correct' }).click();
  await answer.getByRole('textbox', { name: 'Corrected answer' }).fill(correction);
  await answer.getByRole('button', { name: 'Save correction' }).click();
  await answer.getByRole('textbox', { name: 'Lesson' }).fill(lessonText);
  await answer.getByRole('combobox', { name: 'Lesson domain' }).selectOption('math');
  await answer.getByRole('button', { name: 'Save lesson' }).click();
  await page.getByRole('button', { name: 'Learning', exact: true }).click();
  const learning = page.getByRole('dialog', { name: 'Learning' });
  await learning.getByRole('button', { name: `Share: ${lessonText}` }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Share with the network?' });
  await confirm.getByRole('button', { name: 'Share with the network' }).click();
  await expect(learning.getByRole('listitem', { name: lessonText })).toContainText('Shared');
  await learning.getByRole('button', { name: 'Close learning' }).click();
}
