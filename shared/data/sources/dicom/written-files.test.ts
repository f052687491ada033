import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomFile, withoutMeta } from '../../../../test/helpers/dicom-files.js';
import { firstMismatch, pydicomModalityValues } from '../../../../test/helpers/pydicom.js';
import { runNumpy } from '../../../../test/helpers/numpy.js';
import { middleFrame, modelInput } from '../model-input.js';
import { decodeDicomPart10, type DicomImage } from './part10.js';

function decode(bytes: Uint8Array): DicomImage {
  const result = decodeDicomPart10(bytes, 'test.dcm');
  if (!result.ok) throw new Error(result.reason);
  return result.image;
}

const native = (image: DicomImage) => ({ height: image.rows, width: image.columns, channels: 1 as const });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medley-dicom-written-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('decodeDicomPart10 on files written with dcmjs', () => {
  it('signed 16-bit pixels with rescale slope and intercept: value * slope + intercept, as pydicom', async () => {
    const cells = [-5, 0, 7, 100, -2000, 32767, -32768, 1];
    const bytes = dicomFile({ sop: '2.25.101', rows: 2, columns: 4, bitsAllocated: 16, signed: true, cells, slope: 0.5, intercept: -3 });
    const image = decode(bytes);
    expect(Array.from(image.pixels)).toEqual([-5.5, -3, 0.5, 47, -1003, 16380.5, -16387, -2.5]);
    const path = join(dir, 'signed.dcm');
    await writeFile(path, bytes);
    const ref = (await pydicomModalityValues([path])).get(path)!;
    if (!ref.ok) throw new Error(ref.error);
    expect(firstMismatch(image.pixels, ref.values, false)).toBeUndefined();
  });

  it('bits stored 12 of 16 (unsigned): the 4 bits above the high bit are not part of the value', () => {
    const values = [0, 1, 2047, 4095, 1234, 3000];
    const junk = [0xf, 0xa, 0x5, 0x1, 0x8, 0x3];
    const cells = values.map((v, i) => v | (junk[i]! << 12));
    const image = decode(dicomFile({ sop: '2.25.102', rows: 2, columns: 3, bitsAllocated: 16, bitsStored: 12, cells }));
    expect(Array.from(image.pixels)).toEqual(values);
  });

  it('bits stored 12 of 16 (signed): the 12-bit two\'s complement value, whatever the unused bits hold', () => {
    const values = [-2048, -1, 0, 1, 2047, -1000];
    const cells = values.map((v) => (v & 0xfff) | (0xa << 12));
    const image = decode(dicomFile({ sop: '2.25.103', rows: 1, columns: 6, bitsAllocated: 16, bitsStored: 12, signed: true, cells }));
    expect(Array.from(image.pixels)).toEqual(values);
  });

  it('a high bit above bits stored - 1: the stored bits sit higher in the cell', () => {
    // 10 stored bits at bits 4..13; bits 0..3 and 14..15 hold other things.
    const values = [0, 1, 512, 1023, 77];
    const cells = values.map((v, i) => (v << 4) | (i % 16) | ((i % 4) << 14));
    const image = decode(dicomFile({ sop: '2.25.104', rows: 1, columns: 5, bitsAllocated: 16, bitsStored: 10, highBit: 13, cells }));
    expect(Array.from(image.pixels)).toEqual(values);
  });

  it('a multi-frame file keeps every frame; training uses the middle one', () => {
    const cells = Array.from({ length: 3 * 4 }, (_, i) => i * 10);
    const image = decode(dicomFile({ sop: '2.25.105', rows: 2, columns: 2, frames: 3, bitsAllocated: 8, cells }));
    expect(image.frames).toBe(3);
    expect(image.arrayShape).toEqual([3, 2, 2]);
    expect(Array.from(image.pixels)).toEqual(cells);
    expect(middleFrame(image)).toBe(1);
    // Frame 1 holds 40, 50, 60, 70: min-max gives 0, 1/3, 2/3, 1.
    const input = modelInput(image, 1, native(image), { kind: 'min-max' });
    expect(Array.from(input)).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
  });

  it('RGB with planes stored one after another (planar configuration 1) comes out interleaved, as pydicom', async () => {
    const r = [10, 20, 30, 40];
    const g = [50, 60, 70, 80];
    const b = [90, 100, 110, 120];
    const bytes = dicomFile({ sop: '2.25.106', rows: 2, columns: 2, samples: 3, planar: 1, bitsAllocated: 8, cells: [...r, ...g, ...b] });
    const image = decode(bytes);
    expect(Array.from(image.pixels)).toEqual([10, 50, 90, 20, 60, 100, 30, 70, 110, 40, 80, 120]);
    const path = join(dir, 'planar.dcm');
    await writeFile(path, bytes);
    const ref = (await pydicomModalityValues([path])).get(path)!;
    expect(ref.ok && firstMismatch(image.pixels, ref.values, true)).toBeUndefined();
    // Grey model input is luma (0.299 R + 0.587 G + 0.114 B), then min-max: the four pixels step evenly.
    const input = modelInput(image, 0, native(image), { kind: 'min-max' });
    expect(Array.from(input).map((v) => Number(v.toFixed(6)))).toEqual([0, 0.333333, 0.666667, 1]);
  });

  it('a data set without preamble and meta header is read as explicit VR little endian', () => {
    const cells = [1, 2, 3, 4];
    const image = decode(withoutMeta(dicomFile({ sop: '2.25.107', study: '2.25.107.9', rows: 2, columns: 2, bitsAllocated: 16, cells })));
    expect(Array.from(image.pixels)).toEqual(cells);
    expect(image.ids.SOPInstanceUID).toBe('2.25.107');
    expect(image.ids.StudyInstanceUID).toBe('2.25.107.9');
    expect(image.transferSyntax).toBe('1.2.840.10008.1.2.1');
  });
});

