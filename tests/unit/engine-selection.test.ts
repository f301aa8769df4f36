import { describe, expect, it } from 'vitest';
import { CATALOGUE, FIXTURE_CHAT_ID, findEntry, requireEntry } from '../../src/lib/engine/catalogue';
import type { Capabilities, CatalogueEntry, ModelSource } from '../../src/lib/engine/contract';
import { ModelUnavailableError } from '../../src/lib/engine/errors';
import { assessSuitability, recommendModel } from '../../src/lib/engine/selection';

const GiB = 1024 ** 3;
const HUB: ModelSource = { mirror: null };
const MIRROR: ModelSource = { mirror: 'http://127.0.0.1:4173/models/' };

function caps(gpu: Partial<Capabilities['webgpu']> | null, rest: Partial<Capabilities> = {}): Capabilities {
  const webgpu: Capabilities['webgpu'] = gpu
    ? {
        available: true,
        fallbackAdapter: false,
        shaderF16: true,
        maxBufferSize: 4 * GiB,
        vendor: 'nvidia',
        architecture: 'ada',
        reason: null,
        ...gpu,
      }
    : {
        available: false,
        fallbackAdapter: false,
        shaderF16: false,
        maxBufferSize: 0,
        vendor: '',
        architecture: '',
        reason: 'this browser has no WebGPU',
      };
  return {
    webgpu,
    wasm: { available: true, threads: true, simd: true },
    deviceMemoryGiB: 8,
    hardwareConcurrency: 8,
    crossOriginIsolated: true,
    ...rest,
  };
}

const entry = (id: string): CatalogueEntry => requireEntry(id);
const llama = entry('Llama-3.2-1B-Instruct-q4f16_1-MLC');
const smol360f32 = entry('SmolLM2-360M-Instruct-q4f32_1-MLC');
const phi = entry('Phi-3.5-mini-instruct-q4f16_1-MLC');
const qwenWasm = entry('onnx-community/Qwen2.5-0.5B-Instruct');
const fixture = entry(FIXTURE_CHAT_ID);

describe('catalogue', () => {
  it('has unique ids and the fields each back end needs', () => {
    expect(new Set(CATALOGUE.map((e) => e.id)).size).toBe(CATALOGUE.length);
    for (const e of CATALOGUE) {
      expect(e.downloadBytes).toBeGreaterThan(0);
      expect(e.memoryBytes).toBeGreaterThan(0);
      expect(e.contextWindow).toBeGreaterThan(0);
      if (e.backend === 'webllm') {
        expect(e.modelLib).toMatch(/\.wasm$/);
        expect(e.requiredFeatures).toContain('webgpu');
        // Every f16 model library uses f16 shaders.
        if (/f16/.test(e.repo)) expect(e.requiredFeatures).toContain('shader-f16');
      } else {
        expect(e.dtype).toBeDefined();
        expect(e.device).toBeDefined();
      }
    }
  });

  it('lists the fixture as a mirror-only q8 WASM transformers.js model of ~8.5 MB', () => {
    expect(fixture).toMatchObject({ backend: 'transformers', dtype: 'q8', device: 'wasm', fixture: true, mirrorOnly: true });
    expect(fixture.downloadBytes).toBeGreaterThan(8_400_000);
    expect(fixture.downloadBytes).toBeLessThan(8_600_000);
  });

  it('looks entries up by id', () => {
    expect(findEntry('nope')).toBeUndefined();
    expect(findEntry(llama.id)).toBe(llama);
    expect(() => requireEntry('nope')).toThrow(ModelUnavailableError);
  });
});

