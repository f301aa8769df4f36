/**
 * The engine choice follows the device: Chromium with and without
 * --enable-unsafe-webgpu (a software SwiftShader adapter, no shader-f16).
 * WebLLM needs a real GPU adapter; without one the app proposes
 * transformers.js on WASM and says why each WebLLM model is unavailable.
 */
import { chromium, expect, test, type Browser } from '@playwright/test';
import { CHROMIUM } from '../playwright.config';

async function settingsFor(browser: Browser, baseURL: string) {
  const page = await browser.newPage();
  await page.goto(baseURL);
  await expect(page.getByRole('status').first()).toContainText(/is ready/i, { timeout: 60_000 });
  await page.getByRole('button', { name: 'Settings' }).click();
  const settings = page.getByRole('dialog', { name: 'Settings' });
  await expect(settings).toContainText('This device:');
  return { page, settings };
}

test('without WebGPU: WebLLM models are unavailable and transformers.js on WASM runs', async ({ baseURL }) => {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const { page, settings } = await settingsFor(browser, baseURL!);
    await expect(settings).toContainText(/no WebGPU/);
    const webllm = settings.getByRole('radio', { name: /SmolLM2 360M.*WebLLM|WebLLM.*SmolLM2 360M/i }).or(
      settings.locator('label.model', { hasText: 'WebLLM' }).first().getByRole('radio'),
    );
    await expect(webllm.first()).toBeDisabled();
    await expect(settings).toContainText(/Not available: .*WebGPU/i);
    // The loaded engine is transformers.js on WASM.
    await expect(page.getByRole('status').first()).toContainText(/transformers\.js, WASM/);
  } finally {
    await browser.close();
  }
});

test('with a software WebGPU adapter: f16 models need shader-f16, and WASM is still chosen', async ({ baseURL }) => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu'] });
  try {
    const { page, settings } = await settingsFor(browser, baseURL!);
    await expect(settings).toContainText(/WebGPU available \(software adapter/);
    await expect(settings).toContainText(/without shader-f16/);
    await expect(settings).toContainText(/Not available: .*shader-f16/i);
    await expect(page.getByRole('status').first()).toContainText(/transformers\.js, WASM/);
  } finally {
    await browser.close();
  }
});
