import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from '../../shared/data/types.js';
import { selectBackend } from '../../shared/model/backend.js';
import { binaryCrossEntropy, softDiceLoss, targetBatch, taskLoss } from './task-loss.js';

const value = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('task losses against hand computation', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('classification: categorical cross-entropy of the softmax output', () => {
    // -(ln 0.75 + ln 0.6) / 2
    const y = tf.tensor2d([[0, 1], [1, 0]]);
    const p = tf.tensor2d([[0.25, 0.75], [0.6, 0.4]]);
    expect(value(taskLoss('classification', y, p))).toBeCloseTo(-(Math.log(0.75) + Math.log(0.6)) / 2, 6);
    tf.dispose([y, p]);
  });

  it('multi-label: binary cross-entropy averaged over every (example, label)', () => {
    // y = [[1, 0], [0, 1]], p = [[0.8, 0.3], [0.1, 0.6]]: -(ln .8 + ln .7 + ln .9 + ln .6) / 4
    const y = tf.tensor2d([[1, 0], [0, 1]]);
    const p = tf.tensor2d([[0.8, 0.3], [0.1, 0.6]]);
    const expected = -(Math.log(0.8) + Math.log(0.7) + Math.log(0.9) + Math.log(0.6)) / 4;
    expect(value(taskLoss('multi-label', y, p))).toBeCloseTo(expected, 6);
    // A confident mistake is clipped (1e-7), not infinite.
    const wrong = tf.tensor2d([[0, 1]]);
    const clipped = value(binaryCrossEntropy(tf.tensor2d([[1, 0]]), wrong));
    expect(Number.isFinite(clipped)).toBe(true);
    expect(clipped).toBeGreaterThan(15); // -ln(1e-7) = 16.1, within float32 rounding of 1 - 1e-7
    expect(clipped).toBeLessThan(16.2);
    tf.dispose([y, p, wrong]);
  });

  it('segmentation: soft Dice per image (smoothed by 1) averaged over the batch, plus pixel BCE', () => {
    // Image 1 (2x2): y = [1,1,0,0], p = [.9,.6,.2,.1]: intersection 1.5, sums 2 + 1.8 -> Dice (3 + 1) / (3.8 + 1) = 5/6.
    // Image 2: empty mask predicted empty (p = 0 clipped): Dice (0 + 1) / (0 + 1) = 1. Loss 1 - (5/6 + 1) / 2 = 1/12.
    const y = tf.tensor4d([1, 1, 0, 0, 0, 0, 0, 0], [2, 2, 2, 1]);
    const p = tf.tensor4d([0.9, 0.6, 0.2, 0.1, 0, 0, 0, 0], [2, 2, 2, 1]);
    expect(value(softDiceLoss(y, p))).toBeCloseTo(1 / 12, 6);
    const bce = -(Math.log(0.9) + Math.log(0.6) + Math.log(0.8) + Math.log(0.9) + 4 * Math.log(1 - 1e-7)) / 8;
    expect(value(taskLoss('segmentation', y, p))).toBeCloseTo(1 / 12 + bce, 5);
    tf.dispose([y, p]);
  });

  it('denoising: mean absolute (l1) or mean squared (l2, the default) error against the clean image', () => {
    const clean = tf.tensor4d([0.5, 0.2, 0.9, 0.0], [1, 2, 2, 1]);
    const out = tf.tensor4d([0.7, 0.1, 0.9, 0.4], [1, 2, 2, 1]);
    expect(value(taskLoss('denoising', clean, out, { denoisingLoss: 'l1' }))).toBeCloseTo((0.2 + 0.1 + 0 + 0.4) / 4, 6);
    expect(value(taskLoss('denoising', clean, out))).toBeCloseTo((0.04 + 0.01 + 0 + 0.16) / 4, 6);
    expect(value(taskLoss('denoising', clean, out, { denoisingLoss: 'l2' }))).toBeCloseTo((0.04 + 0.01 + 0 + 0.16) / 4, 6);
    tf.dispose([clean, out]);
  });

  it('targets a batch trains against: one-hot labels, or the dense targets of the chosen examples in order', () => {
    const set: ImageSet = {
      images: new Float32Array(3 * 4), labels: Int32Array.from([2, 0, 1]), count: 3, height: 2, width: 2, channels: 1, classes: 3,
      targets: { data: Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1]), shape: [2, 2, 1] },
    };
    const onehot = targetBatch(set, [2, 0], 'classification');
    expect(Array.from(onehot.dataSync())).toEqual([0, 1, 0, 0, 0, 1]);
    const masks = targetBatch(set, [2, 0], 'segmentation');
    expect(masks.shape).toEqual([2, 2, 2, 1]);
    expect(Array.from(masks.dataSync())).toEqual([0, 0, 1, 1, 1, 0, 0, 0]);
    const { targets: _t, ...plain } = set;
    expect(() => targetBatch(plain, [0], 'denoising')).toThrow(/denoising model trains against per-example targets \(the clean image\), and this data set has none/);
    tf.dispose([onehot, masks]);
  });
});
