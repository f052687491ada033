import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { Random } from '../data/random.js';
import { balancedAccuracy, confusionCounts, f1, sensitivity, specificity } from './index.js';

// scikit-learn scores the thresholded predictions (score >= threshold) with recall_score
// (sensitivity), recall_score with pos_label=0 (specificity), balanced_accuracy_score and
// f1_score, for both zero_division values it accepts (0 and 1).

interface Case {
  name: string;
  yTrue: number[];
  yScore: number[];
  threshold: number;
}

function randomCase(name: string, seed: number, n: number, threshold: number, round?: number): Case {
  const rng = new Random(seed);
  const yTrue: number[] = [];
  const yScore: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.next() < 0.3 ? 1 : 0;
    let s = Math.min(1, Math.max(0, 0.35 + 0.25 * y + 0.25 * rng.normal()));
    if (round !== undefined) s = Math.round(s * round) / round;
    yTrue.push(y);
    yScore.push(s);
  }
  return { name, yTrue, yScore, threshold };
}

const cases: Case[] = [
  { name: 'hard 0/1 predictions', yTrue: [0, 1, 1, 0, 1, 0, 0], yScore: [0, 1, 0, 1, 1, 0, 0], threshold: 0.5 },
  { name: 'scores exactly at the threshold', yTrue: [0, 1, 1, 0, 1], yScore: [0.5, 0.5, 0.25, 0.75, 0.5], threshold: 0.5 },
  { name: 'logits at threshold 0', yTrue: [1, 0, 1, 0, 1, 0], yScore: [2.5, -1, -0.2, 0, 3, -4], threshold: 0 },
  { name: 'no positives in yTrue', yTrue: [0, 0, 0, 0], yScore: [0.1, 0.7, 0.2, 0.9], threshold: 0.5 },
  { name: 'no negatives in yTrue', yTrue: [1, 1, 1], yScore: [0.1, 0.7, 0.9], threshold: 0.5 },
  { name: 'no positives and none predicted', yTrue: [0, 0, 0], yScore: [0.1, 0.2, 0.3], threshold: 0.5 },
  { name: 'everything predicted positive', yTrue: [0, 1, 0, 1, 1], yScore: [0.6, 0.7, 0.8, 0.9, 0.95], threshold: 0.5 },
  { name: 'all scores equal', yTrue: [0, 1, 0, 1, 0], yScore: [0.4, 0.4, 0.4, 0.4, 0.4], threshold: 0.4 },
  { name: 'one example', yTrue: [1], yScore: [0.2], threshold: 0.5 },
  randomCase('random n=200, threshold 0.5', 1, 200, 0.5),
  randomCase('random n=1000, threshold 0.3, ties', 2, 1000, 0.3, 20),
  randomCase('random n=5000, threshold 0.65', 3, 5000, 0.65),
];

type Scores = Record<'sens' | 'spec' | 'bacc' | 'f1', number>;
let reference: Map<string, { zd0: Scores; zd1: Scores }>;

beforeAll(async () => {
  const inputs: Record<string, { shape: number[]; data: number[] }> = {};
  cases.forEach((c, i) => {
    inputs[`y${i}`] = { shape: [c.yTrue.length], data: c.yTrue };
    inputs[`s${i}`] = { shape: [c.yScore.length], data: c.yScore };
  });
  const thresholds = JSON.stringify(cases.map((c) => c.threshold));
  const out = await runNumpy(
    [
      'import warnings',
      "warnings.simplefilter('ignore')",
      'from sklearn.metrics import recall_score, f1_score, balanced_accuracy_score',
      `for i, t in enumerate(${thresholds}):`,
      "    y = IN[f'y{i}'].astype(int)",
      "    pred = (IN[f's{i}'] >= t).astype(int)",
      "    OUT[f'bacc{i}'] = balanced_accuracy_score(y, pred)",
      '    for zd in (0, 1):',
      "        OUT[f'sens{zd}_{i}'] = recall_score(y, pred, zero_division=zd)",
      "        OUT[f'spec{zd}_{i}'] = recall_score(y, pred, pos_label=0, zero_division=zd)",
      "        OUT[f'f1{zd}_{i}'] = f1_score(y, pred, zero_division=zd)",
    ].join('\n'),
    inputs,
  );
  const pick = (i: number, zd: number): Scores => ({
    sens: out[`sens${zd}_${i}`].data[0],
    spec: out[`spec${zd}_${i}`].data[0],
    bacc: out[`bacc${i}`].data[0],
    f1: out[`f1${zd}_${i}`].data[0],
  });
  reference = new Map(cases.map((c, i) => [c.name, { zd0: pick(i, 0), zd1: pick(i, 1) }]));
});

