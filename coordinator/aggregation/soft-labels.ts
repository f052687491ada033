/** One site's soft labels on the shared transfer set. */
export interface SoftLabelInput {
  /** rows x classes, row-major; each row a probability distribution over the classes. */
  probabilities: Float32Array;
  /** The site's example count, used when weighting by examples. */
  weight: number;
}

export interface SoftLabelOptions {
  /** 'uniform': every site counts the same; 'examples': sites count by their example counts. */
  weighting: 'uniform' | 'examples';
  /**
   * Entropy-reduction aggregation (DS-FL, Itahara et al. 2020): softmax(mean / T) per row.
   * Averaging many sites' soft labels flattens them; a temperature below 1 sharpens them again.
   */
  era?: { temperature?: number };
}

export const DEFAULT_ERA_TEMPERATURE = 0.1;

/** How far a row of probabilities may sum from 1 (float32 rounding of a softmax output). */
const ROW_SUM_TOLERANCE = 1e-3;

/**
 * The multi-teacher soft labels for federated distillation: the (weighted) mean of the sites'
 * probabilities row by row, optionally sharpened by ERA. Rows are whatever the transfer set
 * yields one distribution for: images for classification, image pixels for segmentation.
 */
export function aggregateSoftLabels(inputs: readonly SoftLabelInput[], classes: number, options: SoftLabelOptions): Float32Array {
  const weights = checkInputs(inputs, classes, options);
  const temperature = options.era ? (options.era.temperature ?? DEFAULT_ERA_TEMPERATURE) : null;
  if (temperature !== null && !(temperature > 0 && Number.isFinite(temperature))) {
    throw new RangeError(`ERA temperature ${temperature} must be a positive number (lower is sharper; DS-FL uses 0.1)`);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const length = inputs[0]!.probabilities.length;
  const out = new Float32Array(length);
  const row = new Float64Array(classes);
  for (let start = 0; start < length; start += classes) {
    row.fill(0);
    for (let i = 0; i < inputs.length; i++) {
      const p = inputs[i]!.probabilities;
      const w = weights[i]! / total;
      for (let c = 0; c < classes; c++) row[c] += w * p[start + c]!;
    }
    if (temperature !== null) softmaxInPlace(row, temperature);
    for (let c = 0; c < classes; c++) out[start + c] = row[c]!;
  }
  return out;
}

/** softmax(row / T), shifted by the row's maximum so exp cannot overflow at small T. */
function softmaxInPlace(row: Float64Array, temperature: number): void {
  let max = -Infinity;
  for (let c = 0; c < row.length; c++) max = Math.max(max, row[c]!);
  let sum = 0;
  for (let c = 0; c < row.length; c++) {
    row[c] = Math.exp((row[c]! - max) / temperature);
    sum += row[c]!;
  }
  for (let c = 0; c < row.length; c++) row[c] = row[c]! / sum;
}

/** Checks shapes and values; answers each input's weight under the chosen weighting. */
function checkInputs(inputs: readonly SoftLabelInput[], classes: number, options: SoftLabelOptions): number[] {
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`soft labels need a positive whole number of classes, got ${classes}`);
  if (options.weighting !== 'uniform' && options.weighting !== 'examples') {
    throw new RangeError(`soft-label weighting "${String(options.weighting)}" is not one of uniform, examples`);
  }
  if (inputs.length === 0) throw new RangeError('soft-label aggregation needs at least one site\'s soft labels');
  const length = inputs[0]!.probabilities.length;
  if (length === 0 || length % classes !== 0) {
    throw new RangeError(`soft labels of input 0 have ${length} values, not a positive whole number of rows of ${classes} classes`);
  }
  return inputs.map((input, i) => {
    const p = input.probabilities;
    if (p.length !== length) {
      throw new RangeError(`soft labels of input ${i} have ${p.length} values (${p.length / classes} rows), input 0 has ${length} (${length / classes} rows); every site must label the same transfer set`);
    }
    for (let start = 0; start < length; start += classes) {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const v = p[start + c]!;
        if (!Number.isFinite(v) || v < 0) {
          throw new RangeError(`soft labels of input ${i}, row ${start / classes}, class ${c} is ${v}; probabilities must be finite and non-negative`);
        }
        sum += v;
      }
      if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) {
        throw new RangeError(`soft labels of input ${i}, row ${start / classes} sum to ${sum}, not 1 (within ${ROW_SUM_TOLERANCE}); send probabilities (softmax outputs), not logits`);
      }
    }
    if (options.weighting === 'uniform') return 1;
    if (!(input.weight > 0) || !Number.isFinite(input.weight)) {
      throw new RangeError(`input ${i} has weight ${input.weight}; weighting by examples needs a positive example count for every site`);
    }
    return input.weight;
  });
}
