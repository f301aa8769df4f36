import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FIXTURE_CHAT_ID, requireEntry } from '../../src/lib/engine/catalogue';
import type { GenerationChunk, LoadProgress, LoadRequest } from '../../src/lib/engine/contract';
import {
  AbortedError,
  EngineError,
  EngineNotReadyError,
  ModelFilesMissingError,
  ShaderF16UnsupportedError,
  WorkerCrashedError,
} from '../../src/lib/engine/errors';
import { EngineClient, type EngineClientState } from '../../src/services/engine-client';
import { FAKE_CAPS, FakeEngineWorker } from './engine-fake-worker';

const fixture = requireEntry(FIXTURE_CHAT_ID);
const LOAD: LoadRequest = { entry: fixture, source: { mirror: 'http://localhost/models/' } };
const OPTS = { maxNewTokens: 16, temperature: 0, topP: 1 };
const TURNS = [{ role: 'user' as const, content: 'Hi' }];

function makeClient() {
  const client = new EngineClient(() => new FakeEngineWorker(), {
    heartbeatIntervalMs: 1_000,
    heartbeatTimeoutMs: 5_000,
    loadHeartbeatTimeoutMs: 10_000,
    stopGraceMs: 2_000,
  });
  const states: EngineClientState[] = [];
  client.subscribe((s) => states.push(s));
  return { client, states };
}

/** Lets the fake worker's timers and the client's promise chains run. */
const run = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers();
  FakeEngineWorker.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

async function loaded() {
  const ctx = makeClient();
  const p = ctx.client.load(LOAD);
  await run(100);
  await p;
  return ctx;
}