function expectNear(actual: number, expected: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs sklearn ${expected}`).toBeLessThanOrEqual(1e-6);
}

describe('threshold metrics agree with scikit-learn', () => {
  it.each(cases)('$name', ({ name, yTrue, yScore, threshold }) => {
    const ref = reference.get(name)!;
    for (const [zd, r] of [[0, ref.zd0], [1, ref.zd1]] as const) {
      expectNear(sensitivity(yTrue, yScore, threshold, zd), r.sens, `sensitivity, zeroDivision ${zd}`);
      expectNear(specificity(yTrue, yScore, threshold, zd), r.spec, `specificity, zeroDivision ${zd}`);
      expectNear(f1(yTrue, yScore, threshold, zd), r.f1, `f1, zeroDivision ${zd}`);
    }
    expectNear(balancedAccuracy(yTrue, yScore, threshold), ref.zd0.bacc, 'balancedAccuracy');
  });
});

describe('threshold metrics by hand', () => {
  it('counts a score equal to the threshold as positive', () => {
    expect(confusionCounts([1, 0, 1, 0], [0.5, 0.5, 0.49, 0.2], 0.5)).toEqual({ tp: 1, fp: 1, tn: 1, fn: 1 });
    expect(sensitivity([1], [0.5])).toBe(1);
    expect(specificity([0], [0.5])).toBe(0);
  });

  it('defaults to threshold 0.5 and zeroDivision 0', () => {
    expect(sensitivity([1, 1], [0.49, 0.51])).toBe(0.5);
    expect(sensitivity([0, 0], [0.1, 0.9])).toBe(0);
    expect(f1([0, 0], [0.1, 0.2])).toBe(0);
  });

  it('returns NaN on zero division when asked, so a split can be left out of an average', () => {
    expect(sensitivity([0, 0], [0.1, 0.9], 0.5, NaN)).toBeNaN();
    expect(specificity([1, 1], [0.1, 0.9], 0.5, NaN)).toBeNaN();
    expect(f1([0, 0], [0.1, 0.2], 0.5, NaN)).toBeNaN();
    // F1 is defined (0) when only precision or only recall is undefined.
    expect(f1([0, 0], [0.1, 0.9], 0.5, NaN)).toBe(0);
    expect(f1([1, 1], [0.1, 0.2], 0.5, NaN)).toBe(0);
  });

  it('balanced accuracy averages the recalls of the classes present; NaN when empty', () => {
    // Sensitivity 2/3, specificity 1/2.
    expect(balancedAccuracy([1, 1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2, 0.7])).toBeCloseTo((2 / 3 + 1 / 2) / 2, 15);
    expect(balancedAccuracy([1, 1, 1], [0.9, 0.8, 0.1])).toBeCloseTo(2 / 3, 15);
    expect(balancedAccuracy([], [])).toBeNaN();
  });
});

describe('threshold metrics validation', () => {
  it('names the bad argument', () => {
    expect(() => sensitivity([0, 1], [0.2])).toThrow(/sensitivity: yTrue has 2 values but yScore has 1/);
    expect(() => specificity([0, 3], [0.2, 0.4])).toThrow(/specificity: yTrue\[1\] is 3/);
    expect(() => f1([0, 1], [0.2, NaN])).toThrow(/f1: yScore\[1\] is NaN/);
    expect(() => balancedAccuracy([0, 1], [0.2, 0.4], NaN)).toThrow(/balancedAccuracy: threshold is NaN/);
    expect(() => f1([0, 1], [0.2, 0.4], 0.5, 0.5)).toThrow(/f1: zeroDivision must be 0, 1 or NaN/);
  });
});
