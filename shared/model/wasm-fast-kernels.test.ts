import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { randomValues, relativeError, valuesOn } from './test-helpers.js';

async function compare(f: () => tf.Tensor, tol = 1e-5): Promise<void> {
  const wasm = await valuesOn('wasm', f);
  const cpu = await valuesOn('cpu', f);
  expect(wasm.shape).toEqual(cpu.shape);
  expect(relativeError(wasm.data, cpu.data)).toBeLessThan(tol);
}

const rand = (shape: number[], seed: number) => tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed), shape);

describe('faster WASM kernels agree with the CPU backend', () => {
  beforeAll(async () => {
    expect((await selectBackend({ prefer: 'wasm' })).name).toBe('wasm');
  });

  it.each([
    { shape: [5, 7, 3, 4], axes: [0, 1, 2], keepDims: false },
    { shape: [5, 7, 3, 4], axes: [0, 1, 2], keepDims: true },
    { shape: [6, 9], axes: [0], keepDims: false },
    { shape: [4, 3, 2], axes: [1, 0], keepDims: false },
    { shape: [4, 3, 2], axes: [0, 1, 2], keepDims: false },
    { shape: [4, 3, 2], axes: [1, 2], keepDims: false },
    { shape: [3, 5, 4, 6], axes: [1, 2], keepDims: true },
    { shape: [3, 5, 4, 6], axes: [2, 1], keepDims: false },
    { shape: [3, 5, 4, 6], axes: [3], keepDims: false },
    { shape: [3, 5, 4, 6], axes: [0, 2], keepDims: false },
  ])('Sum and Mean over $axes of $shape (keepDims $keepDims)', async ({ shape, axes, keepDims }) => {
    await compare(() => tf.sum(rand(shape, 1), axes, keepDims));
    await compare(() => tf.mean(rand(shape, 2), axes, keepDims));
  });

  it('FusedBatchNorm with per-channel and missing parameters', async () => {
    await compare(() => tf.batchNorm(rand([3, 5, 5, 4], 1), rand([4], 2), tf.abs(rand([4], 3)), rand([4], 4), rand([4], 5), 1e-3));
    await compare(() => tf.batchNorm(rand([3, 5, 5, 4], 1), rand([4], 2), tf.abs(rand([4], 3))));
    await compare(() => tf.batchNorm(rand([6, 3], 1), rand([3], 2), tf.abs(rand([3], 3)), undefined, rand([3], 4), 1e-5));
  });

  it.each([
    { shape: [2, 8, 8, 3], pool: 2, stride: 2, pad: 'valid' as const },
    { shape: [2, 9, 7, 3], pool: 2, stride: 2, pad: 'valid' as const },
    { shape: [2, 9, 7, 3], pool: 2, stride: 2, pad: 'same' as const },
    { shape: [1, 9, 9, 2], pool: 3, stride: 2, pad: 'same' as const },
    { shape: [2, 6, 6, 2], pool: 3, stride: 1, pad: 'same' as const },
  ])('MaxPoolGrad for $shape pool $pool stride $stride $pad', async ({ shape, pool, stride, pad }) => {
    await compare(() => {
      const x = rand(shape, 7) as tf.Tensor4D;
      const dyShape = tf.maxPool(x, pool, stride, pad).shape;
      return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, pool, stride, pad), rand(dyShape, 8))))(x);
    });
  });

  it('MaxPoolGrad sends ties to the first maximum, like the CPU backend', async () => {
    await compare(() => {
      const x = tf.relu(rand([2, 6, 6, 3], 9)) as tf.Tensor4D;
      return tf.grad((xx: tf.Tensor) => tf.sum(tf.maxPool(tf.relu(xx) as tf.Tensor4D, 2, 2, 'valid')))(x);
    });
  });
});