describe('assessSuitability', () => {
  it('a WebLLM model needs WebGPU', () => {
    const s = assessSuitability(llama, caps(null), HUB);
    expect(s.runnable).toBe(false);
    expect(s.reasons.join(' ')).toMatch(/needs WebGPU/i);
  });

  it('an f16 model needs shader-f16; a q4f32 one does not', () => {
    const noF16 = caps({ shaderF16: false });
    const f16 = assessSuitability(llama, noF16, HUB);
    expect(f16.runnable).toBe(false);
    expect(f16.reasons.join(' ')).toMatch(/shader-f16/);
    expect(assessSuitability(smol360f32, noF16, HUB).runnable).toBe(true);
  });

  it('a model that needs more than half the device memory cannot run', () => {
    const s = assessSuitability(phi, caps({}, { deviceMemoryGiB: 4 }), HUB);
    expect(s.runnable).toBe(false);
    expect(s.reasons.join(' ')).toMatch(/memory/);
    expect(assessSuitability(phi, caps({}, { deviceMemoryGiB: 8 }), HUB).runnable).toBe(true);
    // Unknown device memory (Firefox, Safari) is not held against a model.
    expect(assessSuitability(phi, caps({}, { deviceMemoryGiB: null }), HUB).runnable).toBe(true);
  });

  it('an adapter whose buffers are smaller than the model needs cannot run it', () => {
    const s = assessSuitability(llama, caps({ maxBufferSize: 128 * 1024 * 1024 }), HUB);
    expect(s.runnable).toBe(false);
    expect(s.reasons.join(' ')).toMatch(/buffer/i);
    const big: CatalogueEntry = { ...llama, maxBufferBytes: 2 * GiB };
    expect(assessSuitability(big, caps({ maxBufferSize: GiB }), HUB).runnable).toBe(false);
    expect(assessSuitability(big, caps({ maxBufferSize: 4 * GiB }), HUB).runnable).toBe(true);
  });

  it('a software adapter runs WebGPU models, slowly', () => {
    const s = assessSuitability(smol360f32, caps({ fallbackAdapter: true, shaderF16: false, maxBufferSize: GiB }), HUB);
    expect(s).toMatchObject({ runnable: true, slow: true, reasons: [] });
  });

  it('WASM models run without WebGPU and are not slow', () => {
    expect(assessSuitability(qwenWasm, caps(null), HUB)).toMatchObject({ runnable: true, slow: false });
  });

  it('a mirror-only model is unavailable without a mirror', () => {
    const s = assessSuitability(fixture, caps(null), HUB);
    expect(s.runnable).toBe(false);
    expect(s.reasons.join(' ')).toMatch(/mirror/);
    expect(assessSuitability(fixture, caps(null), MIRROR).runnable).toBe(true);
  });
});

describe('recommendModel', () => {
  it('proposes WebLLM on a capable GPU', () => {
    const r = recommendModel(CATALOGUE, caps({}), HUB);
    expect(r?.entry.backend).toBe('webllm');
    expect(r?.entry.id).toBe(llama.id);
    expect(r?.reason).toMatch(/WebLLM/);
  });

  it('proposes the q4f32 WebLLM model on a GPU without shader-f16', () => {
    expect(recommendModel(CATALOGUE, caps({ shaderF16: false }), HUB)?.entry.id).toBe(smol360f32.id);
  });

  it('proposes transformers.js on WASM without WebGPU', () => {
    const r = recommendModel(CATALOGUE, caps(null), HUB);
    expect(r?.entry).toMatchObject({ backend: 'transformers', device: 'wasm' });
    expect(r?.entry.fixture).toBeFalsy();
    expect(r?.reason).toMatch(/WebGPU is not available/);
  });

  it('prefers WASM over a software adapter', () => {
    const r = recommendModel(CATALOGUE, caps({ fallbackAdapter: true, shaderF16: false, maxBufferSize: GiB }), HUB);
    expect(r?.entry.backend).toBe('transformers');
    expect(r?.reason).toMatch(/software/);
  });

  it('falls back to WASM when the GPU qualifies but no WebLLM model fits in memory', () => {
    const r = recommendModel([phi, qwenWasm], caps({}, { deviceMemoryGiB: 4 }), HUB);
    expect(r?.entry.id).toBe(qwenWasm.id);
    expect(r?.reason).toMatch(/No WebLLM model fits/);
  });

  it('never proposes the fixture by itself, even with a mirror', () => {
    for (const c of [caps(null), caps({}), caps({ fallbackAdapter: true })]) {
      expect(recommendModel(CATALOGUE, c, MIRROR)?.entry.fixture).toBeFalsy();
    }
  });

  it('proposes the fixture when it is the preferred id and runnable', () => {
    const r = recommendModel(CATALOGUE, caps({}), MIRROR, FIXTURE_CHAT_ID);
    expect(r?.entry.id).toBe(FIXTURE_CHAT_ID);
    expect(r?.reason).toMatch(/your choice/);
  });

  it('proposes the fixture when nothing else runs', () => {
    const onlyFixture = [llama, fixture];
    expect(recommendModel(onlyFixture, caps(null), MIRROR)?.entry.id).toBe(FIXTURE_CHAT_ID);
    expect(recommendModel(onlyFixture, caps(null), HUB)).toBeNull();
  });

  it('a runnable preferred id wins over the default', () => {
    expect(recommendModel(CATALOGUE, caps({}), HUB, qwenWasm.id)?.entry.id).toBe(qwenWasm.id);
  });

  it('an unrunnable preferred id is replaced, and the reason says why', () => {
    const r = recommendModel(CATALOGUE, caps(null), HUB, llama.id);
    expect(r?.entry.backend).toBe('transformers');
    expect(r?.reason).toMatch(/cannot run here/);
    const stale = recommendModel(CATALOGUE, caps(null), HUB, 'retired-model');
    expect(stale?.reason).toMatch(/no longer offered/);
  });

  it('returns null when nothing can run', () => {
    const noWasm = caps(null, { wasm: { available: false, threads: false, simd: false } });
    expect(recommendModel(CATALOGUE, noWasm, HUB)).toBeNull();
  });
});
