import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { randomValues, relativeError, valuesOn } from './test-helpers.js';
import { WASM_GRADIENT_KERNELS } from './wasm-gradients.js';

type Pad = 'same' | 'valid';
interface Case { b: number; h: number; w: number; ci: number; k: number; s: number; pad: Pad; co: number }

const CASES: Case[] = [
  { b: 1, h: 7, w: 7, ci: 2, k: 3, s: 1, pad: 'same', co: 3 },
  { b: 3, h: 9, w: 7, ci: 3, k: 3, s: 2, pad: 'same', co: 4 },
  { b: 2, h: 8, w: 8, ci: 2, k: 5, s: 2, pad: 'valid', co: 3 },
  { b: 3, h: 11, w: 9, ci: 4, k: 1, s: 2, pad: 'valid', co: 2 },
  { b: 2, h: 13, w: 13, ci: 3, k: 5, s: 1, pad: 'valid', co: 2 },
  { b: 2, h: 10, w: 9, ci: 1, k: 3, s: 2, pad: 'same', co: 5 },
  { b: 3, h: 11, w: 8, ci: 1, k: 5, s: 2, pad: 'valid', co: 3 },
  { b: 1, h: 12, w: 12, ci: 5, k: 1, s: 1, pad: 'same', co: 3 },
  { b: 4, h: 15, w: 15, ci: 3, k: 5, s: 2, pad: 'same', co: 2 },
  // Stride 1 with fewer input than output values: the filter gradient takes its x-as-filter path.
  { b: 2, h: 9, w: 9, ci: 1, k: 3, s: 1, pad: 'valid', co: 4 },
  { b: 3, h: 8, w: 10, ci: 2, k: 5, s: 1, pad: 'same', co: 6 },
];

const TOL = 1e-4;

function tensors(c: Case, filterShape: number[], outShape: (x: tf.Tensor4D, f: tf.Tensor4D) => number[]) {
  const x = tf.tensor4d(randomValues(c.b * c.h * c.w * c.ci, 1), [c.b, c.h, c.w, c.ci]);
  const f = tf.tensor4d(randomValues(filterShape.reduce((a, b) => a * b, 1), 2), filterShape as [number, number, number, number]);
  const shape = outShape(x, f);
  const dy = tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), 3), shape);
  return { x, f, dy };
}

async function compare(f: () => tf.Tensor): Promise<void> {
  const wasm = await valuesOn('wasm', f);
  const cpu = await valuesOn('cpu', f);
  expect(wasm.shape).toEqual(cpu.shape);
  expect(relativeError(wasm.data, cpu.data)).toBeLessThan(TOL);
}

describe('WASM gradient kernels', () => {
  beforeAll(async () => {
    const report = await selectBackend({ prefer: 'wasm' });
    expect(report.name).toBe('wasm');
  });

  it('registers every kernel the WASM backend was missing', () => {
    for (const name of WASM_GRADIENT_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });

  describe.each(CASES)('b$b $h x $w x $ci, k$k s$s $pad -> $co', (c) => {
    const conv = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.conv2d(x, f, c.s, c.pad).shape;
    const dw = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.depthwiseConv2d(x, f, c.s, c.pad).shape;
    const convShape = [c.k, c.k, c.ci, c.co];
    const dwShape = [c.k, c.k, c.ci, 2];

    it('Conv2DBackpropFilter matches CPU', async () => {
      await compare(() => {
        const { x, f, dy } = tensors(c, convShape, conv);
        return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, c.s, c.pad), dy)))(f);
      });
    });

    it('Conv2DBackpropInput matches CPU', async () => {
      await compare(() => {
        const { x, f, dy } = tensors(c, convShape, conv);
        return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, f, c.s, c.pad), dy)))(x);
      });
    });

    it('DepthwiseConv2dNativeBackpropFilter matches CPU', async () => {
      await compare(() => {
        const { x, f, dy } = tensors(c, dwShape, dw);
        return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(x, w as tf.Tensor4D, c.s, c.pad), dy)))(f);
      });
    });

    it('DepthwiseConv2dNativeBackpropInput matches CPU', async () => {
      await compare(() => {
        const { x, f, dy } = tensors(c, dwShape, dw);
        return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(xx as tf.Tensor4D, f, c.s, c.pad), dy)))(x);
      });
    });
  });

  it('handles explicit numeric padding', async () => {
    await compare(() => {
      const x = tf.tensor4d(randomValues(2 * 9 * 9 * 3, 4), [2, 9, 9, 3]);
      const f = tf.tensor4d(randomValues(3 * 3 * 3 * 4, 5), [3, 3, 3, 4]);
      const dy = tf.tensor4d(randomValues(2 * 5 * 5 * 4, 6), [2, 5, 5, 4]);
      return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 2, 1), dy)))(f);
    });
  });

  it('trains a small conv net to the same weights on WASM and CPU', async () => {
    const finalWeights = async (backend: string) => {
      await tf.setBackend(backend);
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
          tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', depthMultiplier: 2, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
          // No bias before batch norm: its gradient is analytically zero, so only rounding noise would be compared.
          tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
          tf.layers.batchNormalization(),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
      const x = tf.tensor4d(randomValues(6 * 12 * 12 * 2, 7), [6, 12, 12, 2]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1, 0], 'int32'), 2);
      const opt = tf.train.sgd(0.1);
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const step = () => tf.tidy(() => {
        opt.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, false, vars);
      });
      step(); // creates the optimiser's slots
      const before = tf.memory().numTensors;
      // Kernels that bypass the engine would leak backend buffers without changing numTensors.
      const buffers = () => tf.backend().numDataIds();
      const beforeBuffers = buffers();
      step();
      step();
      expect(tf.memory().numTensors).toBe(before);
      expect(buffers()).toBe(beforeBuffers);
      const out = model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
      return out;
    };
    const wasm = await finalWeights('wasm');
    const cpu = await finalWeights('cpu');
    expect(wasm.length).toBe(cpu.length);
    wasm.forEach((w, i) => expect(relativeError(w, cpu[i])).toBeLessThan(1e-3));
    await tf.setBackend('wasm');
  });
});
