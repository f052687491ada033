/** How far a row of soft labels may sum from 1 (float32 rounding of a softmax; secure aggregation's quantization). */
export const ROW_SUM_TOLERANCE = 1e-3;

/**
 * Why `values` are not `rows` probability distributions over `classes`, or null when they are:
 * the length must match, every value be finite and in [0, 1], and every row sum to 1 (within the
 * tolerance). A message names the first offending row, so a site's operator can find the bug.
 */
export function softLabelProblem(values: Float32Array, rows: number, classes: number, tolerance = ROW_SUM_TOLERANCE): string | null {
  if (values.length !== rows * classes) {
    return `has ${values.length} values, not ${rows} rows of ${classes} classes (${rows * classes}); every site must label the round's whole transfer set`;
  }
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const v = values[r * classes + c]!;
      if (!Number.isFinite(v)) return `row ${r}, class ${c} is ${v}; soft labels must be finite`;
      if (v < 0 || v > 1) return `row ${r}, class ${c} is ${v}, outside [0, 1]; soft labels are probabilities`;
      sum += v;
    }
    if (Math.abs(sum - 1) > tolerance) return `row ${r} sums to ${sum.toPrecision(6)}, not 1 (within ${tolerance}); send probabilities (softmax outputs), not logits`;
  }
  return null;
}
