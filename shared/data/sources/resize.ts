/**
 * Bilinear resizing as Pillow does it (`Image.resize(size, Image.BILINEAR)`): separable triangle
 * filter on pixel centres, widened by the reduction factor when shrinking. A plain 2x2 bilinear
 * lookup would sample 4 of 256 pixels when a 512-pixel CT becomes 32 pixels and alias badly; the
 * widened filter averages them all, and Pillow is an independent reference the tests compare with.
 */

/** Resizes one channel laid out row by row; returns height x width values. */
export function resizeBilinear(src: Float32Array, rows: number, columns: number, height: number, width: number): Float32Array {
  if (rows === height && columns === width) return Float32Array.from(src);
  // Horizontal pass first, then vertical, rounding to float32 in between as Pillow's 'F' mode does.
  const horizontal = new Float32Array(rows * width);
  const h = weights(columns, width);
  for (let r = 0; r < rows; r++) {
    for (let x = 0; x < width; x++) {
      const { start, k } = h[x]!;
      let sum = 0;
      for (let j = 0; j < k.length; j++) sum += src[r * columns + start + j]! * k[j]!;
      horizontal[r * width + x] = sum;
    }
  }
  const out = new Float32Array(height * width);
  const v = weights(rows, height);
  for (let y = 0; y < height; y++) {
    const { start, k } = v[y]!;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let j = 0; j < k.length; j++) sum += horizontal[(start + j) * width + x]! * k[j]!;
      out[y * width + x] = sum;
    }
  }
  return out;
}

/** For each output position: the first input it reads and the normalised triangle weights. */
function weights(inSize: number, outSize: number): { start: number; k: Float64Array }[] {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const result = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const end = Math.min(Math.trunc(center + support + 0.5), inSize);
    const k = new Float64Array(end - start);
    let total = 0;
    for (let j = 0; j < k.length; j++) {
      const w = Math.max(0, 1 - Math.abs((j + start - center + 0.5) / filterScale));
      k[j] = w;
      total += w;
    }
    if (total > 0) for (let j = 0; j < k.length; j++) k[j]! /= total;
    result.push({ start, k });
  }
  return result;
}
