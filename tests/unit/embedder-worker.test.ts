/**
 * The embedder worker entry's plumbing, in Node: the real embedder.worker.ts
 * module runs against a stand-in for its global scope (postMessage and
 * addEventListener only). The embedding itself is covered by
 * embedder-transformers.test.ts (Node has no 'wasm' device, which the worker
 * asks for, so a real embedding here ends in a reported error: that it is
 * reported, not thrown, is part of what this checks).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelFilesMissingError, deserializeError } from '../../src/lib/engine/errors';
import { parseFromWorker, type FromWorkerMessage } from '../../src/lib/engine/protocol';
import { FIXTURE_EMBEDDER, serveModels, type ModelServer } from './model-server';

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
  location: { href: 'http://127.0.0.1:4173/assets/embedder.worker.js' },
};

function send(data: unknown): void {
  for (const l of listeners.get('message') ?? []) l({ data: structuredClone(data) });
}

async function reply(id: number): Promise<FromWorkerMessage> {
  await vi.waitFor(
    () => {
      if (!posted.some((m) => m.id === id && m.type !== 'progress')) throw new Error(`no reply to ${id} yet`);
    },
    { timeout: 15_000 },
  );
  return posted.find((m) => m.id === id && m.type !== 'progress')!;
}

let models: ModelServer;
beforeAll(async () => {
  models = await serveModels();
  // The worker is served by the same origin as the models, as in the app ('/models/' mirror).
  fakeScope.location.href = new URL('assets/embedder.worker.js', models.source.mirror!).href;
  vi.stubGlobal('self', fakeScope);
  await import('../../src/workers/embedder.worker');
});
afterAll(async () => {
  vi.unstubAllGlobals();
  await models.close();
});

describe('embedder worker', () => {
  it('listens for messages and for stray rejections', () => {
    expect(listeners.get('message')).toHaveLength(1);
    expect(listeners.get('unhandledrejection')).toHaveLength(1);
  });

  it('answers a ping', async () => {
    send({ id: 1, kind: 'ping', params: null });
    expect(await reply(1)).toEqual({ id: 1, type: 'return', result: null });
  });

  it('ignores malformed messages and cancels of unknown requests', async () => {
    send({ id: 2, kind: 'embed', params: { texts: 'not a list' } });
    send({ kind: 'cancel', target: 999 });
    send('garbage');
    send({ id: 3, kind: 'ping', params: null });
    await reply(3);
    expect(posted.some((m) => m.id === 2)).toBe(false);
  });

  it('reports a model the mirror lacks as ModelFilesMissingError, resolving a relative mirror against its own URL', async () => {
    send({ id: 4, kind: 'embed', params: { model: { repo: 'fixtures/does-not-exist', source: { mirror: '/' } }, texts: ['x'] } });
    const answer = await reply(4);
    expect(models.requested).toContain('/fixtures/does-not-exist/resolve/main/config.json');
    expect(answer.type).toBe('throw');
    if (answer.type !== 'throw') return;
    expect(deserializeError(answer.error)).toBeInstanceOf(ModelFilesMissingError);
  });

  it('ends every embed request with one reply, even when the model cannot run here', async () => {
    send({ id: 5, kind: 'embed', params: { model: { repo: FIXTURE_EMBEDDER, source: models.source }, texts: ['x'] } });
    const answer = await reply(5);
    expect(['return', 'throw']).toContain(answer.type);
    expect(posted.filter((m) => m.id === 5 && m.type !== 'progress')).toHaveLength(1);
  });

  it('logs stray rejections instead of crashing', () => {
    const prevented = vi.fn();
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    for (const l of listeners.get('unhandledrejection') ?? []) l({ preventDefault: prevented, reason: new Error('late') });
    expect(prevented).toHaveBeenCalled();
    log.mockRestore();
  });
});
