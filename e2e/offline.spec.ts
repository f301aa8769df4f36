/**
 * PWA: installable (manifest, icons), cross-origin isolated (WASM threads),
 * an offline shell from the service worker's precache, and a model that
 * loads again offline from the engine's own cache.
 */
import { expect, test } from '@playwright/test';
import { log, openReady, sendMessage, waitForReply } from './fixtures';

test('is installable and cross-origin isolated', async ({ page, request }) => {
  await page.goto('/');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const manifest = await (await request.get(href!)).json();
  expect(manifest.name).toContain('H3LIX');
  expect(manifest.display).toBe('standalone');
  const sizes = manifest.icons.map((i: { sizes: string }) => i.sizes);
  expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
  for (const icon of manifest.icons) {
    const res = await request.get(icon.src);
    expect(res.status(), icon.src).toBe(200);
    expect(res.headers()['content-type']).toContain('image/png');
  }
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await page.evaluate(async () => !!(await navigator.serviceWorker.ready).active)).toBe(true);
});

test('opens offline after the first visit and still chats with the cached model', async ({ page, context }) => {
  await openReady(page);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  // Make sure this page is controlled, so the precache serves the next navigation.
  await page.reload();
  await expect(page.getByRole('status').first()).toContainText(/is ready/i, { timeout: 60_000 });
  expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Settings' })).toBeVisible();
  // The model comes back from the cache (the engine loaded it before).
  await expect(page.getByRole('status').first()).toContainText(/is ready/i, { timeout: 60_000 });
  await sendMessage(page, 'Are you there offline?');
  await waitForReply(page);
  await expect(log(page).getByRole('article', { name: 'Assistant' })).toContainText(/tokens\/s/);
  await context.setOffline(false);
});
