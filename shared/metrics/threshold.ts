/**
 * Metrics of a binary decision: a score at or above `threshold` counts as a positive prediction
 * (the same convention as scikit-learn's roc_curve, so a threshold read off a ROC curve gives the
 * point on it). Passing hard 0/1 predictions with the default threshold 0.5 gives scikit-learn's
 * recall_score / f1_score / balanced_accuracy_score on those predictions.
 *
 * Zero division follows scikit-learn: when a ratio's denominator is zero (sensitivity without
 * positives, specificity without negatives, F1 with no positive label and no positive prediction)
 * the result is `zeroDivision`, 0 by default as scikit-learn's default "warn" returns. Pass NaN
 * to keep such a split out of an average instead (scikit-learn >= 1.3 offers the same choice).
 */
import { checkBinaryLabels, checkFinite, checkSameLength } from './validate.js';

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** The 2 x 2 confusion matrix at a threshold. */
export function confusionCounts(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold = 0.5): ConfusionCounts {
  return count('confusionCounts', yTrue, yScore, threshold);
}

function count(caller: string, yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold: number): ConfusionCounts {
  checkSameLength(caller, 'yTrue', yTrue, 'yScore', yScore);
  checkBinaryLabels(caller, 'yTrue', yTrue);
  checkFinite(caller, 'yScore', yScore);
  if (Number.isNaN(threshold)) throw new Error(`${caller}: threshold is NaN; pass a number (scores >= threshold count as positive)`);
  const c: ConfusionCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    const positive = yScore[i] >= threshold;
    if (yTrue[i] === 1) {
      if (positive) c.tp++;
      else c.fn++;
    } else if (positive) c.fp++;
    else c.tn++;
  }
  return c;
}

/** Sensitivity (recall, true-positive rate) = TP / (TP + FN). */
export function sensitivity(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold = 0.5, zeroDivision = 0): number {
  checkZeroDivision('sensitivity', zeroDivision);
  const c = count('sensitivity', yTrue, yScore, threshold);
  return ratio(c.tp, c.tp + c.fn, zeroDivision);
}

/** Specificity (true-negative rate) = TN / (TN + FP): scikit-learn's recall_score with pos_label=0. */
export function specificity(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold = 0.5, zeroDivision = 0): number {
  checkZeroDivision('specificity', zeroDivision);
  const c = count('specificity', yTrue, yScore, threshold);
  return ratio(c.tn, c.tn + c.fp, zeroDivision);
}

/**
 * Balanced accuracy as scikit-learn's balanced_accuracy_score: the mean recall over the classes
 * present in yTrue, so (sensitivity + specificity) / 2 when both are present, and the one
 * class's recall when only one is (scikit-learn drops the absent class with a warning).
 * NaN for empty input, where no class is present.
 */
export function balancedAccuracy(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold = 0.5): number {
  const c = count('balancedAccuracy', yTrue, yScore, threshold);
  const recalls: number[] = [];
  if (c.tp + c.fn > 0) recalls.push(c.tp / (c.tp + c.fn));
  if (c.tn + c.fp > 0) recalls.push(c.tn / (c.tn + c.fp));
  if (recalls.length === 0) return NaN;
  return recalls.reduce((a, b) => a + b, 0) / recalls.length;
}

/**
 * F1 of the positive class = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall.
 * `zeroDivision` only when TP + FP + FN = 0 (no positive label, no positive prediction); a
 * precision or recall that alone is undefined still gives F1 = 0, as in scikit-learn.
 */
export function f1(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, threshold = 0.5, zeroDivision = 0): number {
  checkZeroDivision('f1', zeroDivision);
  const c = count('f1', yTrue, yScore, threshold);
  return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, zeroDivision);
}

function ratio(numerator: number, denominator: number, zeroDivision: number): number {
  return denominator === 0 ? zeroDivision : numerator / denominator;
}

function checkZeroDivision(fn: string, value: number): void {
  if (value !== 0 && value !== 1 && !Number.isNaN(value)) {
    throw new Error(`${fn}: zeroDivision must be 0, 1 or NaN (the value returned when the denominator is zero), got ${value}`);
  }
}
