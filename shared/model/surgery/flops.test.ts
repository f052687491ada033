import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backend.js';
import { buildModel } from '../zoo.js';
import { convParameters, countFlops } from './flops.js';

describe('FLOP counter', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('matches a hand count on a small conv-bn-relu-pool-flatten-dense net', () => {
    const input = tf.input({ shape: [6, 6, 2] });
    let x = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid', useBias: true, name: 'c' }).apply(input) as tf.SymbolicTensor; // 4x4x3
    x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: 'r' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: 'p' }).apply(x) as tf.SymbolicTensor; // 2x2x3
    x = tf.layers.flatten({ name: 'f' }).apply(x) as tf.SymbolicTensor; // 12
    const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'd' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const count = countFlops(model);
    const by = Object.fromEntries(count.layers.map((l) => [l.name, l.flops]));
    // conv: 2 x (3x3 kernel x 2 input channels) per output x 48 outputs, + 48 bias adds
    expect(by.c).toBe(2 * 3 * 3 * 2 * 48 + 48);
    expect(by.bn).toBe(2 * 48);
    expect(by.r).toBe(48);
    expect(by.p).toBe(3 * 12); // 2x2 window: 3 compares per output
    expect(by.f).toBe(0);
    expect(by.d).toBe(2 * 12 * 4 + 4 + 3 * 4); // dot products, bias, softmax
    expect(count.flops).toBe(1776 + 96 + 48 + 36 + 112);
    expect(count.parameters).toBe(57 + 12 + 52);
    expect(convParameters(model)).toBe(57);
    model.dispose();
  });

  it('counts global average pooling as one operation per input element', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    const pool = countFlops(model).layers.find((l) => l.name === 'pool')!;
    expect(pool.flops).toBe(7 * 7 * 64);
    expect(countFlops(model).parameters).toBe(model.countParams());
    model.dispose();
  });

  it('refuses a layer it does not know, naming it', () => {
    const input = tf.input({ shape: [4, 4, 1] });
    const out = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 2, name: 'up' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    expect(() => countFlops(model)).toThrow(/does not know layer up \(Conv2DTranspose\)/);
    model.dispose();
  });
});
