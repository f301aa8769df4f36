/**
 * The outbox across an offline period, in the real browser with its service
 * worker: A shares a lesson while its device is offline and no member is
 * reachable; the item waits in the outbox (IndexedDB) with the background
 * path armed; once A is back online and the member is back, the item is
 * delivered without anything the person does, and the outbox empties.
 */
import { expect, test } from '@playwright/test';
import { shareLesson } from './fixtures';
import { createInvite, launch, nodeMember, openNetwork, closeNetwork, waitForArtifact, type BrowserMember, type NodeMember } from './network-fixtures';

test('a lesson shared offline waits in the outbox and is delivered once online', async () => {
  test.setTimeout(300_000);
  let a: BrowserMember | null = null;
  let nia: NodeMember | null = null;
  try {
    a = await launch();
    const link = await createInvite(a.page, 'Night shift');
    nia = await nodeMember('Nia', link);
    const net = await openNetwork(a.page);
    await expect(net.getByRole('region', { name: 'Peers' }).getByRole('listitem')).toHaveCount(1, { timeout: 90_000 });
    await expect(net.getByRole('list', { name: 'Background delivery' })).toContainText(/Background sync: (available|not available)/);
    await closeNetwork(a.page);

    // Nobody reachable and the device offline: the share waits.
    await nia.net.stop();
    // Wait until A has seen Nia go: a publish while the closing link still counts as a recipient would be sent.
    const alone = await openNetwork(a.page);
    await expect(alone.getByRole('region', { name: 'Peers' }).getByRole('listitem')).toHaveCount(0, { timeout: 60_000 });
    await closeNetwork(a.page);
    await a.context.setOffline(true);
    await shareLesson(a.page, 'What is 9 * 8?', '72', 'When multiplying by nine, multiply by ten and subtract the number once');
    const waiting = await openNetwork(a.page);
    await expect(waiting.getByLabel('Items held')).toContainText('waiting to send: 1', { timeout: 30_000 });
    await closeNetwork(a.page);

    // Back online, the member back: delivered by itself.
    await a.context.setOffline(false);
    await nia.net.start();
    await waitForArtifact(nia, 'multiplying by nine', 120_000);
    const after = await openNetwork(a.page);
    await expect(after.getByLabel('Items held')).toContainText('waiting to send: 0', { timeout: 60_000 });
  } finally {
    await nia?.net.stop().catch(() => undefined);
    await a?.browser.close();
  }
});
