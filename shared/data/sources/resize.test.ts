import { describe, expect, it } from 'vitest';
import { runNumpy } from '../../../test/helpers/numpy.js';
import { Random } from '../random.js';
import { resizeBilinear } from './resize.js';

// Pillow (Debian python3-pil) is the reference: Image.resize(..., Image.BILINEAR) on a float ('F') image.
async function pillow(src: Float32Array, rows: number, columns: number, height: number, width: number): Promise<Float64Array> {
  const out = await runNumpy(
    `from PIL import Image
img = Image.fromarray(IN['a'].astype(np.float32), mode='F')
OUT['r'] = np.asarray(img.resize((${width}, ${height}), Image.BILINEAR), dtype=np.float64)`,
    { a: { shape: [rows, columns], data: src } },
  );
  return out.r!.data;
}

describe('resizeBilinear', () => {
  it.each([
    [512, 512, 28, 28, 'a CT shrunk to the default model input'],
    [64, 48, 28, 28, 'non-square, shrinking by a non-integer factor'],
    [3, 5, 28, 28, 'a tiny image enlarged'],
    [28, 28, 64, 20, 'enlarged one way, shrunk the other'],
    [7, 7, 7, 7, 'same size'],
  ])('%ix%i -> %ix%i equals Pillow within 1e-5 (%s)', async (rows, columns, height, width) => {
    const rng = new Random(rows * 1000 + columns);
    const src = Float32Array.from({ length: rows * columns }, () => rng.uniform(-1000, 3000));
    const ours = resizeBilinear(src, rows, columns, height, width);
    const ref = await pillow(src, rows, columns, height, width);
    expect(ours.length).toBe(height * width);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
    expect(worst).toBeLessThan(1e-5);
  });

  it('keeps values inside the input range (weights are non-negative and sum to one)', () => {
    const rng = new Random(5);
    const src = Float32Array.from({ length: 50 * 30 }, () => rng.next());
    const out = resizeBilinear(src, 50, 30, 17, 41);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...out)).toBeLessThanOrEqual(1 + 1e-6);
  });
});
