/**
 * Load progress in words, for the status line and screen readers:
 * "42 % — 3.1 MB of 8.5 MB, about 2 s left".
 */
import type { LoadProgress } from './contract';
import { formatBytes } from '../data/format-bytes';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 1) return 'under a second';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function describeProgress(p: LoadProgress): string {
  if (p.phase === 'initialise') return 'preparing the model…';
  if (p.phase === 'self-test') return 'running a short test generation…';
  const parts: string[] = [];
  if (p.fraction !== null) parts.push(`${Math.floor(p.fraction * 100)} %`);
  if (p.totalBytes > 0) parts.push(`${formatBytes(p.loadedBytes)} of ${formatBytes(p.totalBytes)}`);
  else if (p.loadedBytes > 0) parts.push(formatBytes(p.loadedBytes));
  if (p.etaSeconds !== null && p.etaSeconds > 0) parts.push(`about ${formatDuration(p.etaSeconds)} left`);
  return parts.length ? parts.join(', ') : 'downloading…';
}
