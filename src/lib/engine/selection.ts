/**
 * Which models can run here, and which one to propose: pure functions of the
 * catalogue, the detected capabilities and the model source.
 *
 * Policy: WebLLM (WebGPU) is the default where the device really qualifies (a
 * hardware adapter, shader-f16 where the model needs it, enough memory),
 * because it is several times faster; otherwise transformers.js on WASM,
 * which runs anywhere. A software ("fallback") adapter counts as runnable but
 * slow, so it is only chosen when nothing else runs. Fixtures are never
 * proposed unless asked for by id or nothing else runs.
 */
import type { Capabilities, CatalogueEntry, ModelSource, Suitability } from './contract';

const GiB = 1024 ** 3;

/** Share of the reported device memory a model may plan to use; the OS, the browser and other tabs need the rest. */
export const MEMORY_BUDGET_SHARE = 0.5;

/** The largest buffer every WebGPU adapter must allow (the spec's minimum for maxBufferSize). */
export const WEBGPU_GUARANTEED_BUFFER_BYTES = 256 * 1024 * 1024;

/** A wasm32 heap cannot grow past 4 GiB. */
export const WASM_MEMORY_LIMIT_BYTES = 4 * GiB;

export interface Recommendation {
  entry: CatalogueEntry;
  /** One sentence for people: why this model. */
  reason: string;
  suitability: Suitability;
}

function needsWebGPU(entry: CatalogueEntry): boolean {
  return entry.backend === 'webllm' || entry.device === 'webgpu' || entry.requiredFeatures.includes('webgpu');
}

function formatGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(bytes < GiB ? 2 : 1)} GB`;
}

export function assessSuitability(entry: CatalogueEntry, caps: Capabilities, source: ModelSource): Suitability {
  const reasons: string[] = [];
  let slow = false;

  if (entry.mirrorOnly && !source.mirror) {
    reasons.push('Only served by a model mirror; set a mirror URL in settings to use it.');
  }

  if (needsWebGPU(entry)) {
    if (!caps.webgpu.available) {
      reasons.push(`Needs WebGPU, which is not available here${caps.webgpu.reason ? ` (${caps.webgpu.reason})` : ''}.`);
    } else {
      if (entry.requiredFeatures.includes('shader-f16') && !caps.webgpu.shaderF16) {
        reasons.push('Needs the WebGPU feature shader-f16, which this GPU does not offer.');
      }
      const largestBuffer = entry.maxBufferBytes ?? WEBGPU_GUARANTEED_BUFFER_BYTES;
      if (caps.webgpu.maxBufferSize < largestBuffer) {
        reasons.push(
          `Needs GPU buffers of ${formatGiB(largestBuffer)}; this GPU allows ${formatGiB(caps.webgpu.maxBufferSize)}.`,
        );
      }
      // A software adapter runs WebGPU on the CPU at a fraction of a GFLOP/s.
      if (caps.webgpu.fallbackAdapter) slow = true;
    }
  } else {
    if (!caps.wasm.available) reasons.push('Needs WebAssembly, which is not available here.');
    if (entry.memoryBytes > WASM_MEMORY_LIMIT_BYTES) {
      reasons.push(`Needs ${formatGiB(entry.memoryBytes)} of memory; WebAssembly is limited to 4 GB.`);
    }
  }

  if (caps.deviceMemoryGiB !== null) {
    const budget = caps.deviceMemoryGiB * GiB * MEMORY_BUDGET_SHARE;
    if (entry.memoryBytes > budget) {
      reasons.push(
        `Needs about ${formatGiB(entry.memoryBytes)} of memory; this device reports ${caps.deviceMemoryGiB} GB in all.`,
      );
    }
  }

  return { entry, runnable: reasons.length === 0, reasons, slow };
}

/**
 * Proposes a model. A runnable preferred id always wins. Otherwise, in order:
 * a WebLLM model on a hardware adapter, a transformers.js model, a slow
 * (software-adapter) model, and last a fixture. Within a tier, catalogue order.
 * Returns null when nothing in the catalogue can run.
 */
export function recommendModel(
  catalogue: readonly CatalogueEntry[],
  caps: Capabilities,
  source: ModelSource,
  preferredId?: string,
): Recommendation | null {
  const assessed = catalogue.map((entry) => assessSuitability(entry, caps, source));
  const runnable = assessed.filter((s) => s.runnable);

  let preferredNote = '';
  if (preferredId !== undefined) {
    const preferred = assessed.find((s) => s.entry.id === preferredId);
    if (preferred?.runnable) {
      return {
        entry: preferred.entry,
        suitability: preferred,
        reason: preferred.slow
          ? `${preferred.entry.label} is your choice; it will be slow on this device's software GPU.`
          : `${preferred.entry.label} is your choice.`,
      };
    }
    preferredNote = preferred
      ? ` (${preferred.entry.label} cannot run here: ${preferred.reasons.join(' ')})`
      : ` (the model "${preferredId}" is no longer offered)`;
  }

  const real = runnable.filter((s) => !s.entry.fixture);
  const fastGpu = real.find((s) => s.entry.backend === 'webllm' && !s.slow);
  if (fastGpu) {
    return {
      entry: fastGpu.entry,
      suitability: fastGpu,
      reason: `Your GPU supports WebLLM, the fastest way to run ${fastGpu.entry.label} in the browser${preferredNote}.`,
    };
  }

  const other = real.find((s) => !s.slow);
  if (other) {
    const where = needsWebGPU(other.entry) ? 'on the GPU' : 'on the CPU';
    return {
      entry: other.entry,
      suitability: other,
      reason: `${whyNotWebLLM(caps)}, so ${other.entry.label} runs ${where} with transformers.js${preferredNote}.`,
    };
  }

  const slow = real[0];
  if (slow) {
    return {
      entry: slow.entry,
      suitability: slow,
      reason: `Only ${slow.entry.label} can run here, and slowly: this device's GPU is a software one${preferredNote}.`,
    };
  }

  const fixture = runnable[0];
  if (fixture) {
    return {
      entry: fixture.entry,
      suitability: fixture,
      reason: `${fixture.entry.label} is the only model that can run here (a test model)${preferredNote}.`,
    };
  }
  return null;
}

function whyNotWebLLM(caps: Capabilities): string {
  if (!caps.webgpu.available) return 'WebGPU is not available';
  if (caps.webgpu.fallbackAdapter) return 'WebGPU runs in software here (very slow)';
  if (!caps.webgpu.shaderF16) return 'Your GPU lacks shader-f16 and no WebLLM model without it fits';
  return 'No WebLLM model fits this device';
}
