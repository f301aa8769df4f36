/**
 * A newcomer's first conversation with the real transformers.js engine on the
 * fixture model, in a real browser, stored in real IndexedDB.
 */
import { expect, test } from '@playwright/test';
import { log, openReady, sendMessage, waitForReply } from './fixtures';

test('sends a message and sees the reply stream in, with its statistics', async ({ page }) => {
  await openReady(page);
  await sendMessage(page, 'Hello there, who are you?');

  const reply = log(page).getByRole('article', { name: 'Assistant' }).last();
  await expect(log(page).getByRole('article', { name: 'You' })).toHaveText(/Hello there, who are you\?/);

  // The reply grows while it streams: several different lengths are seen before it ends.
  const lengths = new Set<number>();
  while ((await page.getByRole('button', { name: 'Stop' }).count()) > 0) {
    lengths.add(((await reply.textContent()) ?? '').length);
    await page.waitForTimeout(15);
  }
  expect(lengths.size).toBeGreaterThanOrEqual(3);

  await waitForReply(page);
  await expect(reply).toContainText(/\d+ tokens · [\d.]+ tokens\/s/);
  await expect(reply.getByRole('button', { name: 'Copy' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toContainText('Hello there, who are you?');
});

test('stops a long generation and keeps what was written', async ({ page }) => {
  await openReady(page);
  await sendMessage(page, 'Write a very long story.');
  const reply = log(page).getByRole('article', { name: 'Assistant' }).last();
  await expect(reply).toHaveAttribute('aria-busy', 'true');
  await expect.poll(async () => ((await reply.textContent()) ?? '').length).toBeGreaterThan(40);

  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  await expect(reply).toContainText('Stopped.');
  const stopped = await reply.textContent();
  await page.waitForTimeout(700);
  expect(await reply.textContent()).toBe(stopped);

  // Still there, still marked stopped, after a reload.
  await page.reload();
  await expect(log(page).getByRole('article', { name: 'Assistant' }).last()).toContainText('Stopped.');
});

test('finds the conversation again after a reload', async ({ page }) => {
  await openReady(page);
  await sendMessage(page, 'Remember this conversation');
  await waitForReply(page);
  const replyText = await log(page).getByRole('article', { name: 'Assistant' }).last().textContent();

  await page.reload();
  await expect(page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: 'Remember this conversation', exact: true })).toBeVisible();
  await expect(log(page).getByRole('article', { name: 'You' })).toHaveText(/Remember this conversation/);
  await expect(log(page).getByRole('article', { name: 'Assistant' })).toHaveText(replyText ?? '');
});

test('regenerates, copies, renames, sets a system prompt and deletes', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openReady(page);
  await sendMessage(page, 'First question');
  await waitForReply(page);

  // Regenerate replaces the answer (still one answer to one question).
  await log(page).getByRole('button', { name: 'Regenerate' }).click();
  await waitForReply(page);
  await expect(log(page).getByRole('article', { name: 'Assistant' })).toHaveCount(1);

  // Copy puts the reply's text on the clipboard.
  await log(page).getByRole('button', { name: 'Copy' }).click();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  expect(clip.trim().length).toBeGreaterThan(0);
  const shown = (await log(page).getByRole('article', { name: 'Assistant' }).textContent()) ?? '';
  expect(shown.replace(/\s+/g, ' ')).toContain(clip.trim().split(/\s+/).slice(0, 4).join(' '));

  // Rename.
  const nav = page.getByRole('navigation', { name: 'Conversations' });
  await nav.getByRole('button', { name: 'Rename conversation First question' }).click();
  await nav.getByRole('textbox', { name: 'Conversation title' }).fill('My renamed chat');
  await nav.getByRole('textbox', { name: 'Conversation title' }).press('Enter');
  await expect(nav.getByRole('button', { name: 'My renamed chat', exact: true })).toBeVisible();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('My renamed chat');

  // System prompt, kept per conversation.
  await page.getByRole('button', { name: 'System prompt' }).click();
  await page.getByRole('textbox', { name: 'System prompt for this conversation' }).fill('Answer in French.');
  await page.getByRole('button', { name: 'Save system prompt' }).click();
  // The panel closes once the prompt is stored.
  await expect(page.getByRole('textbox', { name: 'System prompt for this conversation' })).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('My renamed chat');
  await page.getByRole('button', { name: 'System prompt' }).click();
  await expect(page.getByRole('textbox', { name: 'System prompt for this conversation' })).toHaveValue('Answer in French.');

  // Delete asks first; Cancel keeps it, Delete removes it.
  await nav.getByRole('button', { name: 'Delete conversation My renamed chat' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Delete conversation?' });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(nav.getByRole('button', { name: 'My renamed chat', exact: true })).toBeVisible();
  await nav.getByRole('button', { name: 'Delete conversation My renamed chat' }).click();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(nav.getByRole('button', { name: 'My renamed chat', exact: true })).toHaveCount(0);
  await page.reload();
  await expect(nav).toContainText('No conversations yet.');
});
