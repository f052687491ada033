import { beforeAll, describe, expect, it } from 'vitest';
import { makeBlobSet, makeSyntheticSet } from '../data/index.js';
import { buildModel, selectBackend } from '../model/index.js';
import { distillModel, predictSoftLabels } from './distill-training.js';
import { softLabelLayout } from './layout.js';
import { softLabelProblem } from './soft-label-check.js';

beforeAll(async () => {
  await selectBackend();
});

function meanAbs(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

describe('training against soft labels', () => {
  it('classification: the student moves toward the teachers\' distribution (KL at T), and its soft labels are probability rows', async () => {
    const set = makeSyntheticSet({ count: 48, seed: 3, site: 0, size: 16 });
    const transfer = { images: set.images, count: set.count, height: 16, width: 16, channels: 1 };
    // Soft targets a teacher would give: confident where the label says so.
    const targets = new Float32Array(set.count * 2);
    for (let i = 0; i < set.count; i++) {
      targets[2 * i + set.labels[i]!] = 0.9;
      targets[2 * i + 1 - set.labels[i]!] = 0.1;
    }
    const student = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 5);
    const before = await predictSoftLabels(student, transfer, 'classification');
    expect(softLabelProblem(before, set.count, 2)).toBeNull();
    await distillModel(student, transfer, targets, { task: 'classification', temperature: 2, threshold: 0.5, epochs: 15, batchSize: 16, learningRate: 0.01, seed: 1 });
    const after = await predictSoftLabels(student, transfer, 'classification');
    student.dispose();
    expect(softLabelProblem(after, set.count, 2)).toBeNull();
    expect(meanAbs(after, targets)).toBeLessThan(meanAbs(before, targets) * 0.7);
  }, 120_000);

  it('segmentation: soft labels are (1 - p, p) per pixel, and the student learns the thresholded aggregate masks', async () => {
    const blobs = makeBlobSet({ count: 24, seed: 4, size: 16 }).set;
    const transfer = { images: blobs.images, count: blobs.count, height: 16, width: 16, channels: 1 };
    const layout = softLabelLayout('segmentation', 1, 16, 16);
    expect(layout).toEqual({ task: 'segmentation', rowsPerImage: 256, classes: 2 });
    // An aggregate that is 0.7 on the true masks and 0.3 elsewhere: thresholding at 0.5 gives the masks back.
    const aggregate = new Float32Array(blobs.count * 256 * 2);
    for (let i = 0; i < blobs.count * 256; i++) {
      const fg = blobs.targets!.data[i]! > 0.5 ? 0.7 : 0.3;
      aggregate[2 * i] = 1 - fg;
      aggregate[2 * i + 1] = fg;
    }
    const student = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 1, filters: 4 }, 6);
    const dice = async () => {
      const soft = await predictSoftLabels(student, transfer, 'segmentation');
      expect(soft.length).toBe(blobs.count * 256 * 2);
      expect(softLabelProblem(soft, blobs.count * 256, 2)).toBeNull();
      let inter = 0;
      let total = 0;
      for (let i = 0; i < blobs.count * 256; i++) {
        const p = soft[2 * i + 1]! >= 0.5 ? 1 : 0;
        const y = blobs.targets!.data[i]! > 0.5 ? 1 : 0;
        inter += p * y;
        total += p + y;
      }
      return (2 * inter + 1) / (total + 1);
    };
    const before = await dice();
    await distillModel(student, transfer, aggregate, { task: 'segmentation', temperature: 1, threshold: 0.5, epochs: 25, batchSize: 8, learningRate: 0.01, seed: 2 });
    const after = await dice();
    student.dispose();
    expect(after).toBeGreaterThan(Math.max(before, 0.5));
  }, 180_000);

  it('refuses soft labels that do not fit the model', async () => {
    const student = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 5);
    const transfer = { images: new Float32Array(4 * 256), count: 4, height: 16, width: 16, channels: 1 };
    await expect(distillModel(student, transfer, new Float32Array(4 * 3).fill(1 / 3), { task: 'classification', temperature: 2, threshold: 0.5, epochs: 1, batchSize: 4, learningRate: 0.01, seed: 1 }))
      .rejects.toThrow(/outputs 2 per image; the soft labels have 3 classes per image/);
    student.dispose();
  });
});
