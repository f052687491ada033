import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { Random } from '../data/random.js';
import { auprc, auroc } from './index.js';

// Every case below is scored by scikit-learn (Debian's python3-sklearn, run by /usr/bin/python3)
// in one Python process, then compared with ours to 1e-6.

interface Case {
  name: string;
  yTrue: number[];
  yScore: number[];
}

function randomCase(name: string, seed: number, n: number, prevalence: number, round?: number): Case {
  const rng = new Random(seed);
  const yTrue: number[] = [];
  const yScore: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.next() < prevalence ? 1 : 0;
    // A weakly informative score, so AUROC lands away from 0, 0.5 and 1.
    let s = rng.normal() + 0.8 * y;
    if (round !== undefined) s = Math.round(s * round) / round;
    yTrue.push(y);
    yScore.push(s);
  }
  // Make sure both classes are present (sklearn raises otherwise).
  yTrue[0] = 1;
  yTrue[1] = 0;
  return { name, yTrue, yScore };
}

const cases: Case[] = [
  { name: 'sklearn documentation example', yTrue: [0, 0, 1, 1], yScore: [0.1, 0.4, 0.35, 0.8] },
  { name: 'two examples, correctly ordered', yTrue: [0, 1], yScore: [0.2, 0.7] },
  { name: 'two examples, tied', yTrue: [1, 0], yScore: [0.5, 0.5] },
  { name: 'three examples, one positive in the middle', yTrue: [0, 1, 0], yScore: [1, 2, 3] },
  { name: 'perfect ranking', yTrue: [0, 0, 0, 1, 1], yScore: [0.1, 0.2, 0.3, 0.8, 0.9] },
  { name: 'inverted ranking', yTrue: [1, 1, 0, 0, 0], yScore: [0.1, 0.2, 0.3, 0.8, 0.9] },
  { name: 'all scores equal', yTrue: [1, 0, 0, 1, 0, 0, 0], yScore: [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3] },
  { name: 'ties across classes', yTrue: [0, 1, 0, 1, 1, 0, 0, 1], yScore: [0.2, 0.5, 0.5, 0.9, 0.2, 0.9, 0.1, 0.5] },
  { name: 'negative logits and integer scores', yTrue: [1, 0, 1, 0, 1, 0], yScore: [-3, -7, 12, 0, -3, 4] },
  {
    name: 'one positive among 200',
    yTrue: Array.from({ length: 200 }, (_, i) => (i === 0 ? 1 : 0)),
    yScore: randomCase('', 11, 200, 0.5).yScore,
  },
  randomCase('random n=50, continuous', 1, 50, 0.4),
  randomCase('random n=300, many ties (scores rounded to 0.5)', 2, 300, 0.3, 2),
  randomCase('random n=1000, rare positives (5%)', 3, 1000, 0.05),
  randomCase('random n=20000, ties (scores rounded to 0.01)', 4, 20000, 0.2, 100),
];

let reference: Map<string, { auroc: number; auprc: number }>;

beforeAll(async () => {
  const inputs: Record<string, { shape: number[]; data: number[] }> = {};
  cases.forEach((c, i) => {
    inputs[`y${i}`] = { shape: [c.yTrue.length], data: c.yTrue };
    inputs[`s${i}`] = { shape: [c.yScore.length], data: c.yScore };
  });
  const out = await runNumpy(
    [
      'from sklearn.metrics import roc_auc_score, average_precision_score',
      `for i in range(${cases.length}):`,
      "    y, s = IN[f'y{i}'], IN[f's{i}']",
      "    OUT[f'auroc{i}'] = roc_auc_score(y, s)",
      "    OUT[f'auprc{i}'] = average_precision_score(y, s)",
    ].join('\n'),
    inputs,
  );
  reference = new Map(cases.map((c, i) => [c.name, { auroc: out[`auroc${i}`].data[0], auprc: out[`auprc${i}`].data[0] }]));
});

