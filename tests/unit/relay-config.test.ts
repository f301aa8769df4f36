/**
 * Relay configuration (flags and environment), the persistent peer key, and
 * the command line: prints its address, exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, configFromCommandLine, defaultKeyFile } from '../../relay/src/config';
import { startRelay } from '../../relay/src/relay';

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'h3lix-relay-'));
  dirs.push(d);
  return d;
}

describe('relay configuration', () => {
  it('uses the documented defaults and keeps the key under the state directory', () => {
    const { config, help } = configFromCommandLine([], { XDG_STATE_HOME: '/state' });
    expect(help).toBe(false);
    expect(config).toEqual({ ...DEFAULTS, keyFile: '/state/h3lix/relay-peer.key' });
    expect(defaultKeyFile({ XDG_STATE_HOME: '/s' })).toBe('/s/h3lix/relay-peer.key');
  });

  it('reads the environment, and flags win over it', () => {
    const env = {
      RELAY_PORT: '5000',
      RELAY_HTTP_PORT: '5001',
      RELAY_MAX_RESERVATIONS: '7',
      RELAY_RESERVATION_TTL: '60',
      RELAY_CIRCUIT_DATA_LIMIT: '2048',
      RELAY_CIRCUIT_DURATION: '30',
      RELAY_MAX_CONNECTIONS: '50',
      RELAY_MAX_CONNECTIONS_PER_IP: '5',
      RELAY_ANNOUNCE: '/dns4/relay.example.org/tcp/443/wss, /ip4/203.0.113.5/tcp/4174/ws',
      RELAY_LOG_LEVEL: 'WARN',
      RELAY_KEY_FILE: '/keys/relay.key',
    };
    const { config } = configFromCommandLine(['--port', '6000', '--max-reservations=9'], env);
    expect(config).toMatchObject({
      port: 6000,
      httpPort: 5001,
      maxReservations: 9,
      reservationTtlMs: 60_000,
      circuitDataLimit: 2048n,
      circuitDurationMs: 30_000,
      maxConnections: 50,
      maxConnectionsPerIp: 5,
      announce: ['/dns4/relay.example.org/tcp/443/wss', '/ip4/203.0.113.5/tcp/4174/ws'],
      logLevel: 'warn',
      keyFile: '/keys/relay.key',
    });
  });

  it('refuses bad values and unknown flags with a clear message', () => {
    expect(() => configFromCommandLine(['--port', 'abc'], {})).toThrow(/--port must be a whole number/);
    expect(() => configFromCommandLine([], { RELAY_PORT: '70000' })).toThrow(/RELAY_PORT must be between 0 and 65535/);
    expect(() => configFromCommandLine(['--max-reservations', '0'], {})).toThrow(ConfigError);
    expect(() => configFromCommandLine(['--log-level', 'loud'], {})).toThrow(/log-level/);
    expect(() => configFromCommandLine(['--frobnicate', '1'], {})).toThrow(ConfigError);
    expect(() => configFromCommandLine(['--circuit-duration', '0'], {})).toThrow(/both 0/);
    // Both zero: circuits without limits (allowed, documented as not recommended).
    expect(configFromCommandLine(['--circuit-duration', '0', '--circuit-data-limit', '0'], {}).config.circuitDataLimit).toBe(0n);
  });
});

describe('relay peer key', () => {
  it('is created on first run (mode 0600) and reused, so the address survives restarts', async () => {
    const keyFile = join(await tempDir(), 'nested', 'relay.key');
    const first = await startRelay({ port: 0, httpPort: 0, keyFile, logLevel: 'silent' });
    await first.stop();
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const bytes = await readFile(keyFile);
    const second = await startRelay({ port: 0, httpPort: 0, keyFile, logLevel: 'silent' });
    await second.stop();
    expect(second.peerId).toBe(first.peerId);
    expect(await readFile(keyFile)).toEqual(bytes);
    const ephemeral = await startRelay({ port: 0, httpPort: 0, keyFile: null, logLevel: 'silent' });
    await ephemeral.stop();
    expect(ephemeral.peerId).not.toBe(first.peerId);
  });

  it('refuses a damaged key file instead of replacing it', async () => {
    const keyFile = join(await tempDir(), 'relay.key');
    await writeFile(keyFile, 'not a key');
    await expect(startRelay({ port: 0, httpPort: 0, keyFile, logLevel: 'silent' })).rejects.toThrow(/not a valid libp2p private key/);
    expect(await readFile(keyFile, 'utf8')).toBe('not a key');
  });
});

describe('relay command line', () => {
  it('prints its multiaddr, answers /healthz, and exits 0 on SIGTERM', async () => {
    const dir = await tempDir();
    const child = spawn(process.execPath, ['relay/src/main.ts', '--port', '0', '--http-port', '0'], {
      env: { ...process.env, RELAY_KEY_FILE: join(dir, 'relay.key') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const healthUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address printed; stderr: ${stderr}`)), 10_000);
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = /on (http:\/\/\S+\/healthz)/.exec(stderr);
          if (m && /Relay listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+/.test(stderr)) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`relay exited early with ${code}: ${stderr}`)));
      });
      expect((await (await fetch(healthUrl)).json()).ok).toBe(true);
      const t0 = Date.now();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      // The JSON log: one object per line, with the start and the stop.
      const records = stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(records.map((r) => r.msg)).toEqual(expect.arrayContaining(['relay key created', 'relay started', 'relay stopped']));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
