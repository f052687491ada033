import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNpy } from '../../shared/data/npy.js';
import { runMedley } from '../helpers/cli-run.js';
import { dicomFile } from '../helpers/dicom-files.js';
import { runNumpy } from '../helpers/numpy.js';
import { firstMismatch, PYDICOM_TEST_FILES, pydicomModalityValues } from '../helpers/pydicom.js';

const DECODABLE = ['CT_small.dcm', 'MR_small_RLE.dcm', 'rtdose.dcm', 'SC_rgb_rle.dcm', 'image_dfl.dcm', 'nested/MR_small_bigendian.dcm', 'written.dcm'];

let dir: string;
let out: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medley-inspect-'));
  out = await mkdtemp(join(tmpdir(), 'medley-inspect-out-'));
  await mkdir(join(dir, 'nested'));
  for (const f of ['CT_small.dcm', 'MR_small_RLE.dcm', 'rtdose.dcm', 'SC_rgb_rle.dcm', 'image_dfl.dcm', 'JPEG-lossy.dcm']) await copyFile(join(PYDICOM_TEST_FILES, f), join(dir, f));
  await copyFile(join(PYDICOM_TEST_FILES, 'MR_small_bigendian.dcm'), join(dir, 'nested', 'MR_small_bigendian.dcm'));
  await writeFile(join(dir, 'written.dcm'), dicomFile({ sop: '2.25.555', rows: 3, columns: 2, bitsAllocated: 16, signed: true, cells: [-4, 0, 4, 8, 12, 16], slope: 2.5, intercept: 1 }));
  // A corrupt copy: MR_small cut in the middle of its pixel data.
  await writeFile(join(dir, 'cut.dcm'), (await readFile(join(PYDICOM_TEST_FILES, 'MR_small.dcm'))).subarray(0, 5000));
  await writeFile(join(dir, 'notes.txt'), 'exported 2024-01-01\n');
  await writeFile(
    join(out, 'labels.csv'),
    'path,label,scanner\nCT_small.dcm,1,A\nMR_small_RLE.dcm,0,B\nrtdose.dcm,0,A\nSC_rgb_rle.dcm,1,B\nnested/MR_small_bigendian.dcm,1,B\nwritten.dcm,0,A\ngone.dcm,1,A\n',
  );
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

interface Report {
  readable: number;
  skipped: { path: string; reason: string }[];
  images: { path: string; rows: number; columns: number; frames: number }[];
  labels: { counts: Record<string, number>; unlabelled: string[]; unmatchedRows: number };
  subgroups: Record<string, Record<string, number>>;
}

