/**
 * Closing the browser in the middle of a reply keeps the reply as far as it
 * got, marked interrupted, after a restart (persistent profile = real
 * IndexedDB on disk).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { CHROMIUM } from '../playwright.config';
import { log, sendMessage } from './fixtures';

test('a reply cut off by closing the browser is kept after a restart', async ({ baseURL }) => {
  const dir = await mkdtemp(join(tmpdir(), 'h3lix-profile-'));
  try {
    let ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM });
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(baseURL!);
    await expect(page.getByRole('status').first()).toContainText(/is ready/i, { timeout: 60_000 });
    await sendMessage(page, 'Tell me something long');
    const reply = log(page).getByRole('article', { name: 'Assistant' }).last();
    await expect.poll(async () => ((await reply.textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(60);
    await page.waitForTimeout(400); // at least one periodic save
    const partial = ((await reply.locator('.markdown').textContent()) ?? '').trim();
    await ctx.close(); // the browser goes away mid-reply

    ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(baseURL!);
    const kept = log(page).getByRole('article', { name: 'Assistant' }).last();
    await expect(kept).toContainText('Interrupted');
    const keptText = ((await kept.locator('.markdown').textContent()) ?? '').trim();
    expect(keptText.length).toBeGreaterThan(20);
    // What was kept is the start of what was on screen (or a little more, saved just before closing).
    expect(keptText.slice(0, 20)).toBe(partial.slice(0, 20));
    await ctx.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
