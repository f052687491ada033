import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { modelFromTopology } from './layers-model-io.js';
import { randomValues } from './test-helpers.js';
import { buildModel, describeModel, modelSpecFromString, taskOfSpec } from './zoo.js';

describe('zoo: image-to-image models and task kinds', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('unet maps an image to a per-pixel probability, with the parameter count of its layers', () => {
    // depth 1, 2 filters, 16x16x1, nearest-neighbour upsampling. Conv kernels (no bias) + 4 batch-norm vectors:
    // enc1_a 3*3*1*2+8, enc1_b 3*3*2*2+8, bottom_a 3*3*2*4+16, bottom_b 3*3*4*4+16,
    // dec1_a 3*3*(2+4)*2+8 (skip concatenation: 2 + 4 channels), dec1_b 3*3*2*2+8, head 1*1*2*1+1.
    const up = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 1, filters: 2 }, 3);
    expect(describeModel(up).parameters).toBe(26 + 44 + 88 + 160 + 116 + 44 + 3);
    // Transposed conv up: 2*2*4*2 kernel + 2 bias, and then 2 + 2 channels into dec1_a.
    const tr = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 1, filters: 2, up: 'transpose' }, 3);
    expect(describeModel(tr).parameters).toBe(26 + 44 + 88 + 160 + 34 + (72 + 8) + 44 + 3);
    const deep = buildModel({ arch: 'unet', inputShape: [32, 32, 3], classes: 1, depth: 3, filters: 4 }, 3);
    expect(deep.layers.filter((l) => l.getClassName() === 'Concatenate').length).toBe(3);
    expect(deep.layers.filter((l) => l.getClassName() === 'MaxPooling2D').length).toBe(3);
    const x = tf.tensor4d(randomValues(2 * 32 * 32 * 3, 1), [2, 32, 32, 3]);
    const p = deep.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([2, 32, 32, 1]);
    const v = p.dataSync();
    expect(Math.min(...v)).toBeGreaterThan(0);
    expect(Math.max(...v)).toBeLessThan(1);
    tf.dispose([x, p]);
    [up, tr, deep].forEach((m) => m.dispose());
  });

  it('dncnn outputs an image of the input shape and starts as the identity (output = input - predicted noise)', () => {
    // head 3*3*1*4+4, one body conv 3*3*4*4 + 4 bn vectors of 4, noise conv 3*3*4*1+1.
    const net = buildModel({ arch: 'dncnn', inputShape: [16, 16, 1], classes: 1, depth: 3, filters: 4 }, 5);
    expect(describeModel(net).parameters).toBe(40 + 160 + 37);
    expect(net.layers.filter((l) => l.getClassName() === 'BatchNormalization').length).toBe(1);
    const x = tf.tensor4d(randomValues(16 * 16, 2), [1, 16, 16, 1]);
    const y = net.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 16, 16, 1]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
    // Once the noise branch is non-zero the output is input + branch: the residual form.
    net.getLayer('noise').setWeights(net.getLayer('noise').getWeights().map((w) => tf.onesLike(w).mul(0.01)));
    const branch = tf.sub(net.predict(x) as tf.Tensor, x);
    expect(tf.max(tf.abs(branch)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, y, branch]);
    net.dispose();
  });

  it.each([
    ['unet', { depth: 2, filters: 2, up: 'transpose' as const }],
    ['dncnn', { depth: 4, filters: 3 }],
  ] as const)('%s round-trips through toJSON with identical outputs', async (arch, extra) => {
    const net = buildModel({ arch, inputShape: [16, 16, 1], classes: 1, ...extra }, 9);
    const rebuilt = await modelFromTopology(net.toJSON(null, false) as object);
    rebuilt.setWeights(net.getWeights());
    const x = tf.tensor4d(randomValues(2 * 16 * 16, 4), [2, 16, 16, 1]);
    const a = net.predict(x) as tf.Tensor;
    const b = rebuilt.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    net.dispose();
    rebuilt.dispose();
  });

  it('multi-label classifiers end in one sigmoid per label, not a softmax', () => {
    const net = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 3, task: 'multi-label' }, 1);
    const x = tf.tensor4d(randomValues(4 * 16 * 16, 3), [4, 16, 16, 1]);
    const p = net.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([4, 3]);
    expect(net.getLayer('classifier').getConfig().activation).toBe('sigmoid');
    const sums = Array.from(tf.sum(p, 1).dataSync());
    expect(sums.some((s) => Math.abs(s - 1) > 1e-3)).toBe(true);
    tf.dispose([x, p]);
    net.dispose();
  });

  it('records the task and the defaults it built with in the spec, and refuses what cannot be built', () => {
    expect(modelSpecFromString('unet:32x32x1')).toEqual({ arch: 'unet', inputShape: [32, 32, 1], classes: 1, task: 'segmentation', depth: 2, filters: 8, up: 'upsample' });
    expect(modelSpecFromString('dncnn:16x16x3')).toEqual({ arch: 'dncnn', inputShape: [16, 16, 3], classes: 3, task: 'denoising', depth: 8, filters: 16 });
    expect(modelSpecFromString('cnn-small:28x28x1:4', { task: 'multi-label' }).task).toBe('multi-label');
    expect(taskOfSpec({ arch: 'resnet-mini' })).toBe('classification');
    expect(() => modelSpecFromString('unet:30x30x1')).toThrow(/unet depth 2 .* divisible by 4; 30x30 is not \(use e\.g\. 32x32/);
    expect(() => modelSpecFromString('unet:32x32x1', { depth: 0 })).toThrow(/unet depth must be an integer from 1 to 6/);
    expect(() => modelSpecFromString('dncnn:32x32x1', { depth: 1 })).toThrow(/dncnn depth .* from 2 to 30/);
    expect(() => modelSpecFromString('unet:32x32x1', { task: 'denoising' })).toThrow(/unet cannot be trained for denoising: it is built for segmentation; for denoising use dncnn/);
    expect(() => modelSpecFromString('cnn-small', { task: 'segmentation' })).toThrow(/cnn-small cannot be trained for segmentation: it is built for classification or multi-label; for segmentation use unet/);
    expect(() => modelSpecFromString('unet:32x32x1', { up: 'bilinear' as never })).toThrow(/upsampling 'bilinear' is not one of upsample, transpose/);
  });
});
