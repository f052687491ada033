import { describe, expect, it } from 'vitest';
import { accuracy, classificationMetrics, logLoss } from './classification.js';

// auroc and auprc themselves are tested against scikit-learn in ranking.test.ts.

describe('accuracy and logLoss', () => {
  it('computes accuracy, NaN when empty', () => {
    expect(accuracy([0, 1, 1, 0], [0, 1, 0, 0])).toBe(0.75);
    expect(accuracy([], [])).toBeNaN();
  });

  it('computes the mean negative log-likelihood of the true class', () => {
    const probs = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4];
    // -(ln .9 + ln .8 + ln .4) / 3
    expect(logLoss(probs, [0, 1, 1], 2)).toBeCloseTo(0.414931599615397, 12);
  });

  it('clips probabilities so a confident mistake stays finite', () => {
    // -ln(1e-7)
    expect(logLoss([1, 0], [1], 2)).toBeCloseTo(16.11809565095832, 9);
    expect(logLoss([1, 0], [0], 2)).toBeCloseTo(-Math.log(1 - 1e-7), 12);
  });

  it('rejects bad shapes and labels', () => {
    expect(() => logLoss([0.5, 0.5], [0, 1], 2)).toThrow(/expected 2 x 2/);
    expect(() => logLoss([0.5, 0.5], [2], 2)).toThrow(/outside 0..1/);
  });
});

describe('classificationMetrics', () => {
  it('uses p[:,1] for binary tasks', () => {
    const p1 = [0.1, 0.4, 0.35, 0.8];
    const probs = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
    const m = classificationMetrics(probs, Int32Array.from([0, 0, 1, 1]), 2);
    expect(m.auroc).toBeCloseTo(0.75, 6);
    expect(m.auprc).toBeCloseTo(0.8333333, 6);
    expect(m.accuracy).toBe(0.75); // predictions 0,0,0,1
    expect(m.loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8)) / 4, 6);
  });

  it('macro-averages one-vs-rest for multi-class tasks', () => {
    const probs = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6, 0.3, 0.4, 0.3, 0.1, 0.3, 0.6]);
    const labels = Int32Array.from([0, 1, 2, 0, 1]);
    const m = classificationMetrics(probs, labels, 3);
    // Per class AUROC 1, 5/6, 0.875; AP 1, 5/6, 0.5 (hand-computed).
    expect(m.auroc).toBeCloseTo(0.9027777777777778, 6);
    expect(m.auprc).toBeCloseTo(0.7777777777777778, 6);
    expect(m.accuracy).toBeCloseTo(0.6, 12);
    expect(m.loss).toBeCloseTo(0.7572543600245172, 6);
  });

  it('averages over the classes present and returns NaN when ranking is undefined', () => {
    // Class 2 absent: macro over classes 0 and 1 only.
    const probs = Float32Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1]);
    const m = classificationMetrics(probs, Int32Array.from([0, 1]), 3);
    expect(m.auroc).toBe(1);
    const single = classificationMetrics(Float32Array.from([0.8, 0.2, 0.6, 0.4]), Int32Array.from([0, 0]), 2);
    expect(single.auroc).toBeNaN();
    expect(single.auprc).toBeNaN();
    expect(single.accuracy).toBe(1);
    const empty = classificationMetrics(new Float32Array(0), new Int32Array(0), 2);
    expect(empty.accuracy).toBeNaN();
    expect(empty.loss).toBeNaN();
  });

  it('reports NaN ranking metrics for a diverged model instead of throwing like auroc does', () => {
    const binary = classificationMetrics(Float32Array.from([0.8, 0.2, NaN, NaN]), Int32Array.from([0, 1]), 2);
    expect(binary.auroc).toBeNaN();
    expect(binary.auprc).toBeNaN();
    const multi = classificationMetrics(Float32Array.from([0.7, 0.2, 0.1, 0.1, Infinity, 0.3, 0.2, 0.2, 0.6]), Int32Array.from([0, 1, 2]), 3);
    expect(multi.auroc).toBeNaN();
    expect(multi.auprc).toBeNaN();
  });
});
