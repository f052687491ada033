import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { registerCpuResizeGradient } from './resize-gradient.js';
import { randomValues, relativeError } from './test-helpers.js';

/**
 * The gradient of a linear map by its definition: input element i's gradient is sum(f(e_i) * dy),
 * e_i the unit impulse at i. Slow, but independent of any gradient kernel.
 */
function gradientByDefinition(shape: [number, number, number, number], size: [number, number], alignCorners: boolean, half: boolean, dy: tf.Tensor): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const e = new Float32Array(n);
    e[i] = 1;
    out[i] = tf.tidy(() => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(tf.tensor4d(e, shape), size, alignCorners, half), dy)).dataSync()[0]!);
  }
  return out;
}

function gradientByKernel(shape: [number, number, number, number], size: [number, number], alignCorners: boolean, half: boolean, dy: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, size, alignCorners, half), dy));
    return Float32Array.from(tf.grad(f)(tf.tensor4d(randomValues(shape.reduce((a, b) => a * b, 1), 3), shape)).dataSync());
  });
}

const CASES = [
  { shape: [2, 4, 4, 3], size: [8, 8], alignCorners: false, half: false },
  { shape: [3, 3, 5, 2], size: [6, 10], alignCorners: false, half: false },
  { shape: [2, 5, 4, 1], size: [7, 9], alignCorners: false, half: true },
  { shape: [2, 5, 6, 2], size: [9, 4], alignCorners: true, half: false },
] as { shape: [number, number, number, number]; size: [number, number]; alignCorners: boolean; half: boolean }[];

describe('nearest-neighbour resize gradient (U-Net upsampling)', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm' });
  });

  it('the stock CPU kernel is wrong for a batch of more than one image (why ours replaces it)', async () => {
    await tf.setBackend('cpu');
    const c = CASES[0]!;
    const dy = tf.tensor4d(randomValues(c.shape[0] * c.size[0] * c.size[1] * c.shape[3], 5), [c.shape[0], ...c.size, c.shape[3]]);
    const stock = gradientByKernel(c.shape, c.size, c.alignCorners, c.half, dy);
    const truth = gradientByDefinition(c.shape, c.size, c.alignCorners, c.half, dy);
    dy.dispose();
    // If a tfjs upgrade fixes it, this fails and the replacement can go.
    expect(relativeError(stock, truth)).toBeGreaterThan(0.1);
  });

  it.each(CASES)('ours on CPU and the stock WASM kernel match the definition: $shape -> $size (alignCorners $alignCorners, halfPixelCenters $half)', async (c) => {
    registerCpuResizeGradient();
    for (const backend of ['cpu', 'wasm']) {
      // The WASM kernel takes no halfPixelCenters; UpSampling2D never sets it.
      if (backend === 'wasm' && c.half) continue;
      await tf.setBackend(backend);
      const dy = tf.tensor4d(randomValues(c.shape[0] * c.size[0] * c.size[1] * c.shape[3], 5), [c.shape[0], ...c.size, c.shape[3]]);
      const got = gradientByKernel(c.shape, c.size, c.alignCorners, c.half, dy);
      const truth = gradientByDefinition(c.shape, c.size, c.alignCorners, c.half, dy);
      dy.dispose();
      expect(relativeError(got, truth), backend).toBeLessThan(1e-5);
    }
    await tf.setBackend('wasm');
  });
});
