/**
 * Classification metrics used to judge the global model (held-out data) and each site's local
 * model (its validation split).
 *
 * Degenerate inputs (no examples, or only one class present where a ranking metric needs both)
 * return NaN instead of throwing: in a federation a small site's validation split can easily lack
 * positives, and one such site must not abort a round. Callers render NaN as "n/a".
 * Malformed inputs (length mismatches, labels out of range) are programming errors and throw.
 */

export interface Metrics {
  auroc: number;
  auprc: number;
  accuracy: number;
  loss: number;
}

/** Probabilities are clipped to [EPS, 1 - EPS] in the log loss, as Keras does, so one confident mistake cannot make it infinite. */
export const LOG_LOSS_EPS = 1e-7;

/**
 * Area under the ROC curve for a binary task, via the Mann–Whitney U statistic with average
 * ranks for ties (a tied positive/negative pair counts one half). Labels: nonzero = positive.
 * NaN when either class is absent or any score is NaN.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(scores, labels);
  const order = sortedOrder(scores, true);
  if (order === null) return NaN;
  const n = order.length;
  let positives = 0;
  let rankSumPos = 0;
  // Walk ascending groups of equal scores; every member of a group gets the group's mean rank.
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]] === scores[order[start]]) end++;
    const meanRank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) {
      if (labels[order[i]] !== 0) {
        positives++;
        rankSumPos += meanRank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const u = rankSumPos - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

/**
 * Average precision, the step-wise area under the precision–recall curve exactly as
 * scikit-learn's average_precision_score: sum over distinct thresholds of
 * (R_n - R_{n-1}) * P_n, no interpolation. NaN when there are no positives or a score is NaN.
 */
export function auprc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(scores, labels);
  const order = sortedOrder(scores, false);
  if (order === null) return NaN;
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) positives++;
  if (positives === 0) return NaN;
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  const n = order.length;
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]] === scores[order[start]]) end++;
    for (let i = start; i <= end; i++) {
      if (labels[order[i]] !== 0) tp++;
      else fp++;
    }
    const recall = tp / positives;
    const precision = tp / (tp + fp);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
    start = end + 1;
  }
  return ap;
}

/** Fraction of predicted class indices equal to the labels. NaN for zero examples. */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(predicted, labels);
  if (labels.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * Mean cross-entropy -log p[label] over N x K row-major probabilities, each clipped to
 * [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]. Rows are taken as given (not renormalised): they come from a
 * softmax. NaN for zero examples.
 */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  checkMatrix(probs, labels, classes);
  if (labels.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probs[i * classes + labels[i]];
    sum -= Math.log(Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p)));
  }
  return sum / labels.length;
}

/** Index of the largest probability in each row (first one on ties). */
export function argmaxRows(probs: ArrayLike<number>, classes: number): Int32Array {
  const n = Math.floor(probs.length / classes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probs[i * classes + k] > probs[i * classes + best]) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * All four metrics from a model's N x K softmax output. Binary tasks (K = 2) rank by p[:, 1].
 * Multi-class tasks use the macro one-vs-rest average of AUROC and AUPRC over the classes for
 * which the metric is defined (the class and its complement both present); a site whose
 * validation split lacks a class still gets a number from the classes it has. NaN when no class
 * qualifies.
 */
export function classificationMetrics(probs: Float32Array, labels: Int32Array, classes: number): Metrics {
  checkMatrix(probs, labels, classes);
  const n = labels.length;
  const predicted = argmaxRows(probs, classes);
  const acc = accuracy(predicted, labels);
  const loss = logLoss(probs, labels, classes);
  if (classes === 2) {
    const scores = column(probs, classes, 1, n);
    return { auroc: auroc(scores, labels), auprc: auprc(scores, labels), accuracy: acc, loss };
  }
  let aurocSum = 0;
  let auprcSum = 0;
  let used = 0;
  const oneVsRest = new Int32Array(n);
  for (let k = 0; k < classes; k++) {
    for (let i = 0; i < n; i++) oneVsRest[i] = labels[i] === k ? 1 : 0;
    const scores = column(probs, classes, k, n);
    const a = auroc(scores, oneVsRest);
    const p = auprc(scores, oneVsRest);
    if (Number.isNaN(a) || Number.isNaN(p)) continue;
    aurocSum += a;
    auprcSum += p;
    used++;
  }
  return {
    auroc: used > 0 ? aurocSum / used : NaN,
    auprc: used > 0 ? auprcSum / used : NaN,
    accuracy: acc,
    loss,
  };
}

function column(probs: ArrayLike<number>, classes: number, k: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = probs[i * classes + k];
  return out;
}

/** Indices sorted by score (ascending or descending); null when any score is NaN. */
function sortedOrder(scores: ArrayLike<number>, ascending: boolean): Int32Array | null {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) return null;
    order[i] = i;
  }
  // Comparisons rather than subtraction: Infinity - Infinity would be NaN and corrupt the sort.
  order.sort((a, b) => {
    const d = scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0;
    return ascending ? d : -d;
  });
  return order;
}

function checkLengths(a: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (a.length !== labels.length) {
    throw new Error(`metrics: ${a.length} scores but ${labels.length} labels; they must match one to one`);
  }
}

function checkMatrix(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): void {
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`metrics: classes must be an integer >= 2, got ${classes}`);
  if (probs.length !== labels.length * classes) {
    throw new Error(`metrics: expected ${labels.length} x ${classes} = ${labels.length * classes} probabilities, got ${probs.length}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new Error(`metrics: label ${y} at index ${i} is outside 0..${classes - 1}`);
  }
}
