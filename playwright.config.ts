/**
 * End-to-end tests in Debian's Chromium (never a downloaded browser) against
 * the BUILT app served by `vite preview` with COOP/COEP, pointed by deploy
 * config at the fixture models this repository ships (public/models), so the
 * suite needs no network.
 */
import { defineConfig } from '@playwright/test';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PORT = Number(process.env.E2E_PORT ?? 4319);
/** The network relay the app's deploy config names (started beside the app by scripts/start.mjs). */
export const RELAY_PORT = PORT + 10;

export default defineConfig({
  testDir: 'e2e',
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: process.env.CI ? 1 : 2,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: 'test-reports/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM },
    trace: 'retain-on-failure',
    serviceWorkers: 'allow',
  },
  webServer: {
    // The app and, beside it, the real relay (its address goes into /h3lix.config.json).
    command: `npx vite build --logLevel warn && npx node scripts/start.mjs`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 240_000,
    env: {
      H3LIX_MODEL_MIRROR: '/models/',
      H3LIX_DEFAULT_MODEL: 'fixtures/random-smollm2-chat',
      H3LIX_AUTOLOAD: '1',
      H3LIX_EMBEDDER: 'fixtures/lexical-minilm-384',
      PORT: String(PORT),
      RELAY_PORT: String(RELAY_PORT),
      RELAY_HTTP_PORT: String(RELAY_PORT + 1),
      RELAY_KEY_FILE: 'node_modules/.cache/h3lix-e2e-relay.key',
      RELAY_LOG_LEVEL: 'warn',
    },
  },
});