describe('medley data inspect', () => {
  it('--json: what is readable, what is skipped and why, sizes, label and subgroup counts; --dump equals pydicom; --preview is the model input', async () => {
    const dump = join(out, 'dump');
    const preview = join(out, 'preview');
    const r = await runMedley(['data', 'inspect', '--data', `dicom:${dir}`, '--labels', join(out, 'labels.csv'), '--json', '--dump', dump, '--preview', preview, '--size', '32', '--window', '40,400']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.readable).toBe(DECODABLE.length);
    expect(report.images.map((i) => i.path).sort()).toEqual([...DECODABLE].sort());
    expect(report.images.find((i) => i.path === 'CT_small.dcm')).toEqual(expect.objectContaining({ path: 'CT_small.dcm', rows: 128, columns: 128, frames: 1 }));
    expect(report.images.find((i) => i.path === 'rtdose.dcm')).toEqual(expect.objectContaining({ rows: 10, columns: 10, frames: 15 }));
    const reasons = Object.fromEntries(report.skipped.map((s) => [s.path, s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['JPEG-lossy.dcm', 'cut.dcm', 'notes.txt']);
    expect(reasons['cut.dcm']).toMatch(/^truncated or corrupt/);
    expect(reasons['notes.txt']).toMatch(/^not a DICOM file/);
    expect(reasons['JPEG-lossy.dcm']).toMatch(/^JPEG Extended compressed pixel data/);
    expect(report.labels.counts).toEqual({ 0: 3, 1: 3 });
    expect(report.labels.unlabelled).toEqual(['image_dfl.dcm']);
    expect(report.labels.unmatchedRows).toBe(1);
    expect(report.subgroups).toEqual({ scanner: { A: 3, B: 3 } });

    // --dump: index.json names one .npy per readable image, holding pydicom's modality values.
    const index = JSON.parse(await readFile(join(dump, 'index.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(index).sort()).toEqual([...DECODABLE].sort());
    const refs = await pydicomModalityValues(DECODABLE.map((p) => join(dir, p)));
    for (const path of DECODABLE) {
      const npy = parseNpy(new Uint8Array(await readFile(join(dump, index[path]!))), index[path]!);
      const ref = refs.get(join(dir, path))!;
      if (!ref.ok) throw new Error(`pydicom: ${ref.error}`);
      expect(npy.dtype, path).toBe('float32');
      expect(npy.shape, path).toEqual(ref.shape);
      expect(firstMismatch(npy.data as Float32Array, ref.values, ref.integer), path).toBeUndefined();
    }

    // --preview: CT_small's PNG is pydicom's windowed values resized by Pillow, to within one grey level.
    const previews = JSON.parse(await readFile(join(preview, 'index.json'), 'utf8')) as Record<string, string[]>;
    expect(Object.keys(previews).sort()).toEqual([...DECODABLE].sort());
    const png = PNG.sync.read(await readFile(join(preview, previews['CT_small.dcm']![0]!)));
    expect([png.width, png.height]).toEqual([32, 32]);
    const ref = await runNumpy(
      `import pydicom
from PIL import Image
ds = pydicom.dcmread(${JSON.stringify(join(dir, 'CT_small.dcm'))})
hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
c, w = 40.0, 400.0
v = np.clip((hu - (c - 0.5)) / (w - 1) + 0.5, 0, 1)
v[hu <= c - 0.5 - (w - 1) / 2] = 0
v[hu > c - 0.5 + (w - 1) / 2] = 1
OUT['p'] = np.asarray(Image.fromarray(v.astype(np.float32), 'F').resize((32, 32), Image.BILINEAR)) * 255`,
      {},
    );
    let worst = 0;
    for (let i = 0; i < 32 * 32; i++) worst = Math.max(worst, Math.abs(png.data[i * 4]! - ref.p!.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('prints a readable summary, and only reads: the folder is left as it was', async () => {
    const before = (await readFile(join(dir, 'CT_small.dcm'))).length;
    const r = await runMedley(['data', 'inspect', '--data', `dicom:${dir}`, '--labels', join(out, 'labels.csv')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^DICOM folder .*: 7 image\(s\) read, 3 skipped, 6 labelled example\(s\)\n/);
    expect(r.stdout).toMatch(/\n {2}per label: 0: 3, 1: 3\n/);
    expect(r.stdout).toMatch(/\n {2}per scanner: A: 3, B: 3\n/);
    expect(r.stdout).toMatch(/\nskipped:\n( {2}.+\n){3}$/);
    expect(r.stdout).toContain('  notes.txt: not a DICOM file');
    expect((await readFile(join(dir, 'CT_small.dcm'))).length).toBe(before);
  });

  it('bad input: a clear error naming it, exit code 1', async () => {
    const cases: [string[], RegExp][] = [
      [['--data', join(dir, 'CT_small.dcm')], /data source '.*CT_small\.dcm': not a known form/],
      [['--data', `dicom:${join(dir, 'nope')}`], /is not a folder this process can read/],
      [['--data', `dicom:${dir}`, '--labels', join(out, 'none.csv')], /--labels .*none\.csv: no such file/],
      [['--data', `dicom:${dir}`, '--window', 'wide'], /--window: window 'wide': use min-max, file/],
    ];
    for (const [args, message] of cases) {
      const r = await runMedley(['data', 'inspect', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
