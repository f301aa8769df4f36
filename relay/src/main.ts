/**
 * Command-line entry of the relay: `node relay/src/main.ts [flags]`.
 * Prints the relay's multiaddr, runs until SIGINT/SIGTERM, then shuts down
 * gracefully (bounded by --shutdown-timeout) and exits 0. A second signal
 * exits at once.
 */
import { ConfigError, configFromCommandLine, usage } from './config.ts';
import { startRelay } from './relay.ts';

let parsed;
try {
  parsed = configFromCommandLine(process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`relay: ${err.message}\n\n${usage()}`);
    process.exit(2);
  }
  throw err;
}
if (parsed.help) {
  console.log(usage());
  process.exit(0);
}

const relay = await startRelay(parsed.config);
// Human-readable lines on stderr; the JSON log stays on stdout.
for (const addr of relay.multiaddrs) console.error(`Relay listening on ${addr}`);
console.error(`Relay health and metrics on ${relay.httpUrl}/healthz and ${relay.httpUrl}/metrics`);

let signalled = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (signalled) process.exit(130);
  signalled = true;
  relay.stop().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`relay: error while stopping after ${signal}: ${err.message}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
