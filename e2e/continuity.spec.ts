/**
 * Continuity across engine and model swaps (identity layer): history,
 * memory, profile and identity live outside the engine, so switching from
 * the WASM engine to the WebGPU one keeps all of them, and the new model
 * answers with the same memory as evidence.
 */
import { chromium, expect, test } from '@playwright/test';
import { CHROMIUM } from '../playwright.config';
import { log, sendMessage, waitForReply } from './fixtures';

test('switching models keeps history, memory and identity', async ({ baseURL }) => {
  test.setTimeout(240_000);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(baseURL!);
    await expect(page.getByRole('status').first()).toContainText(/Test fixture \(random weights\) is ready \(transformers\.js, WASM\)/, { timeout: 60_000 });
    await sendMessage(page, 'Remember that my bicycle is green.');
    await waitForReply(page);

    await page.getByRole('button', { name: 'Settings' }).click();
    const settings = page.getByRole('dialog', { name: 'Settings' });
    const fingerprint = await settings.getByLabel('Node fingerprint').textContent();
    await settings.getByRole('radio', { name: /Test fixture on WebGPU/ }).check();
    await settings.getByRole('button', { name: 'Load model' }).click();
    await expect(page.getByRole('status').first()).toContainText(/Test fixture on WebGPU \(random weights\) is ready \(transformers\.js, WebGPU\)/, {
      timeout: 120_000,
    });
    await expect(settings.getByLabel('Node fingerprint')).toHaveText(fingerprint!);
    await settings.getByRole('button', { name: 'Close settings' }).click();

    // The conversation is still there, and the new model answers with the same memory.
    await expect(log(page).getByRole('article', { name: 'You' })).toHaveText(/my bicycle is green/);
    await sendMessage(page, 'What colour is my bicycle?');
    const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
    // The software WebGPU adapter is slow: a few tokens prove the new engine answers.
    await expect.poll(async () => ((await answer.textContent()) ?? '').length, { timeout: 60_000 }).toBeGreaterThan(30);
    await page.getByRole('button', { name: 'Stop' }).click();
    await waitForReply(page);
    await answer.getByRole('button', { name: 'Evidence' }).click();
    await expect(page.getByRole('dialog', { name: 'Evidence' })).toContainText('my bicycle is green');

    // And after a reload the new choice is remembered.
    await page.reload();
    await expect(page.getByRole('status').first()).toContainText(/Test fixture on WebGPU .* is ready/, { timeout: 120_000 });
    await expect(page.getByRole('navigation', { name: 'Conversations' })).toContainText('Remember that my bicycle is green.');
  } finally {
    await browser.close();
  }
});
