/**
 * The person owns the data: export to one file, delete everything, import it
 * back losslessly; a malformed or hostile file is refused and changes nothing;
 * hostile Markdown in a message renders inert.
 */
import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { log, openReady, sendMessage, waitForReply } from './fixtures';

async function openSettings(page: Page) {
  await page.getByRole('button', { name: 'Settings' }).click();
  return page.getByRole('dialog', { name: 'Settings' });
}

async function exportToText(page: Page): Promise<string> {
  const settings = await openSettings(page);
  const download = page.waitForEvent('download');
  await settings.getByRole('button', { name: 'Export data' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^h3lix-export-.*\.json$/);
  const text = await readFile((await file.path())!, 'utf8');
  await settings.getByRole('button', { name: 'Close settings' }).click();
  return text;
}

async function importText(page: Page, name: string, text: string) {
  const settings = await openSettings(page);
  const chooser = page.waitForEvent('filechooser');
  await settings.getByRole('button', { name: 'Import data' }).click();
  await (await chooser).setFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
  return settings;
}

function comparable(exportText: string) {
  const parsed = JSON.parse(exportText);
  delete parsed.exportedAt;
  return parsed;
}

test('exports everything, deletes everything, and imports it back losslessly', async ({ page }) => {
  await openReady(page);
  await sendMessage(page, 'A conversation worth keeping');
  await waitForReply(page);
  await page.getByRole('button', { name: 'New conversation' }).click();
  await sendMessage(page, 'And a second one');
  await waitForReply(page);

  const first = await exportToText(page);
  const data = JSON.parse(first);
  expect(data.data.conversations).toHaveLength(2);
  expect(data.data.messages).toHaveLength(4);

  const settings = await openSettings(page);
  await settings.getByRole('button', { name: 'Delete everything' }).click();
  await page.getByRole('alertdialog', { name: 'Delete everything?' }).getByRole('button', { name: 'Delete everything' }).click();
  await expect(settings.getByRole('status').filter({ hasText: 'Everything was deleted.' })).toBeVisible();
  await settings.getByRole('button', { name: 'Close settings' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toContainText('No conversations yet.');

  const again = await importText(page, 'backup.json', first);
  await expect(again.getByRole('status').filter({ hasText: /Imported 2 conversations, 4 messages/ })).toBeVisible();
  await again.getByRole('button', { name: 'Close settings' }).click();
  const nav = page.getByRole('navigation', { name: 'Conversations' });
  await expect(nav.getByRole('button', { name: 'A conversation worth keeping', exact: true })).toBeVisible();
  await expect(nav.getByRole('button', { name: 'And a second one', exact: true })).toBeVisible();

  const second = await exportToText(page);
  expect(comparable(second)).toEqual(comparable(first));
});

test('refuses malformed and hostile files with a clear error and changes nothing', async ({ page }) => {
  await openReady(page);
  await sendMessage(page, 'Existing data');
  await waitForReply(page);
  const raw = await exportToText(page);
  const before = comparable(raw);
  const valid = JSON.parse(raw);
  const hostile: Array<[string, string, RegExp]> = [
    ['not-json.json', '{ this is not json', /not (valid )?JSON/i],
    ['wrong-format.json', JSON.stringify({ format: 'something-else', version: 1 }), /format/i],
    ['future.json', JSON.stringify({ ...valid, version: 999 }), /version/i],
    [
      'dangling.json',
      JSON.stringify({
        ...valid,
        data: { ...valid.data, messages: [{ ...valid.data.messages[0], id: 'm-x', conversationId: 'nope' }] },
      }),
      /conversation/i,
    ],
    [
      'proto.json',
      `{"format":"h3lix-export","version":1,"exportedAt":${JSON.stringify(valid.exportedAt)},"app":${JSON.stringify(valid.app)},"__proto__":{"polluted":true},"data":{"conversations":[],"messages":[],"settings":[]}}`,
      /__proto__|not allowed|unexpected|unrecognized/i,
    ],
  ];
  for (const [name, text, why] of hostile) {
    const settings = await importText(page, name, text);
    const status = settings.getByRole('status').filter({ hasText: 'Nothing was imported' });
    await expect(status).toBeVisible();
    await expect(settings).toContainText(why);
    await settings.getByRole('button', { name: 'Close settings' }).click();
  }
  expect(await page.evaluate(() => ({}) as Record<string, unknown>)).not.toHaveProperty('polluted');
  expect(comparable(await exportToText(page))).toEqual(before);
});

test('hostile Markdown in an imported message renders inert', async ({ page }) => {
  await openReady(page);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs++;
    void d.dismiss();
  });

  const t = 1_700_000_000_000;
  const evil = [
    '<script>window.__pwned = 1</script>',
    '<img src="https://evil.example/x.png" onerror="window.__pwned = 2">',
    '![pixel](https://evil.example/pixel.png)',
    '[click me](javascript:window.__pwned=3)',
    '<iframe src="https://evil.example/"></iframe>',
    '**bold is fine**',
  ].join('\n\n');
  const file = {
    format: 'h3lix-export',
    version: 1,
    exportedAt: new Date(t).toISOString(),
    app: { name: 'h3lix', version: '0.1.0' },
    data: {
      conversations: [{ id: 'c-evil', title: 'Hostile <b>title</b>', systemPrompt: '', createdAt: t, updatedAt: t }],
      messages: [
        { id: 'm1', conversationId: 'c-evil', role: 'user', content: '<img src=x onerror=alert(1)>', createdAt: t, status: 'complete', modelId: null, stats: null, error: null },
        { id: 'm2', conversationId: 'c-evil', role: 'assistant', content: evil, createdAt: t + 1, status: 'complete', modelId: 'x', stats: null, error: null },
      ],
      settings: [],
    },
  };
  const settings = await importText(page, 'evil.json', JSON.stringify(file));
  await expect(settings.getByRole('status').filter({ hasText: 'Imported 1 conversations' })).toBeVisible();
  await settings.getByRole('button', { name: 'Close settings' }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: 'Hostile <b>title</b>', exact: true }).click();

  const reply = log(page).getByRole('article', { name: 'Assistant' });
  await expect(reply.locator('strong')).toHaveText('bold is fine');
  for (const tag of ['script', 'img', 'iframe']) await expect(log(page).locator(tag)).toHaveCount(0);
  await expect(reply.locator('a[href^="javascript"]')).toHaveCount(0);
  await expect(log(page).getByRole('article', { name: 'You' })).toHaveText(/<img src=x onerror=alert\(1\)>/);
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(dialogs).toBe(0);
  expect(requests.filter((u) => u.includes('evil.example'))).toEqual([]);
});
