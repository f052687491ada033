import type { UpdateStore } from './update-store.js';
import type { CohortRule } from './cohort-aggregate.js';
import { meanOfRange, medianOfSorted, sortedColumn } from './column.js';

function everyUpdate(store: UpdateStore): Promise<number[]> {
  return Promise.resolve(Array.from({ length: store.updates }, (_, i) => i));
}

/**
 * FedMedian (Yin et al. 2018): the coordinate-wise median of the updates, unweighted. A minority
 * of arbitrary updates cannot move any coordinate beyond the honest values' range.
 */
export function medianRule(): CohortRule {
  return {
    problem: () => null,
    select: everyUpdate,
    combine(rows, base, out) {
      const column = new Float64Array(rows.length);
      for (let k = 0; k < out.length; k++) out[k] = base[k]! + medianOfSorted(sortedColumn(rows, k, column));
    },
  };
}

/** Updates cut from each side of every coordinate: floor(trim * n), as scipy.stats.trim_mean. */
export function trimmedCount(trim: number, updates: number): number {
  return Math.floor(trim * updates);
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): at each coordinate, drop the `trim` fraction of
 * largest and of smallest values and average the rest, unweighted.
 */
export function trimmedMeanRule(trim: number): CohortRule {
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`trimmed mean: trim = ${trim} must be at least 0 and below 0.5 (the fraction cut from each side)`);
  return {
    problem(updates) {
      const k = trimmedCount(trim, updates);
      if (2 * k < updates) return null;
      return `trimmed mean with trim = ${trim} cuts ${k} of ${updates} updates from each side and leaves none; lower trim or wait for more sites`;
    },
    select: everyUpdate,
    combine(rows, base, out) {
      const n = rows.length;
      const cut = trimmedCount(trim, n);
      const column = new Float64Array(n);
      for (let k = 0; k < out.length; k++) out[k] = base[k]! + meanOfRange(sortedColumn(rows, k, column), cut, n - cut);
    },
  };
}
