/**
 * Calibration of a binary classifier's probabilities: does "80% sure" come true 80% of the time?
 * `yProb` is the positive-class probability, labels are 0/1, in scikit-learn's argument order.
 * Empty input gives NaN (no examples, nothing to judge), like the other metrics of this folder.
 */
import { checkBinaryLabels, checkProbabilities, checkSameLength } from './validate.js';

/**
 * Top-label expected calibration error (Guo et al., 2017, "On Calibration of Modern Neural
 * Networks"): the model's top label is 1 when yProb >= 0.5 (a tie goes to the positive class)
 * with confidence max(p, 1 - p); confidences are grouped into `bins` equal-width bins over [0, 1]
 * and ECE = sum_m |B_m| / n * |accuracy(B_m) - confidence(B_m)|.
 *
 * Bin edges: bin m (1-based) holds confidences in ((m - 1) / M, m / M], right-closed as in Guo et
 * al.; the first bin also holds 0. Each edge is the float64 value of m / M, and a confidence that
 * equals an edge bit for bit belongs to the bin below it. A binary top-label confidence is never
 * below 0.5, so with the default 15 bins the lower seven stay empty; that is part of the
 * definition, not a bug, and keeps the number comparable with published multi-class ECEs.
 */
export function ece(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, bins = 15): number {
  const r = collectBins('ece', yTrue, yProb, bins);
  const n = yTrue.length;
  if (n === 0) return NaN;
  let total = 0;
  for (let m = 0; m < bins; m++) if (r.count[m] > 0) total += (r.count[m] / n) * Math.abs(r.accuracy[m] - r.confidence[m]);
  return total;
}

/** Per-bin statistics behind `ece`, also what a reliability diagram draws. */
export interface ReliabilityBins {
  /** bins + 1 edges, edges[m] = m / bins. */
  edges: Float64Array;
  /** Examples whose top-label confidence falls in each bin. */
  count: Float64Array;
  /** Mean top-label confidence per bin; NaN for an empty bin. */
  confidence: Float64Array;
  /** Fraction of the bin whose top label equals yTrue; NaN for an empty bin. */
  accuracy: Float64Array;
}

/** Groups binary predictions by top-label confidence with the binning documented on `ece`. */
export function reliabilityBins(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, bins = 15): ReliabilityBins {
  return collectBins('reliabilityBins', yTrue, yProb, bins);
}

function collectBins(fn: string, yTrue: ArrayLike<number>, yProb: ArrayLike<number>, bins: number): ReliabilityBins {
  checkSameLength(fn, 'yTrue', yTrue, 'yProb', yProb);
  checkBinaryLabels(fn, 'yTrue', yTrue);
  checkProbabilities(fn, 'yProb', yProb);
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`${fn}: bins must be an integer >= 1, got ${bins}`);
  const edges = Float64Array.from({ length: bins + 1 }, (_, m) => m / bins);
  const count = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  const accuracy = new Float64Array(bins);
  for (let i = 0; i < yTrue.length; i++) {
    const p = yProb[i];
    const predicted = p >= 0.5 ? 1 : 0;
    const c = Math.max(p, 1 - p);
    const m = binIndex(c, bins);
    count[m] += 1;
    confidence[m] += c;
    if (predicted === yTrue[i]) accuracy[m] += 1;
  }
  for (let m = 0; m < bins; m++) {
    confidence[m] /= count[m];
    accuracy[m] /= count[m];
  }
  return { edges, count, confidence, accuracy };
}

/**
 * 0-based bin of a confidence in [0, 1] under the right-closed edges documented on `ece`.
 * ceil(c * M) is only a first guess: c * M rounds, so the guess is corrected against the edges
 * themselves, which makes values exactly on an edge land where the documentation says.
 */
export function binIndex(confidence: number, bins: number): number {
  let m = Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1));
  while (m > 0 && confidence <= m / bins) m--;
  while (m < bins - 1 && confidence > (m + 1) / bins) m++;
  return m;
}

/**
 * Brier score as scikit-learn's brier_score_loss for a binary task: the mean of (yTrue - yProb)^2.
 * 0 is perfect; always predicting the prevalence q scores q(1 - q).
 */
export function brier(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): number {
  checkSameLength('brier', 'yTrue', yTrue, 'yProb', yProb);
  checkBinaryLabels('brier', 'yTrue', yTrue);
  checkProbabilities('brier', 'yProb', yProb);
  const n = yTrue.length;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (yTrue[i] - yProb[i]) ** 2;
  return sum / n;
}
