/**
 * transformers.js reports loading per file ('initiate', 'progress', 'done');
 * people want one number. This turns those callbacks into throttled,
 * aggregated LoadProgress, shared by the chat back end and the embedder.
 * When the weights file is the last to finish, the download is complete and
 * what follows is compiling the inference session ('initialise').
 */
import type { ProgressInfo } from '@huggingface/transformers';
import type { LoadProgress } from '../lib/engine/contract';
import { phaseProgress, type ByteProgress } from '../lib/engine/progress';

export interface FileProgressOptions {
  now: () => number;
  /** Least time between two 'progress' reports, ms. */
  intervalMs: number;
}

export function fileProgressReporter(
  progress: ByteProgress,
  onProgress: ((p: LoadProgress) => void) | undefined,
  { now, intervalMs }: FileProgressOptions,
): { callback: (info: ProgressInfo) => void; finished: () => boolean } {
  let lastAt = -Infinity;
  let finished = false;
  const pending = new Set<string>();
  const callback = (info: ProgressInfo): void => {
    if (!onProgress || finished) return;
    switch (info.status) {
      case 'initiate':
        pending.add(info.file);
        progress.update(info.file, 0, 0);
        return;
      case 'progress': {
        progress.update(info.file, info.loaded, info.total);
        const at = now();
        if (at - lastAt < intervalMs) return;
        lastAt = at;
        onProgress(progress.snapshot(`Downloading ${info.file}`));
        return;
      }
      case 'done':
        pending.delete(info.file);
        progress.complete(info.file);
        lastAt = now();
        if (pending.size === 0 && /\.onnx(_data)?$/.test(info.file)) {
          finished = true;
          progress.finish();
          onProgress(progress.snapshot('Downloaded'));
          onProgress(phaseProgress('initialise', 'Preparing the model', progress.loadedBytes));
        } else {
          onProgress(progress.snapshot(`Downloaded ${info.file}`));
        }
        return;
      default:
        return;
    }
  };
  return { callback, finished: () => finished };
}
