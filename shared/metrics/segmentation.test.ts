import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { Random } from '../data/random.js';
import { dice, iou } from './index.js';

// Dice is scikit-learn's f1_score and IoU its jaccard_score on the flattened masks; their
// zero_division (0 or 1) is the score of an empty-vs-empty pair, our `empty` argument.

interface Case {
  name: string;
  maskTrue: number[];
  maskPred: number[];
}

/** A disc of foreground on a size x size grid, and a shifted, noisy prediction of it. */
function discCase(name: string, seed: number, size: number, radius: number, shift: number, noise: number): Case {
  const rng = new Random(seed);
  const maskTrue: number[] = [];
  const maskPred: number[] = [];
  const c = size / 2;
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) {
      maskTrue.push((r - c) ** 2 + (col - c) ** 2 <= radius ** 2 ? 1 : 0);
      const inside = (r - c - shift) ** 2 + (col - c) ** 2 <= radius ** 2;
      maskPred.push(inside !== (rng.next() < noise) ? 1 : 0);
    }
  }
  return { name, maskTrue, maskPred };
}

const cases: Case[] = [
  { name: 'both empty', maskTrue: [0, 0, 0, 0], maskPred: [0, 0, 0, 0] },
  { name: 'reference empty, prediction not', maskTrue: [0, 0, 0, 0], maskPred: [0, 1, 0, 0] },
  { name: 'prediction empty, reference not', maskTrue: [1, 1, 0, 0], maskPred: [0, 0, 0, 0] },
  { name: 'identical', maskTrue: [0, 1, 1, 0, 1], maskPred: [0, 1, 1, 0, 1] },
  { name: 'disjoint', maskTrue: [1, 1, 0, 0], maskPred: [0, 0, 1, 1] },
  { name: 'all foreground', maskTrue: [1, 1, 1], maskPred: [1, 1, 1] },
  { name: 'single pixel each, overlapping', maskTrue: [1], maskPred: [1] },
  discCase('64x64 disc, shifted prediction', 1, 64, 12, 3, 0),
  discCase('64x64 disc, shifted and noisy prediction', 2, 64, 12, 2, 0.05),
  discCase('256x256 small lesion, noisy prediction', 3, 256, 4, 1, 0.001),
];

let reference: Map<string, { dice0: number; dice1: number; iou0: number; iou1: number }>;

beforeAll(async () => {
  const inputs: Record<string, { shape: number[]; data: number[] }> = {};
  cases.forEach((c, i) => {
    inputs[`t${i}`] = { shape: [c.maskTrue.length], data: c.maskTrue };
    inputs[`p${i}`] = { shape: [c.maskPred.length], data: c.maskPred };
  });
  const out = await runNumpy(
    [
      'import warnings',
      "warnings.simplefilter('ignore')",
      'from sklearn.metrics import f1_score, jaccard_score',
      `for i in range(${cases.length}):`,
      "    t, p = IN[f't{i}'].astype(int), IN[f'p{i}'].astype(int)",
      '    for zd in (0, 1):',
      "        OUT[f'dice{zd}_{i}'] = f1_score(t, p, zero_division=zd)",
      "        OUT[f'iou{zd}_{i}'] = jaccard_score(t, p, zero_division=zd)",
    ].join('\n'),
    inputs,
  );
  const v = (key: string) => out[key].data[0];
  reference = new Map(
    cases.map((c, i) => [c.name, { dice0: v(`dice0_${i}`), dice1: v(`dice1_${i}`), iou0: v(`iou0_${i}`), iou1: v(`iou1_${i}`) }]),
  );
});

describe('dice and iou agree with scikit-learn', () => {
  it.each(cases)('$name', ({ name, maskTrue, maskPred }) => {
    const ref = reference.get(name)!;
    const near = (actual: number, expected: number, what: string) =>
      expect(Math.abs(actual - expected), `${what}: ${actual} vs sklearn ${expected}`).toBeLessThanOrEqual(1e-6);
    near(dice(maskTrue, maskPred), ref.dice1, 'dice (empty = 1)');
    near(dice(maskTrue, maskPred, 0), ref.dice0, 'dice (empty = 0)');
    near(iou(maskTrue, maskPred), ref.iou1, 'iou (empty = 1)');
    near(iou(maskTrue, maskPred, 0), ref.iou0, 'iou (empty = 0)');
  });
});

describe('dice and iou by hand', () => {
  it('scores empty vs empty as 1 by default, or as asked', () => {
    expect(dice([0, 0], [0, 0])).toBe(1);
    expect(iou(new Uint8Array(9), new Uint8Array(9))).toBe(1);
    expect(dice([0, 0], [0, 0], NaN)).toBeNaN();
    expect(iou([], [], 0)).toBe(0);
  });

  it('relates as iou = dice / (2 - dice)', () => {
    // |A| = 3, |B| = 2, |A ∩ B| = 1: dice 2/5, iou 1/4.
    const a = [1, 1, 1, 0, 0];
    const b = [0, 0, 1, 1, 0];
    expect(dice(a, b)).toBeCloseTo(0.4, 15);
    expect(iou(a, b)).toBeCloseTo(0.25, 15);
    expect(iou(a, b)).toBeCloseTo(dice(a, b) / (2 - dice(a, b)), 15);
  });

  it('rejects non-binary masks, mismatched lengths and a bad empty value, naming the argument', () => {
    expect(() => dice([0, 1], [0, 0.7])).toThrow(/dice: maskPred\[1\] is 0.7; masks must be binary 0\/1/);
    expect(() => iou([255, 0], [1, 0])).toThrow(/iou: maskTrue\[0\] is 255/);
    expect(() => dice([0, 1, 1], [0, 1])).toThrow(/dice: maskTrue has 3 values but maskPred has 2/);
    expect(() => iou([0], [0], 0.5)).toThrow(/iou: empty must be 0, 1 or NaN/);
  });
});
