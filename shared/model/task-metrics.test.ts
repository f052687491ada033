import { describe, expect, it } from 'vitest';
import type { ImageSet } from '../data/types.js';
import { psnr } from '../metrics/index.js';
import { denoisingMetrics, multiLabelMetrics, segmentationMetrics, taskMetrics } from './task-metrics.js';

const image = (values: number[], side: number): ImageSet => ({
  images: Float32Array.from(values), labels: new Int32Array(values.length / (side * side)), count: values.length / (side * side),
  height: side, width: side, channels: 1, classes: 2,
});

describe('metrics per task type', () => {
  it('classification: AUROC and AUPRC of the positive class (and accuracy, log loss)', () => {
    const set: ImageSet = { ...image([0, 0, 0, 0], 1), labels: Int32Array.from([0, 1, 1, 0]) };
    // Scores p1 = .2 .8 .4 .6: positives 0.8, 0.4; negatives 0.2, 0.6 -> 3 of 4 pairs ordered: AUROC 0.75.
    const m = taskMetrics('classification', Float32Array.from([0.8, 0.2, 0.2, 0.8, 0.6, 0.4, 0.4, 0.6]), set);
    expect(m.auroc).toBeCloseTo(0.75, 10);
    expect(m.accuracy).toBeCloseTo(0.5, 10);
  });

  it('multi-label: per-label AUROC/AUPRC and their macro mean over the labels where defined', () => {
    // Label 0: perfectly ranked (AUROC 1). Label 1: reversed (AUROC 0). Label 2: all positive: undefined, left out of the mean.
    const targets = Float32Array.from([1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1]);
    const outputs = Float32Array.from([0.9, 0.9, 0.5, 0.2, 0.1, 0.5, 0.8, 0.8, 0.5, 0.1, 0.2, 0.5]);
    const m = multiLabelMetrics(outputs, { data: targets, per: 3, count: 4 });
    expect(m.auroc_0).toBe(1);
    expect(m.auroc_1).toBe(0);
    expect(m.auroc_2).toBeNaN();
    expect(m.auroc).toBeCloseTo(0.5, 10);
    expect(m.auprc_0).toBe(1);
  });

  it('segmentation: Dice and IoU of the masks thresholded at 0.5, per image, averaged', () => {
    // Image 1: truth {0,1}, predicted {1,2} -> Dice 2*1/4 = 0.5, IoU 1/3. Image 2: both empty -> 1 and 1.
    const truth = Float32Array.from([1, 1, 0, 0, 0, 0, 0, 0]);
    const probs = Float32Array.from([0.4, 0.7, 0.5, 0.1, 0.2, 0.49, 0, 0.3]);
    const m = segmentationMetrics(probs, { data: truth, per: 4, count: 2 });
    expect(m.dice).toBeCloseTo((0.5 + 1) / 2, 10);
    expect(m.iou).toBeCloseTo((1 / 3 + 1) / 2, 10);
  });

  it('denoising: PSNR and SSIM of the clipped output against the clean image; PSNR of the noisy input beside them', () => {
    const side = 8;
    const clean = Array.from({ length: side * side }, (_, i) => 0.2 + 0.6 * ((i % side) / side));
    const noisy = clean.map((v, i) => v + (i % 2 ? 0.1 : -0.1));
    const set: ImageSet = { ...image(noisy, side), targets: { data: Float32Array.from(clean), shape: [side, side, 1] } };
    const perfect = taskMetrics('denoising', Float32Array.from(clean), set);
    expect(perfect.psnr).toBe(Infinity);
    expect(perfect.ssim).toBeCloseTo(1, 10);
    expect(perfect.psnrInput).toBeCloseTo(20, 4); // MSE 0.01 -> 10 log10(1 / 0.01), float32 pixels
    // Output values outside [0, 1] are clipped before scoring: 1.5 counts as 1.
    const over = clean.map((v, i) => (i === 0 ? 1.5 : v));
    const m = denoisingMetrics(Float32Array.from(over), set, { data: Float32Array.from(clean), per: side * side, count: 1 });
    expect(m.psnr).toBeCloseTo(psnr(clean, clean.map((v, i) => (i === 0 ? 1 : v)), 1), 5); // float32 outputs
    expect(m.ssim).toBeLessThan(1);
  });

  it('refuses a set without targets for the dense tasks', () => {
    expect(() => taskMetrics('segmentation', new Float32Array(4), image([0, 0, 0, 0], 2))).toThrow(/segmentation metrics need the data set's per-example targets/);
  });
});
