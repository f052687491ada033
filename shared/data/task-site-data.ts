/**
 * Sites' data for the segmentation and denoising generators (`synthetic-blobs`, `synthetic-noise`):
 * each site draws its own images from its own seed stream, training and validation apart, and a
 * held-out set from a third stream no site draws from.
 */
import { hashSeed } from './random.js';
import { makeBlobSet } from './synthetic-blobs.js';
import { makeNoiseSet } from './synthetic-noise.js';
import type { ImageSet, SiteData } from './types.js';
import type { SyntheticForm } from './sources/source-spec.js';

export interface TaskSyntheticSpec {
  seed: number;
  /** Image side (default 28, the zoo's default input). */
  size?: number;
}

const STREAM = { train: 11, val: 12, heldOut: 13 } as const;
const DEFAULT_SIDE = 28;

/** `count` generated examples of `form` from stream (seed, stream, site). */
export function makeTaskSet(form: SyntheticForm, count: number, seed: number, size: number | undefined): ImageSet {
  const side = size ?? DEFAULT_SIDE;
  return form === 'blobs' ? makeBlobSet({ count, seed, size: side }).set : makeNoiseSet({ count, seed, size: side }).set;
}

/** Validation images per site: a quarter of the training count, at least 16. */
export function taskValCount(trainCount: number): number {
  return Math.max(16, Math.round(trainCount / 4));
}

/** Site `index`'s training and validation sets. */
export function taskSiteData(form: SyntheticForm, spec: TaskSyntheticSpec, index: number, sites: number, trainCount: number): SiteData {
  const valCount = taskValCount(trainCount);
  const train = makeTaskSet(form, trainCount, hashSeed(spec.seed, STREAM.train, index), spec.size);
  const val = makeTaskSet(form, valCount, hashSeed(spec.seed, STREAM.val, index), spec.size);
  return { train, val, source: `synthetic-${form} site ${index + 1}/${sites} (seed ${spec.seed}): ${train.count} train / ${val.count} val` };
}

export function taskHeldOut(form: SyntheticForm, spec: TaskSyntheticSpec, count: number): ImageSet {
  return makeTaskSet(form, count, hashSeed(spec.seed, STREAM.heldOut), spec.size);
}
