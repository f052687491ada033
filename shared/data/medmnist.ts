/**
 * Loads a MedMNIST dataset file (e.g. pneumoniamnist.npz from medmnist.com / Zenodo) into
 * ImageSets. Files hold train/val/test splits as `<split>_images` (N,H,W) or (N,H,W,3) uint8
 * and `<split>_labels`: (N,1) class indices, or (N,L) 0/1 vectors for the multi-label sets
 * (ChestMNIST's 14 findings), which become dense targets (see ImageSet.targets) with `labels`
 * holding "any finding" (1 when a label is positive) so partitions still have a class to follow.
 */
import { basename } from 'node:path';
import { npyNumber, type NpyArray } from './npy.js';
import { getArray, readNpz } from './npz.js';
import type { ImageSet } from './types.js';

export interface MedmnistSplits {
  train: ImageSet;
  val: ImageSet;
  test: ImageSet;
  /** Dataset name from the file name, e.g. "pneumoniamnist". */
  name: string;
}

const SPLITS = ['train', 'val', 'test'] as const;
export type MedmnistSplit = (typeof SPLITS)[number];
type Split = MedmnistSplit;

export function loadMedmnist(path: string): MedmnistSplits {
  return medmnistFromArrays(readNpz(path), path);
}

/**
 * Loads only the named splits, decompressing just their images (labels of every split are read
 * so that `classes` is the same whichever splits a caller asks for).
 */
export function loadMedmnistSplits<S extends Split>(path: string, wanted: readonly S[]): Record<S, ImageSet> & { name: string } {
  const names = [...SPLITS.map((s) => `${s}_labels`), ...wanted.map((s) => `${s}_images`)];
  const arrays = readNpz(path, names);
  const labels = {} as Record<Split, SplitLabels>;
  for (const split of SPLITS) labels[split] = toLabels(getArray(arrays, `${split}_labels`, path), path, split);
  const classes = classCount(labels);
  const sets = {} as Record<S, ImageSet>;
  for (const split of wanted) sets[split] = toImageSet(getArray(arrays, `${split}_images`, path), labels[split], classes, path, split);
  return { ...sets, name: datasetName(path) };
}

export function medmnistFromArrays(arrays: Map<string, NpyArray>, path: string): MedmnistSplits {
  const labels = {} as Record<Split, SplitLabels>;
  for (const split of SPLITS) labels[split] = toLabels(getArray(arrays, `${split}_labels`, path), path, split);
  const classes = classCount(labels);
  const sets = {} as Record<Split, ImageSet>;
  for (const split of SPLITS) sets[split] = toImageSet(getArray(arrays, `${split}_images`, path), labels[split], classes, path, split);
  return { ...sets, name: datasetName(path) };
}

/** A split's class indices, and for a multi-label set its 0/1 label vectors (N x width). */
interface SplitLabels {
  labels: Int32Array;
  vectors?: Float32Array;
  width: number;
}

function toLabels(arr: NpyArray, path: string, split: Split): SplitLabels {
  const [n, k = 1, ...rest] = arr.shape;
  if (arr.shape.length === 0 || rest.length > 0) {
    throw new Error(`${path}: ${split}_labels has shape (${arr.shape.join(', ')}); expected (N, 1) class indices or (N, L) 0/1 labels`);
  }
  if (arr.dtype === 'float32' || arr.dtype === 'float64') {
    throw new Error(`${path}: ${split}_labels are ${arr.dtype}; expected integer class indices`);
  }
  const out = new Int32Array(n);
  if (k !== 1) {
    const vectors = new Float32Array(n * k);
    for (let i = 0; i < n * k; i++) {
      const y = npyNumber(arr, i);
      if (y !== 0 && y !== 1) throw new Error(`${path}: ${split}_labels has ${k} labels per image (multi-label) but value ${y} at image ${Math.floor(i / k)}, label ${i % k}; each must be 0 or 1`);
      vectors[i] = y;
      if (y === 1) out[Math.floor(i / k)] = 1;
    }
    return { labels: out, vectors, width: k };
  }
  for (let i = 0; i < n; i++) {
    const y = npyNumber(arr, i);
    if (y < 0 || y > 1000) throw new Error(`${path}: ${split}_labels[${i}] = ${y} is not a class index (0..1000)`);
    out[i] = y;
  }
  return { labels: out, width: 1 };
}

function toImageSet(arr: NpyArray, splitLabels: SplitLabels, classes: number, path: string, split: Split): ImageSet {
  const { labels } = splitLabels;
  const shape = arr.shape;
  const channels = shape.length === 3 ? 1 : shape[3];
  if ((shape.length !== 3 && shape.length !== 4) || (channels !== 1 && channels !== 3)) {
    throw new Error(`${path}: ${split}_images has shape (${shape.join(', ')}); expected (N, H, W) or (N, H, W, 1|3)`);
  }
  const [count, height, width] = shape;
  if (count !== labels.length) {
    throw new Error(`${path}: ${split}_images has ${count} images but ${split}_labels has ${labels.length} labels`);
  }
  let scale: number;
  if (arr.dtype === 'uint8') {
    scale = 1 / 255;
  } else if (arr.dtype === 'float32' || arr.dtype === 'float64') {
    // Float images are accepted either as [0,1] or as 0..255 values stored as floats.
    let max = 0;
    for (let i = 0; i < arr.data.length; i++) max = Math.max(max, Number(arr.data[i]));
    scale = max > 1 ? 1 / 255 : 1;
  } else {
    throw new Error(`${path}: ${split}_images are ${arr.dtype}; expected uint8 (or float) pixels`);
  }
  const src = arr.data as Uint8Array | Float32Array | Float64Array;
  const images = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) images[i] = Math.min(1, Math.max(0, src[i] * scale));
  const set = { images, labels, count, height, width, channels, classes };
  return splitLabels.vectors ? { ...set, targets: { data: splitLabels.vectors, shape: [splitLabels.width] } } : set;
}

/** From every split, so that all three agree even if one split lacks a class. */
function classCount(labels: Record<Split, SplitLabels>): number {
  const widths = new Set(SPLITS.map((s) => labels[s].width));
  if (widths.size > 1) throw new Error(`splits disagree on the labels per image (${[...widths].join(' vs ')}); every split must have the same label columns`);
  return Math.max(2, ...SPLITS.map((s) => maxOf(labels[s].labels) + 1));
}

function datasetName(path: string): string {
  return basename(path).replace(/\.npz$/i, '');
}

function maxOf(a: Int32Array): number {
  let m = -1;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}
