import { LOG_LOSS_EPS, reliabilityBins } from '../metrics/index.js';
import { RELIABILITY_BINS, SCORE_BINS, SCORE_LOGIT_RANGE } from './constants.js';
import type { ReliabilitySums, ScoreStatistics } from './types.js';

/**
 * Score bin of a probability (see SCORE_BINS): floor((logit(p) + range) * B / (2 range)),
 * clamped to the end bins. The logit rounds, so the decision threshold is enforced on p itself:
 * p >= 0.5 always lands in the upper half and p < 0.5 in the lower, and counts at 0.5 are exact.
 */
export function scoreBin(p: number): number {
  const half = SCORE_BINS / 2;
  const z = Math.log(p) - Math.log1p(-p);
  let k = Math.floor((z + SCORE_LOGIT_RANGE) * (SCORE_BINS / (2 * SCORE_LOGIT_RANGE)));
  k = Math.min(SCORE_BINS - 1, Math.max(0, Number.isNaN(k) ? 0 : k));
  if (p >= 0.5 && k < half) k = half;
  if (p < 0.5 && k >= half) k = half - 1;
  return k;
}

/** Reliability sums from shared/metrics' reliabilityBins (the same binning ECE uses). */
export function reliabilitySums(labels: ArrayLike<number>, p: ArrayLike<number>, bins = RELIABILITY_BINS): ReliabilitySums {
  const r = reliabilityBins(labels, p, bins);
  const count = Array.from(r.count);
  return {
    count,
    confidence: count.map((c, m) => (c > 0 ? r.confidence[m]! * c : 0)),
    // accuracy * count is a whole number up to rounding.
    correct: count.map((c, m) => (c > 0 ? Math.round(r.accuracy[m]! * c) : 0)),
  };
}

/** Summable statistics of binary predictions: labels 0/1 and positive-class probabilities. */
export function collectStatistics(labels: ArrayLike<number>, p: ArrayLike<number>): ScoreStatistics {
  if (labels.length !== p.length) throw new Error(`evaluation: ${labels.length} labels but ${p.length} probabilities`);
  const negative = new Array<number>(SCORE_BINS).fill(0);
  const positive = new Array<number>(SCORE_BINS).fill(0);
  let positives = 0;
  let brierSum = 0;
  let nllSum = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const q = p[i]!;
    if (y !== 0 && y !== 1) throw new Error(`evaluation: label ${y} at index ${i}; binary labels must be 0 or 1`);
    if (!(q >= 0 && q <= 1)) throw new Error(`evaluation: probability ${q} at index ${i} is not in [0, 1] (a diverged model?)`);
    (y === 1 ? positive : negative)[scoreBin(q)]++;
    positives += y;
    brierSum += (y - q) ** 2;
    const py = y === 1 ? q : 1 - q;
    nllSum -= Math.log(Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, py)));
  }
  return { examples: labels.length, positives, negative, positive, reliability: reliabilitySums(labels, p), brierSum, nllSum };
}

export function emptyStatistics(): ScoreStatistics {
  const zeros = (n: number) => new Array<number>(n).fill(0);
  return {
    examples: 0,
    positives: 0,
    negative: zeros(SCORE_BINS),
    positive: zeros(SCORE_BINS),
    reliability: emptyReliability(),
    brierSum: 0,
    nllSum: 0,
  };
}

export function emptyReliability(bins = RELIABILITY_BINS): ReliabilitySums {
  return { count: new Array<number>(bins).fill(0), confidence: new Array<number>(bins).fill(0), correct: new Array<number>(bins).fill(0) };
}

function addArrays(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error(`evaluation: cannot add statistics of ${a.length} and ${b.length} bins`);
  return a.map((x, i) => x + b[i]!);
}

export function addReliability(a: ReliabilitySums, b: ReliabilitySums): ReliabilitySums {
  return { count: addArrays(a.count, b.count), confidence: addArrays(a.confidence, b.confidence), correct: addArrays(a.correct, b.correct) };
}

/** The statistics of the union of two disjoint sets of predictions. */
export function addStatistics(a: ScoreStatistics, b: ScoreStatistics): ScoreStatistics {
  return {
    examples: a.examples + b.examples,
    positives: a.positives + b.positives,
    negative: addArrays(a.negative, b.negative),
    positive: addArrays(a.positive, b.positive),
    reliability: addReliability(a.reliability, b.reliability),
    brierSum: a.brierSum + b.brierSum,
    nllSum: a.nllSum + b.nllSum,
  };
}
