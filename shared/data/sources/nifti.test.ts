import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { niftiFile } from '../../../test/helpers/nifti-files.js';
import { readLabelledExamples } from './labelled-examples.js';
import { decodeNifti } from './nifti-volume.js';
import { openNiftiFolder } from './nifti.js';
import type { DecodedImage, SkippedInput } from './types.js';

const X = 4;
const Y = 3;
const Z = 5;
const stored = Array.from({ length: X * Y * Z }, (_, i) => (i * 7) % 200);
// Foreground only in slices 1 and 3.
const mask = Array.from({ length: X * Y * Z }, (_, i) => (Math.floor(i / (X * Y)) % 2 === 1 && i % 5 === 0 ? 1 : 0));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medley-nifti-'));
  await writeFile(join(dir, 'case1.nii.gz'), niftiFile({ dims: [X, Y, Z], type: 'int16', values: stored, slope: 2, inter: -10, gzip: true }));
  await writeFile(join(dir, 'case1_mask.nii.gz'), niftiFile({ dims: [X, Y, Z], type: 'uint8', values: mask, gzip: true }));
  await writeFile(join(dir, 'case2.nii'), niftiFile({ dims: [X, Y, Z], type: 'float32', values: stored.map((v) => v / 4) }));
  await writeFile(join(dir, 'case2_mask.nii'), niftiFile({ dims: [X, Y, 4], type: 'uint8', values: new Array(X * Y * 4).fill(0) }));
  await writeFile(join(dir, 'series.nii'), niftiFile({ dims: [X, Y, Z, 2], type: 'uint8', values: new Array(X * Y * Z * 2).fill(1) }));
  await writeFile(join(dir, 'cut.nii'), niftiFile({ dims: [X, Y, Z], type: 'int16', values: stored }).subarray(0, 400));
  await writeFile(join(dir, 'orphan_mask.nii'), niftiFile({ dims: [X, Y, Z], type: 'uint8', values: mask }));
  await writeFile(join(dir, 'notes.txt'), 'not a volume');
  await writeFile(join(dir, 'nomask.nii'), niftiFile({ dims: [X, Y], type: 'uint8', values: stored.slice(0, X * Y) }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll() {
  const images: DecodedImage[] = [];
  const skipped: SkippedInput[] = [];
  for await (const item of openNiftiFolder(dir).items()) {
    if ('image' in item) images.push(item.image);
    else skipped.push(item.skipped);
  }
  return { images, skipped };
}

describe('nifti: folders', () => {
  it('decodes volumes with scl_slope/scl_inter, slices along z (rows = y, columns = x), masks paired by _mask', async () => {
    const { images } = await readAll();
    const case1 = images.find((i) => i.path === 'case1.nii.gz')!;
    expect([case1.rows, case1.columns, case1.frames, case1.samples]).toEqual([Y, X, Z, 1]);
    expect(case1.arrayShape).toEqual([Z, Y, X]);
    expect(Array.from(case1.pixels)).toEqual(stored.map((v) => v * 2 - 10));
    expect(Array.from(case1.mask!)).toEqual(mask);
    expect(images.map((i) => i.path)).toEqual(['case1.nii.gz', 'nomask.nii']);
    expect(images.find((i) => i.path === 'nomask.nii')!.frames).toBe(1);
  });

  it('skips what it cannot use, one reason each', async () => {
    const { skipped } = await readAll();
    const reason = (p: string) => skipped.find((s) => s.path === p)?.reason;
    expect(reason('case2.nii')).toMatch(/its mask case2_mask\.nii is 4 x 3 x 4 voxels but the image is 4 x 3 x 5/);
    expect(reason('series.nii')).toMatch(/4-D volume \(4 x 3 x 5 x 2\); only 2-D and 3-D volumes are sliced/);
    expect(reason('cut.nii')).toMatch(/^truncated: 4 x 3 x 5 voxels need 120 bytes of data but the file holds 48/);
    expect(reason('orphan_mask.nii')).toMatch(/^a mask without its image/);
    expect(reason('notes.txt')).toMatch(/^not a \.nii or \.nii\.gz file/);
    expect(skipped).toHaveLength(5);
  });

  it('each slice is an example, positive when its mask marks any voxel; a volume without a mask is unlabelled', async () => {
    const lines: string[] = [];
    const ex = await readLabelledExamples({ kind: 'nifti', dir }, { input: { height: Y, width: X, channels: 1 }, window: { kind: 'min-max' }, requireLabels: true, log: (l) => lines.push(l) });
    expect(Array.from(ex.set.labels)).toEqual([0, 1, 0, 1, 0]);
    expect(ex.groups).toEqual(new Array(5).fill('case1.nii.gz'));
    expect(ex.unlabelled).toEqual(['nomask.nii']);
    expect(lines).toContain('unlabelled nomask.nii: no labels CSV and no mask to label it; left out');
    // Slice 2 at native size: its own min-max of (stored * 2 - 10).
    const slice = stored.slice(2 * X * Y, 3 * X * Y);
    const lo = Math.min(...slice);
    const hi = Math.max(...slice);
    expect(Array.from(ex.set.images.subarray(2 * X * Y, 3 * X * Y))).toEqual(slice.map((v) => Math.fround((v - lo) / (hi - lo))));
  });

  it('decodeNifti refuses what is not NIfTI', () => {
    expect(decodeNifti(new TextEncoder().encode('hello'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a NIfTI-1 or NIfTI-2 file/) });
  });
});
