/**
 * Input checks shared by the metric functions. Each error names the function, the argument and
 * the first offending index, so a caller can find the bad value without re-running anything.
 */

export function checkSameLength(fn: string, aName: string, a: ArrayLike<number>, bName: string, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new Error(`${fn}: ${aName} has ${a.length} values but ${bName} has ${b.length}; pass one ${bName} value per ${aName} value`);
  }
}

/** Binary labels must be exactly 0 or 1: silently treating 2 or -1 as "positive" hides label-mapping bugs. */
export function checkBinaryLabels(fn: string, name: string, labels: ArrayLike<number>): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) {
      throw new Error(`${fn}: ${name}[${i}] is ${y}; binary labels must be 0 or 1 (map your classes to 0/1 first)`);
    }
  }
}

/** Scores may be any finite number (logits, probabilities, detector outputs). */
export function checkFinite(fn: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new Error(`${fn}: ${name}[${i}] is ${values[i]}; every value must be a finite number (check the model output for NaN/Infinity)`);
    }
  }
}

/** Probabilities must lie in [0, 1]; scikit-learn refuses values outside it for the same metrics. */
export function checkProbabilities(fn: string, name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const p = values[i];
    if (!(p >= 0 && p <= 1)) {
      throw new Error(`${fn}: ${name}[${i}] is ${p}; probabilities must lie in [0, 1] (apply a sigmoid/softmax to logits first)`);
    }
  }
}

export function checkPositiveFinite(fn: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new Error(`${fn}: ${name} must be a finite number > 0, got ${value}`);
  }
}
