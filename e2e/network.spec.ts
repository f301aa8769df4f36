/**
 * The network with three real browsers (separate Chromium processes) and the
 * real relay (started beside the app by the test server): A creates an
 * invite link; B opens it, C pastes it, both confirm; all three see each
 * other; a lesson A shares reaches B and C; C's tab closes, A shares another,
 * C comes back and catches up by reconciliation. A tampered link is refused.
 */
import { chromium, expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM } from '../playwright.config';
import { openReady, shareLesson } from './fixtures';

const BASE = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 4319)}`;

interface Member {
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

async function launch(): Promise<Member> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  const context = await browser.newContext({ baseURL: BASE });
  const page = await context.newPage();
  await openReady(page);
  return { browser, context, page };
}

async function openNetwork(page: Page) {
  const dialog = page.getByRole('dialog', { name: 'Network' });
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Network', exact: true }).click();
  return dialog;
}

async function closeNetwork(page: Page) {
  await page.getByRole('button', { name: 'Close network' }).click();
}

async function expectArtifacts(page: Page, n: number) {
  const network = await openNetwork(page);
  await expect(network.getByLabel('Items held')).toContainText(`Artifacts held: ${n}`, { timeout: 90_000 });
  await closeNetwork(page);
}

test('three browsers join by invite link, see each other, and exchange artifacts, including after one was offline', async () => {
  test.setTimeout(420_000);
  const [a, b, c] = await Promise.all([launch(), launch(), launch()]);
  try {
    // A creates the network and an invite link.
    const na = await openNetwork(a.page);
    await na.getByRole('textbox', { name: 'Network name' }).fill('Study group');
    await na.getByRole('button', { name: 'Create invite link' }).click();
    const linkBox = na.getByRole('textbox', { name: 'Your invite link' });
    await expect(linkBox).toHaveValue(/#join=/);
    const link = await linkBox.inputValue();
    await expect(na.getByRole('img', { name: 'QR code of the invite link' })).toBeVisible();
    await closeNetwork(a.page);

    // A tampered link is refused with a reason.
    const nbTamper = await openNetwork(b.page);
    await nbTamper.getByRole('textbox', { name: 'Invite link' }).fill(link.slice(0, -6) + (link.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
    await nbTamper.getByRole('button', { name: 'Join network' }).click();
    await expect(nbTamper.getByRole('status')).toContainText('This invite cannot be used');
    await closeNetwork(b.page);

    // B opens the link; the app shows who invites to what and joins only on confirmation.
    await b.page.goto(link);
    const nb = b.page.getByRole('dialog', { name: 'Network' });
    await expect(nb.getByRole('region', { name: 'Invitation' })).toContainText('Study group');
    await expect(b.page).not.toHaveURL(/#join=/);
    await nb.getByRole('button', { name: 'Confirm join' }).click();
    await expect(nb.getByRole('status')).toContainText('Joined Study group');
    await closeNetwork(b.page);

    // C pastes it.
    const nc = await openNetwork(c.page);
    await nc.getByRole('textbox', { name: 'Invite link' }).fill(link);
    await nc.getByRole('button', { name: 'Join network' }).click();
    await nc.getByRole('button', { name: 'Confirm join' }).click();
    await closeNetwork(c.page);

    // Everyone sees the two others.
    for (const m of [a, b, c]) {
      const network = await openNetwork(m.page);
      await expect(network.getByRole('region', { name: 'Peers' }).getByRole('listitem')).toHaveCount(2, { timeout: 90_000 });
      await closeNetwork(m.page);
    }

    // A shares a lesson: it reaches B and C.
    await shareLesson(a.page, 'What is 17 * 23?', '391', 'When multiplying two-digit numbers, split one factor into tens and units and add the partial products');
    await expectArtifacts(b.page, 1);
    await expectArtifacts(c.page, 1);

    // C's tab closes; A shares another; C comes back and catches up.
    await c.page.close();
    await shareLesson(a.page, 'What is 45 * 5?', '225', 'When multiplying by five, multiply by ten and halve the result');
    await expectArtifacts(b.page, 2);
    c.page = await c.context.newPage();
    await openReady(c.page);
    await expectArtifacts(c.page, 2);
  } finally {
    await Promise.all([a, b, c].map((m) => m.browser.close()));
  }
});
