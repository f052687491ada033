/**
 * Classification metrics used to judge the global model (held-out data) and each site's local
 * model (its validation split), from a model's N x K softmax output.
 *
 * Degenerate inputs (no examples, or only one class present where a ranking metric needs both)
 * return NaN instead of throwing: in a federation a small site's validation split can easily lack
 * positives, and one such site must not abort a round. Callers render NaN as "n/a". A diverged
 * model (NaN/Infinity in its output) likewise yields NaN AUROC/AUPRC here rather than the error
 * the stand-alone auroc/auprc raise, for the same reason.
 * Malformed inputs (length mismatches, labels out of range) are programming errors and throw.
 */
import { auprc, auroc } from './ranking.js';

export interface Metrics {
  auroc: number;
  auprc: number;
  accuracy: number;
  loss: number;
}

/** Probabilities are clipped to [EPS, 1 - EPS] in the log loss, as Keras does, so one confident mistake cannot make it infinite. */
export const LOG_LOSS_EPS = 1e-7;

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
    if (!allFinite(scores)) return { auroc: NaN, auprc: NaN, accuracy: acc, loss };
    return { auroc: auroc(labels, scores), auprc: auprc(labels, scores), accuracy: acc, loss };
  }
  let aurocSum = 0;
  let auprcSum = 0;
  let used = 0;
  const oneVsRest = new Int32Array(n);
  for (let k = 0; k < classes; k++) {
    for (let i = 0; i < n; i++) oneVsRest[i] = labels[i] === k ? 1 : 0;
    const scores = column(probs, classes, k, n);
    if (!allFinite(scores)) return { auroc: NaN, auprc: NaN, accuracy: acc, loss };
    const a = auroc(oneVsRest, scores);
    const p = auprc(oneVsRest, scores);
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

function allFinite(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
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
