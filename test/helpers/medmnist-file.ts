import { writeFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { encodeNpy } from '../../shared/data/npy.js';

/** One split of a MedMNIST-layout archive: uint8 images and their class indices (or 0/1 label rows). */
export interface MedmnistSplitFile {
  images: Uint8Array;
  /** (N, H, W) or (N, H, W, C). */
  shape: number[];
  labels: ArrayLike<number>;
  /** Default (N, 1): one class index per image. */
  labelShape?: number[];
}

/** Writes SPLIT_images.npy and SPLIT_labels.npy for each split into a zip, as MedMNIST ships its .npz files. */
export function writeMedmnistFile(path: string, splits: Record<string, MedmnistSplitFile>, level: 1 | 6 = 6): void {
  const files: Record<string, Uint8Array> = {};
  for (const [name, s] of Object.entries(splits)) {
    files[`${name}_images.npy`] = encodeNpy('|u1', s.shape, s.images);
    files[`${name}_labels.npy`] = encodeNpy('|u1', s.labelShape ?? [s.labels.length, 1], Uint8Array.from(s.labels));
  }
  writeFileSync(path, zipSync(files, { level }));
}
