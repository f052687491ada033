/**
 * One coordinate across the cohort: the values the selected updates have at one position,
 * sorted so order statistics (median, trimmed ranges) can be read off directly.
 */

/** Insertion sort beats the built-in sort's call overhead for the short columns of a typical round. */
const INSERTION_LIMIT = 24;

/** Fills `column` with rows[r][k] and sorts it ascending. */
export function sortedColumn(rows: readonly Float32Array[], k: number, column: Float64Array): Float64Array {
  const n = rows.length;
  for (let r = 0; r < n; r++) column[r] = rows[r]![k]!;
  if (n > INSERTION_LIMIT) return column.sort();
  for (let i = 1; i < n; i++) {
    const v = column[i]!;
    let j = i - 1;
    while (j >= 0 && column[j]! > v) {
      column[j + 1] = column[j]!;
      j--;
    }
    column[j + 1] = v;
  }
  return column;
}

/** The median of a sorted column; for an even count, the mean of the two middle values. */
export function medianOfSorted(sorted: Float64Array): number {
  const n = sorted.length;
  const half = n >> 1;
  return n % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

/** The mean of sorted[from, to), summed in float64. */
export function meanOfRange(sorted: Float64Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += sorted[i]!;
  return sum / (to - from);
}
