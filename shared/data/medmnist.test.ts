import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMedmnist, loadMedmnistSplits } from './medmnist.js';
import { encodeNpy } from './npy.js';
import { writeMedmnistFile } from '../../test/helpers/medmnist-file.js';

const dir = mkdtempSync(join(tmpdir(), 'medley-medmnist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Split {
  images: Uint8Array;
  shape: number[];
  labels: number[];
  labelShape?: number[];
}

/** Writes a MedMNIST-layout archive (compressed like the real downloads). */
function writeFakeMedmnist(path: string, splits: Record<'train' | 'val' | 'test', Split>): void {
  writeMedmnistFile(path, splits);
}

function gray(n: number, h: number, w: number, labels: number[]): Split {
  const images = new Uint8Array(n * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 256;
  images[0] = 255;
  return { images, shape: [n, h, w], labels };
}

describe('loadMedmnist', () => {
  it('converts grayscale uint8 images and (N,1) labels', () => {
    const path = join(dir, 'toymnist.npz');
    writeFakeMedmnist(path, { train: gray(4, 5, 6, [0, 1, 1, 0]), val: gray(2, 5, 6, [1, 0]), test: gray(3, 5, 6, [0, 0, 1]) });
    const m = loadMedmnist(path);
    expect(m.name).toBe('toymnist');
    expect(m.train).toMatchObject({ count: 4, height: 5, width: 6, channels: 1, classes: 2 });
    expect(m.test.count).toBe(3);
    expect([...m.train.labels]).toEqual([0, 1, 1, 0]);
    expect(m.train.images[0]).toBe(1);
    expect(m.train.images[1]).toBeCloseTo(37 / 255, 6);
    expect(m.train.images.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('keeps RGB channels last and counts classes over all splits', () => {
    const path = join(dir, 'rgb.npz');
    const rgb = (n: number, labels: number[]): Split => ({ images: new Uint8Array(n * 2 * 2 * 3).fill(51), shape: [n, 2, 2, 3], labels });
    // Class 4 appears only in the test split.
    writeFakeMedmnist(path, { train: rgb(3, [0, 1, 2]), val: rgb(1, [3]), test: rgb(1, [4]) });
    const m = loadMedmnist(path);
    expect(m.train).toMatchObject({ channels: 3, height: 2, width: 2, classes: 5 });
    expect(m.val.classes).toBe(5);
    expect(m.train.images[0]).toBeCloseTo(0.2, 6);
    const only = loadMedmnistSplits(path, ['val']);
    expect(only.val.classes).toBe(5);
    expect(only).not.toHaveProperty('train');
  });

  it('reads multi-label sets (N, L) as 0/1 label vectors, with "any finding" as the class', () => {
    const path = join(dir, 'chestmnist.npz');
    const multi = (labels: number[]): Split => ({ ...gray(labels.length / 3, 2, 2, labels), labelShape: [labels.length / 3, 3] });
    writeFakeMedmnist(path, { train: multi([0, 0, 0, 1, 0, 1]), val: multi([0, 1, 0]), test: multi([0, 0, 1]) });
    const m = loadMedmnist(path);
    expect(m.train.targets!.shape).toEqual([3]);
    expect(Array.from(m.train.targets!.data)).toEqual([0, 0, 0, 1, 0, 1]);
    expect(Array.from(m.train.labels)).toEqual([0, 1]);
    expect(m.train.classes).toBe(2);
    const bad = join(dir, 'badmulti.npz');
    writeFakeMedmnist(bad, { train: multi([0, 2, 0]), val: multi([0, 1, 0]), test: multi([0, 0, 1]) });
    expect(() => loadMedmnist(bad)).toThrow(/train_labels has 3 labels per image \(multi-label\) but value 2 at image 0, label 1; each must be 0 or 1/);
  });

  it('names the missing array and the mismatch', () => {
    const path = join(dir, 'broken.npz');
    writeFileSync(path, zipSync({ 'train_images.npy': encodeNpy('|u1', [1, 2, 2], new Uint8Array(4)) }));
    expect(() => loadMedmnist(path)).toThrow(/broken\.npz: missing array 'train_labels'/);
    const bad = join(dir, 'mismatch.npz');
    writeFakeMedmnist(bad, { train: { ...gray(2, 2, 2, [0, 1]), labels: [0, 1, 1] }, val: gray(1, 2, 2, [0]), test: gray(1, 2, 2, [1]) });
    expect(() => loadMedmnist(bad)).toThrow(/train_images has 2 images but train_labels has 3 labels/);
  });
});
