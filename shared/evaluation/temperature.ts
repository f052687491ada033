/**
 * Temperature scaling (Guo et al. 2017) for a binary classifier, fitted without per-image data:
 * each site sums its validation negative log-likelihood at every temperature of a fixed grid, the
 * coordinator adds the sites' sums and takes the temperature with the smallest total. The sums
 * are exactly what a fit on the pooled validation images would minimise, so the federated fit
 * equals the pooled fit over the same grid.
 */
import { RELIABILITY_BINS, TEMPERATURE_GRID } from './constants.js';
import { reliabilitySums } from './statistics.js';
import type { CalibrationSweep } from './types.js';

/** Logits beyond this carry no usable information in float32 probabilities; clamping keeps them finite. */
const LOGIT_LIMIT = 50;

/**
 * The binary logit z = log p1 - log p0 of each row of an N x 2 softmax output. It equals the
 * difference of the two pre-softmax activations, which is what dividing by T acts on.
 */
export function binaryLogits(probs: ArrayLike<number>): Float64Array {
  if (probs.length % 2 !== 0) throw new Error(`evaluation: ${probs.length} probabilities is not N x 2 (a binary model)`);
  const n = probs.length / 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p0 = Math.max(probs[2 * i]!, Number.MIN_VALUE);
    const p1 = Math.max(probs[2 * i + 1]!, Number.MIN_VALUE);
    const z = Math.log(p1) - Math.log(p0);
    if (Number.isNaN(z)) throw new Error(`evaluation: the model's output for example ${i} is not a probability (${probs[2 * i]}, ${probs[2 * i + 1]})`);
    out[i] = Math.max(-LOGIT_LIMIT, Math.min(LOGIT_LIMIT, z));
  }
  return out;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** Summed NLL, summed squared error and reliability sums of the site's set at each temperature. */
export function calibrationSweep(labels: ArrayLike<number>, logits: ArrayLike<number>, temperatures: readonly number[] = TEMPERATURE_GRID): CalibrationSweep {
  if (labels.length !== logits.length) throw new Error(`evaluation: ${labels.length} labels but ${logits.length} logits`);
  const nll: number[] = [];
  const brier: number[] = [];
  const reliability = [];
  const p = new Float64Array(labels.length);
  for (const t of temperatures) {
    if (!(t > 0 && Number.isFinite(t))) throw new Error(`evaluation: temperature ${t} must be a positive number`);
    let nllSum = 0;
    let brierSum = 0;
    for (let i = 0; i < labels.length; i++) {
      const z = logits[i]! / t;
      const y = labels[i]!;
      // -log sigmoid(z) = softplus(-z) for a positive, softplus(z) for a negative.
      nllSum += softplus(y === 1 ? -z : z);
      p[i] = sigmoid(z);
      brierSum += (y - p[i]!) ** 2;
    }
    nll.push(nllSum);
    brier.push(brierSum);
    reliability.push(reliabilitySums(labels, p, RELIABILITY_BINS));
  }
  return { temperatures: [...temperatures], nll, brier, reliability };
}

export interface TemperatureFit {
  temperature: number;
  /** Index of the temperature in the grid. */
  index: number;
  /** True when the minimum sits at an end of the grid: the best temperature may lie beyond it. */
  atEdge: boolean;
}

/** The grid temperature with the smallest summed NLL (the first one on a tie). */
export function fitTemperature(temperatures: readonly number[], nll: readonly number[]): TemperatureFit {
  if (temperatures.length === 0 || temperatures.length !== nll.length) {
    throw new Error(`evaluation: ${temperatures.length} temperatures but ${nll.length} NLL sums; they must match one to one`);
  }
  let best = 0;
  for (let i = 1; i < nll.length; i++) if (nll[i]! < nll[best]!) best = i;
  return { temperature: temperatures[best]!, index: best, atEdge: best === 0 || best === nll.length - 1 };
}
