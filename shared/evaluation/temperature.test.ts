import { describe, expect, it } from 'vitest';
import { Random } from '../data/index.js';
import { ece } from '../metrics/index.js';
import { TEMPERATURE_GRID } from './constants.js';
import { eceFromSums } from './pooled-metrics.js';
import { binaryLogits, calibrationSweep, fitTemperature, sigmoid } from './temperature.js';

/**
 * Logits of a model that is over- (T0 > 1) or under-confident (T0 < 1): the truth is
 * sigmoid(z / T0), so dividing the model's logits by T0 calibrates it.
 */
function miscalibrated(n: number, t0: number, seed: number): { z: Float64Array; y: Int32Array } {
  const rng = new Random(seed);
  const z = new Float64Array(n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = 3 * rng.normal() + 0.3;
    y[i] = rng.next() < sigmoid(z[i]! / t0) ? 1 : 0;
  }
  return { z, y };
}

/** Mean NLL at temperature t, written out directly (no shared code). */
function meanNll(z: Float64Array, y: Int32Array, t: number): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const p = 1 / (1 + Math.exp(-z[i]! / t));
    s -= y[i] ? Math.log(p) : Math.log(1 - p);
  }
  return s / z.length;
}

/** The continuous NLL-optimal temperature by golden-section search on log T (NLL is unimodal in T). */
function continuousFit(z: Float64Array, y: Int32Array): number {
  let lo = Math.log(0.1);
  let hi = Math.log(10);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let k = 0; k < 100; k++) {
    const a = hi - g * (hi - lo);
    const b = lo + g * (hi - lo);
    if (meanNll(z, y, Math.exp(a)) < meanNll(z, y, Math.exp(b))) hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}

function split<T extends Float64Array | Int32Array>(a: T, parts: number): T[] {
  const size = Math.ceil(a.length / parts);
  return Array.from({ length: parts }, (_, k) => a.slice(k * size, (k + 1) * size) as T);
}

describe('temperature scaling fitted on summed site NLL', () => {
  for (const t0 of [2, 0.5]) {
    it(`recovers a known temperature of ${t0} from three sites' sums, as a fit on the pooled images would`, () => {
      const { z, y } = miscalibrated(30_000, t0, t0 === 2 ? 11 : 12);
      // Three sites sweep their own shares; the coordinator only adds their sums.
      const zs = split(z, 3);
      const ys = split(y, 3);
      const sweeps = zs.map((zi, k) => calibrationSweep(ys[k]!, zi));
      const nll = TEMPERATURE_GRID.map((_, i) => sweeps.reduce((s, w) => s + w.nll[i]!, 0));
      const fit = fitTemperature(TEMPERATURE_GRID, nll);

      // The sums are exactly the pooled sums.
      const pooled = calibrationSweep(y, z);
      for (let i = 0; i < nll.length; i++) expect(nll[i]).toBeCloseTo(pooled.nll[i]!, 6);

      // Within one grid step (2.7%) of the continuous optimum on the same data...
      const best = continuousFit(z, y);
      const step = TEMPERATURE_GRID[1]! / TEMPERATURE_GRID[0]!;
      expect(fit.temperature / best).toBeLessThanOrEqual(step);
      expect(best / fit.temperature).toBeLessThanOrEqual(step);
      // ...which sampling puts close to the truth.
      expect(Math.abs(Math.log(fit.temperature / t0))).toBeLessThan(0.06);
      expect(fit.atEdge).toBe(false);

      // Calibration at the fitted temperature beats the model as it is.
      const one = TEMPERATURE_GRID.indexOf(1);
      const eceAt = (i: number) => eceFromSums(sweeps.map((w) => w.reliability[i]!).reduce((a, b) => ({
        count: a.count.map((c, m) => c + b.count[m]!),
        confidence: a.confidence.map((c, m) => c + b.confidence[m]!),
        correct: a.correct.map((c, m) => c + b.correct[m]!),
      })), y.length);
      expect(eceAt(fit.index)).toBeLessThan(eceAt(one) / 3);
      // The summed reliability at T = 1 is the ECE of the model's own probabilities.
      expect(eceAt(one)).toBeCloseTo(ece(y, Array.from(z, (v) => sigmoid(v))), 9);
    });
  }

  it('says when the optimum lies at the end of the grid', () => {
    const { z, y } = miscalibrated(2000, 20, 3);
    const fit = fitTemperature(TEMPERATURE_GRID, calibrationSweep(y, z).nll);
    expect(fit.temperature).toBe(TEMPERATURE_GRID.at(-1));
    expect(fit.atEdge).toBe(true);
  });

  it('reads binary logits back from softmax output, saturated rows included', () => {
    const z = [-3, 0, 2.5, 40];
    const probs = z.flatMap((v) => [1 - sigmoid(v), sigmoid(v)]);
    const back = binaryLogits(Float32Array.from(probs));
    expect(back[0]).toBeCloseTo(-3, 5);
    expect(back[1]).toBeCloseTo(0, 6);
    expect(back[2]).toBeCloseTo(2.5, 5);
    // float32 keeps 1 - p only as 1 here, but p0 itself survives: the logit stays large and finite.
    expect(back[3]).toBeGreaterThan(30);
    expect(() => binaryLogits([0.2, 0.3, 0.5])).toThrow(/not N x 2/);
    expect(() => fitTemperature([1, 2], [3])).toThrow(/must match/);
  });
});
