// Serves the built app (dist/) with the COOP/COEP headers it needs and prints
// its URL. The relay joins here when the network lands.
//   PORT (default 4173), HOST (default 127.0.0.1); H3LIX_* deploy config: see scripts/deploy-config.mjs
import { existsSync } from 'node:fs';
import { preview } from 'vite';

if (!existsSync('dist/index.html')) {
  console.error('No build found: run `npm run build` first (./h3lix start does both).');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4173);
const host = process.env.HOST ?? '127.0.0.1';
const server = await preview({ preview: { port, host, strictPort: true, open: false } });
const url = server.resolvedUrls?.local[0] ?? `http://${host}:${port}/`;
console.log(`\nH3LIX is running at ${url}`);
console.log(
  process.env.H3LIX_MODEL_MIRROR
    ? `Models come from the mirror ${process.env.H3LIX_MODEL_MIRROR}`
    : 'Models come from the public hubs (set H3LIX_MODEL_MIRROR=/models/ to use the bundled test fixtures offline).',
);
console.log('Press Ctrl+C to stop.');
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