describe('EngineClient over a fake worker', () => {
  it('asks for capabilities once and caches them', async () => {
    const { client } = makeClient();
    const a = client.capabilities();
    await run(1);
    expect(await a).toEqual(FAKE_CAPS);
    expect(await client.capabilities()).toEqual(FAKE_CAPS);
    expect(FakeEngineWorker.latest.requestsOfKind('capabilities')).toHaveLength(1);
  });

  it('routes load progress to the caller and to state subscribers', async () => {
    const { client, states } = makeClient();
    const seen: LoadProgress[] = [];
    const p = client.load(LOAD, { onProgress: (x) => seen.push(x) });
    await run(100);
    const result = await p;
    expect(result).toMatchObject({ modelId: fixture.id, backend: 'transformers' });
    expect(seen.map((x) => x.loadedBytes)).toEqual([1_000, 2_000, 3_000]);
    expect(states.some((s) => s.status === 'loading' && s.progress?.loadedBytes === 2_000)).toBe(true);
    expect(client.state).toMatchObject({ status: 'ready', modelId: fixture.id, progress: null });
  });

  it('streams chunks and resolves with the whole text', async () => {
    const { client, states } = await loaded();
    const chunks: GenerationChunk[] = [];
    const p = client.generate(TURNS, OPTS, { onProgress: (c) => chunks.push(c) });
    await run(200);
    const result = await p;
    expect(chunks.length).toBeGreaterThan(1);
    expect(result.text).toBe('Hello there, friend.');
    expect(chunks.map((c) => c.text).join('')).toBe(result.text);
    expect(result.finishReason).toBe('end');
    expect(states.some((s) => s.status === 'generating')).toBe(true);
    expect(client.state.status).toBe('ready');
  });

  it('passes maxNewTokens through', async () => {
    const { client } = await loaded();
    const p = client.generate(TURNS, { ...OPTS, maxNewTokens: 2 });
    await run(200);
    expect(await p).toMatchObject({ text: 'Hello there', tokens: 2, finishReason: 'length' });
  });

  it('stop sends a cancel for that request and resolves with the text so far', async () => {
    const { client } = await loaded();
    const stop = new AbortController();
    const chunks: string[] = [];
    const p = client.generate(TURNS, OPTS, {
      signal: stop.signal,
      onProgress: (c) => {
        chunks.push(c.text);
        if (chunks.length === 2) stop.abort();
      },
    });
    await run(200);
    const result = await p;
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe('Hello there');
    const worker = FakeEngineWorker.latest;
    const generateId = worker.requestsOfKind('generate')[0]?.id;
    expect(worker.cancels()).toEqual([generateId]);
    expect(worker.terminated).toBe(false);
  });

  it('a generation stopped before it starts posts nothing', async () => {
    const { client } = await loaded();
    const stop = new AbortController();
    stop.abort();
    const result = await client.generate(TURNS, OPTS, { signal: stop.signal });
    expect(result).toMatchObject({ text: '', tokens: 0, finishReason: 'stop' });
    expect(FakeEngineWorker.latest.requestsOfKind('generate')).toHaveLength(0);
  });

  it('a worker that does not stop in time is replaced; the reply keeps its text; the model is reloaded', async () => {
    const { client, states } = await loaded();
    const first = FakeEngineWorker.latest;
    first.behaviour.ignoreCancel = true;
    first.behaviour.stepMs = 400;
    const stop = new AbortController();
    const p = client.generate(TURNS, OPTS, {
      signal: stop.signal,
      onProgress: () => stop.abort(),
    });
    await run(3_000);
    const result = await p;
    expect(result.finishReason).toBe('stop');
    expect(result.text.startsWith('Hello')).toBe(true);
    expect(first.terminated).toBe(true);
    expect(states.some((s) => s.status === 'crashed' && s.modelId === fixture.id)).toBe(true);

    const again = client.generate(TURNS, OPTS);
    await run(500);
    expect((await again).text).toBe('Hello there, friend.');
    const second = FakeEngineWorker.latest;
    expect(second).not.toBe(first);
    expect(second.requestsOfKind('load')).toHaveLength(1);
    expect(states.some((s) => s.status === 'loading' && s.recovering)).toBe(true);
  });

  it('cancelling a load terminates the worker, rejects with AbortedError and starts a fresh worker', async () => {
    FakeEngineWorker.next = { stepMs: 1_000 };
    const { client } = makeClient();
    const cancel = new AbortController();
    const p = client.load(LOAD, { signal: cancel.signal });
    const assertion = expect(p).rejects.toBeInstanceOf(AbortedError);
    await run(1_500);
    const first = FakeEngineWorker.latest;
    cancel.abort();
    await assertion;
    expect(first.terminated).toBe(true);
    expect(FakeEngineWorker.instances).toHaveLength(2);
    expect(client.state).toMatchObject({ status: 'idle', modelId: null });

    // The fresh worker works, and holds no model.
    const caps = client.capabilities();
    await run(1);
    expect(await caps).toEqual(FAKE_CAPS);
    const gen = client.generate(TURNS, OPTS);
    const notReady = expect(gen).rejects.toBeInstanceOf(EngineNotReadyError);
    await run(50);
    await notReady;
  });

  it('a load aborted before it starts posts nothing', async () => {
    const { client } = makeClient();
    const cancel = new AbortController();
    cancel.abort();
    await expect(client.load(LOAD, { signal: cancel.signal })).rejects.toBeInstanceOf(AbortedError);
    expect(FakeEngineWorker.instances).toHaveLength(0);
  });

  it('a worker crash rejects pending calls with WorkerCrashedError, then recovers and reloads the model', async () => {
    const { client, states } = await loaded();
    const first = FakeEngineWorker.latest;
    const p = client.generate(TURNS, OPTS);
    const crashed = expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    await run(25);
    first.crash('RuntimeError: memory access out of bounds');
    await crashed;
    expect(first.terminated).toBe(true);
    expect(client.state).toMatchObject({ status: 'crashed', modelId: fixture.id });
    expect(client.state.error?.name).toBe('WorkerCrashedError');
    expect(client.state.error?.message).toMatch(/memory access out of bounds/);

    const again = client.generate(TURNS, OPTS);
    await run(500);
    expect((await again).text).toBe('Hello there, friend.');
    expect(FakeEngineWorker.latest.requestsOfKind('load')[0]?.params).toMatchObject({ entry: { id: fixture.id } });
    const recovering = states.findIndex((s) => s.status === 'loading' && s.recovering);
    const crashedAt = states.findIndex((s) => s.status === 'crashed');
    expect(crashedAt).toBeGreaterThanOrEqual(0);
    expect(recovering).toBeGreaterThan(crashedAt);
    expect(client.state.status).toBe('ready');
  });

  it('a silent worker is declared dead after the heartbeat timeout', async () => {
    const { client } = await loaded();
    FakeEngineWorker.latest.behaviour.silent = true;
    const p = client.generate(TURNS, OPTS);
    const crashed = expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    await run(4_000);
    expect(FakeEngineWorker.latest.terminated).toBe(false);
    await run(3_000);
    await crashed;
    expect(FakeEngineWorker.instances[0]?.terminated).toBe(true);
  });

  it('a busy worker that answers pings is not declared dead', async () => {
    FakeEngineWorker.next = { stepMs: 3_000, words: ['a', 'b', 'c', 'd', 'e'] };
    const { client } = makeClient();
    const l = client.load(LOAD);
    await run(20_000);
    await l;
    const p = client.generate(TURNS, OPTS);
    await run(20_000);
    expect((await p).text).toBe('abcde');
    expect(FakeEngineWorker.instances).toHaveLength(1);
  });

  it('rebuilds errors thrown in the worker as their own classes', async () => {
    const { client } = makeClient();
    const p = client.load({ ...LOAD, entry: { ...fixture, repo: 'missing/model' } });
    const failed = expect(p).rejects.toBeInstanceOf(ModelFilesMissingError);
    await run(10);
    await failed;
    expect(client.state.status).toBe('idle');
  });

  it('a model refused for this GPU leaves the current model loaded; other failures leave none', async () => {
    const { client } = await loaded();
    const webllm = requireEntry('Llama-3.2-1B-Instruct-q4f16_1-MLC');
    const refused = client.load({ entry: webllm, source: { mirror: null } });
    const rejection = expect(refused).rejects.toBeInstanceOf(ShaderF16UnsupportedError);
    await run(10);
    await rejection;
    expect(client.state).toMatchObject({ status: 'ready', modelId: fixture.id });

    const missing = client.load({ ...LOAD, entry: { ...fixture, repo: 'missing/model' } });
    const failed = expect(missing).rejects.toBeInstanceOf(ModelFilesMissingError);
    await run(10);
    await failed;
    expect(client.state).toMatchObject({ status: 'idle', modelId: null });
  });

  it('ignores unknown and hostile messages, and rejects malformed replies', async () => {
    const { client } = await loaded();
    const worker = FakeEngineWorker.latest;
    const chunks: GenerationChunk[] = [];
    const p = client.generate(TURNS, OPTS, { onProgress: (c) => chunks.push(c) });
    await run(0);
    const id = worker.requestsOfKind('generate')[0]?.id;
    expect(id).toBeTypeOf('number');
    for (const junk of [
      null,
      'return',
      42,
      { id: 9_999, type: 'return', result: { anything: true } },
      { id, type: 'progress', progress: { text: 5, tokens: 'x' } },
      { id, type: 'weird' },
      { id, type: 'throw', error: 'not an error' },
      { id: String(id), type: 'return', result: null },
    ]) {
      worker.emit(junk);
    }
    await run(200);
    const result = await p;
    expect(result.text).toBe('Hello there, friend.');
    expect(chunks.every((c) => typeof c.text === 'string')).toBe(true);

    const bad = client.generate(TURNS, OPTS);
    const rejected = expect(bad).rejects.toThrow(/malformed reply/);
    await run(0);
    const badId = worker.requestsOfKind('generate')[1]?.id;
    worker.emit({ id: badId, type: 'return', result: { text: 1 } });
    await rejected;
  });

  it('unload clears the model and the state', async () => {
    const { client } = await loaded();
    const p = client.unload();
    await run(5);
    await p;
    expect(client.state).toMatchObject({ status: 'idle', modelId: null });
    const gen = client.generate(TURNS, OPTS);
    const notReady = expect(gen).rejects.toBeInstanceOf(EngineNotReadyError);
    await run(20);
    await notReady;
  });

  it('a worker that cannot be created fails the call with WorkerCrashedError', async () => {
    const client = new EngineClient(() => {
      throw new Error('Refused to create a worker (CSP)');
    });
    await expect(client.capabilities()).rejects.toBeInstanceOf(WorkerCrashedError);
  });

  it('a worker whose script fails to load is not restarted in a loop', async () => {
    const client = new EngineClient(() => {
      const w = new FakeEngineWorker();
      w.behaviour.silent = true;
      setTimeout(() => w.crash('Failed to load module script'), 1);
      return w;
    });
    const p = client.capabilities();
    const crashed = expect(p).rejects.toBeInstanceOf(WorkerCrashedError);
    await run(100);
    await crashed;
    await run(10_000);
    expect(FakeEngineWorker.instances).toHaveLength(1);
    expect(client.state.status).toBe('crashed');
  });

  it('dispose ends the worker and fails pending calls', async () => {
    const { client } = await loaded();
    const p = client.generate(TURNS, OPTS);
    client.dispose();
    await expect(p).rejects.toBeInstanceOf(EngineError);
    expect(FakeEngineWorker.latest.terminated).toBe(true);
    await expect(client.capabilities()).rejects.toBeInstanceOf(EngineError);
  });
});
