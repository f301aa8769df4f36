/**
 * The Collective Context Field across real browsers and the real relay.
 * A, B and C are browsers; Nia and Quill are members running the app's own
 * network code in Node (test doubles of other people's devices). A shares a
 * lesson; B, Nia and C endorse it. C's person vouches for B and Nia (people
 * C knows), so their votes count on C at once: the lesson is accepted on C
 * and conditions C's answer, recorded as evidence. Quill floods the field
 * with near-copies of one artifact: C's detectors quarantine Quill with the
 * reason shown; Quill's artifact, though endorsed by the same members,
 * never reaches C's answer, until C's person releases Quill.
 */
import { expect, test, type Page } from '@playwright/test';
import { log, sendMessage, shareLesson, waitForReply } from './fixtures';
import { createInvite, joinByPaste, launch, nodeMember, setName, waitForArtifact, type BrowserMember, type NodeMember } from './network-fixtures';
import { testArtifact } from '../tests/unit/test-artifact';
import type { Vote } from '../src/lib/ccf/vote';

const LESSON = 'When multiplying two-digit numbers, split one factor into tens and units and add the partial products';
const FLOOD = 'When estimating a product, round both factors to the nearest ten and multiply the rounded numbers';

async function openField(page: Page) {
  const dialog = page.getByRole('dialog', { name: 'Collective field' });
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Field', exact: true }).click();
  return dialog;
}

async function closeField(page: Page) {
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Collective field' })).toHaveCount(0);
}

function artifactIn(field: ReturnType<Page['getByRole']>, text: string) {
  return field.getByRole('region', { name: 'Artifacts' }).getByRole('article').filter({ hasText: text });
}

async function endorseAs(member: NodeMember, artifactId: string): Promise<void> {
  const vote = { schemaVersion: 1, artifactId, voter: member.nodeId, value: 'endorse', confidence: 0.9, at: Date.now() } as Vote;
  await member.net.castVote(vote);
}

test('an accepted artifact conditions C\'s answer as evidence; a quarantined peer\'s does not', async () => {
  test.setTimeout(480_000);
  const members: BrowserMember[] = [];
  const nodes: NodeMember[] = [];
  try {
    const [a, b, c] = await Promise.all([launch(), launch(), launch()]);
    members.push(a, b, c);
    await setName(b.page, 'Bo');
    await setName(c.page, 'Cy');
    const link = await createInvite(a.page, 'Math club');
    await joinByPaste(b.page, link);
    await joinByPaste(c.page, link);
    const nia = await nodeMember('Nia', link);
    const quill = await nodeMember('Quill', link);
    nodes.push(nia, quill);

    // A shares a lesson; Quill floods near-copies of another.
    await shareLesson(a.page, 'What is 17 * 23?', '391', LESSON);
    const words = ['carefully', 'quickly', 'always', 'first', 'then'];
    for (const w of words) await quill.net.shareArtifact(testArtifact(`${FLOOD} ${w}`));

    // Nia checks both and endorses them.
    const lesson = await waitForArtifact(nia, 'split one factor');
    const flood = await waitForArtifact(nia, `${FLOOD} carefully`);
    await endorseAs(nia, lesson.contentId);
    await endorseAs(nia, flood.contentId);

    // B's person endorses both in the Field view.
    const fb = await openField(b.page);
    for (const text of ['split one factor', `${FLOOD} carefully`]) {
      const card = artifactIn(fb, text);
      await expect(card).toBeVisible({ timeout: 90_000 });
      await card.getByRole('button', { name: 'Endorse' }).click();
      await expect(card.getByRole('button', { name: 'Endorse' })).toHaveAttribute('aria-pressed', 'true');
    }
    await closeField(b.page);

    // C sees everything, vouches for the people it knows, and endorses both.
    const fc = await openField(c.page);
    const peers = fc.getByRole('region', { name: 'Members' });
    await expect(peers).toContainText('Bo', { timeout: 90_000 });
    await expect(peers).toContainText('Nia', { timeout: 90_000 });
    await peers.getByRole('button', { name: 'Vouch for Bo' }).click();
    await peers.getByRole('button', { name: 'Vouch for Nia' }).click();
    for (const text of ['split one factor', `${FLOOD} carefully`]) {
      const card = artifactIn(fc, text);
      await expect(card).toBeVisible({ timeout: 90_000 });
      await card.getByRole('button', { name: 'Endorse' }).click();
    }
    // The lesson is accepted on C; Quill is quarantined by the near-copy detector, with the reason shown.
    await expect(artifactIn(fc, 'split one factor')).toContainText('Accepted', { timeout: 60_000 });
    await expect(peers).toContainText('near-copies', { timeout: 60_000 });
    await expect(artifactIn(fc, `${FLOOD} carefully`)).toContainText('Excluded');
    await closeField(c.page);

    // C asks about both: the answer uses A's lesson as evidence, never Quill's.
    await sendMessage(c.page, 'How do I multiply two-digit numbers: split one factor into tens and units, add the partial products, or round both factors to the nearest ten?');
    await waitForReply(c.page);
    const answer = log(c.page).getByRole('article', { name: 'Assistant' }).last();
    await answer.getByRole('button', { name: 'Evidence' }).click();
    const evidence = c.page.getByRole('dialog', { name: 'Evidence' });
    await expect(evidence).toContainText('Network artifact');
    await expect(evidence).toContainText('split one factor into tens and units');
    await expect(evidence).not.toContainText('round both factors');
    await c.page.keyboard.press('Escape');

    // The person can reverse the quarantine: Quill's artifact counts again.
    const fc2 = await openField(c.page);
    await fc2.getByRole('region', { name: 'Members' }).getByRole('button', { name: 'Release Quill' }).click();
    await expect(artifactIn(fc2, `${FLOOD} carefully`)).toContainText('Accepted', { timeout: 30_000 });
    // For people reviewing the view: a picture of it at the end (kept in the test's output folder).
    await fc2.screenshot({ path: test.info().outputPath('field-view.png') });
  } finally {
    await Promise.all(nodes.map((n) => n.net.stop().catch(() => undefined)));
    await Promise.all(members.map((m) => m.browser.close()));
  }
});
