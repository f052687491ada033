import { describe, expect, it } from 'vitest';
import { openSiteShards, loadHeldOut } from './site-data.js';
import { subset } from './partition.js';
import { insideEllipse, makeBlobSet } from './synthetic-blobs.js';
import { addNoise, makeCleanImages, makeNoiseSet, noisyRealisations } from './synthetic-noise.js';
import { parseSourceSpec, formatSourceSpec } from './sources/source-spec.js';

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('segmentation generator: blobs with masks', () => {
  it('is deterministic for a seed, differs across seeds, and image n does not depend on the count', () => {
    const a = makeBlobSet({ count: 6, seed: 3, size: 16 });
    const b = makeBlobSet({ count: 6, seed: 3, size: 16 });
    const c = makeBlobSet({ count: 6, seed: 4, size: 16 });
    expect(Array.from(a.set.images)).toEqual(Array.from(b.set.images));
    expect(Array.from(a.set.targets!.data)).toEqual(Array.from(b.set.targets!.data));
    expect(Array.from(a.set.images)).not.toEqual(Array.from(c.set.images));
    const longer = makeBlobSet({ count: 9, seed: 3, size: 16 });
    expect(Array.from(longer.set.images.subarray(0, 6 * 256))).toEqual(Array.from(a.set.images));
  });

  it('masks are exact: foreground exactly where a pixel centre lies in one of the image ellipses, binary, labels = mask non-empty', () => {
    const size = 32;
    const { set, ellipses } = makeBlobSet({ count: 20, seed: 9, size });
    expect(set.targets!.shape).toEqual([size, size, 1]);
    let foreground = 0;
    for (let n = 0; n < set.count; n++) {
      let any = false;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const want = ellipses[n]!.some((e) => insideEllipse(e, x, y)) ? 1 : 0;
          expect(set.targets!.data[n * size * size + y * size + x]).toBe(want);
          if (want) any = true;
          foreground += want;
        }
      }
      expect(set.labels[n]).toBe(any ? 1 : 0);
    }
    // Some images have lesions and some have none; lesions cover a minority of pixels.
    expect(foreground).toBeGreaterThan(0);
    expect(Array.from(set.labels)).toContain(0);
    expect(foreground / (set.count * size * size)).toBeLessThan(0.5);
    expect(Math.min(...set.images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...set.images)).toBeLessThanOrEqual(1);
  });

  it('lesions are brighter than the background, and textured (not one flat value)', () => {
    const { set } = makeBlobSet({ count: 20, seed: 2, size: 32, noise: 0 });
    const inside: number[] = [];
    const outside: number[] = [];
    set.targets!.data.forEach((m, i) => (m ? inside : outside).push(set.images[i]!));
    expect(mean(inside) - mean(outside)).toBeGreaterThan(0.25);
    expect(new Set(inside.map((v) => v.toFixed(3))).size).toBeGreaterThan(50);
  });

  it('subsets carry the masks with their images', () => {
    const { set } = makeBlobSet({ count: 5, seed: 1, size: 16 });
    const s = subset(set, [3, 1]);
    expect(Array.from(s.targets!.data)).toEqual([...set.targets!.data.subarray(3 * 256, 4 * 256), ...set.targets!.data.subarray(256, 512)]);
  });
});

