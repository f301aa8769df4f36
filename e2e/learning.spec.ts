/**
 * The learning layer end to end, with the real fixture engine (random
 * weights: its answers and proposals are gibberish) in its worker, real
 * IndexedDB and the real job runner: a thumbs-down with a scripted
 * correction yields a lesson the person reviews into the library; the
 * rollout job runs in the background (at once when the person says Run now,
 * since the energy policy may hold it for a cleaner hour) and the model's
 * unusable proposal is rejected with its reason; the lesson then conditions the next answer
 * (shown as evidence) and can be shared through the execution layer.
 */
import { expect, test, type Page } from '@playwright/test';
import { log, openReady, sendMessage, waitForReply } from './fixtures';

async function openLearning(page: Page) {
  await page.getByRole('button', { name: 'Learning', exact: true }).click();
  return page.getByRole('dialog', { name: 'Learning' });
}

const QUESTION = 'What is 17 * 23?';

/** The rollout in the Jobs list (other background jobs, such as the daily consolidation, may be queued beside it). */
function rolloutJob(learning: ReturnType<Page['getByRole']>) {
  return learning.getByRole('list', { name: 'Jobs' }).getByRole('listitem').filter({ hasText: 'rollouts' });
}

test('a corrected answer becomes a reviewed lesson; the rollout rejects gibberish; the lesson conditions the next answer and can be shared', async ({ page }) => {
  test.setTimeout(240_000);
  await openReady(page);
  await sendMessage(page, QUESTION);
  await waitForReply(page);

  const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
  await answer.getByRole('button', { name: 'Bad answer' }).click();
  await expect(answer.getByRole('button', { name: 'Bad answer' })).toHaveAttribute('aria-pressed', 'true');

  // The scripted correction.
  await answer.getByRole('button', { name: 'Correct' }).click();
  await answer.getByRole('textbox', { name: 'Corrected answer' }).fill('391');
  await answer.getByRole('button', { name: 'Save correction' }).click();

  // A drafted lesson to review: the person edits it and saves it.
  const lesson = answer.getByRole('textbox', { name: 'Lesson' });
  await expect(lesson).toHaveValue(/^When asked about .*17 23.*, answer as the person corrected it: 391$/);
  await lesson.fill('When asked about 17 23 multiplication, work out the product step by step: 17 * 23 = 391');
  await answer.getByRole('combobox', { name: 'Lesson domain' }).selectOption('math');
  await answer.getByRole('button', { name: 'Save lesson' }).click();
  await expect(lesson).toHaveCount(0);

  // In the library, with its history; the rollout job ran and rejected the model's gibberish with a reason.
  const learning = await openLearning(page);
  const experiences = learning.getByRole('list', { name: 'Experiences' });
  await expect(experiences).toContainText('work out the product step by step');
  await expect(experiences).toContainText('math');
  await learning.getByRole('button', { name: /^History: When asked about 17 23/ }).click();
  await expect(learning.getByRole('list', { name: 'History of this experience' })).toContainText('Lesson from your correction, reviewed by you');
  // The rollout is heavy background work: the energy policy may hold it for a cleaner hour.
  // The person does not wait: Run now (unless it already ran in a good window).
  await rolloutJob(learning).getByRole('button', { name: 'Run now' }).click({ timeout: 15_000 }).catch(() => undefined);
  const history = learning.getByRole('list', { name: 'Learning history' });
  await expect(history).toContainText(/Rejected · The model's proposal could not be used/, { timeout: 180_000 });
  // Rejected model output is shown as text, never rendered.
  await expect(learning.locator('pre')).not.toHaveCount(0);
  await learning.getByRole('button', { name: 'Close learning' }).click();
  await expect(answer.getByText('Proposal rejected')).toBeVisible();

  // The lesson goes into the next prompt where it fits, and is recorded as evidence.
  await page.getByRole('button', { name: 'New conversation' }).click();
  await sendMessage(page, QUESTION);
  await waitForReply(page);
  await log(page).getByRole('article', { name: 'Assistant' }).last().getByRole('button', { name: 'Evidence' }).click();
  const evidence = page.getByRole('dialog', { name: 'Evidence' });
  await expect(evidence).toContainText('Learned lesson:');
  await expect(evidence).toContainText('work out the product step by step');
  await evidence.getByRole('button', { name: 'Close evidence' }).click();

  // Sharing goes through the execution layer: the policy asks, the person confirms.
  const again = await openLearning(page);
  await expect(again.getByRole('list', { name: 'Experiences' })).toContainText('used 1 time');
  await again.getByRole('button', { name: /^Share: When asked about 17 23/ }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Share with the network?' });
  await expect(confirm).toBeVisible();
  await confirm.getByRole('button', { name: 'Share with the network' }).click();
  await expect(again.getByRole('list', { name: 'Experiences' })).toContainText('Queued for the network');

  // Everything survives a reload.
  await page.reload();
  const after = await openLearning(page);
  await expect(after.getByRole('list', { name: 'Experiences' })).toContainText('Queued for the network');
  await expect(after.getByRole('list', { name: 'Learning history' })).toContainText('Queued for your network');
});

test('the person can pause background learning and run a job now', async ({ page }) => {
  test.setTimeout(180_000);
  await openReady(page);
  const learning = await openLearning(page);
  await learning.getByRole('button', { name: 'Pause learning' }).click();
  await expect(learning.getByRole('button', { name: 'Resume learning' })).toBeVisible();
  await learning.getByRole('button', { name: 'Close learning' }).click();

  await sendMessage(page, 'Convert 5 miles to km');
  await waitForReply(page);
  const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
  await answer.getByRole('button', { name: 'Bad answer' }).click();
  await expect(answer.getByText('Queued for learning')).toBeVisible();

  const open = await openLearning(page);
  const jobs = open.getByRole('list', { name: 'Jobs' });
  await expect(jobs).toContainText('rollouts · queued');
  // Paused: still queued after a while.
  await page.waitForTimeout(3_000);
  await expect(jobs).toContainText('rollouts · queued');
  await rolloutJob(open).getByRole('button', { name: 'Run now' }).click();
  await expect(open.getByRole('list', { name: 'Learning history' })).toContainText(/Rejected|Nothing learned/, { timeout: 150_000 });

  // Paused survives a reload.
  await page.reload();
  const reopened = await openLearning(page);
  await expect(reopened.getByRole('button', { name: 'Resume learning' })).toBeVisible();
});

test('unit tests attached to an answer run in the code sandbox and score the group', async ({ page }) => {
  test.setTimeout(180_000);
  await openReady(page);
  await sendMessage(page, 'Write a JavaScript function add(a, b) that returns the sum');
  await waitForReply(page);
  const answer = log(page).getByRole('article', { name: 'Assistant' }).last();

  await answer.getByRole('button', { name: 'Correct' }).click();
  await answer.getByRole('textbox', { name: 'Corrected answer' }).fill('```javascript\nfunction add(a, b) {\n  return a + b;\n}\n```');
  await answer.getByRole('button', { name: 'Save correction' }).click();
  await answer.getByRole('button', { name: 'Discard lesson' }).click();

  await answer.getByRole('button', { name: 'Add check' }).click();
  await answer.getByRole('combobox', { name: 'Check type' }).selectOption('unit-tests');
  await answer
    .getByRole('textbox', { name: 'Check' })
    .fill(
      [
        'test("adds", () => assertEqual(add(2, 3), 5));',
        'test("negatives", () => assertEqual(add(-1, 1), 0));',
        // The sandbox has no network: the code under test cannot phone home.
        'test("no network", async () => { let blocked = false; try { await fetch("/"); } catch { blocked = true; } assertEqual(blocked, true); });',
      ].join('\n'),
    );
  await answer.getByRole('button', { name: 'Save check' }).click();
  await expect(answer.getByRole('button', { name: 'Change check' })).toBeVisible();

  const learning = await openLearning(page);
  await rolloutJob(learning).getByRole('button', { name: 'Run now' }).click();
  const history = learning.getByRole('list', { name: 'Learning history' });
  await expect(history).toContainText(/Rejected · The model's proposal could not be used/, { timeout: 150_000 });
  const entry = history.getByRole('listitem').filter({ hasText: 'Rejected' }).first();
  await entry.getByText('Details').click();
  // The person's code passed all three tests in the sandbox; the model's gibberish has no code to test.
  await expect(entry.locator('pre')).toContainText('your correction: 1.00');
  await expect(entry.locator('pre')).toContainText('the answer you saw: 0.00');
});

test('downloads privacy-checked fine-tuning data built from corrections', async ({ page }) => {
  test.setTimeout(180_000);
  await openReady(page);
  const correct = async (question: string, correction: string) => {
    await sendMessage(page, question);
    await waitForReply(page);
    const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
    await answer.getByRole('button', { name: 'Correct' }).click();
    await answer.getByRole('textbox', { name: 'Corrected answer' }).fill(correction);
    await answer.getByRole('button', { name: 'Save correction' }).click();
    await answer.getByRole('button', { name: 'Discard lesson' }).click();
  };
  await correct('What is 17 * 23?', 'It is 391.');
  // A secret in the conversation: that example must not be in the file.
  await correct('My password is hunter2-Xq9!zz, is it strong?', 'No: it is short and mixes a common word with a few symbols.');

  const learning = await openLearning(page);
  const download = page.waitForEvent('download');
  await learning.getByRole('button', { name: 'Download fine-tuning data' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^h3lix-finetune-\d{4}-\d{2}-\d{2}\.jsonl$/);
  const text = await (await import('node:fs/promises')).readFile((await file.path())!, 'utf8');
  const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { messages: { role: string; content: string }[]; metadata: { source: string } });
  expect(lines).toHaveLength(1);
  expect(lines[0]!.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
  expect(lines[0]!.messages[2]!.content).toBe('It is 391.');
  expect(lines[0]!.metadata.source).toBe('correction');
  expect(text).not.toContain('hunter2');
  await expect(learning.getByRole('status')).toContainText('1 example from 2 episodes');
});