describe('auroc and auprc agree with scikit-learn', () => {
  it.each(cases)('$name', ({ name, yTrue, yScore }) => {
    const ref = reference.get(name)!;
    expect(Math.abs(auroc(yTrue, yScore) - ref.auroc), `auroc ${auroc(yTrue, yScore)} vs sklearn ${ref.auroc}`).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(auprc(yTrue, yScore) - ref.auprc), `auprc ${auprc(yTrue, yScore)} vs sklearn ${ref.auprc}`).toBeLessThanOrEqual(1e-6);
  });

  it('accepts typed arrays', () => {
    const c = cases[0];
    expect(auroc(Int32Array.from(c.yTrue), Float32Array.from(c.yScore))).toBeCloseTo(reference.get(c.name)!.auroc, 6);
  });
});

describe('auroc by hand', () => {
  it('counts a tied positive/negative pair as one half', () => {
    // Pairs (pos, neg): (.5,.2) 1, (.5,.5) .5, (.9,.2) 1, (.9,.5) 1 -> 3.5 / 4.
    expect(auroc([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])).toBe(0.875);
    expect(auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it('is exactly 1 for a perfect ranking and 0 for an inverted one', () => {
    expect(auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(auroc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])).toBe(0);
  });

  it('agrees with counting pairs directly on random data with ties', () => {
    const c = randomCase('', 7, 400, 0.35, 4);
    let correct = 0;
    let pairs = 0;
    for (let i = 0; i < c.yTrue.length; i++) {
      for (let j = 0; j < c.yTrue.length; j++) {
        if (c.yTrue[i] !== 1 || c.yTrue[j] !== 0) continue;
        pairs++;
        correct += c.yScore[i] > c.yScore[j] ? 1 : c.yScore[i] === c.yScore[j] ? 0.5 : 0;
      }
    }
    expect(auroc(c.yTrue, c.yScore)).toBeCloseTo(correct / pairs, 12);
  });
});

describe('auprc by hand', () => {
  it('treats tied scores as one threshold', () => {
    // Thresholds .9: P=1 R=.5; .5: P=2/3 R=1 -> .5 * 1 + .5 * 2/3.
    expect(auprc([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it('equals the prevalence for a constant score', () => {
    expect(auprc([1, 0, 0, 0, 1], [0.3, 0.3, 0.3, 0.3, 0.3])).toBeCloseTo(0.4, 12);
  });

  it('does not interpolate: an inverted ranking scores the precision at each recall step', () => {
    // Positives ranked last: P=1/3 at R=.5, P=1/2 at R=1.
    expect(auprc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])).toBeCloseTo(0.5 / 3 + 0.25, 12);
  });
});

describe('degenerate input', () => {
  it('auroc is NaN when only one class is present or the input is empty (sklearn raises)', () => {
    expect(auroc([0, 0], [0.1, 0.2])).toBeNaN();
    expect(auroc([1, 1, 1], [0.1, 0.2, 0.3])).toBeNaN();
    expect(auroc([], [])).toBeNaN();
  });

  it('auprc is NaN without positives and 1 without negatives', () => {
    expect(auprc([0, 0], [0.1, 0.2])).toBeNaN();
    expect(auprc([], [])).toBeNaN();
    expect(auprc([1, 1, 1], [0.3, 0.1, 0.2])).toBe(1);
  });
});

describe('input validation', () => {
  it('rejects mismatched lengths, naming both arguments', () => {
    expect(() => auroc([0, 1], [0.1])).toThrow(/auroc: yTrue has 2 values but yScore has 1/);
    expect(() => auprc([0], [0.1, 0.2])).toThrow(/auprc: yTrue has 1 values but yScore has 2/);
  });

  it('rejects labels other than 0/1, naming the index', () => {
    expect(() => auroc([0, 2], [0.1, 0.2])).toThrow(/auroc: yTrue\[1\] is 2; binary labels must be 0 or 1/);
    expect(() => auprc([-1, 1], [0.1, 0.2])).toThrow(/auprc: yTrue\[0\] is -1/);
    expect(() => auroc([0, 0.5], [0.1, 0.2])).toThrow(/yTrue\[1\] is 0.5/);
  });

  it('rejects NaN and infinite scores', () => {
    expect(() => auroc([0, 1], [0.1, NaN])).toThrow(/auroc: yScore\[1\] is NaN; every value must be a finite number/);
    expect(() => auprc([0, 1], [Infinity, 0.1])).toThrow(/auprc: yScore\[0\] is Infinity/);
  });
});
