/**
 * The worker entry's plumbing, in Node: the real engine.worker.ts module runs
 * against a stand-in for its global scope (a test double: postMessage and
 * addEventListener only). Model loading itself is covered by the back-end
 * tests and, in a browser, by e2e.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireEntry } from '../../src/lib/engine/catalogue';
import { deserializeError, EngineNotReadyError, WebGPUUnavailableError } from '../../src/lib/engine/errors';
import { isCapabilities, parseFromWorker, type FromWorkerMessage } from '../../src/lib/engine/protocol';

type Listener = (event: { data?: unknown; preventDefault?: () => void; reason?: unknown }) => void;

const posted: FromWorkerMessage[] = [];
const listeners = new Map<string, Listener[]>();
const fakeScope = {
  postMessage(message: unknown): void {
    const reply = parseFromWorker(structuredClone(message));
    if (!reply) throw new Error(`the worker posted a malformed reply: ${JSON.stringify(message)}`);
    posted.push(reply);
  },
  addEventListener(type: string, listener: Listener): void {
    listeners.set(type, [...(listeners.get(type) ?? []), listener]);
  },
  location: { href: 'http://127.0.0.1:4173/assets/engine.worker.js' },
  crossOriginIsolated: false,
};

function send(data: unknown): void {
  for (const l of listeners.get('message') ?? []) l({ data: structuredClone(data) });
}

async function reply(id: number): Promise<FromWorkerMessage> {
  await vi.waitFor(() => {
    if (!posted.some((m) => m.id === id && m.type !== 'progress')) throw new Error(`no reply to ${id} yet`);
  });
  const found = posted.find((m) => m.id === id && m.type !== 'progress');
  if (!found) throw new Error('unreachable');
  return found;
}

beforeAll(async () => {
  vi.stubGlobal('self', fakeScope);
  await import('../../src/workers/engine.worker');
});
afterAll(() => {
  vi.unstubAllGlobals();
});

describe('engine worker', () => {
  it('listens for messages and for stray rejections', () => {
    expect(listeners.get('message')).toHaveLength(1);
    expect(listeners.get('unhandledrejection')).toHaveLength(1);
  });

  it('answers a ping', async () => {
    send({ id: 1, kind: 'ping', params: null });
    expect(await reply(1)).toEqual({ id: 1, type: 'return', result: null });
  });

  it('detects capabilities once (Node: no WebGPU, WASM with SIMD)', async () => {
    send({ id: 2, kind: 'capabilities', params: null });
    send({ id: 3, kind: 'capabilities', params: null });
    const a = await reply(2);
    const b = await reply(3);
    if (a.type !== 'return' || b.type !== 'return') throw new Error('expected results');
    expect(isCapabilities(a.result)).toBe(true);
    expect(a.result).toEqual(b.result);
    expect(a.result).toMatchObject({
      webgpu: { available: false, reason: expect.stringMatching(/WebGPU/) },
      wasm: { available: true, simd: true, threads: false },
      crossOriginIsolated: false,
    });
  });

  it('says no model is loaded when asked to generate first', async () => {
    send({ id: 4, kind: 'generate', params: { turns: [{ role: 'user', content: 'Hi' }], options: { maxNewTokens: 4, temperature: 0, topP: 1 } } });
    const r = await reply(4);
    if (r.type !== 'throw') throw new Error('expected an error');
    expect(deserializeError(r.error)).toBeInstanceOf(EngineNotReadyError);
  });

  it('refuses a WebLLM model without WebGPU, with the reason', async () => {
    send({ id: 5, kind: 'load', params: { entry: requireEntry('SmolLM2-360M-Instruct-q4f32_1-MLC'), source: { mirror: null } } });
    const r = await reply(5);
    if (r.type !== 'throw') throw new Error('expected an error');
    const err = deserializeError(r.error);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect(err.hint.length).toBeGreaterThan(0);
  });

  it('unloads when nothing is loaded', async () => {
    send({ id: 6, kind: 'unload', params: null });
    expect(await reply(6)).toEqual({ id: 6, type: 'return', result: null });
  });

  it('ignores malformed and hostile messages without replying or throwing', async () => {
    const before = posted.length;
    for (const junk of [
      null,
      'load',
      { id: 7, kind: 'load', params: { entry: { id: 'x' }, source: { mirror: null } } },
      { id: 8, kind: 'eval', params: 'process.exit()' },
      { id: 9, kind: '__proto__', params: null },
      { kind: 'cancel', target: 'everything' },
      { kind: 'cancel', target: 12345 },
    ]) {
      expect(() => send(junk)).not.toThrow();
    }
    send({ id: 10, kind: 'ping', params: null });
    await reply(10);
    expect(posted.slice(before).map((m) => m.id)).toEqual([10]);
  });
});
