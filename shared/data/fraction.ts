/**
 * Data-efficiency runs train the same federation on a share of each site's training split. Each
 * site draws its share from its own data, per class (so a small share keeps the site's case mix
 * and both classes), from a fixed seeded order: a smaller share is a subset of a larger one, and
 * the curve compares nested training sets rather than different draws. Validation is untouched.
 */
import { subset } from './partition.js';
import { Random, hashSeed, permutation } from './random.js';
import type { SiteShards } from './site-data.js';
import type { ImageSet, SiteData } from './types.js';

/** Seed stream of the training-share order (distinct from site-data's streams 1-5). */
const FRACTION_STREAM = 6;

export function checkFraction(fraction: number): number {
  if (!(Number.isFinite(fraction) && fraction > 0 && fraction <= 1)) {
    throw new Error(`training fraction ${fraction} must be a number in (0, 1] (0.25 = a quarter of each site's training images)`);
  }
  return fraction;
}

/** Indices of the share of `set` a site keeps: per class, round(fraction * n) (at least one), in example order. */
export function fractionIndices(labels: ArrayLike<number>, classes: number, fraction: number, seed: number): Int32Array {
  checkFraction(fraction);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]?.push(i);
  const kept: number[] = [];
  byClass.forEach((members, c) => {
    if (members.length === 0) return;
    const take = Math.min(members.length, Math.max(1, Math.round(fraction * members.length)));
    const order = permutation(members.length, new Random(hashSeed(seed, FRACTION_STREAM, c)));
    for (let j = 0; j < take; j++) kept.push(members[order[j]!]!);
  });
  return Int32Array.from(kept.sort((a, b) => a - b));
}

export function trainingShare(set: ImageSet, fraction: number, seed: number): ImageSet {
  return fraction >= 1 ? set : subset(set, fractionIndices(set.labels, set.classes, fraction, seed));
}

/** Every site keeps `fraction` of its training split (its own seed stream per site); validation stays whole. */
export function withTrainingFraction(shards: SiteShards, fraction: number, seed: number): SiteShards {
  checkFraction(fraction);
  if (fraction >= 1) return shards;
  const counts = new Map<number, { train: number; val: number }>();
  const load = (index: number): SiteData => {
    const data = shards.load(index);
    const train = trainingShare(data.train, fraction, hashSeed(seed, index));
    counts.set(index, { train: train.count, val: data.val.count });
    return { ...data, train, source: `${data.source} (training share ${fraction}: ${train.count} of ${data.train.count})` };
  };
  return {
    sites: shards.sites,
    // The share's size depends on the class counts, so the first call builds the site's data once.
    counts: (index) => counts.get(index) ?? (load(index), counts.get(index)!),
    load,
  };
}
