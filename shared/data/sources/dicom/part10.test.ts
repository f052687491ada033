import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstMismatch, PYDICOM_TEST_FILES, pydicomModalityValues, type PydicomReference } from '../../../../test/helpers/pydicom.js';
import { decodeDicomPart10, type DicomDecodeResult } from './part10.js';

const ALL = readdirSync(PYDICOM_TEST_FILES)
  .filter((f) => f.endsWith('.dcm'))
  .sort();

let reference: Map<string, PydicomReference>;
const ours = new Map<string, DicomDecodeResult>();

beforeAll(async () => {
  reference = await pydicomModalityValues(ALL.map((f) => join(PYDICOM_TEST_FILES, f)));
  for (const f of ALL) ours.set(f, decodeDicomPart10(readFileSync(join(PYDICOM_TEST_FILES, f)), f));
}, 120_000);

function decoded(file: string) {
  const result = ours.get(file)!;
  if (!result.ok) throw new Error(`${file} was skipped: ${result.reason}`);
  return result.image;
}

function expectSameAsPydicom(file: string): void {
  const ref = reference.get(join(PYDICOM_TEST_FILES, file))!;
  if (!ref.ok) throw new Error(`pydicom cannot decode ${file}: ${ref.error}`);
  const image = decoded(file);
  expect(image.arrayShape, file).toEqual(ref.shape);
  expect(firstMismatch(image.pixels, ref.values, ref.integer), file).toBeUndefined();
}

describe('decodeDicomPart10 on pydicom test files: values equal pydicom', () => {
  it.each([
    ['CT_small.dcm', 'explicit little endian, signed 16-bit, rescale intercept -1024'],
    ['MR_small.dcm', 'explicit little endian'],
    ['MR_small_bigendian.dcm', 'explicit big endian'],
    ['MR_small_expb.dcm', 'explicit big endian'],
    ['MR_small_implicit.dcm', 'implicit VR little endian'],
    ['MR_small_RLE.dcm', 'RLE Lossless'],
    ['MR_small_padded.dcm', 'pixel data longer than the image (padding ignored)'],
    ['image_dfl.dcm', 'deflated explicit little endian'],
    ['rtdose.dcm', 'multi-frame (15 frames) unsigned 32-bit, implicit VR'],
    ['rtdose_expb.dcm', 'multi-frame big endian 32-bit'],
    ['rtdose_rle.dcm', 'multi-frame RLE, one fragment per frame'],
    ['ExplVR_BigEnd.dcm', 'RGB, big endian'],
    ['SC_rgb_small_odd.dcm', 'RGB, odd size'],
    ['SC_rgb_rle.dcm', 'RGB RLE'],
    ['SC_rgb_rle_16bit_2frame.dcm', 'RGB RLE 16-bit, 2 frames'],
    ['SC_rgb_rle_32bit_2frame.dcm', 'RGB RLE 32-bit, 2 frames'],
    ['SC_ybr_full_422_uncompressed.dcm', 'YBR_FULL_422 uncompressed (chroma shared by pixel pairs)'],
    ['SC_rgb_jpeg_dcmd.dcm', 'RGB, implicit VR'],
    ['liver_1frame.dcm', '1 bit allocated (packed)'],
    ['liver_expb_1frame.dcm', '1 bit allocated, big endian'],
  ])('%s (%s)', (file) => {
    expectSameAsPydicom(file);
  });

  it('reads the identifiers and window a labels CSV and windowing use', () => {
    const ct = decoded('CT_small.dcm');
    expect(ct.ids.SOPInstanceUID).toBe('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322');
    expect(ct.ids.StudyInstanceUID).toBe('1.3.6.1.4.1.5962.1.2.1.20040119072730.12322');
    expect(ct.ids.path).toBe('CT_small.dcm');
    expect(ct.group).toBe(ct.ids.StudyInstanceUID);
    expect(ct.modality).toBe('CT');
    expect(ct.transferSyntax).toBe('1.2.840.10008.1.2.1');
    expect(decoded('MR_small.dcm').window).toEqual({ center: 600, width: 1600, fn: 'LINEAR' });
  });
});

