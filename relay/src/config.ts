/**
 * Relay configuration: defaults, command-line flags and environment variables.
 * Flags win over environment variables, which win over defaults. Every option
 * is documented in relay/README.md (keep the two in step).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface RelayConfig {
  /** Interface the WebSocket listener binds to. */
  host: string;
  /** WebSocket port (0: any free port). */
  port: number;
  /** Extra multiaddrs announced to peers (e.g. a public /dns4/…/tcp/443/wss behind a proxy). */
  announce: string[];
  /** Interface of the HTTP server for /healthz and /metrics. */
  httpHost: string;
  /** HTTP port (0: any free port). */
  httpPort: number;
  /** Where the relay's peer key lives; null: an ephemeral key (tests). */
  keyFile: string | null;
  /** Most reservations held at once. */
  maxReservations: number;
  /** How long a reservation lasts before the peer must refresh it (ms). */
  reservationTtlMs: number;
  /** Most bytes relayed per circuit, both directions together (0 with circuitDurationMs 0: no limits). */
  circuitDataLimit: bigint;
  /** Longest life of one relayed circuit (ms). */
  circuitDurationMs: number;
  /** Most open connections in total. */
  maxConnections: number;
  /** Most open connections from one IP address. */
  maxConnectionsPerIp: number;
  /** Most new connections per second from one IP address (libp2p's inbound threshold). */
  connectionRatePerIp: number;
  /** Bound on a graceful shutdown (ms); after it the remaining sockets are dropped. */
  shutdownTimeoutMs: number;
  /** Lowest level written to the log. */
  logLevel: LogLevel;
}

export function defaultKeyFile(env: Record<string, string | undefined> = process.env): string {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'h3lix', 'relay-peer.key');
}

export const DEFAULTS: RelayConfig = {
  host: '127.0.0.1',
  port: 4174,
  announce: [],
  httpHost: '127.0.0.1',
  httpPort: 4175,
  keyFile: null,
  maxReservations: 128,
  reservationTtlMs: 30 * 60_000,
  circuitDataLimit: 1n << 20n,
  circuitDurationMs: 2 * 60_000,
  maxConnections: 256,
  maxConnectionsPerIp: 32,
  connectionRatePerIp: 10,
  shutdownTimeoutMs: 5_000,
  logLevel: 'info',
};

/** One option: its flag, its environment variable, and how to read it. */
interface OptionSpec {
  key: keyof RelayConfig;
  flag: string;
  env: string;
  parse: (raw: string, name: string) => unknown;
}

function int(min: number, max = Number.MAX_SAFE_INTEGER, scale = 1) {
  return (raw: string, name: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n * scale;
  };
}

function bytes(raw: string, name: string): bigint {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number of bytes, got "${raw}"`);
  return BigInt(raw);
}

function text(raw: string, name: string): string {
  if (raw.trim() === '') throw new ConfigError(`${name} must not be empty`);
  return raw.trim();
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function level(raw: string, name: string): LogLevel {
  const v = raw.trim().toLowerCase();
  if (v === 'debug' || v === 'info' || v === 'warn' || v === 'error' || v === 'silent') return v;
  throw new ConfigError(`${name} must be one of debug, info, warn, error, silent; got "${raw}"`);
}

export const OPTIONS: OptionSpec[] = [
  { key: 'host', flag: 'host', env: 'RELAY_HOST', parse: text },
  { key: 'port', flag: 'port', env: 'RELAY_PORT', parse: int(0, 65535) },
  { key: 'announce', flag: 'announce', env: 'RELAY_ANNOUNCE', parse: list },
  { key: 'httpHost', flag: 'http-host', env: 'RELAY_HTTP_HOST', parse: text },
  { key: 'httpPort', flag: 'http-port', env: 'RELAY_HTTP_PORT', parse: int(0, 65535) },
  { key: 'keyFile', flag: 'key-file', env: 'RELAY_KEY_FILE', parse: text },
  { key: 'maxReservations', flag: 'max-reservations', env: 'RELAY_MAX_RESERVATIONS', parse: int(1) },
  { key: 'reservationTtlMs', flag: 'reservation-ttl', env: 'RELAY_RESERVATION_TTL', parse: int(10, 24 * 3600, 1000) },
  { key: 'circuitDataLimit', flag: 'circuit-data-limit', env: 'RELAY_CIRCUIT_DATA_LIMIT', parse: bytes },
  { key: 'circuitDurationMs', flag: 'circuit-duration', env: 'RELAY_CIRCUIT_DURATION', parse: int(0, 24 * 3600, 1000) },
  { key: 'maxConnections', flag: 'max-connections', env: 'RELAY_MAX_CONNECTIONS', parse: int(1) },
  { key: 'maxConnectionsPerIp', flag: 'max-connections-per-ip', env: 'RELAY_MAX_CONNECTIONS_PER_IP', parse: int(1) },
  { key: 'connectionRatePerIp', flag: 'connection-rate-per-ip', env: 'RELAY_CONNECTION_RATE_PER_IP', parse: int(1) },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: 'RELAY_SHUTDOWN_TIMEOUT', parse: int(100, 600_000) },
  { key: 'logLevel', flag: 'log-level', env: 'RELAY_LOG_LEVEL', parse: level },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Checks that hold across options; throws ConfigError. */
export function validateConfig(config: RelayConfig): RelayConfig {
  const noData = config.circuitDataLimit === 0n;
  const noDuration = config.circuitDurationMs === 0;
  if (noData !== noDuration) {
    throw new ConfigError(
      'circuit-data-limit and circuit-duration are either both 0 (circuits without limits) or both positive',
    );
  }
  if (config.maxConnectionsPerIp > config.maxConnections) {
    throw new ConfigError('max-connections-per-ip cannot exceed max-connections');
  }
  return config;
}

export interface ParsedCommandLine {
  config: RelayConfig;
  help: boolean;
}

/**
 * Reads flags (argv without the node and script entries) and environment.
 * The command-line relay keeps its key in a file by default, so its address
 * (which carries the peer id) survives restarts.
 */
export function configFromCommandLine(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): ParsedCommandLine {
  const flagOptions: Record<string, { type: 'string' }> = {};
  for (const o of OPTIONS) flagOptions[o.flag] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...flagOptions, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const config: Record<string, unknown> = { ...DEFAULTS, keyFile: defaultKeyFile(env) };
  for (const o of OPTIONS) {
    const fromFlag = values[o.flag];
    if (typeof fromFlag === 'string') config[o.key] = o.parse(fromFlag, `--${o.flag}`);
    else if (env[o.env] !== undefined && env[o.env] !== '') config[o.key] = o.parse(env[o.env] as string, o.env);
  }
  return { config: validateConfig(config as unknown as RelayConfig), help: values.help === true };
}

export function usage(): string {
  const lines = ['Usage: node relay/src/main.ts [options]', '', 'Options (flag / environment variable, default):'];
  for (const o of OPTIONS) {
    const d = o.key === 'keyFile' ? defaultKeyFile() : DEFAULTS[o.key];
    const shown = Array.isArray(d) ? d.join(',') || '(none)' : String(d);
    lines.push(`  --${o.flag.padEnd(24)} ${o.env.padEnd(30)} ${shown}`);
  }
  lines.push('', 'Durations (reservation-ttl, circuit-duration) are in seconds, shutdown-timeout in ms.');
  lines.push('See relay/README.md for what each limit is for.');
  return lines.join('\n');
}