describe('model input from written files', () => {
  it('MONOCHROME1 is inverted after scaling: the lowest value is the brightest', () => {
    const image = decode(dicomFile({ sop: '2.25.201', rows: 1, columns: 3, bitsAllocated: 16, photometric: 'MONOCHROME1', cells: [0, 50, 100] }));
    expect(Array.from(modelInput(image, 0, native(image), { kind: 'min-max' }))).toEqual([1, 0.5, 0]);
    const same = decode(dicomFile({ sop: '2.25.202', rows: 1, columns: 3, bitsAllocated: 16, cells: [0, 50, 100] }));
    expect(Array.from(modelInput(same, 0, native(same), { kind: 'min-max' }))).toEqual([0, 0.5, 1]);
  });

  it('a constant image scales to zeros, not NaN', () => {
    const image = decode(dicomFile({ sop: '2.25.203', rows: 2, columns: 2, bitsAllocated: 8, cells: [7, 7, 7, 7] }));
    expect(Array.from(modelInput(image, 0, native(image), { kind: 'min-max' }))).toEqual([0, 0, 0, 0]);
  });

  // pydicom's apply_voi_lut is the reference: it maps to [y_min, y_max] of the stored range,
  // which the script normalises to [0, 1].
  it.each([
    ['LINEAR', undefined],
    ['LINEAR_EXACT', 'LINEAR_EXACT'],
    ['SIGMOID', 'SIGMOID'],
  ])("each file's window (VOI LUT function %s), as pydicom applies it", async (_name, fn) => {
    const cells = [-1024, -200, -161, -160, -159, 0, 39, 40, 41, 238, 239, 240, 241, 400, 3000, 500];
    const bytes = dicomFile({ sop: '2.25.204', rows: 4, columns: 4, bitsAllocated: 16, signed: true, cells, slope: 1, intercept: 0, window: { center: 40, width: 400, fn } });
    const path = join(dir, `window-${_name}.dcm`);
    await writeFile(path, bytes);
    const image = decode(bytes);
    const ours = modelInput(image, 0, native(image), { kind: 'file' });
    const ref = await runNumpy(
      `import pydicom, warnings
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
warnings.simplefilter('ignore')
ds = pydicom.dcmread(${JSON.stringify(path)})
arr = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
bs = ds.BitsStored
lo, hi = (-2**(bs-1), 2**(bs-1)-1) if ds.PixelRepresentation else (0, 2**bs-1)
lo, hi = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept), hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
OUT['v'] = (apply_voi_lut(arr, ds, index=0) - lo) / (hi - lo)`,
      {},
    );
    expect(firstMismatch(ours, ref.v!.data, false)).toBeUndefined();
    // And the fixed window flag gives the same as the file's own LINEAR window.
    if (fn === undefined) expect(Array.from(modelInput(image, 0, native(image), { kind: 'fixed', window: { center: 40, width: 400 } }))).toEqual(Array.from(ours));
  });

  it("'file' falls back to min-max for an image without a window", () => {
    const image = decode(dicomFile({ sop: '2.25.205', rows: 1, columns: 2, bitsAllocated: 8, cells: [3, 9] }));
    expect(image.window).toBeUndefined();
    expect(Array.from(modelInput(image, 0, native(image), { kind: 'file' }))).toEqual([0, 1]);
  });
});
