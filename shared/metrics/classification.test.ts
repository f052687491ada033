import { describe, expect, it } from 'vitest';
import { Random } from '../data/random.js';
import { accuracy, auprc, auroc, classificationMetrics, logLoss } from './classification.js';

// scikit-learn is not installed on the build machine, so expected values were computed by hand
// (rank sums / precision at each distinct threshold) and double-checked with plain Python
// (`math.log` for the losses). The first case is the example in sklearn's own documentation
// for roc_auc_score / average_precision_score (0.75 / 0.8333).

describe('auroc', () => {
  it('matches the sklearn documentation example', () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('counts a tied positive/negative pair as one half', () => {
    expect(auroc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.875, 12);
    expect(auroc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBeCloseTo(0.5, 12);
  });

  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('returns NaN when only one class is present or a score is NaN', () => {
    expect(auroc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(auroc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(auroc([], [])).toBeNaN();
    expect(auroc([0.1, NaN], [0, 1])).toBeNaN();
  });

  it('agrees with the pairwise definition on random data with ties', () => {
    const rng = new Random(3);
    const n = 300;
    const scores = Array.from({ length: n }, () => Math.round(rng.next() * 20) / 20);
    const labels = scores.map((s) => (rng.next() < 0.3 + 0.4 * s ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (labels[i] !== 1 || labels[j] !== 0) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    expect(auroc(scores, labels)).toBeCloseTo(wins / pairs, 12);
  });

  it('rejects mismatched lengths', () => {
    expect(() => auroc([0.1], [0, 1])).toThrow(/1 scores but 2 labels/);
  });
});

describe('auprc (average precision)', () => {
  it('matches the sklearn documentation example', () => {
    expect(auprc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.8333333333, 9);
  });

  it('treats tied scores as one threshold', () => {
    // Thresholds 0.9: P=1 R=.5; 0.5: P=2/3 R=1 -> .5 + .5 * 2/3.
    expect(auprc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.8333333333, 9);
    expect(auprc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBeCloseTo(0.5, 12);
  });

  it('handles perfect and reversed rankings', () => {
    expect(auprc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    // Positives ranked last: P=1/3 at R=.5, P=1/2 at R=1.
    expect(auprc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBeCloseTo(0.5 / 3 + 0.25, 12);
  });

  it('returns NaN without positives', () => {
    expect(auprc([0.1, 0.2], [0, 0])).toBeNaN();
  });

  it('equals the prevalence for a constant score', () => {
    expect(auprc([0.3, 0.3, 0.3, 0.3, 0.3], [1, 0, 0, 0, 1])).toBeCloseTo(0.4, 12);
  });
});

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
});
