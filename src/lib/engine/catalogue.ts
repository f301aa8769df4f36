/**
 * The model catalogue: every model the app can offer, with what it needs
 * (back end, GPU features, memory) and what it costs (download size).
 *
 * Within each back end, entries are listed in order of preference: the
 * recommender (selection.ts) takes the first that runs well on the device.
 *
 * Where the numbers come from:
 * - WebLLM `memoryBytes`, `contextWindow` and `requiredFeatures` follow the
 *   `prebuiltAppConfig` of @mlc-ai/web-llm 0.2.86 (`vram_required_MB`,
 *   `overrides.context_window_size`). WebLLM lists `shader-f16` only for q0f16
 *   models, but every *f16 model library uses f16 shaders, so we require it
 *   for them all: checking up front gives a clear message instead of a late,
 *   vague failure (see ENVIRONMENT.md).
 * - WebLLM publishes no download sizes; ours are parameters x bits per weight
 *   (q4f16_1: 4.5 bits, q4f32_1: 5 bits, q0f16: 16 bits), rounded up.
 * - transformers.js sizes are those of the hub's ONNX files, approximately;
 *   load progress uses the real Content-Length of each file.
 * - The fixture's size is the exact sum of its files in public/models.
 */
import type { Backend, CatalogueEntry } from './contract';
import { ModelUnavailableError } from './errors';

const MB = 1_000_000;
const MiB = 1024 * 1024;

/** Id (and repo) of the synthetic chat fixture served by the app's own mirror (public/models). */
export const FIXTURE_CHAT_WEBGPU_ID = 'fixtures/random-smollm2-chat@webgpu';
export const FIXTURE_CHAT_ID = 'fixtures/random-smollm2-chat';

