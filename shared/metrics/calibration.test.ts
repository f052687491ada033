import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { Random } from '../data/random.js';
import { binIndex } from './calibration.js';
import { brier, ece, reliabilityBins } from './index.js';

// Brier is compared with scikit-learn's brier_score_loss. scikit-learn has no ECE, so the
// reference below is NumPy written straight from Guo et al. (2017), section 2: top label and its
// confidence, M equal-width bins I_m = ((m-1)/M, m/M], ECE = sum |B_m|/n |acc(B_m) - conf(B_m)|.
// It masks each bin by comparing against the edges, where ours searches for each sample's bin.
const REFERENCE = `
from sklearn.metrics import brier_score_loss

def guo_ece(y, p, M):
    conf = np.maximum(p, 1 - p)
    correct = ((p >= 0.5).astype(float) == y).astype(float)
    edges = np.arange(M + 1) / M
    total = 0.0
    for m in range(M):
        upper = conf <= edges[m + 1]
        in_bin = upper & ((conf > edges[m]) if m > 0 else (conf >= 0))
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return total
`;

interface Case {
  name: string;
  yTrue: number[];
  yProb: number[];
  bins: number;
}

function randomCase(name: string, seed: number, n: number, bins: number, sharpen: number): Case {
  const rng = new Random(seed);
  const yTrue: number[] = [];
  const yProb: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = rng.next();
    yTrue.push(rng.next() < q ? 1 : 0);
    // sharpen > 1 pushes probabilities towards 0/1: an overconfident model with a large ECE.
    yProb.push(q ** sharpen / (q ** sharpen + (1 - q) ** sharpen));
  }
  return { name, yTrue, yProb, bins };
}

/**
 * Probabilities exactly on every bin edge and on 1 - edge (the confidence of a negative call),
 * mixed with points inside the bins: with edge points alone every bin would hold one value
 * whichever side the edges belong to, and the edge rule would go untested.
 */
function edgeCase(bins: number, seed: number): Case {
  const rng = new Random(seed);
  const yProb: number[] = [];
  for (let k = 0; k <= bins; k++) yProb.push(k / bins, 1 - k / bins, k / bins, Math.min(1, (k + rng.next()) / bins));
  return { name: `every bin edge, bins=${bins}`, yTrue: yProb.map(() => (rng.next() < 0.5 ? 1 : 0)), yProb, bins };
}

const cases: Case[] = [
  { name: 'hand example, bins=4', yTrue: [1, 0, 1, 1], yProb: [0.875, 0.25, 0.625, 0.375], bins: 4 },
  { name: 'one example', yTrue: [1], yProb: [0.3], bins: 15 },
  { name: 'p exactly 0.5 (top label 1)', yTrue: [1, 0, 0, 1], yProb: [0.5, 0.5, 0.5, 0.5], bins: 10 },
  { name: 'p exactly 0 and 1, right and wrong', yTrue: [0, 1, 1, 0], yProb: [0, 1, 0, 1], bins: 15 },
  { name: 'one bin', yTrue: [1, 0, 1, 0, 1], yProb: [0.9, 0.2, 0.4, 0.7, 0.55], bins: 1 },
  { name: 'single class (all negatives)', yTrue: [0, 0, 0, 0], yProb: [0.1, 0.6, 0.3, 0.05], bins: 15 },
  { name: 'single class (all positives)', yTrue: [1, 1, 1], yProb: [0.9, 0.4, 0.8], bins: 15 },
  { name: 'all probabilities equal', yTrue: [1, 0, 0, 1, 0], yProb: [0.7, 0.7, 0.7, 0.7, 0.7], bins: 15 },
  edgeCase(15, 1),
  edgeCase(10, 2),
  edgeCase(4, 3),
  edgeCase(7, 4),
  randomCase('random n=500, calibrated', 5, 500, 15, 1),
  randomCase('random n=500, overconfident', 6, 500, 15, 3),
  randomCase('random n=500, underconfident, bins=10', 7, 500, 10, 0.4),
  randomCase('random n=20000, overconfident, bins=20', 8, 20000, 20, 2),
];

let reference: Map<string, { ece: number; brier: number }>;

beforeAll(async () => {
  const inputs: Record<string, { shape: number[]; data: number[] }> = {};
  cases.forEach((c, i) => {
    inputs[`y${i}`] = { shape: [c.yTrue.length], data: c.yTrue };
    inputs[`p${i}`] = { shape: [c.yProb.length], data: c.yProb };
  });
  const bins = JSON.stringify(cases.map((c) => c.bins));
  const out = await runNumpy(
    [
      REFERENCE,
      `for i, M in enumerate(${bins}):`,
      "    y, p = IN[f'y{i}'], IN[f'p{i}']",
      "    OUT[f'ece{i}'] = guo_ece(y, p, M)",
      "    OUT[f'brier{i}'] = brier_score_loss(y, p)",
    ].join('\n'),
    inputs,
  );
  reference = new Map(cases.map((c, i) => [c.name, { ece: out[`ece${i}`].data[0], brier: out[`brier${i}`].data[0] }]));
});

