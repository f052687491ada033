import type { CohortRule } from './cohort-aggregate.js';
import { medianOfSorted, sortedColumn } from './column.js';
import { byScore, krumScores } from './krum.js';
import { pairwiseSquaredDistances } from './pairwise.js';

/** Bulyan's requirement on the round's size for f Byzantine sites (El Mhamdi et al. 2018). */
export function bulyanMinimum(f: number): number {
  return 4 * f + 3;
}

/**
 * Bulyan (El Mhamdi et al. 2018), unweighted. Krum, applied again and again to the updates not yet
 * chosen (scores recomputed on what remains, over at least the nearest neighbour once fewer than
 * f + 3 remain), picks theta = n - 2f updates; then, at each
 * coordinate, the beta = theta - 2f chosen values closest to their median are averaged. Krum alone
 * can still be steered along one coordinate; the second stage bounds every coordinate as well.
 * Ties: Krum's equal scores go to the site whose name sorts first; equally close values on either
 * side of the median go to the lower value.
 */
export function bulyanRule(f: number): CohortRule {
  return {
    problem(updates) {
      const needed = bulyanMinimum(f);
      if (updates >= needed) return null;
      return `bulyan with f = ${f} needs at least ${needed} updates (n >= 4f + 3) and the round has ${updates}; lower f or wait for more sites`;
    },
    async select(store, workingBytes) {
      const n = store.updates;
      const distances = await pairwiseSquaredDistances(store, workingBytes);
      let remaining = Array.from({ length: n }, (_, i) => i);
      const chosen: number[] = [];
      while (chosen.length < n - 2 * f) {
        const best = byScore(remaining, krumScores(distances, n, remaining, f))[0]!;
        chosen.push(best);
        remaining = remaining.filter((i) => i !== best);
      }
      return chosen.sort((a, b) => a - b);
    },
    combine(rows, base, out) {
      const theta = rows.length;
      const beta = theta - 2 * f;
      const column = new Float64Array(theta);
      for (let k = 0; k < out.length; k++) {
        out[k] = base[k]! + meanClosestToMedian(sortedColumn(rows, k, column), beta);
      }
    },
  };
}

/**
 * The mean of the `count` values of a sorted column closest to its median. Distance to the median
 * only grows moving outwards, so they form a window grown from the median one side at a time.
 */
export function meanClosestToMedian(sorted: Float64Array, count: number): number {
  const median = medianOfSorted(sorted);
  // The window starts empty at the first value not below the median.
  let hi = 0;
  while (hi < sorted.length && sorted[hi]! < median) hi++;
  let lo = hi;
  let sum = 0;
  for (let taken = 0; taken < count; taken++) {
    const below = lo > 0 ? Math.abs(sorted[lo - 1]! - median) : Infinity;
    const above = hi < sorted.length ? Math.abs(sorted[hi]! - median) : Infinity;
    if (below <= above) sum += sorted[--lo]!;
    else sum += sorted[hi++]!;
  }
  return sum / count;
}
