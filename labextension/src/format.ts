/** Formatting shared by the side panel's components (pipelines, Flink jobs). */

/** A count with thousands separators, or a dash. */
export function formatCount(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return '–';
  }
  return Math.round(value).toLocaleString('en-US');
}
