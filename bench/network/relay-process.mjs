// The real relay (relay/src/main.ts) in a child process of its own, so that
// its memory (/metrics process_resident_memory_bytes) holds nothing of the
// members, which all run in the bench's process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts `node relay/src/main.ts` on free loopback ports with limits raised
 * for many peers from one IP and circuits without data/duration limits (the
 * bench's members that stay relayed must keep their circuits).
 * @returns {Promise<{ addr: string, httpUrl: string, pid: number, metrics(): Promise<Record<string, number>>, stop(): Promise<void> }>}
 */
export async function startRelayProcess(root, { maxConnections = 2048, startTimeoutMs = 30_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'h3lix-bench-relay-'));
  const args = [
    join(root, 'relay/src/main.ts'),
    '--host', '127.0.0.1', '--port', '0', '--http-host', '127.0.0.1', '--http-port', '0',
    '--key-file', join(dir, 'relay.key'),
    '--max-connections', String(maxConnections),
    '--max-connections-per-ip', String(maxConnections),
    '--connection-rate-per-ip', '1000',
    '--max-reservations', String(maxConnections),
    '--circuit-data-limit', '0', '--circuit-duration', '0',
    '--shutdown-timeout', '2000',
    '--log-level', 'warn',
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = false;
  const exitedPromise = new Promise((resolve) => child.once('exit', (code, signal) => { exited = true; resolve({ code, signal }); }));
  const logTail = [];
  const keep = (line) => { logTail.push(line); if (logTail.length > 20) logTail.shift(); };
  child.stdout.setEncoding('utf8').on('data', (s) => { for (const l of s.split('\n')) if (l.trim()) keep(l); });
  const ready = new Promise((resolve, reject) => {
    let addr = null;
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start in ${startTimeoutMs} ms: ${logTail.join(' | ')}`)), startTimeoutMs);
    child.stderr.setEncoding('utf8').on('data', (s) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        keep(line);
        const a = /^Relay listening on (\S+)/.exec(line);
        if (a && addr === null) addr = a[1];
        const h = /^Relay health and metrics on (http:\/\/\S+)\/healthz/.exec(line);
        if (h && addr !== null) { clearTimeout(timer); resolve({ addr, httpUrl: h[1] }); }
      }
    });
    exitedPromise.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`relay exited (${code ?? signal}) before it was ready: ${logTail.join(' | ')}`)); });
  });
  let info;
  try {
    info = await ready;
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const metrics = async () => {
    const res = await fetch(`${info.httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const out = {};
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || !line.trim()) continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) out[m[1] + (m[2] ?? '')] = Number(m[3]);
    }
    return out;
  };

  let stopping;
  const stop = () => (stopping ??= (async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5_000);
      await exitedPromise;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  })());

  return { ...info, pid: child.pid, metrics, stop, get exited() { return exited; }, logTail };
}
