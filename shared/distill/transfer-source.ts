import { loadHeldOut, loadMedmnistSplits } from '../data/index.js';
import { parseSourceSpec } from '../data/sources/index.js';
import type { TransferImages } from './distill-training.js';

/**
 * Reads the consortium's transfer set for `coordinator serve --transfer-set`: `synthetic` (images
 * of the synthetic generator, from a seed of their own), or a MedMNIST .npz, optionally with the
 * split to take (`FILE.npz:val`, the default split being val). Labels are dropped: the transfer set
 * is unlabelled, and only its pixels ever leave the coordinator.
 */
export function loadTransferImages(source: string, count: number, seed: number): TransferImages {
  if (!Number.isInteger(count) || count < 1) throw new Error(`--transfer-count ${count}: give the number of transfer images, a whole number of at least 1`);
  const m = /^(.*\.npz)(?::(train|val|test))?$/.exec(source);
  if (m) {
    const split = (m[2] ?? 'val') as 'train' | 'val' | 'test';
    const set = loadMedmnistSplits(m[1]!, [split])[split];
    const n = Math.min(count, set.count);
    const per = set.height * set.width * set.channels;
    return { images: set.images.slice(0, n * per), count: n, height: set.height, width: set.width, channels: set.channels };
  }
  const parsed = parseSourceSpec(source);
  if (parsed.kind !== 'synthetic') throw new Error(`--transfer-set ${source}: give synthetic (or synthetic-blobs for segmentation) or a MedMNIST .npz file, optionally FILE.npz:train|val|test`);
  // A seed of its own, so the transfer images are none of the sites' synthetic images.
  const set = loadHeldOut({ source, seed: seed ^ 0x7a5f, count });
  return { images: set.images, count: set.count, height: set.height, width: set.width, channels: set.channels };
}
