import { describe, expect, it } from 'vitest';
import { Random } from '../data/index.js';
import { auprc, auroc, balancedAccuracy, brier, ece, f1, sensitivity, specificity } from '../metrics/index.js';
import { SCORE_BINS, SCORE_LOGIT_RANGE } from './constants.js';
import { aurocResolution, histogramAuroc, histogramAveragePrecision, metricsFromStatistics, prCurve, reliabilityDiagram, rocCurve } from './pooled-metrics.js';
import { addStatistics, collectStatistics, scoreBin } from './statistics.js';

function sample(n: number, seed: number, quantum = 0): { y: number[]; p: number[] } {
  const rng = new Random(seed);
  const y: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng.next() < 0.3 ? 1 : 0;
    let q = 1 / (1 + Math.exp(-(2 * rng.normal() + (label ? 1.5 : -1))));
    // Ties on purpose, and the edge values 0, 0.5 and 1.
    if (quantum) q = Math.round(q / quantum) * quantum;
    if (i % 97 === 0) q = [0, 0.5, 1][i % 3]!;
    y.push(label);
    p.push(q);
  }
  return { y, p };
}

/** The documented bin of p (0.1 logit wide, clamped, 0.5 an edge), written out here apart from scoreBin. */
export function documentedBin(p: number): number {
  if (p === 0) return 0;
  if (p === 1) return SCORE_BINS - 1;
  const z = Math.log(p / (1 - p));
  const k = Math.max(0, Math.min(SCORE_BINS - 1, Math.floor((z + SCORE_LOGIT_RANGE) * 10)));
  return p >= 0.5 ? Math.max(k, SCORE_BINS / 2) : Math.min(k, SCORE_BINS / 2 - 1);
}

/** The within-bin pair bound, counted here from the raw scores with documentedBin. */
function withinBinBound(y: number[], p: number[]): number {
  const pos = new Array<number>(SCORE_BINS).fill(0);
  const neg = new Array<number>(SCORE_BINS).fill(0);
  for (let i = 0; i < y.length; i++) (y[i] ? pos : neg)[documentedBin(p[i]!)]++;
  const P = pos.reduce((a, b) => a + b, 0);
  const N = neg.reduce((a, b) => a + b, 0);
  return pos.reduce((s, c, k) => s + c * neg[k]!, 0) / 2 / (P * N);
}

