import { describe, expect, it } from 'vitest';
import { FIXTURE_CHAT_ID, requireEntry } from '../../src/lib/engine/catalogue';
import { serializeError, NetworkError } from '../../src/lib/engine/errors';
import {
  PROGRESS_GUARDS,
  RESULT_GUARDS,
  isCapabilities,
  isGenerationResult,
  isLoadProgress,
  parseFromWorker,
  parseToWorker,
} from '../../src/lib/engine/protocol';

const entry = requireEntry(FIXTURE_CHAT_ID);
const load = { id: 1, kind: 'load', params: { entry, source: { mirror: '/models/' } } };
const generate = {
  id: 2,
  kind: 'generate',
  params: { turns: [{ role: 'user', content: 'Hi' }], options: { maxNewTokens: 8, temperature: 0, topP: 1 } },
};

describe('parseToWorker (worker side)', () => {
  it('accepts well-formed requests, after a structured clone', () => {
    expect(parseToWorker(structuredClone(load))).toEqual(load);
    expect(parseToWorker(structuredClone(generate))).toEqual(generate);
    expect(parseToWorker({ id: 3, kind: 'capabilities', params: null })).toEqual({ id: 3, kind: 'capabilities', params: null });
    expect(parseToWorker({ id: 4, kind: 'ping' })).toEqual({ id: 4, kind: 'ping', params: null });
    expect(parseToWorker({ kind: 'cancel', target: 2 })).toEqual({ kind: 'cancel', target: 2 });
  });

  it.each([
    ['not an object', 'load'],
    ['null', null],
    ['an array', [1, 'load']],
    ['unknown kind', { id: 1, kind: 'format-disk', params: null }],
    ['prototype kind', { id: 1, kind: 'constructor', params: null }],
    ['missing id', { kind: 'capabilities', params: null }],
    ['negative id', { id: -1, kind: 'capabilities', params: null }],
    ['fractional id', { id: 1.5, kind: 'capabilities', params: null }],
    ['params where none belong', { id: 1, kind: 'unload', params: { all: true } }],
    ['load without entry', { id: 1, kind: 'load', params: { source: { mirror: null } } }],
    ['load with bad backend', { ...load, params: { ...load.params, entry: { ...entry, backend: 'gguf' } } }],
    ['load with bad mirror', { ...load, params: { ...load.params, source: { mirror: 42 } } }],
    ['generate with bad role', { ...generate, params: { ...generate.params, turns: [{ role: 'root', content: 'x' }] } }],
    ['generate with non-string content', { ...generate, params: { ...generate.params, turns: [{ role: 'user', content: 1 }] } }],
    ['generate with zero tokens', { ...generate, params: { ...generate.params, options: { maxNewTokens: 0, temperature: 0, topP: 1 } } }],
    ['generate with NaN temperature', { ...generate, params: { ...generate.params, options: { maxNewTokens: 8, temperature: Number.NaN, topP: 1 } } }],
    ['cancel without target', { kind: 'cancel' }],
  ])('rejects %s', (_, message) => {
    expect(parseToWorker(message)).toBeNull();
  });
});

describe('parseFromWorker (client side)', () => {
  it('accepts the three reply types', () => {
    expect(parseFromWorker({ id: 1, type: 'progress', progress: { text: 'a', tokens: 1 } })).toMatchObject({ type: 'progress' });
    expect(parseFromWorker({ id: 1, type: 'return', result: null })).toMatchObject({ type: 'return', result: null });
    const error = serializeError(new NetworkError());
    expect(parseFromWorker({ id: 1, type: 'throw', error })).toEqual({ id: 1, type: 'throw', error });
  });

  it.each([
    ['no id', { type: 'return', result: 1 }],
    ['unknown type', { id: 1, type: 'explode' }],
    ['return without result', { id: 1, type: 'return' }],
    ['throw without a serialised error', { id: 1, type: 'throw', error: 'boom' }],
    ['a string', 'return'],
  ])('rejects %s', (_, message) => {
    expect(parseFromWorker(message)).toBeNull();
  });
});

describe('payload guards', () => {
  it('check results per kind', () => {
    expect(RESULT_GUARDS.unload(null)).toBe(true);
    expect(RESULT_GUARDS.unload(undefined)).toBe(false);
    expect(
      isGenerationResult({ text: 'x', tokens: 1, ttftMs: 1, totalMs: 2, tokensPerSecond: 3, finishReason: 'stop' }),
    ).toBe(true);
    expect(
      isGenerationResult({ text: 'x', tokens: 1, ttftMs: 1, totalMs: 2, tokensPerSecond: 3, finishReason: 'done' }),
    ).toBe(false);
    expect(RESULT_GUARDS.load({ modelId: 'm', backend: 'transformers', device: 'wasm', loadMs: 1, selfTestTokens: 4 })).toBe(true);
    expect(RESULT_GUARDS.load({ modelId: 'm', backend: 'transformers', device: 'cuda', loadMs: 1, selfTestTokens: 4 })).toBe(false);
  });

  it('check capabilities', () => {
    const caps = {
      webgpu: { available: false, fallbackAdapter: false, shaderF16: false, maxBufferSize: 0, vendor: '', architecture: '', reason: 'none' },
      wasm: { available: true, threads: false, simd: true },
      deviceMemoryGiB: null,
      hardwareConcurrency: 2,
      crossOriginIsolated: false,
    };
    expect(isCapabilities(caps)).toBe(true);
    expect(isCapabilities({ ...caps, wasm: { available: true } })).toBe(false);
  });

  it('check progress per kind; kinds without progress accept none', () => {
    expect(isLoadProgress({ phase: 'download', loadedBytes: 1, totalBytes: 2, fraction: 0.5, etaSeconds: null, detail: '' })).toBe(true);
    expect(isLoadProgress({ phase: 'download', loadedBytes: -1, totalBytes: 2, fraction: 0.5, etaSeconds: null, detail: '' })).toBe(false);
    expect(PROGRESS_GUARDS.generate({ text: 'a', tokens: 1 })).toBe(true);
    expect(PROGRESS_GUARDS.generate({ text: 1, tokens: 1 })).toBe(false);
    expect(PROGRESS_GUARDS.capabilities({})).toBe(false);
  });
});
