/**
 * Energy-adaptive scheduling in the real app with injected signals: the
 * battery is a test double installed before the app loads (the browser's own
 * reports "charging, 100 %" headless), and the grid's carbon intensity comes
 * from the real provider code reading a stubbed UK Carbon Intensity API
 * response in which now is the cleanest half hour. A heavy background job
 * waits while the device runs on a low battery and runs once charging
 * starts; without the Battery Status API the scheduler decides on the grid
 * alone and says so.
 */
import { expect, test, type Page } from '@playwright/test';
import { log, openReady, sendMessage, waitForReply } from './fixtures';

/** Test double of the Battery Status API: starts on battery at 20 %, `__testBattery.setCharging(true)` plugs it in. */
function installBatteryDouble(): void {
  class BatteryDouble extends EventTarget {
    charging = false;
    level = 0.2;
    chargingTime = Infinity;
    dischargingTime = 3_600;
    onchargingchange = null;
    onlevelchange = null;
    onchargingtimechange = null;
    ondischargingtimechange = null;
  }
  const battery = new BatteryDouble();
  Object.defineProperty(Navigator.prototype, 'getBattery', { configurable: true, value: () => Promise.resolve(battery) });
  (globalThis as unknown as { __testBattery: unknown }).__testBattery = {
    setCharging(charging: boolean) {
      battery.charging = charging;
      battery.dischargingTime = charging ? Infinity : 3_600;
      battery.dispatchEvent(new Event('chargingchange'));
    },
  };
}

/** A Carbon Intensity API answer in which the current half hour is the cleanest of the next two days. */
async function stubCleanGrid(page: Page): Promise<void> {
  await page.route('https://api.carbonintensity.org.uk/**', async (route) => {
    const start = Math.floor(Date.now() / 1_800_000) * 1_800_000;
    const data = Array.from({ length: 96 }, (_, i) => ({
      from: new Date(start + i * 1_800_000).toISOString().slice(0, 16) + 'Z',
      to: new Date(start + (i + 1) * 1_800_000).toISOString().slice(0, 16) + 'Z',
      intensity: { forecast: i === 0 ? 60 : 220 + (i % 12) * 10, actual: null, index: 'moderate' },
    }));
    await route.fulfill({ status: 200, contentType: 'application/json', headers: { 'Access-Control-Allow-Origin': '*' }, body: JSON.stringify({ data }) });
  });
}

async function openEnergy(page: Page) {
  const dialog = page.getByRole('dialog', { name: 'Energy' });
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Energy', exact: true }).click();
  return dialog;
}

async function useUkGrid(page: Page): Promise<void> {
  const energy = await openEnergy(page);
  await energy.getByRole('combobox', { name: 'Carbon data' }).selectOption('uk-carbon-intensity');
  await energy.getByRole('button', { name: 'Save energy settings' }).click();
  await expect(energy).toContainText(/60 g/, { timeout: 30_000 });
  await energy.getByRole('button', { name: 'Close energy' }).click();
}

async function queueRollout(page: Page): Promise<void> {
  await sendMessage(page, 'What is 12 * 12?');
  await waitForReply(page);
  const answer = log(page).getByRole('article', { name: 'Assistant' }).last();
  await answer.getByRole('button', { name: 'Bad answer' }).click();
  await expect(answer.getByText('Queued for learning')).toBeVisible();
}

test('a heavy job waits on a low battery and runs when charging starts', async ({ page }) => {
  test.setTimeout(300_000);
  await page.addInitScript(installBatteryDouble);
  await stubCleanGrid(page);
  await openReady(page);
  await useUkGrid(page);
  await queueRollout(page);

  // On battery at 20 %: the rollout (heavy) waits, and the view says why.
  const energy = await openEnergy(page);
  await expect(energy.getByText('On battery, 20 %')).toBeVisible();
  const rollout = energy.getByRole('listitem', { name: /^Practice rollouts: / });
  await expect(rollout).toHaveAccessibleName('Practice rollouts: Waits', { timeout: 30_000 });
  await expect(rollout).toContainText('waiting for a charger');
  await page.waitForTimeout(12_000);
  await expect(rollout).toHaveAccessibleName('Practice rollouts: Waits');
  await energy.getByRole('button', { name: 'Close energy' }).click();

  // The charger is plugged in: the scheduler wakes and the rollout runs.
  await page.evaluate(() => (globalThis as unknown as { __testBattery: { setCharging(c: boolean): void } }).__testBattery.setCharging(true));
  await page.getByRole('button', { name: 'Learning', exact: true }).click();
  const learning = page.getByRole('dialog', { name: 'Learning' });
  await expect(learning.getByRole('list', { name: 'Learning history' })).toContainText(/Rejected|Nothing learned/, { timeout: 180_000 });
  await learning.getByRole('button', { name: 'Close learning' }).click();

  // The run is in the energy log, with the grid intensity it ran at.
  const after = await openEnergy(page);
  await expect(after.getByText('Charging', { exact: true }).first()).toBeVisible();
  await after.getByText('Recent runs', { exact: true }).click();
  await expect(after.getByRole('region', { name: 'Saved' })).toContainText(/rollouts · done · 60 g\/kWh/);
});

test('without the Battery Status API the scheduler decides on the grid alone', async ({ page }) => {
  test.setTimeout(240_000);
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'getBattery', { configurable: true, value: undefined });
  });
  await stubCleanGrid(page);
  await openReady(page);
  await useUkGrid(page);
  const energy = await openEnergy(page);
  await expect(energy).toContainText('Battery unknown');
  await expect(energy).toContainText('jobs are scheduled on the grid alone');
  await energy.getByRole('button', { name: 'Close energy' }).click();

  // Now is the cleanest half hour: the heavy rollout runs without waiting for a charger.
  await queueRollout(page);
  await page.getByRole('button', { name: 'Learning', exact: true }).click();
  const learning = page.getByRole('dialog', { name: 'Learning' });
  await expect(learning.getByRole('list', { name: 'Learning history' })).toContainText(/Rejected|Nothing learned/, { timeout: 180_000 });
});
