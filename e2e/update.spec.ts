/**
 * A new deployment shows "A new version of H3LIX is ready" through
 * workbox-window; nothing changes until the person chooses "Update now",
 * which activates the new service worker and reloads.
 *
 * The test serves its own copy of the built app, so it can "deploy" a new
 * version (a changed sw.js) without touching the server other tests use.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { preview } from 'vite';

test('offers an update when a new version is deployed, and applies it on request', async ({ page }) => {
  const dir = await mkdtemp(join(tmpdir(), 'h3lix-deploy-'));
  await cp('dist', dir, { recursive: true, filter: (src) => !src.includes('/models') });
  const server = await preview({
    configFile: false,
    logLevel: 'silent',
    build: { outDir: dir },
    preview: { port: 0, host: '127.0.0.1', strictPort: false },
  });
  try {
    const url = server.resolvedUrls!.local[0]!;
    await page.goto(url);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.reload();
    expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    await expect(page.getByRole('region', { name: 'Update available' })).toHaveCount(0);

    // Deploy a new version, then let the browser look for it (as it does on navigation).
    await appendFile(join(dir, 'sw.js'), `\n// new deployment ${Date.now()}\n`);
    await page.evaluate(async () => {
      await (await navigator.serviceWorker.getRegistration())?.update();
    });
    const prompt = page.getByRole('region', { name: 'Update available' });
    await expect(prompt).toContainText('A new version of H3LIX is ready.', { timeout: 30_000 });
    // Nothing changes until the person asks.
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting)).toBe(true);

    const reloaded = page.waitForEvent('load');
    await prompt.getByRole('button', { name: 'Update now' }).click();
    await reloaded;
    await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
    await expect(page.getByRole('region', { name: 'Update available' })).toHaveCount(0);
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting)).toBe(false);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