describe('denoising generator: clean images with Gaussian or Poisson noise', () => {
  it('is deterministic; clean images are smooth and in [0.1, 0.9]', () => {
    const a = makeCleanImages(4, 7, 16);
    expect(Array.from(a)).toEqual(Array.from(makeCleanImages(4, 7, 16)));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0.1 - 1e-6);
    expect(Math.max(...a)).toBeLessThanOrEqual(0.9 + 1e-6);
    // Smooth: neighbouring pixels differ far less than the image's range.
    let step = 0;
    for (let i = 1; i < 16; i++) step = Math.max(step, Math.abs(a[i]! - a[i - 1]!));
    expect(step).toBeLessThan(0.15);
  });

  it('Gaussian noise has the requested standard deviation; Poisson noise grows as the counts fall', () => {
    const per = 32 * 32;
    const clean = makeCleanImages(4, 1, 32);
    const sd = (noisy: Float32Array) => Math.sqrt(mean(noisy.map((v, i) => (v - clean[i]!) ** 2)));
    expect(sd(addNoise(clean, per, [{ kind: 'gaussian', sigma: 0.1 }], 5))).toBeCloseTo(0.1, 2);
    expect(sd(addNoise(clean, per, [{ kind: 'gaussian', sigma: 0.02 }], 5))).toBeCloseTo(0.02, 3);
    const low = addNoise(clean, per, [{ kind: 'poisson', peak: 10 }], 5);
    const high = addNoise(clean, per, [{ kind: 'poisson', peak: 200 }], 5);
    expect(sd(low)).toBeGreaterThan(2 * sd(high));
    // Poisson keeps the mean: counts / peak average to the clean intensity.
    expect(mean(low) - mean(clean)).toBeLessThan(0.01);
    // Poisson(peak * c) / peak takes values on the grid k / peak.
    expect(Array.from(low.subarray(0, 50)).every((v) => Math.abs(v * 10 - Math.round(v * 10)) < 1e-4)).toBe(true);
  });

  it('two realisations of the same clean image are independent (Noise2Noise pairs); the set keeps clean targets and noise levels', () => {
    const { set, second, levels } = makeNoiseSet({ count: 8, seed: 2, size: 16 });
    expect(set.targets!.shape).toEqual([16, 16, 1]);
    expect(Array.from(set.labels)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(levels.length).toBe(4);
    const e1 = set.images.map((v, i) => v - set.targets!.data[i]!);
    const e2 = second.map((v, i) => v - set.targets!.data[i]!);
    expect(Array.from(e1)).not.toEqual(Array.from(e2));
    const corr = mean(e1.map((v, i) => v * e2[i]!)) / Math.sqrt(mean(e1.map((v) => v * v)) * mean(e2.map((v) => v * v)));
    expect(Math.abs(corr)).toBeLessThan(0.1);
    const [r1, r2] = noisyRealisations(set.targets!.data, 256, levels, 2);
    expect(Array.from(r1!)).toEqual(Array.from(set.images));
    expect(Array.from(r2!)).toEqual(Array.from(second));
  });

  it('refuses bad noise levels with the value named', () => {
    expect(() => addNoise(new Float32Array(4), 4, [{ kind: 'gaussian', sigma: -1 }], 1)).toThrow(/gaussian noise sigma must be a finite number >= 0, got -1/);
    expect(() => addNoise(new Float32Array(4), 4, [{ kind: 'poisson', peak: 0 }], 1)).toThrow(/poisson noise peak .* > 0, got 0/);
  });
});

describe('data sources synthetic-blobs and synthetic-noise', () => {
  it('parse and print back; plain synthetic is unchanged', () => {
    expect(parseSourceSpec('synthetic-blobs')).toEqual({ kind: 'synthetic', form: 'blobs' });
    expect(parseSourceSpec('synthetic-noise')).toEqual({ kind: 'synthetic', form: 'noise' });
    expect(parseSourceSpec('synthetic')).toEqual({ kind: 'synthetic' });
    expect(formatSourceSpec(parseSourceSpec('synthetic-noise'))).toBe('synthetic-noise');
  });

  it('give each site its own train and validation images with targets, and a held-out set apart', () => {
    const shards = openSiteShards({ source: 'synthetic-blobs', partition: 'iid', seed: 1, syntheticCount: 8, size: 16 }, 2);
    const s0 = shards.load(0);
    const s1 = shards.load(1);
    expect(s0.train.count).toBe(8);
    expect(s0.val.count).toBe(16);
    expect(shards.counts(0)).toEqual({ train: 8, val: 16 });
    expect(s0.train.targets!.shape).toEqual([16, 16, 1]);
    expect(Array.from(s0.train.images)).not.toEqual(Array.from(s1.train.images));
    expect(Array.from(s0.train.images)).toEqual(Array.from(shards.load(0).train.images));
    const noise = openSiteShards({ source: 'synthetic-noise', partition: 'iid', seed: 1, syntheticCount: 8, size: 16 }, 1).load(0);
    expect(noise.train.targets!.data.length).toBe(8 * 256);
    const held = loadHeldOut({ source: 'synthetic-noise', seed: 1, count: 10, size: 16 });
    expect(held.count).toBe(10);
    expect(held.targets).toBeDefined();
  });
});
