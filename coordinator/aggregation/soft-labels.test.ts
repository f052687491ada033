import { describe, expect, it } from 'vitest';
import { Random } from '../../shared/data/index.js';
import { expectClose, scalar } from '../../test/helpers/cohort.js';
import { runNumpy } from '../../test/helpers/numpy.js';
import { aggregateSoftLabels, type SoftLabelInput } from './soft-labels.js';

/** Softmax rows of random logits; `sharpness` spreads the logits so some rows are near one-hot. */
function siteLabels(rng: Random, rows: number, classes: number, sharpness: number): Float32Array {
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const logits = Array.from({ length: classes }, () => rng.normal() * sharpness);
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, c) => (out[r * classes + c] = e / sum));
  }
  return out;
}

// The mean of the sites' probabilities (weights normalised), then for DS-FL's entropy-reduction
// aggregation a softmax of the mean divided by the temperature, row by row.
const REFERENCE = `
P = IN['P']; w = IN['w'] / IN['w'].sum()
mean = np.tensordot(w, P, axes=1)
OUT['mean'] = mean
z = mean / IN['T'][0]
e = np.exp(z - z.max(axis=1, keepdims=True))
OUT['era'] = e / e.sum(axis=1, keepdims=True)
`;

async function reference(inputs: SoftLabelInput[], classes: number, weights: number[], temperature: number) {
  const rows = inputs[0]!.probabilities.length / classes;
  const P = new Float64Array(inputs.length * rows * classes);
  inputs.forEach((input, i) => P.set(input.probabilities, i * rows * classes));
  return runNumpy(REFERENCE, {
    P: { shape: [inputs.length, rows, classes], data: P },
    w: { shape: [weights.length], data: weights },
    T: scalar(temperature),
  });
}

describe('aggregateSoftLabels against NumPy', () => {
  it.each([
    { name: '5 sites, 2 classes, 40 images', sites: 5, classes: 2, rows: 40, temperature: 0.1 },
    { name: '3 sites, 9 classes, 17 images, near one-hot rows', sites: 3, classes: 9, rows: 17, temperature: 0.5 },
    { name: '8 sites, 4 classes, 2 images x 16 x 16 pixels (segmentation)', sites: 8, classes: 4, rows: 512, temperature: 0.05 },
  ])('$name', async ({ sites, classes, rows, temperature }) => {
    const rng = new Random(sites * 100 + classes);
    const inputs = Array.from({ length: sites }, (_, i) => ({ probabilities: siteLabels(rng, rows, classes, 1 + 3 * (i % 3)), weight: 10 + rng.int(500) }));
    const uniform = await reference(inputs, classes, inputs.map(() => 1), temperature);
    const byExamples = await reference(inputs, classes, inputs.map((i) => i.weight), temperature);
    expectClose(aggregateSoftLabels(inputs, classes, { weighting: 'uniform' }), uniform.mean!.data);
    expectClose(aggregateSoftLabels(inputs, classes, { weighting: 'examples' }), byExamples.mean!.data);
    expectClose(aggregateSoftLabels(inputs, classes, { weighting: 'uniform', era: { temperature } }), uniform.era!.data);
    expectClose(aggregateSoftLabels(inputs, classes, { weighting: 'examples', era: { temperature } }), byExamples.era!.data);
  });

  it('sharpens more as the ERA temperature falls (default 0.1), keeping each row\'s top class', () => {
    const rng = new Random(5);
    const inputs = Array.from({ length: 6 }, () => ({ probabilities: siteLabels(rng, 30, 5, 2), weight: 1 }));
    const mean = aggregateSoftLabels(inputs, 5, { weighting: 'uniform' });
    const at = (temperature?: number) => aggregateSoftLabels(inputs, 5, { weighting: 'uniform', era: { temperature } });
    const entropy = (p: Float32Array) => -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);
    const argmax = (p: Float32Array, r: number) => [...p.subarray(r * 5, r * 5 + 5)].reduce((best, v, c, row) => (v > row[best]! ? c : best), 0);
    expect(at()).toEqual(at(0.1));
    expect(entropy(at(0.02))).toBeLessThan(entropy(at(0.1)));
    expect(entropy(at(0.1))).toBeLessThan(entropy(at(1)));
    for (let r = 0; r < 30; r++) expect(argmax(at(0.02), r)).toBe(argmax(mean, r));
  });
});

describe('aggregateSoftLabels refuses bad input, naming it', () => {
  const good = (): SoftLabelInput => ({ probabilities: Float32Array.from([0.2, 0.8, 0.5, 0.5]), weight: 3 });

  it('different shapes', () => {
    expect(() => aggregateSoftLabels([good(), { probabilities: Float32Array.from([1, 0]), weight: 1 }], 2, { weighting: 'uniform' })).toThrow(
      /soft labels of input 1 have 2 values \(1 rows\), input 0 has 4 \(2 rows\); every site must label the same transfer set/,
    );
    expect(() => aggregateSoftLabels([good()], 3, { weighting: 'uniform' })).toThrow(/input 0 have 4 values, not a positive whole number of rows of 3 classes/);
    expect(() => aggregateSoftLabels([], 2, { weighting: 'uniform' })).toThrow(/needs at least one site's soft labels/);
  });

  it('rows that are not distributions: logits, negative, not finite', () => {
    expect(() => aggregateSoftLabels([good(), { probabilities: Float32Array.from([0.2, 0.8, 2.1, -0.3]), weight: 1 }], 2, { weighting: 'uniform' })).toThrow(
      /input 1, row 1, class 1 is -0.3\d*; probabilities must be finite and non-negative/,
    );
    expect(() => aggregateSoftLabels([good(), { probabilities: Float32Array.from([0.2, 0.8, 2.1, 1.3]), weight: 1 }], 2, { weighting: 'uniform' })).toThrow(
      /input 1, row 1 sum to 3\.\d+, not 1 \(within 0.001\); send probabilities \(softmax outputs\), not logits/,
    );
    expect(() => aggregateSoftLabels([{ probabilities: Float32Array.from([NaN, 1, 0.5, 0.5]), weight: 1 }], 2, { weighting: 'uniform' })).toThrow(
      /input 0, row 0, class 0 is NaN/,
    );
  });

  it('a missing example count when weighting by examples, and a bad temperature', () => {
    expect(() => aggregateSoftLabels([good(), { ...good(), weight: 0 }], 2, { weighting: 'examples' })).toThrow(
      /input 1 has weight 0; weighting by examples needs a positive example count/,
    );
    expect(aggregateSoftLabels([good(), { ...good(), weight: 0 }], 2, { weighting: 'uniform' })).toEqual(good().probabilities);
    expect(() => aggregateSoftLabels([good()], 2, { weighting: 'uniform', era: { temperature: 0 } })).toThrow(/ERA temperature 0 must be a positive number/);
  });
});
