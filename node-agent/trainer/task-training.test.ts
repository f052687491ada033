import { beforeAll, describe, expect, it } from 'vitest';
import { makeBlobSet } from '../../shared/data/synthetic-blobs.js';
import { makeNoiseSet } from '../../shared/data/synthetic-noise.js';
import type { ImageSet } from '../../shared/data/types.js';
import { selectBackend } from '../../shared/model/backend.js';
import { evaluateTask } from '../../shared/model/task-metrics.js';
import { randomValues } from '../../shared/model/test-helpers.js';
import { buildModel, type ModelSpec } from '../../shared/model/zoo.js';
import { trainModel, type TrainOptions } from './local-trainer.js';

const SIZE = 16;

/**
 * A bright square in one of three corners marks each label. Multi-class: exactly one per image
 * (label = its corner). Multi-label: each corner present or not on its own; targets are the 0/1 vector.
 */
function corners(count: number, seed: number, multiLabel: boolean): ImageSet {
  const noise = randomValues(count * SIZE * SIZE, seed);
  const flips = randomValues(count * 3, seed + 1);
  const images = new Float32Array(count * SIZE * SIZE);
  const labels = new Int32Array(count);
  const targets = new Float32Array(count * 3);
  const origin = [[1, 1], [1, 9], [9, 1]];
  for (let n = 0; n < count; n++) {
    labels[n] = n % 3;
    for (let k = 0; k < 3; k++) targets[n * 3 + k] = multiLabel ? (flips[n * 3 + k]! > 0 ? 1 : 0) : k === labels[n] ? 1 : 0;
    for (let i = 0; i < SIZE * SIZE; i++) images[n * SIZE * SIZE + i] = 0.3 + 0.1 * noise[n * SIZE * SIZE + i]!;
    for (let k = 0; k < 3; k++) {
      if (!targets[n * 3 + k]) continue;
      const [r0, c0] = origin[k]!;
      for (let r = r0!; r < r0! + 5; r++) for (let c = c0!; c < c0! + 5; c++) images[n * SIZE * SIZE + r * SIZE + c] = 0.9;
    }
  }
  const set = { images, labels, count, height: SIZE, width: SIZE, channels: 1, classes: 3 };
  return multiLabel ? { ...set, targets: { data: targets, shape: [3] } } : set;
}

/** Mean batch loss of the first and of the last epoch. */
async function firstAndLastEpochLoss(spec: ModelSpec, data: ImageSet, opts: Omit<TrainOptions, 'onProgress' | 'seed' | 'threads'>) {
  const net = buildModel(spec, 2);
  const sums = new Map<number, { sum: number; n: number }>();
  await trainModel(net, data, {
    ...opts, seed: 3, threads: 1, onProgress: (p) => {
      const e = sums.get(p.epoch) ?? { sum: 0, n: 0 };
      sums.set(p.epoch, { sum: e.sum + p.loss, n: e.n + 1 });
    },
  });
  const mean = (e: number) => sums.get(e)!.sum / sums.get(e)!.n;
  return { first: mean(1), last: mean(opts.epochs), net };
}

describe('training each task type', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('multi-class: softmax cross-entropy falls and macro one-vs-rest AUROC rises above chance', async () => {
    const data = corners(48, 1, false);
    const { first, last, net } = await firstAndLastEpochLoss({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 3 }, data, { epochs: 6, batchSize: 16, learningRate: 0.01 });
    expect(last).toBeLessThan(first * 0.8);
    const metrics = await evaluateTask(net, data, 'classification');
    expect(metrics.auroc).toBeGreaterThan(0.7);
    net.dispose();
  });

  it('multi-label: sigmoid binary cross-entropy falls; per-label AUROC reported', async () => {
    const data = corners(48, 5, true);
    const spec: ModelSpec = { arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 3, task: 'multi-label' };
    const { first, last, net } = await firstAndLastEpochLoss(spec, data, { epochs: 6, batchSize: 16, learningRate: 0.01, task: 'multi-label' });
    expect(last).toBeLessThan(first * 0.8);
    const metrics = await evaluateTask(net, data, 'multi-label');
    expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['auroc', 'auprc', 'auroc_0', 'auroc_1', 'auroc_2', 'auprc_2']));
    net.dispose();
  });

  it.each(['upsample', 'transpose'] as const)('segmentation (unet, %s): Dice + BCE falls on synthetic blobs', async (up) => {
    const data = makeBlobSet({ count: 24, seed: 4, size: SIZE }).set;
    const spec: ModelSpec = { arch: 'unet', inputShape: [SIZE, SIZE, 1], classes: 1, depth: 2, filters: 4, up };
    const { first, last, net } = await firstAndLastEpochLoss(spec, data, { epochs: 5, batchSize: 8, learningRate: 0.01, task: 'segmentation' });
    expect(last).toBeLessThan(first * 0.9);
    const metrics = await evaluateTask(net, data, 'segmentation');
    expect(metrics.dice).toBeGreaterThanOrEqual(0);
    expect(metrics.iou).toBeLessThanOrEqual(metrics.dice!);
    net.dispose();
  });

  it.each(['l1', 'l2'] as const)('denoising (dncnn, %s): the loss falls on synthetic noisy pairs', async (loss) => {
    const data = makeNoiseSet({ count: 24, seed: 6, size: SIZE }).set;
    const spec: ModelSpec = { arch: 'dncnn', inputShape: [SIZE, SIZE, 1], classes: 1, depth: 4, filters: 8 };
    const { first, last, net } = await firstAndLastEpochLoss(spec, data, { epochs: 5, batchSize: 8, learningRate: 0.003, task: 'denoising', denoisingLoss: loss });
    expect(last).toBeLessThan(first);
    const metrics = await evaluateTask(net, data, 'denoising');
    expect(Object.keys(metrics).sort()).toEqual(['psnr', 'psnrInput', 'ssim']);
    net.dispose();
  });

  it('refuses data without the targets the task needs, naming the data to use', async () => {
    const net = buildModel({ arch: 'unet', inputShape: [SIZE, SIZE, 1], classes: 1, depth: 1, filters: 2 });
    await expect(trainModel(net, corners(4, 1, false), { epochs: 1, batchSize: 4, learningRate: 0.01, seed: 1, task: 'segmentation' }))
      .rejects.toThrow(/segmentation model trains against per-example targets \(a mask\), and this data set has none: use data made for segmentation \(e\.g\. --data synthetic-blobs\)/);
    net.dispose();
    const classifier = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 });
    await expect(trainModel(classifier, corners(4, 1, true), { epochs: 1, batchSize: 4, learningRate: 0.01, seed: 1 }))
      .rejects.toThrow(/carries 3 0\/1 labels per image \(multi-label\), not one class per image; train a model made for it \(coordinator init --task multi-label/);
    classifier.dispose();
  });
});