describe('figures from score histograms and reliability sums', () => {
  it('bins probabilities by logit, 0.1 wide, with 0.5 exactly on an edge and the ends holding everything beyond', () => {
    expect(SCORE_BINS).toBe(240);
    expect(scoreBin(0)).toBe(0);
    expect(scoreBin(0.5)).toBe(120);
    expect(scoreBin(Math.fround(0.5 - 2 ** -25))).toBe(119);
    expect(scoreBin(1 / (1 + Math.exp(-0.25)))).toBe(122);
    expect(scoreBin(1 / (1 + Math.exp(3.05)))).toBe(89);
    // Confident scores stay apart: logits 8.05 and 9.05 (p 0.99968 and 0.99988) are ten bins apart.
    expect([scoreBin(1 / (1 + Math.exp(-8.05))), scoreBin(1 / (1 + Math.exp(-9.05)))]).toEqual([200, 210]);
    expect(scoreBin(1 - 1e-9)).toBe(239);
    expect(scoreBin(1)).toBe(239);
    for (const p of [1e-7, 0.01, 0.2, 0.4999, 0.5001, 0.8, 0.99, 0.9999]) expect(scoreBin(p)).toBe(documentedBin(p));
  });

  for (const quantum of [0, 0.05]) {
    it(`matches per-image metrics: exact at the threshold, ECE and Brier; AUROC within the bin bound (${quantum ? 'heavy ties' : 'continuous scores'})`, () => {
      const { y, p } = sample(3000, quantum ? 7 : 8, quantum);
      const s = collectStatistics(y, p);
      const m = metricsFromStatistics(s);
      expect(m.sensitivity).toBe(sensitivity(y, p));
      expect(m.specificity).toBe(specificity(y, p));
      expect(m.balancedAccuracy).toBe(balancedAccuracy(y, p));
      expect(m.f1).toBe(f1(y, p));
      expect(m.ece).toBeCloseTo(ece(y, p), 12);
      expect(m.brier).toBeCloseTo(brier(y, p), 12);
      const bound = aurocResolution(s);
      expect(bound).toBeCloseTo(withinBinBound(y, p), 12);
      expect(Math.abs(histogramAuroc(s) - auroc(y, p))).toBeLessThanOrEqual(bound + 1e-12);
      expect(bound).toBeLessThan(quantum ? 0.05 : 0.01);
      expect(Math.abs(histogramAveragePrecision(s) - auprc(y, p))).toBeLessThan(0.02);
    });
  }

  it('gives the exact AUROC and AP when no bin mixes the classes', () => {
    // One score per bin centre: no ties, nothing lost to binning.
    const y = [0, 1, 0, 0, 1, 1, 0, 1];
    const p = [0.105, 0.215, 0.335, 0.455, 0.505, 0.625, 0.745, 0.995];
    const s = collectStatistics(y, p);
    expect(aurocResolution(s)).toBe(0);
    expect(histogramAuroc(s)).toBe(auroc(y, p));
    expect(histogramAveragePrecision(s)).toBeCloseTo(auprc(y, p), 15);
  });

  it('adds sites up: the sum of two halves is the statistics of the whole', () => {
    const { y, p } = sample(1001, 9);
    const whole = collectStatistics(y, p);
    const sum = addStatistics(collectStatistics(y.slice(0, 400), p.slice(0, 400)), collectStatistics(y.slice(400), p.slice(400)));
    expect(sum.negative).toEqual(whole.negative);
    expect(sum.positive).toEqual(whole.positive);
    expect(sum.reliability.count).toEqual(whole.reliability.count);
    expect(sum.reliability.correct).toEqual(whole.reliability.correct);
    expect(sum.brierSum).toBeCloseTo(whole.brierSum, 9);
    expect(metricsFromStatistics(sum)).toEqual(
      Object.fromEntries(Object.entries(metricsFromStatistics(whole)).map(([k, v]) => [k, expect.closeTo(v!, 9)])),
    );
  });

  it('draws ROC and PR curves from (0, 0) to (1, 1) and reliability bins that hold every example', () => {
    const { y, p } = sample(500, 10);
    const s = collectStatistics(y, p);
    const roc = rocCurve(s);
    expect(roc[0]).toEqual([0, 0]);
    expect(roc.at(-1)).toEqual([1, 1]);
    for (let i = 1; i < roc.length; i++) {
      expect(roc[i]![0]).toBeGreaterThanOrEqual(roc[i - 1]![0]);
      expect(roc[i]![1]).toBeGreaterThanOrEqual(roc[i - 1]![1]);
    }
    const pr = prCurve(s);
    expect(pr[0]).toEqual([0, 1]);
    expect(pr.at(-1)![0]).toBe(1);
    expect(pr.at(-1)![1]).toBeCloseTo(s.positives / s.examples, 12);
    const bins = reliabilityDiagram(s.reliability);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(500);
    for (const b of bins) if (b.count > 0) expect(b.confidence!).toBeGreaterThan(b.lo - 1e-12);
    expect(rocCurve(collectStatistics([1, 1], [0.2, 0.9]))).toEqual([]);
    expect(metricsFromStatistics(collectStatistics([1, 1], [0.2, 0.9])).auroc).toBeNull();
  });

  it('refuses labels and probabilities no model output can be', () => {
    expect(() => collectStatistics([0, 2], [0.1, 0.2])).toThrow(/label 2 at index 1/);
    expect(() => collectStatistics([0, 1], [0.1, Number.NaN])).toThrow(/probability NaN at index 1/);
    expect(() => collectStatistics([0], [0.1, 0.2])).toThrow(/1 labels but 2 probabilities/);
  });
});
