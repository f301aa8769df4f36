/**
 * The energy view's "saved" numbers: the carbon of the schedule that actually
 * ran against running every job the moment it was queued. Both sides use the
 * same energy per job (waiting does not make work cheaper, it makes the
 * electricity cleaner), so the difference is only when it ran: gCO2 =
 * Wh × g/kWh ÷ 1000. The intensities are whatever the scheduler knew (a
 * provider's value or the heuristic), so the saving is an estimate and the
 * view says so.
 *
 * Pure: arithmetic on plain records.
 */
import type { CarbonPoint } from './signals';

export interface CompletedRun {
  energyWh: number;
  enqueuedAt: number;
  startedAt: number;
  /** Grid intensity when it ran. */
  gPerKWhAtRun: number;
  /** Grid intensity when it was queued: what running immediately would have paid. */
  gPerKWhAtEnqueue: number;
}

export interface SavingsEstimate {
  runs: number;
  energyWh: number;
  gramsScheduled: number;
  gramsImmediate: number;
  /** gramsImmediate - gramsScheduled; negative when waiting made it worse. */
  gramsSaved: number;
  /** gramsSaved / gramsImmediate (0 when there was nothing to compare). */
  fractionSaved: number;
  /** Median of startedAt - enqueuedAt, ms (0 with no runs). */
  medianDelayMs: number;
}

export const gramsOf = (energyWh: number, gPerKWh: number): number => (energyWh * gPerKWh) / 1000;

export function estimateSavings(runs: readonly CompletedRun[]): SavingsEstimate {
  let energyWh = 0;
  let gramsScheduled = 0;
  let gramsImmediate = 0;
  for (const run of runs) {
    energyWh += run.energyWh;
    gramsScheduled += gramsOf(run.energyWh, run.gPerKWhAtRun);
    gramsImmediate += gramsOf(run.energyWh, run.gPerKWhAtEnqueue);
  }
  const gramsSaved = gramsImmediate - gramsScheduled;
  return {
    runs: runs.length,
    energyWh,
    gramsScheduled,
    gramsImmediate,
    gramsSaved,
    fractionSaved: gramsImmediate > 0 ? gramsSaved / gramsImmediate : 0,
    medianDelayMs: median(runs.map((run) => Math.max(0, run.startedAt - run.enqueuedAt))),
  };
}

/** The intensity in force at a time in a recorded trace, ascending in time (each point holds until the next); null before the first point. */
export function intensityAt(trace: readonly CarbonPoint[], at: number): number | null {
  let found: number | null = null;
  for (const point of trace) {
    if (point.at > at) break;
    found = point.gPerKWh;
  }
  return found;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
