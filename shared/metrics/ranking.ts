/**
 * Threshold-free ranking metrics for a binary task, in scikit-learn's argument order
 * (yTrue first). Labels must be 0/1 and scores finite; anything else throws, naming the argument.
 *
 * When only one class is present (or the input is empty) AUROC is undefined and scikit-learn
 * raises. Here it returns NaN instead: in a federation a small site's validation split can easily
 * lack positives, and one such site must not abort a round. Callers render NaN as "n/a".
 */
import { checkBinaryLabels, checkFinite, checkSameLength } from './validate.js';

/**
 * Area under the ROC curve, computed as the Mann–Whitney statistic: the fraction of
 * (positive, negative) pairs the score orders correctly, a tied pair counting one half. This is
 * exactly the trapezoidal area under scikit-learn's roc_curve, ties included.
 * NaN when either class is absent.
 */
export function auroc(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  checkInputs('auroc', yTrue, yScore);
  const order = orderByScore(yScore, true);
  const n = order.length;
  let negativesBelow = 0;
  let positives = 0;
  // Counting pairs (integers and halves) instead of summing ranks keeps the result exact up to
  // 2^53 pairs, where a rank sum would lose digits for large n.
  let correctPairs = 0;
  for (let start = 0; start < n; ) {
    const end = groupEnd(order, yScore, start);
    let pos = 0;
    for (let i = start; i < end; i++) pos += yTrue[order[i]];
    const neg = end - start - pos;
    correctPairs += pos * (negativesBelow + neg / 2);
    negativesBelow += neg;
    positives += pos;
    start = end;
  }
  if (positives === 0 || negativesBelow === 0) return NaN;
  return correctPairs / (positives * negativesBelow);
}

/**
 * Average precision exactly as scikit-learn's average_precision_score: with one threshold per
 * distinct score (tied scores enter together), AP = sum_n (R_n - R_{n-1}) * P_n, with no
 * interpolation. NaN when there are no positives (recall is undefined; scikit-learn warns and
 * returns a number that depends on its version). With no negatives it is 1.
 */
export function auprc(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  checkInputs('auprc', yTrue, yScore);
  let positives = 0;
  for (let i = 0; i < yTrue.length; i++) positives += yTrue[i];
  if (positives === 0) return NaN;
  const order = orderByScore(yScore, false);
  const n = order.length;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let start = 0; start < n; ) {
    const end = groupEnd(order, yScore, start);
    let pos = 0;
    for (let i = start; i < end; i++) pos += yTrue[order[i]];
    tp += pos;
    seen += end - start;
    // Recall only moves when the group holds positives; (R_n - R_{n-1}) = pos / positives.
    if (pos > 0) ap += (pos / positives) * (tp / seen);
    start = end;
  }
  return ap;
}

function checkInputs(fn: string, yTrue: ArrayLike<number>, yScore: ArrayLike<number>): void {
  checkSameLength(fn, 'yTrue', yTrue, 'yScore', yScore);
  checkBinaryLabels(fn, 'yTrue', yTrue);
  checkFinite(fn, 'yScore', yScore);
}

/** Indices sorted by score, ascending or descending (scores are known finite here). */
function orderByScore(scores: ArrayLike<number>, ascending: boolean): Int32Array {
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const sign = ascending ? 1 : -1;
  order.sort((a, b) => sign * (scores[a] - scores[b]));
  return order;
}

/** One past the last index of the run of equal scores starting at `start`. */
function groupEnd(order: Int32Array, scores: ArrayLike<number>, start: number): number {
  const value = scores[order[start]];
  let end = start + 1;
  while (end < order.length && scores[order[end]] === value) end++;
  return end;
}