describe('decodeDicomPart10: files it skips, with one clear reason each', () => {
  const reason = (file: string) => {
    const result = ours.get(file)!;
    if (result.ok) throw new Error(`${file} decoded, but a skip was expected`);
    return result.reason;
  };

  it('a truncated file', () => {
    expect(reason('MR_truncated.dcm')).toMatch(/^truncated or corrupt: .*export it again/);
  });

  it('files without the meta header are read (their encoding guessed) and skipped only because they hold no pixels', () => {
    expect(reason('ExplVR_LitEndNoMeta.dcm')).toMatch(/^no pixel data \(7FE0,0010\).*nothing to train on/);
    expect(reason('ExplVR_BigEndNoMeta.dcm')).toMatch(/^no pixel data \(7FE0,0010\)/);
  });

  it('a data set written in implicit VR under an explicit-VR transfer syntax is named as such', () => {
    expect(reason('SC_rgb_jpeg.dcm')).toMatch(/^its data set is written in implicit VR although its transfer syntax \(1\.2\.840\.10008\.1\.2\.4\.50\) says explicit VR/);
  });

  it('a header with a damaged Number of Frames, rather than guessing how many there are', () => {
    expect(reason('badVR.dcm')).toBe("Number of Frames (0028,0008) is '1A', not a whole number; the header is damaged");
  });

  it('a file without pixel data names its modality', () => {
    expect(reason('rtplan.dcm')).toMatch(/^no pixel data \(7FE0,0010\) \(modality RTPLAN\)/);
  });

  it.each([
    ['SC_rgb_jpeg_dcmtk.dcm', 'JPEG Baseline', '1.2.840.10008.1.2.4.50'],
    ['JPEG-lossy.dcm', 'JPEG Extended', '1.2.840.10008.1.2.4.51'],
    ['SC_rgb_jpeg_gdcm.dcm', 'JPEG Lossless \\(first-order prediction\\)', '1.2.840.10008.1.2.4.70'],
    ['MR_small_jpeg_ls_lossless.dcm', 'JPEG-LS Lossless', '1.2.840.10008.1.2.4.80'],
    ['MR_small_jp2klossless.dcm', 'JPEG 2000 Lossless', '1.2.840.10008.1.2.4.90'],
    ['JPEG2000.dcm', 'JPEG 2000', '1.2.840.10008.1.2.4.91'],
  ])('%s: %s is named with its UID and how to convert it', (file, name, uid) => {
    expect(reason(file)).toMatch(new RegExp(`^${name} compressed pixel data \\(transfer syntax ${uid.replace(/\./g, '\\.')}\\) is not decoded here; export the images uncompressed`));
  });

  it('files that are not DICOM at all', () => {
    // no_meta.dcm starts one byte off any element boundary; pydicom, forced, reads it as one unknown element.
    for (const bytes of [readFileSync(join(PYDICOM_TEST_FILES, 'no_meta.dcm')), readFileSync(join(PYDICOM_TEST_FILES, 'README.txt')), new TextEncoder().encode('id,label\n1,0\n'), new Uint8Array(0)]) {
      const result = decodeDicomPart10(bytes, 'x');
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toMatch(/^not a DICOM file \(no DICM marker/);
    }
  });

  it('a Part 10 file cut short anywhere is skipped, never thrown', () => {
    const whole = readFileSync(join(PYDICOM_TEST_FILES, 'CT_small.dcm'));
    for (const at of [0, 100, 131, 132, 200, 700, 3000, 6310, 20000, whole.length - 1]) {
      const result = decodeDicomPart10(whole.subarray(0, at), `cut-${at}`);
      expect(result.ok, `cut at ${at}`).toBe(false);
    }
  });
});

describe('decodeDicomPart10 over every pydicom test file', () => {
  it('either equals pydicom, or skips with a reason; it skips a file pydicom decodes only for a compression it does not decode', () => {
    const decodedCount = { same: 0, skipped: 0 };
    for (const file of ALL) {
      const result = ours.get(file)!;
      const ref = reference.get(join(PYDICOM_TEST_FILES, file))!;
      if (result.ok) {
        if (!ref.ok) throw new Error(`${file}: we decode it but pydicom cannot (${ref.error})`);
        expect(result.image.arrayShape, file).toEqual(ref.shape);
        expect(firstMismatch(result.image.pixels, ref.values, ref.integer), file).toBeUndefined();
        decodedCount.same++;
      } else {
        expect(result.reason.length, file).toBeGreaterThan(20);
        expect(result.reason, file).not.toMatch(/\n/);
        if (ref.ok) expect(result.reason, `${file}: pydicom decodes it`).toMatch(/compressed pixel data \(transfer syntax [0-9.]+\) is not decoded here|written in implicit VR although its transfer syntax/);
        decodedCount.skipped++;
      }
    }
    expect(decodedCount.same).toBeGreaterThanOrEqual(25);
    expect(decodedCount.same + decodedCount.skipped).toBe(ALL.length);
  });
});