export const CATALOGUE: readonly CatalogueEntry[] = Object.freeze([
  // --- WebLLM (WebGPU), most preferred first ---
  {
    id: 'Llama-3.2-1B-Instruct-q4f16_1-MLC',
    label: 'Llama 3.2 1B Instruct',
    backend: 'webllm',
    repo: 'Llama-3.2-1B-Instruct-q4f16_1-MLC',
    modelLib: 'web-llm-models/v0_2_86/base/Llama-3.2-1B-Instruct-q4f16_1_cs1k-webgpu.wasm',
    downloadBytes: 700 * MB,
    memoryBytes: Math.ceil(879.04 * MiB),
    requiredFeatures: ['webgpu', 'shader-f16'],
    contextWindow: 4096,
    description: "Meta's 1B chat model, 4-bit. A good balance of quality and speed on most GPUs.",
  },
  {
    id: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC',
    label: 'Qwen2.5 0.5B Instruct',
    backend: 'webllm',
    repo: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC',
    modelLib: 'web-llm-models/v0_2_86/base/Qwen2-0.5B-Instruct-q4f16_1_cs1k-webgpu.wasm',
    downloadBytes: 280 * MB,
    memoryBytes: Math.ceil(944.62 * MiB),
    requiredFeatures: ['webgpu', 'shader-f16'],
    contextWindow: 4096,
    description: "Alibaba's smallest Qwen2.5 chat model, 4-bit: quick to download, multilingual.",
  },
  {
    id: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
    label: 'SmolLM2 360M Instruct (no f16)',
    backend: 'webllm',
    repo: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
    modelLib: 'web-llm-models/v0_2_86/base/SmolLM2-360M-Instruct-q4f32_1_cs1k-webgpu.wasm',
    downloadBytes: 230 * MB,
    memoryBytes: Math.ceil(579.61 * MiB),
    requiredFeatures: ['webgpu'],
    contextWindow: 4096,
    description: 'A small model with 32-bit shaders: runs on GPUs without shader-f16.',
  },
  {
    id: 'SmolLM2-135M-Instruct-q0f16-MLC',
    label: 'SmolLM2 135M Instruct',
    backend: 'webllm',
    repo: 'SmolLM2-135M-Instruct-q0f16-MLC',
    modelLib: 'web-llm-models/v0_2_86/base/SmolLM2-135M-Instruct-q0f16_cs1k-webgpu.wasm',
    downloadBytes: 270 * MB,
    memoryBytes: Math.ceil(359.69 * MiB),
    requiredFeatures: ['webgpu', 'shader-f16'],
    contextWindow: 4096,
    description: 'Tiny and very fast; fine for short, simple replies.',
  },
  {
    id: 'Phi-3.5-mini-instruct-q4f16_1-MLC',
    label: 'Phi-3.5 mini Instruct',
    backend: 'webllm',
    repo: 'Phi-3.5-mini-instruct-q4f16_1-MLC',
    modelLib: 'web-llm-models/v0_2_86/base/Phi-3.5-mini-instruct-q4f16_1_cs1k-webgpu.wasm',
    downloadBytes: 2150 * MB,
    memoryBytes: Math.ceil(3672.07 * MiB),
    requiredFeatures: ['webgpu', 'shader-f16'],
    contextWindow: 4096,
    description: "Microsoft's 3.8B model: the best answers here, but a 2 GB download and a capable GPU.",
  },

  // --- transformers.js (ONNX Runtime), most preferred first ---
  {
    id: 'onnx-community/Qwen2.5-0.5B-Instruct',
    label: 'Qwen2.5 0.5B Instruct (WASM)',
    backend: 'transformers',
    repo: 'onnx-community/Qwen2.5-0.5B-Instruct',
    dtype: 'q4',
    device: 'wasm',
    downloadBytes: 795 * MB,
    memoryBytes: 1200 * MiB,
    requiredFeatures: [],
    contextWindow: 32768,
    description: 'Runs on the CPU in any modern browser, no GPU needed; a few words per second.',
  },
  {
    id: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    label: 'SmolLM2 135M Instruct (WASM)',
    backend: 'transformers',
    repo: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    dtype: 'q8',
    device: 'wasm',
    downloadBytes: 140 * MB,
    memoryBytes: 400 * MiB,
    requiredFeatures: [],
    contextWindow: 8192,
    description: 'The smallest download; runs on the CPU anywhere. Short, simple replies.',
  },

  // --- fixtures: plumbing only, never proposed to people ---
  {
    id: FIXTURE_CHAT_ID,
    label: 'Test fixture (random weights)',
    backend: 'transformers',
    repo: FIXTURE_CHAT_ID,
    dtype: 'q8',
    device: 'wasm',
    // config.json 569 + generation_config.json 66 + onnx/model_quantized.onnx 6,426,207
    // + tokenizer.json 2,104,556 + tokenizer_config.json 661
    downloadBytes: 8_532_059,
    memoryBytes: 64 * MiB,
    requiredFeatures: [],
    contextWindow: 2048,
    fixture: true,
    mirrorOnly: true,
    description: 'A 2-layer model with random weights and the real SmolLM2 tokenizer. It writes gibberish; for tests only.',
  },
  {
    // The same files on transformers.js's WebGPU device: a second engine
    // configuration, so switching engines can be exercised offline.
    id: FIXTURE_CHAT_WEBGPU_ID,
    label: 'Test fixture on WebGPU (random weights)',
    backend: 'transformers',
    repo: FIXTURE_CHAT_ID,
    dtype: 'q8',
    device: 'webgpu',
    downloadBytes: 8_532_059,
    memoryBytes: 64 * MiB,
    requiredFeatures: ['webgpu'],
    contextWindow: 2048,
    fixture: true,
    mirrorOnly: true,
    description: 'The test fixture run through WebGPU instead of WASM. It writes gibberish; for tests only.',
  },
] satisfies CatalogueEntry[]);

export function findEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.find((e) => e.id === id);
}

/** Like `findEntry`, but an unknown id is a ModelUnavailableError (e.g. a stale id in settings). */
export function requireEntry(id: string): CatalogueEntry {
  const entry = findEntry(id);
  if (!entry) throw new ModelUnavailableError(`"${id}" is not in the model catalogue.`);
  return entry;
}

export function entriesFor(backend: Backend): CatalogueEntry[] {
  return CATALOGUE.filter((e) => e.backend === backend);
}
