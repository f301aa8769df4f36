/**
 * Byte counts for people: storage usage, quota, export and import sizes.
 *
 * Decimal units (1 kB = 1000 B), as browsers' storage settings and most
 * operating systems show file sizes, so our numbers match what people see
 * elsewhere. Pure.
 */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/**
 * `1234` -> "1.2 kB", `80_000_000` -> "80 MB". One decimal below 10 units,
 * whole numbers above; "unknown" for values that are not a size.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'unknown';
  if (bytes < 1000) return `${Math.round(bytes)} B`;

  let unit = 0;
  let value = bytes;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  let text = value < 10 ? value.toFixed(1) : Math.round(value).toString();
  // Rounding can reach the next unit (999,999 B -> "1000 kB"): carry over.
  if (Number(text) >= 1000 && unit < UNITS.length - 1) {
    unit++;
    text = (Number(text) / 1000).toFixed(1);
  }
  return `${text.replace(/\.0$/, '')} ${UNITS[unit]}`;
}
