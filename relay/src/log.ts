/**
 * Structured logs: one JSON object per line. Nothing personal goes in: IP
 * addresses and peer ids appear only as short salted hashes (the salt is
 * random per process, so the hashes link events within one run and nothing
 * beyond it).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { LogLevel } from './config.ts';

export interface LogRecord {
  ts: string;
  level: Exclude<LogLevel, 'silent'>;
  msg: string;
  [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Short salted hash of an identifying value (IP address, peer id). */
  pseudonym(value: string): string;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function jsonLineSink(write: (line: string) => void = (l) => process.stdout.write(l)): LogSink {
  return (record) => write(JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}

export function createLogger(level: LogLevel, sink: LogSink = jsonLineSink()): Logger {
  const salt = randomBytes(16);
  const threshold = RANK[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < threshold) return;
    sink({ ts: new Date().toISOString(), level: lvl, msg, ...fields });
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    pseudonym: (value) => createHash('sha256').update(salt).update(value).digest('hex').slice(0, 12),
  };
}
