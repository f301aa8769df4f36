/**
 * The relay restarts and the members recover by themselves: two browsers in
 * a network on a relay this test runs (chosen with "Use another relay"),
 * the relay stops and starts again on the same address and key, both get
 * their reservation back without anyone touching them, and an artifact
 * shared afterwards still arrives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { CHROMIUM } from '../playwright.config';
import { openReady, shareLesson } from './fixtures';
import { startRelay, type RunningRelay } from '../relay/src/relay.ts';

const BASE = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 4319)}`;

async function launch(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const page = await (await browser.newContext({ baseURL: BASE })).newPage();
  await openReady(page);
  return { browser, page };
}

async function network(page: Page) {
  const dialog = page.getByRole('dialog', { name: 'Network' });
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Network', exact: true }).click();
  return dialog;
}

test('after a relay restart the members reconnect by themselves and still exchange artifacts', async () => {
  test.setTimeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'h3lix-e2e-relay-'));
  const options = { port: 0, httpPort: 0, host: '127.0.0.1', keyFile: join(dir, 'relay.key'), logLevel: 'silent' as const, maxConnectionsPerIp: 64, connectionRatePerIp: 100 };
  let relay: RunningRelay = await startRelay(options);
  const addr = relay.multiaddrs[0]!;
  const port = Number(/\/tcp\/(\d+)\//.exec(addr)![1]);
  const [a, b] = await Promise.all([launch(), launch()]);
  try {
    const na = await network(a.page);
    await na.getByRole('textbox', { name: 'Network name' }).fill('Relay test');
    await na.getByText('Use another relay').click();
    await na.getByRole('textbox', { name: 'Relay address' }).fill(addr);
    await na.getByRole('button', { name: 'Create invite link' }).click();
    const link = await na.getByRole('textbox', { name: 'Your invite link' }).inputValue();
    await b.page.goto(link);
    await b.page.getByRole('button', { name: 'Confirm join' }).click();
    const nb = await network(b.page);
    for (const view of [na, nb]) {
      await expect(view.getByRole('region', { name: 'Peers' }).getByRole('listitem')).toHaveCount(1, { timeout: 90_000 });
      await expect(view).toContainText('Connected through the relay');
    }

    // The relay goes away and comes back on the same address with the same key.
    await relay.stop();
    for (const view of [na, nb]) await expect(view).not.toContainText('Connected through the relay', { timeout: 30_000 });
    relay = await startRelay({ ...options, port });
    for (const view of [na, nb]) await expect(view).toContainText('Connected through the relay', { timeout: 90_000 });

    // And the network still carries artifacts.
    await a.page.getByRole('button', { name: 'Close network' }).click();
    await shareLesson(a.page, 'What is 9 * 8?', '72', 'When multiplying by nine, multiply by ten and subtract the number once');
    await expect(nb.getByLabel('Items held')).toContainText('Artifacts held: 1', { timeout: 90_000 });
  } finally {
    await Promise.all([a.browser.close(), b.browser.close()]);
    await relay.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
