/**
 * The engine benchmark page. In one page and one run it measures:
 *   ours:   EngineClient -> engine worker -> TransformersBackend -> chunks back to this page;
 *   direct: transformers.js called directly in a plain worker (direct.worker.ts).
 * Both are timed the same way, here on the main thread: time to first token is
 * from the call to the first streamed chunk arriving; tokens/s counts the tokens
 * after the first chunk over the time after it (the decode rate).
 * Rounds alternate which side goes first (ABBA...), so slow drift on a noisy
 * machine falls on both. bench/engine.mjs drives the page and reads
 * `window.__bench`.
 *
 * Query: ?rounds=21&warmup=2&tokens=64 (bench/engine.mjs passes its own)
 */
import { FIXTURE_CHAT_ID, findEntry } from '../../src/lib/engine/catalogue';
import type { ChatTurn, GenerateOptions } from '../../src/lib/engine/contract';
import { EngineClient } from '../../src/services/engine-client';
import type { DirectReply, DirectRequest } from './direct.worker';

export interface Sample {
  ttftMs: number;
  tokensPerSecond: number;
  tokens: number;
  totalMs: number;
  chunks: number;
}

export interface BenchReport {
  model: string;
  rounds: number;
  warmup: number;
  maxNewTokens: number;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  numThreads: number;
  loadMs: { ours: number; direct: number };
  sameOutput: boolean;
  ours: Sample[];
  direct: Sample[];
}

declare global {
  interface Window {
    __bench?: { ok: true; report: BenchReport } | { ok: false; error: string };
  }
}

const params = new URLSearchParams(location.search);
const ROUNDS = Number(params.get('rounds') ?? 21);
const WARMUP = Number(params.get('warmup') ?? 2);
const MAX_NEW_TOKENS = Number(params.get('tokens') ?? 64);
const MIRROR = new URL('/models/', location.href).href;
const TURNS: ChatTurn[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Write a short paragraph about why the sky is blue.' },
];
const OPTIONS: GenerateOptions = { maxNewTokens: MAX_NEW_TOKENS, temperature: 0, topP: 1 };

function log(line: string): void {
  console.log(`[bench] ${line}`);
  const pre = document.getElementById('log');
  if (pre) pre.textContent += `${line}\n`;
}

/** Turns main-thread timestamps into a sample, the same way for both sides. */
function sample(start: number, firstAt: number | null, firstTokens: number, tokens: number, end: number, chunks: number): Sample {
  const after = tokens - firstTokens;
  const decodeMs = firstAt === null ? 0 : end - firstAt;
  return {
    ttftMs: (firstAt ?? end) - start,
    tokensPerSecond: after > 0 && decodeMs > 0 ? after / (decodeMs / 1000) : 0,
    tokens,
    totalMs: end - start,
    chunks,
  };
}

// --- ours -------------------------------------------------------------------

const entry = findEntry(FIXTURE_CHAT_ID);
if (!entry) throw new Error(`${FIXTURE_CHAT_ID} is not in the catalogue.`);
const client = new EngineClient(
  () => new Worker(new URL('../../src/workers/engine.worker.ts', import.meta.url), { type: 'module' }),
);

async function oursGenerate(): Promise<{ sample: Sample; text: string }> {
  let firstAt: number | null = null;
  let firstTokens = 0;
  let chunks = 0;
  const start = performance.now();
  const result = await client.generate(TURNS, OPTIONS, {
    onProgress: (chunk) => {
      if (firstAt === null) {
        firstAt = performance.now();
        firstTokens = chunk.tokens;
      }
      chunks += 1;
    },
  });
  const end = performance.now();
  return { sample: sample(start, firstAt, firstTokens, result.tokens, end, chunks), text: result.text };
}

// --- direct -----------------------------------------------------------------

const direct = new Worker(new URL('./direct.worker.ts', import.meta.url), { type: 'module' });
let directListener: ((reply: DirectReply) => void) | null = null;
direct.addEventListener('message', (event: MessageEvent<DirectReply>) => directListener?.(event.data));
direct.addEventListener('error', (event) => directListener?.({ type: 'error', message: event.message || 'worker error' }));

