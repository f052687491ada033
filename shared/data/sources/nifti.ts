/**
 * `nifti:DIR`: NIfTI volumes for 2-D segmentation, each sliced along its last axis (z).
 *
 * Pairing: `CASE.nii.gz` (or `.nii`) is an image and `CASE_mask.nii.gz` (or `.nii`) in the same
 * folder is its label mask, voxel for voxel the same size. A slice's class is 1 when its mask has
 * any voxel above 0, else 0, unless a labels CSV (identifier column `path`, the image's path)
 * gives the whole volume a class. Slices of one volume always stay on the same side of a
 * train/validation split. Volumes are not reoriented (see nifti-volume.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listFiles, type FolderSourceOptions } from './folder-files.js';
import { decodeNifti, type NiftiVolume } from './nifti-volume.js';
import type { DecodedImage, ImageSource, SourceItem } from './types.js';

const NIFTI = /\.nii(\.gz)?$/i;
const MASK = /_mask\.nii(\.gz)?$/i;

export function openNiftiFolder(dir: string, options: FolderSourceOptions = {}): ImageSource {
  return {
    description: `NIfTI folder ${dir}`,
    frames: 'each',
    async *items(signal?: AbortSignal): AsyncIterable<SourceItem> {
      const files = await listFiles(dir, options.labels ? [options.labels] : []);
      const masks = new Map(files.filter((f) => MASK.test(f)).map((f) => [f.replace(MASK, ''), f]));
      const paired = new Set<string>();
      for (const path of files) {
        signal?.throwIfAborted();
        if (MASK.test(path)) continue;
        if (!NIFTI.test(path)) {
          yield { skipped: { path, reason: 'not a .nii or .nii.gz file; a nifti: source reads only NIfTI volumes' } };
          continue;
        }
        const maskPath = masks.get(path.replace(NIFTI, ''));
        if (maskPath) paired.add(maskPath);
        yield await readPair(dir, path, maskPath);
      }
      for (const mask of masks.values()) {
        if (!paired.has(mask)) yield { skipped: { path: mask, reason: `a mask without its image (expected ${mask.replace(MASK, '.nii.gz')} or .nii beside it)` } };
      }
    },
  };
}

async function readPair(dir: string, path: string, maskPath: string | undefined): Promise<SourceItem> {
  const image = await readVolume(dir, path);
  if ('reason' in image) return { skipped: { path, reason: image.reason } };
  let mask: Int32Array | undefined;
  if (maskPath) {
    const m = await readVolume(dir, maskPath);
    if ('reason' in m) return { skipped: { path, reason: `its mask ${maskPath}: ${m.reason}` } };
    if (m.dims.some((d, i) => d !== image.dims[i])) {
      return { skipped: { path, reason: `its mask ${maskPath} is ${m.dims.join(' x ')} voxels but the image is ${image.dims.join(' x ')}; they must match voxel for voxel` } };
    }
    mask = Int32Array.from(m.values, (v) => Math.round(v));
  }
  const [x, y, z] = image.dims;
  const decoded: DecodedImage = {
    path,
    rows: y,
    columns: x,
    frames: z,
    samples: 1,
    pixels: image.values,
    photometric: 'MONOCHROME2',
    ids: { path },
    group: path,
    mask,
    arrayShape: [z, y, x],
  };
  return { image: decoded };
}

async function readVolume(dir: string, path: string): Promise<NiftiVolume | { reason: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(dir, path));
  } catch (err) {
    return { reason: `cannot be read (${(err as Error).message})` };
  }
  const result = decodeNifti(bytes);
  return result.ok ? result.volume : { reason: result.reason };
}
