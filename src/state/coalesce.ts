/**
 * A view's re-read after its services changed: services report changes in
 * bursts (a job's progress, a batch of peers' items), the view needs one
 * re-read per burst. `schedule()` runs `run` once, `ms` after the first
 * call of a burst; `cancel()` drops a pending run.
 */
export interface Coalescer {
  schedule(): void;
  cancel(): void;
}

export function coalesce(run: () => void, ms: number): Coalescer {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    schedule() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        run();
      }, ms);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