function directCall(request: DirectRequest, onReply: (reply: DirectReply) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    directListener = (reply) => {
      if (reply.type === 'error') {
        directListener = null;
        reject(new Error(reply.message));
      } else if (onReply(reply)) {
        directListener = null;
        resolve();
      }
    };
    direct.postMessage(request);
  });
}

async function directLoad(): Promise<{ loadMs: number; numThreads: number }> {
  let out = { loadMs: 0, numThreads: 0 };
  await directCall({ type: 'load', repo: entry!.repo, dtype: 'q8', device: 'wasm', mirror: MIRROR }, (reply) => {
    if (reply.type !== 'loaded') return false;
    out = { loadMs: reply.loadMs, numThreads: reply.numThreads };
    return true;
  });
  return out;
}

async function directGenerate(): Promise<{ sample: Sample; text: string }> {
  let firstAt: number | null = null;
  let firstTokens = 0;
  let chunks = 0;
  let tokens = 0;
  let text = '';
  const start = performance.now();
  await directCall(
    { type: 'generate', messages: TURNS.map((t) => ({ role: t.role, content: t.content })), maxNewTokens: MAX_NEW_TOKENS },
    (reply) => {
      if (reply.type === 'chunk') {
        if (firstAt === null) {
          firstAt = performance.now();
          firstTokens = reply.tokens;
        }
        chunks += 1;
        return false;
      }
      if (reply.type !== 'done') return false;
      tokens = reply.tokens;
      text = reply.text;
      return true;
    },
  );
  const end = performance.now();
  return { sample: sample(start, firstAt, firstTokens, tokens, end, chunks), text };
}

// --- the run ----------------------------------------------------------------

const fmt = (s: Sample): string =>
  `ttft ${s.ttftMs.toFixed(1)} ms, ${s.tokensPerSecond.toFixed(1)} tok/s (${s.tokens} tokens, ${s.chunks} chunks, ${s.totalMs.toFixed(0)} ms)`;

async function run(): Promise<BenchReport> {
  const caps = await client.capabilities();
  log(`crossOriginIsolated=${caps.crossOriginIsolated} threads=${caps.wasm.threads} cores=${caps.hardwareConcurrency}`);

  const oursLoad = await client.load({ entry: entry!, source: { mirror: MIRROR } });
  log(`ours loaded in ${oursLoad.loadMs.toFixed(0)} ms (worker-side, includes its self-test)`);
  const directLoaded = await directLoad();
  log(`direct loaded in ${directLoaded.loadMs.toFixed(0)} ms (${directLoaded.numThreads} threads)`);

  for (let i = 0; i < WARMUP; i++) {
    log(`warm-up ours:   ${fmt((await oursGenerate()).sample)}`);
    log(`warm-up direct: ${fmt((await directGenerate()).sample)}`);
  }

  const ours: Sample[] = [];
  const directs: Sample[] = [];
  let sameOutput = true;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (['ours', 'direct'] as const) : (['direct', 'ours'] as const);
    const texts: Record<string, string> = {};
    for (const side of order) {
      const { sample: s, text } = side === 'ours' ? await oursGenerate() : await directGenerate();
      (side === 'ours' ? ours : directs).push(s);
      texts[side] = text;
      log(`round ${r + 1}/${ROUNDS} ${side.padEnd(6)} ${fmt(s)}`);
    }
    if (texts.ours !== texts.direct) sameOutput = false;
  }

  await client.unload();
  client.dispose();
  direct.terminate();
  return {
    model: entry!.id,
    rounds: ROUNDS,
    warmup: WARMUP,
    maxNewTokens: MAX_NEW_TOKENS,
    crossOriginIsolated: caps.crossOriginIsolated,
    hardwareConcurrency: caps.hardwareConcurrency,
    numThreads: directLoaded.numThreads,
    loadMs: { ours: oursLoad.loadMs, direct: directLoaded.loadMs },
    sameOutput,
    ours,
    direct: directs,
  };
}

run().then(
  (report) => {
    window.__bench = { ok: true, report };
  },
  (e: unknown) => {
    const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    log(`failed: ${error}`);
    window.__bench = { ok: false, error };
  },
);
