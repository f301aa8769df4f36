// Serves the built app (dist/) with the COOP/COEP headers it needs, starts the
// network relay beside it (same process), prints both addresses, and stops
// both on Ctrl+C.
//   PORT (default 4173), HOST (default 127.0.0.1); H3LIX_* deploy config: see scripts/deploy-config.mjs
//   Relay: RELAY_PORT (default 4174), RELAY_HTTP_PORT (default 4175) and the other RELAY_* variables in
//   relay/README.md; RELAY_ENABLED=0 serves the app without a relay. Unless H3LIX_RELAYS is set, the app's
//   deploy config (/h3lix.config.json) lists this relay's address.
import { existsSync } from 'node:fs';
import { preview } from 'vite';
import { ConfigError, configFromCommandLine } from '../relay/src/config.ts';
import { startRelay } from '../relay/src/relay.ts';

if (!existsSync('dist/index.html')) {
  console.error('No build found: run `npm run build` first (./h3lix start does both).');
  process.exit(1);
}

let relay = null;
if (process.env.RELAY_ENABLED !== '0') {
  let relayConfig;
  try {
    relayConfig = configFromCommandLine([], process.env).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`Relay configuration: ${err.message} (see relay/README.md)`);
    process.exit(2);
  }
  relay = await startRelay(relayConfig);
  if (process.env.H3LIX_RELAYS === undefined) process.env.H3LIX_RELAYS = relay.multiaddrs.join(',');
}

const port = Number(process.env.PORT ?? 4173);
const host = process.env.HOST ?? '127.0.0.1';
let server;
try {
  server = await preview({ preview: { port, host, strictPort: true, open: false } });
} catch (err) {
  await relay?.stop();
  throw err;
}
const url = server.resolvedUrls?.local[0] ?? `http://${host}:${port}/`;
console.log(`\nH3LIX is running at ${url}`);
if (relay) {
  for (const addr of relay.multiaddrs) console.log(`The network relay listens on ${addr}`);
  console.log(`Relay health and metrics: ${relay.httpUrl}/healthz, ${relay.httpUrl}/metrics`);
} else {
  console.log('No network relay (RELAY_ENABLED=0).');
}
console.log(
  process.env.H3LIX_MODEL_MIRROR
    ? `Models come from the mirror ${process.env.H3LIX_MODEL_MIRROR}`
    : 'Models come from the public hubs (set H3LIX_MODEL_MIRROR=/models/ to use the bundled test fixtures offline).',
);
console.log('Press Ctrl+C to stop.');
let stopping = false;
const stop = async () => {
  if (stopping) process.exit(130); // a second Ctrl+C: leave at once
  stopping = true;
  await Promise.allSettled([server.close(), relay?.stop()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
