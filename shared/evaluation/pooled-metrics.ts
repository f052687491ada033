/**
 * Figures from summed statistics (one site's, or several sites' added up). Threshold metrics, ECE
 * and Brier are exact: the decision threshold is a score-bin edge and the reliability sums are
 * those ECE is defined on. AUROC and AUPRC are computed with the examples of one score bin taken
 * as tied, so they differ from the per-image figures by at most `aurocResolution`.
 */
import { DECISION_THRESHOLD, RELIABILITY_BINS } from './constants.js';
import { scoreBin } from './statistics.js';
import type { MetricTable, ReliabilitySums, ScoreStatistics } from './types.js';

/** [x, y] points in drawing order: ROC [fpr, tpr], PR [recall, precision]. */
export type CurvePoints = [number, number][];

export interface ReliabilityBin {
  /** Bin edges (lo, hi] of the top-label confidence. */
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence and accuracy of the bin's predictions (null when empty). */
  confidence: number | null;
  accuracy: number | null;
}

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function nullIfUndefined(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Mann-Whitney AUROC over score bins; pairs within one bin count one half. NaN without both classes. */
export function histogramAuroc(s: ScoreStatistics): number {
  const negatives = s.examples - s.positives;
  if (s.positives === 0 || negatives === 0) return NaN;
  let below = 0;
  let pairs = 0;
  for (let k = 0; k < s.negative.length; k++) {
    pairs += s.positive[k]! * (below + s.negative[k]! / 2);
    below += s.negative[k]!;
  }
  return pairs / (s.positives * negatives);
}

/**
 * The most the per-image AUROC can differ from histogramAuroc: only pairs inside one bin are
 * uncertain, and histogramAuroc counts each as one half where the truth is 0 or 1.
 */
export function aurocResolution(s: ScoreStatistics): number {
  const negatives = s.examples - s.positives;
  if (s.positives === 0 || negatives === 0) return NaN;
  let within = 0;
  for (let k = 0; k < s.negative.length; k++) within += s.positive[k]! * s.negative[k]!;
  return within / 2 / (s.positives * negatives);
}

/** Average precision (scikit-learn's definition) with each score bin as one group of tied scores. */
export function histogramAveragePrecision(s: ScoreStatistics): number {
  if (s.positives === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let k = s.positive.length - 1; k >= 0; k--) {
    const pos = s.positive[k]!;
    tp += pos;
    seen += pos + s.negative[k]!;
    if (pos > 0) ap += (pos / s.positives) * (tp / seen);
  }
  return ap;
}

/** Counts at the decision threshold (p >= 0.5 is a positive call), exact from the bins. */
export function confusionAtThreshold(s: ScoreStatistics): Confusion {
  const first = scoreBin(DECISION_THRESHOLD);
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let k = 0; k < s.negative.length; k++) {
    if (k >= first) {
      c.tp += s.positive[k]!;
      c.fp += s.negative[k]!;
    } else {
      c.fn += s.positive[k]!;
      c.tn += s.negative[k]!;
    }
  }
  return c;
}

/** Guo et al.'s ECE from reliability sums: sum over bins of |correct - confidence| / n. */
export function eceFromSums(sums: ReliabilitySums, examples: number): number {
  if (examples === 0) return NaN;
  let total = 0;
  for (let m = 0; m < sums.count.length; m++) if (sums.count[m]! > 0) total += Math.abs(sums.correct[m]! - sums.confidence[m]!);
  return total / examples;
}

/** The metric table of EVALUATION_METRICS from statistics; null where a metric is undefined. */
export function metricsFromStatistics(s: ScoreStatistics): MetricTable {
  const c = confusionAtThreshold(s);
  const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
  const recalls = [c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : null, c.tn + c.fp > 0 ? c.tn / (c.tn + c.fp) : null].filter((r): r is number => r !== null);
  const n = s.examples;
  return {
    auroc: nullIfUndefined(histogramAuroc(s)),
    auprc: nullIfUndefined(histogramAveragePrecision(s)),
    ece: nullIfUndefined(eceFromSums(s.reliability, n)),
    brier: nullIfUndefined(ratio(s.brierSum, n)),
    sensitivity: nullIfUndefined(ratio(c.tp, c.tp + c.fn)),
    specificity: nullIfUndefined(ratio(c.tn, c.tn + c.fp)),
    balancedAccuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : null,
    f1: nullIfUndefined(ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)),
    accuracy: nullIfUndefined(ratio(c.tp + c.tn, n)),
    loss: nullIfUndefined(ratio(s.nllSum, n)),
  };
}

/** ROC curve through the score-bin edges, from (0, 0) to (1, 1); empty without both classes. */
export function rocCurve(s: ScoreStatistics): CurvePoints {
  const negatives = s.examples - s.positives;
  if (s.positives === 0 || negatives === 0) return [];
  const points: CurvePoints = [[0, 0]];
  let tp = 0;
  let fp = 0;
  for (let k = s.positive.length - 1; k >= 0; k--) {
    if (s.positive[k]! + s.negative[k]! === 0) continue;
    tp += s.positive[k]!;
    fp += s.negative[k]!;
    points.push([fp / negatives, tp / s.positives]);
  }
  return points;
}

/**
 * Precision-recall curve through the score-bin edges, starting at (0, 1) as scikit-learn's
 * precision_recall_curve does; empty without positives.
 */
export function prCurve(s: ScoreStatistics): CurvePoints {
  if (s.positives === 0) return [];
  const points: CurvePoints = [[0, 1]];
  let tp = 0;
  let seen = 0;
  for (let k = s.positive.length - 1; k >= 0; k--) {
    if (s.positive[k]! + s.negative[k]! === 0) continue;
    tp += s.positive[k]!;
    seen += s.positive[k]! + s.negative[k]!;
    points.push([tp / s.positives, tp / seen]);
  }
  return points;
}

/** What a reliability diagram draws, from reliability sums. */
export function reliabilityDiagram(sums: ReliabilitySums): ReliabilityBin[] {
  const bins = sums.count.length || RELIABILITY_BINS;
  return sums.count.map((count, m) => ({
    lo: m / bins,
    hi: (m + 1) / bins,
    count,
    confidence: count > 0 ? sums.confidence[m]! / count : null,
    accuracy: count > 0 ? sums.correct[m]! / count : null,
  }));
}
