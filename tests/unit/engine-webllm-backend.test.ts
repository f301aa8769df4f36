/**
 * What can be checked of the WebLLM back end without a GPU: the catalogue's
 * WebLLM entries against WebLLM's own prebuilt list, the model records built
 * for the hub and for a mirror, the reading of init progress, and the GPU
 * checks that must fail before anything is downloaded.
 */
import { prebuiltAppConfig, type ModelRecord } from '@mlc-ai/web-llm';
import { describe, expect, it, vi } from 'vitest';
import { entriesFor, requireEntry } from '../../src/lib/engine/catalogue';
import type { Capabilities } from '../../src/lib/engine/contract';
import { ModelUnavailableError, ShaderF16UnsupportedError, WebGPUUnavailableError } from '../../src/lib/engine/errors';
import {
  WebLLMBackend,
  assertGpuCanRun,
  buildAppConfig,
  buildModelRecord,
  readInitReport,
} from '../../src/workers/webllm-backend';

const MiB = 1024 * 1024;
const prebuilt = (id: string): ModelRecord => {
  const r = prebuiltAppConfig.model_list.find((m) => m.model_id === id);
  if (!r) throw new Error(`${id} is not prebuilt`);
  return r;
};

function caps(webgpu: Partial<Capabilities['webgpu']>): Capabilities {
  return {
    webgpu: {
      available: true,
      fallbackAdapter: false,
      shaderF16: true,
      maxBufferSize: 2 ** 31,
      vendor: 'apple',
      architecture: 'metal-3',
      reason: null,
      ...webgpu,
    },
    wasm: { available: true, threads: false, simd: true },
    deviceMemoryGiB: 8,
    hardwareConcurrency: 8,
    crossOriginIsolated: false,
  };
}

describe('catalogue against WebLLM 0.2.86 prebuilt models', () => {
  it.each(entriesFor('webllm').map((e) => [e.id, e] as const))('%s is a real prebuilt model', (_, entry) => {
    const record = prebuilt(entry.repo);
    expect(record.model_lib.endsWith(`/${entry.modelLib}`)).toBe(true);
    expect(entry.memoryBytes / MiB).toBeCloseTo(record.vram_required_MB ?? Number.NaN, 0);
    expect(entry.contextWindow).toBe(record.overrides?.context_window_size);
    for (const f of record.required_features ?? []) expect(entry.requiredFeatures).toContain(f);
  });
});

describe('buildModelRecord', () => {
  const llama = requireEntry('Llama-3.2-1B-Instruct-q4f16_1-MLC');
  const smol = requireEntry('SmolLM2-360M-Instruct-q4f32_1-MLC');

  it('uses the prebuilt URLs for the public hubs', () => {
    const r = buildModelRecord(llama, { mirror: null }, prebuilt(llama.repo));
    expect(r.model).toBe('https://huggingface.co/mlc-ai/Llama-3.2-1B-Instruct-q4f16_1-MLC');
    expect(r.model_lib).toBe(
      'https://raw.githubusercontent.com/mlc-ai/binary-mlc-llm-libs/main/web-llm-models/v0_2_86/base/Llama-3.2-1B-Instruct-q4f16_1_cs1k-webgpu.wasm',
    );
    expect(r.model_id).toBe(llama.repo);
    expect(r.overrides?.context_window_size).toBe(4096);
  });

  it('moves weights and library onto a mirror in the hub layout', () => {
    const r = buildModelRecord(llama, { mirror: 'https://models.example.org/hub/' }, prebuilt(llama.repo));
    expect(r.model).toBe('https://models.example.org/hub/mlc-ai/Llama-3.2-1B-Instruct-q4f16_1-MLC/resolve/main/');
    expect(r.model_lib).toBe(
      'https://models.example.org/hub/mlc-ai/binary-mlc-llm-libs/resolve/main/web-llm-models/v0_2_86/base/Llama-3.2-1B-Instruct-q4f16_1_cs1k-webgpu.wasm',
    );
  });

  it('accepts a mirror without a trailing slash', () => {
    const r = buildModelRecord(smol, { mirror: 'http://127.0.0.1:8080/models' }, prebuilt(smol.repo));
    expect(r.model).toBe('http://127.0.0.1:8080/models/mlc-ai/SmolLM2-360M-Instruct-q4f32_1-MLC/resolve/main/');
  });

  it('adds shader-f16 to every f16 model, and not to f32 ones', () => {
    expect(prebuilt(llama.repo).required_features ?? []).not.toContain('shader-f16');
    expect(buildModelRecord(llama, { mirror: null }, prebuilt(llama.repo)).required_features).toContain('shader-f16');
    expect(buildModelRecord(smol, { mirror: null }, prebuilt(smol.repo)).required_features).not.toContain('shader-f16');
  });

  it('refuses a model WebLLM does not ship', () => {
    expect(() => buildAppConfig({ ...llama, repo: 'Made-Up-Model-q4f16_1-MLC' }, { mirror: null }, prebuiltAppConfig.model_list)).toThrow(
      ModelUnavailableError,
    );
  });

  it('builds an app config with exactly that model', () => {
    const config = buildAppConfig(smol, { mirror: null }, prebuiltAppConfig.model_list);
    expect(config.model_list.map((m) => m.model_id)).toEqual([smol.repo]);
  });
});