describe('ece agrees with a NumPy reference written from Guo et al.; brier with scikit-learn', () => {
  it.each(cases)('$name', ({ name, yTrue, yProb, bins }) => {
    const ref = reference.get(name)!;
    const e = ece(yTrue, yProb, bins);
    const b = brier(yTrue, yProb);
    expect(Math.abs(e - ref.ece), `ece ${e} vs reference ${ref.ece}`).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(b - ref.brier), `brier ${b} vs sklearn ${ref.brier}`).toBeLessThanOrEqual(1e-6);
  });

  it('uses 15 bins by default', () => {
    const c = cases.find((k) => k.name === 'random n=500, overconfident')!;
    expect(ece(c.yTrue, c.yProb)).toBe(ece(c.yTrue, c.yProb, 15));
    expect(ece(c.yTrue, c.yProb)).not.toBe(ece(c.yTrue, c.yProb, 10));
  });
});

describe('ece bin edges', () => {
  it('puts a confidence equal to an edge in the bin below it (right-closed bins)', () => {
    // Confidences .875 | .75 .625 .625; top labels 1, 0, 1, 0 -> right, right, right, wrong.
    // Bin (.75, 1]: |1 - .875| * 1/4. Bin (.5, .75]: acc 2/3, conf 2/3 -> 0.
    // Had .75 gone up instead, the answer would be .15625.
    expect(ece([1, 0, 1, 1], [0.875, 0.25, 0.625, 0.375], 4)).toBe(0.03125);
  });

  it('maps every edge m/M to bin m-1 and the next float up to bin m', () => {
    for (let bins = 1; bins <= 40; bins++) {
      expect(binIndex(0, bins)).toBe(0);
      for (let m = 1; m <= bins; m++) {
        const edge = m / bins;
        expect(binIndex(edge, bins), `edge ${m}/${bins}`).toBe(m - 1);
        if (m < bins) expect(binIndex(nextUp(edge), bins), `just above ${m}/${bins}`).toBe(m);
        expect(binIndex(nextDown(edge), bins), `just below ${m}/${bins}`).toBe(m - 1);
      }
    }
  });

  it('gives p = 0.5 to the positive class with confidence 0.5', () => {
    const r = reliabilityBins([1, 0], [0.5, 0.5], 10);
    expect(r.count[4]).toBe(2); // (0.4, 0.5]
    expect(r.accuracy[4]).toBe(0.5);
    expect(r.confidence[4]).toBe(0.5);
  });

  it('counts p = 0 as a confident negative call, in the top bin', () => {
    const r = reliabilityBins([0, 1], [0, 0], 15);
    expect(r.count[14]).toBe(2);
    expect(r.accuracy[14]).toBe(0.5);
    expect(ece([0, 1], [0, 0])).toBe(0.5);
  });
});

describe('reliabilityBins', () => {
  it('has M + 1 edges, counts every example once, and NaN for empty bins', () => {
    const c = cases.find((k) => k.name === 'random n=500, calibrated')!;
    const r = reliabilityBins(c.yTrue, c.yProb, 15);
    expect(r.edges.length).toBe(16);
    expect(r.edges[15]).toBe(1);
    expect(r.count.reduce((a, b) => a + b, 0)).toBe(500);
    // A binary top-label confidence is at least 0.5: the bins below (7/15 = .467) stay empty.
    for (let m = 0; m < 7; m++) expect(r.accuracy[m]).toBeNaN();
    for (let m = 8; m < 15; m++) expect(r.confidence[m]).toBeGreaterThan(r.edges[m]);
  });
});

describe('brier by hand', () => {
  it('is the mean squared difference', () => {
    expect(brier([1, 0, 1], [0.75, 0.5, 1])).toBeCloseTo((0.0625 + 0.25 + 0) / 3, 15);
  });
});

describe('degenerate input and validation', () => {
  it('returns NaN for no examples', () => {
    expect(ece([], [])).toBeNaN();
    expect(brier([], [])).toBeNaN();
  });

  it('rejects probabilities outside [0, 1] and non-finite ones, naming the index', () => {
    expect(() => ece([0, 1], [0.2, 1.5])).toThrow(/ece: yProb\[1\] is 1.5; probabilities must lie in \[0, 1\]/);
    expect(() => brier([0, 1], [-0.1, 0.5])).toThrow(/brier: yProb\[0\] is -0.1/);
    expect(() => ece([0], [NaN])).toThrow(/ece: yProb\[0\] is NaN/);
  });

  it('rejects bad labels, lengths and bin counts', () => {
    expect(() => ece([0, 2], [0.2, 0.5])).toThrow(/ece: yTrue\[1\] is 2/);
    expect(() => brier([0, 1], [0.2])).toThrow(/brier: yTrue has 2 values but yProb has 1/);
    expect(() => ece([0], [0.2], 0)).toThrow(/ece: bins must be an integer >= 1, got 0/);
    expect(() => ece([0], [0.2], 2.5)).toThrow(/bins must be an integer/);
  });
});

function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

function nextDown(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}
