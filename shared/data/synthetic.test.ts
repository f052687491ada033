import { describe, expect, it } from 'vitest';
import { auroc } from '../metrics/index.js';
import { makeSyntheticSet, siteShift } from './synthetic.js';
import type { ImageSet } from './types.js';

function perImage(set: ImageSet, stat: (img: Float32Array, size: number) => number): number[] {
  const p = set.height * set.width;
  return Array.from({ length: set.count }, (_, n) => stat(set.images.subarray(n * p, (n + 1) * p), set.width));
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** 3x3 box blur, then brightest pixel minus median: a crude "is there a bright spot" detector. */
function maxMinusMedian(img: Float32Array, size: number): number {
  const sm: number[] = [];
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += img[(y + dy) * size + x + dx];
      sm.push(s / 9);
    }
  }
  sm.sort((a, b) => a - b);
  return sm[sm.length - 1] - sm[sm.length >> 1];
}

describe('makeSyntheticSet', () => {
  const set = makeSyntheticSet({ count: 400, seed: 7 });

  it('has the requested shape, binary labels and pixels in [0, 1]', () => {
    expect(set).toMatchObject({ count: 400, height: 28, width: 28, channels: 1, classes: 2 });
    expect(set.images.length).toBe(400 * 28 * 28);
    expect(set.images.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(set.labels.every((y) => y === 0 || y === 1)).toBe(true);
    const big = makeSyntheticSet({ count: 3, seed: 1, size: 64, site: 2 });
    expect(big.images.length).toBe(3 * 64 * 64);
    expect(big.images.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const again = makeSyntheticSet({ count: 400, seed: 7 });
    expect(Buffer.from(again.images.buffer).equals(Buffer.from(set.images.buffer))).toBe(true);
    expect(again.labels).toEqual(set.labels);
    const other = makeSyntheticSet({ count: 400, seed: 8 });
    expect(Buffer.from(other.images.buffer).equals(Buffer.from(set.images.buffer))).toBe(false);
  });

  it('balances classes exactly by default and honours prevalence', () => {
    expect(mean(set.labels)).toBe(0.5);
    expect(mean(makeSyntheticSet({ count: 100, seed: 1, prevalence: 0.2 }).labels)).toBe(0.2);
  });

  it('gives sites different intensity, contrast and case mix', () => {
    const sites = [0, 1, 2, 3].map((site) => makeSyntheticSet({ count: 120, seed: 3, site }));
    const means = sites.map((s) => mean(s.images));
    const contrasts = sites.map((s) => mean(perImage(s, (img) => std(img))));
    expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(0.04);
    expect(Math.max(...contrasts) / Math.min(...contrasts)).toBeGreaterThan(1.1);
    const prevalences = [0, 1, 2, 3].map((s) => siteShift(s).prevalence);
    expect(Math.max(...prevalences) - Math.min(...prevalences)).toBeGreaterThan(0.05);
    expect(siteShift(1)).toEqual(siteShift(1));
  });

  it('is not solved by a global statistic', () => {
    // Mean brightness barely differs between classes: lesions are small relative to the image
    // and exposure varies per image.
    const a = auroc(set.labels, perImage(set, (img) => mean(img)));
    expect(Math.abs(a - 0.5)).toBeLessThan(0.25);
    const b = auroc(set.labels, perImage(set, (img) => std(img)));
    expect(Math.abs(b - 0.5)).toBeLessThan(0.3);
  });

  it('is separable by a simple bright-spot detector (guards against the generator becoming noise)', () => {
    const a = auroc(set.labels, perImage(set, maxMinusMedian));
    expect(a).toBeGreaterThan(0.7);
    expect(a).toBeLessThan(0.99);
  });

  it('makes the task harder with difficulty', () => {
    const easy = makeSyntheticSet({ count: 300, seed: 5, difficulty: 0.7 });
    const hard = makeSyntheticSet({ count: 300, seed: 5, difficulty: 2 });
    expect(auroc(easy.labels, perImage(easy, maxMinusMedian))).toBeGreaterThan(auroc(hard.labels, perImage(hard, maxMinusMedian)));
  });

  it('validates options', () => {
    expect(() => makeSyntheticSet({ count: -1, seed: 1 })).toThrow(/count/);
    expect(() => makeSyntheticSet({ count: 1, seed: 1, prevalence: 2 })).toThrow(/prevalence/);
    expect(() => makeSyntheticSet({ count: 1, seed: 1, site: 1.5 })).toThrow(/site index/);
  });
});