describe('readInitReport', () => {
  it('reads real bytes and derives the total from the fraction', () => {
    const r = readInitReport({
      progress: 0.25,
      timeElapsed: 3,
      text: 'Fetching param cache[5/20]: 150MB fetched. 25% completed, 3 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
    });
    expect(r.phase).toBe('download');
    expect(r.loadedBytes).toBe(150 * MiB);
    expect(r.totalBytes).toBe(600 * MiB);
  });

  it('treats shader compilation and the final report as initialisation', () => {
    expect(readInitReport({ progress: 0.5, timeElapsed: 1, text: 'Loading GPU shader modules[10/20]: 50% completed' }).phase).toBe(
      'initialise',
    );
    expect(readInitReport({ progress: 1, timeElapsed: 9, text: 'Finish loading on WebGPU - apple' }).phase).toBe('initialise');
  });

  it('has no bytes for reports without them', () => {
    expect(readInitReport({ progress: 0, timeElapsed: 0, text: 'Start to fetch params' })).toEqual({
      phase: 'download',
      loadedBytes: null,
      totalBytes: null,
    });
  });
});

describe('GPU checks before loading', () => {
  const llama = requireEntry('Llama-3.2-1B-Instruct-q4f16_1-MLC');
  const smol = requireEntry('SmolLM2-360M-Instruct-q4f32_1-MLC');

  it('assertGpuCanRun', () => {
    expect(() => assertGpuCanRun(llama, caps({ available: false, reason: 'no adapter' }))).toThrow(WebGPUUnavailableError);
    expect(() => assertGpuCanRun(llama, caps({ shaderF16: false }))).toThrow(ShaderF16UnsupportedError);
    expect(() => assertGpuCanRun(smol, caps({ shaderF16: false }))).not.toThrow();
  });

  it('an f16 model on a GPU without shader-f16 fails before WebLLM is even loaded', async () => {
    const loadLibrary = vi.fn(() => Promise.reject(new Error('must not be called')));
    const backend = new WebLLMBackend({ capabilities: async () => caps({ shaderF16: false }), loadLibrary });
    await expect(backend.load({ entry: llama, source: { mirror: null } })).rejects.toBeInstanceOf(ShaderF16UnsupportedError);
    expect(loadLibrary).not.toHaveBeenCalled();
  });

  it('no WebGPU fails with WebGPUUnavailableError, naming the reason', async () => {
    const loadLibrary = vi.fn(() => Promise.reject(new Error('must not be called')));
    const backend = new WebLLMBackend({
      capabilities: async () => caps({ available: false, reason: 'this browser has no WebGPU' }),
      loadLibrary,
    });
    const err = await backend.load({ entry: smol, source: { mirror: null } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect((err as Error).message).toMatch(/no WebGPU/);
    expect(loadLibrary).not.toHaveBeenCalled();
  });

  it('refuses transformers.js entries', async () => {
    const backend = new WebLLMBackend({ capabilities: async () => caps({}) });
    await expect(
      backend.load({ entry: requireEntry('HuggingFaceTB/SmolLM2-135M-Instruct'), source: { mirror: null } }),
    ).rejects.toBeInstanceOf(ModelUnavailableError);
  });
});
