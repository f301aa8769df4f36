// A TextGenerator (src/lib/learning/pipeline.ts) over transformers.js in
// Node: a causal LM loaded from local files only (no hub, no network), its
// own chat template, the pipeline's GenerateOptions mapped onto
// model.generate. It mirrors what src/workers/transformers-backend.ts does in
// the browser (chat template, sampling switch, InterruptableStoppingCriteria
// on abort, the context window as a cap on new tokens), minus the worker and
// the streaming, which a whole-reply TextGenerator does not need.
//
// Where the model comes from:
// - `modelPath`: a directory holding config.json, the tokenizer files and
//   onnx/<file for dtype> (a transformers.js export, e.g. a local copy of
//   onnx-community/Qwen2.5-0.5B-Instruct);
// - otherwise `modelId` under `modelsRoot` (public/models, the app's mirror
//   in the hub layout): <root>/<id>/resolve/main/ when it exists, else <root>/<id>/.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, InterruptableStoppingCriteria, env } from '@huggingface/transformers';

/** The directory transformers.js should load from, and the id to report. */
export function resolveModelDirectory({ modelId, modelPath, modelsRoot }) {
  if (modelPath) {
    const dir = resolve(modelPath);
    return { dir, id: modelId ?? basename(dir) };
  }
  const hubLayout = join(modelsRoot, modelId, 'resolve', 'main');
  return { dir: existsSync(hubLayout) ? hubLayout : join(modelsRoot, modelId), id: modelId };
}

/** Raised by generate when its signal fires: the pipeline treats it as a stop, never as a reply. */
function abortReason(signal) {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/**
 * Loads the model and returns { id, dir, fixture, contextWindow, generator, stats }.
 * generator.generate(turns, options, signal) → the reply text (special tokens skipped).
 * stats counts calls, prompt and new tokens and time spent generating.
 */
export async function loadNodeGenerator({ modelId, modelPath, modelsRoot, dtype = 'q8', device = 'cpu' }) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelsRoot.endsWith('/') ? modelsRoot : `${modelsRoot}/`;
  const { dir, id } = resolveModelDirectory({ modelId, modelPath, modelsRoot });
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new Error(`no config.json in ${dir}: set BENCH_MODEL_PATH to a transformers.js model directory`);
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  // An absolute directory is not a hub id, so transformers.js reads it as a path as it is.
  const [tokenizer, model] = await Promise.all([
    AutoTokenizer.from_pretrained(dir),
    AutoModelForCausalLM.from_pretrained(dir, { dtype, device }),
  ]);
  const contextWindow = Number(config.max_position_embeddings ?? config.n_positions ?? 2048);
  const stats = { calls: 0, promptTokens: 0, newTokens: 0, ms: 0 };

  /** @type {{ generate(turns: {role: string, content: string}[], options: {maxNewTokens: number, temperature: number, topP: number}, signal?: AbortSignal): Promise<string> }} */
  const generator = {
    async generate(turns, options, signal) {
      if (signal?.aborted) throw abortReason(signal);
      const inputs = tokenizer.apply_chat_template(
        turns.map((t) => ({ role: t.role, content: t.content })),
        { add_generation_prompt: true, return_dict: true },
      );
      const promptTokens = inputs.input_ids.dims.at(-1) ?? 0;
      if (promptTokens >= contextWindow - 1) {
        throw new Error(`prompt of ${promptTokens} tokens does not fit the model's context window (${contextWindow})`);
      }
      const maxNewTokens = Math.max(1, Math.min(Math.floor(options.maxNewTokens), contextWindow - promptTokens));
      const sampling =
        options.temperature > 0 ? { do_sample: true, temperature: options.temperature, top_p: options.topP } : { do_sample: false };
      const stopper = new InterruptableStoppingCriteria();
      const onAbort = () => stopper.interrupt();
      signal?.addEventListener('abort', onAbort, { once: true });
      const started = performance.now();
      let output;
      try {
        output = await model.generate({ ...inputs, ...sampling, max_new_tokens: maxNewTokens, stopping_criteria: stopper });
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      // An interrupted generation returns what it had; the pipeline must see a stop, not half a reply.
      if (signal?.aborted) throw abortReason(signal);
      const total = output.dims.at(-1) ?? promptTokens;
      const newIds = output.slice(null, [promptTokens, null]);
      const [text] = tokenizer.batch_decode(newIds, { skip_special_tokens: true });
      stats.calls++;
      stats.promptTokens += promptTokens;
      stats.newTokens += Math.max(0, total - promptTokens);
      stats.ms += performance.now() - started;
      return text ?? '';
    },
  };
  return { id, dir, fixture: '_fixture' in config, contextWindow, generator, stats, dispose: () => model.dispose() };
}
