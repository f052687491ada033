import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../../test/helpers/numpy.js';
import { openImageFolder } from './folder.js';
import { readLabelledExamples } from './labelled-examples.js';
import type { DecodedImage, SkippedInput } from './types.js';

let dir: string;
let reference: Record<string, { shape: number[]; data: Float64Array }>;

// Pillow writes the files and says what they hold, so the decoders are checked against another reader.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medley-folder-'));
  await mkdir(join(dir, 'sub'));
  reference = await runNumpy(
    `from PIL import Image
FOLDER = ${JSON.stringify(dir)}
rng = np.random.default_rng(3)
g8 = rng.integers(0, 256, (6, 5), dtype=np.uint8)
g16 = rng.integers(0, 65536, (4, 7), dtype=np.uint16)
rgb = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
Image.fromarray(g8).save(FOLDER + '/grey8.png')
Image.fromarray(g16).save(FOLDER + '/sub/grey16.png')
Image.fromarray(rgb).save(FOLDER + '/rgb.png')
smooth = (np.add.outer(np.arange(16), np.arange(16)) * 8).astype(np.uint8)
Image.fromarray(smooth).save(FOLDER + '/grey.jpg', quality=95)
Image.fromarray(np.stack([smooth, 255 - smooth, smooth // 2], -1)).save(FOLDER + '/colour.jpeg', quality=95, subsampling=0)
OUT['grey8'] = g8; OUT['grey16'] = g16; OUT['rgb'] = rgb
OUT['grey_jpg'] = np.asarray(Image.open(FOLDER + '/grey.jpg'))
OUT['colour_jpeg'] = np.asarray(Image.open(FOLDER + '/colour.jpeg'))`,
    {},
  );
  await writeFile(join(dir, 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  await writeFile(join(dir, 'readme.txt'), 'hello');
  await writeFile(join(dir, 'labels.csv'), 'path,label,scanner\ngrey8.png,1,A\nsub/grey16.png,0,B\nrgb.png,1,A\ngrey.jpg,0,A\nmissing.png,1,B\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll() {
  const images = new Map<string, DecodedImage>();
  const skipped: SkippedInput[] = [];
  for await (const item of openImageFolder(dir).items()) {
    if ('image' in item) images.set(item.image.path, item.image);
    else skipped.push(item.skipped);
  }
  return { images, skipped };
}

describe('folder: PNG and JPEG', () => {
  it('PNG values are exactly what was written: 8-bit grey, 16-bit grey (kept 16-bit), RGB', async () => {
    const { images } = await readAll();
    for (const [path, key] of [['grey8.png', 'grey8'], ['sub/grey16.png', 'grey16'], ['rgb.png', 'rgb']] as const) {
      const image = images.get(path)!;
      expect(image.arrayShape, path).toEqual(reference[key]!.shape);
      expect(Array.from(image.pixels), path).toEqual(Array.from(reference[key]!.data));
    }
    expect(images.get('rgb.png')!.photometric).toBe('RGB');
    expect(images.get('sub/grey16.png')!.photometric).toBe('MONOCHROME2');
  });

  // Full-resolution chroma (4:4:4): libjpeg's and jpeg-js's chroma upsampling filters differ, which
  // is not what this checks.
  it('JPEG decodes within 2 grey levels of Pillow (libjpeg), grey files as one channel', async () => {
    const { images } = await readAll();
    for (const [path, key, samples] of [['grey.jpg', 'grey_jpg', 1], ['colour.jpeg', 'colour_jpeg', 3]] as const) {
      const image = images.get(path)!;
      expect(image.samples, path).toBe(samples);
      expect(image.arrayShape, path).toEqual(reference[key]!.shape);
      const ref = reference[key]!.data;
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(image.pixels[i]! - ref[i]!));
      expect(worst, path).toBeLessThanOrEqual(2);
    }
  });

  it('skips broken and foreign files; labels.csv in the folder is the labels, not an input', async () => {
    const { skipped } = await readAll();
    expect(skipped.map((s) => s.path)).toEqual(['broken.png', 'readme.txt']);
    expect(skipped[0]!.reason).toMatch(/^not a readable PNG file \(.*\); it is corrupt or truncated$/);
    expect(skipped[1]!.reason).toMatch(/^not a \.png, \.jpg or \.jpeg file/);
  });

  it('labelled examples: labels and subgroups by path, unlabelled files and rows naming nothing counted', async () => {
    const lines: string[] = [];
    const ex = await readLabelledExamples({ kind: 'folder', dir }, { input: { height: 8, width: 8, channels: 1 }, window: { kind: 'min-max' }, requireLabels: true, log: (l) => lines.push(l) });
    expect(ex.paths).toEqual(['grey.jpg', 'grey8.png', 'rgb.png', 'sub/grey16.png']);
    expect(Array.from(ex.set.labels)).toEqual([0, 1, 1, 0]);
    expect(ex.set.subgroups).toEqual({ scanner: ['A', 'A', 'A', 'B'] });
    expect(ex.unlabelled).toEqual(['colour.jpeg']);
    expect(ex.unmatchedRows).toBe(1);
    expect(ex.readable).toBe(5);
    expect(ex.set.images.length).toBe(4 * 64);
    expect(Math.min(...ex.set.images)).toBe(0);
    expect(Math.max(...ex.set.images)).toBeLessThanOrEqual(1);
    expect(lines.filter((l) => l.startsWith('skipped '))).toHaveLength(2);
    expect(lines.at(-1)).toBe(
      `image folder ${dir}: 5 image(s) read, 2 skipped (1 not a readable PNG file, 1 not a .png, .jpg or .jpeg file); 1 without a row in ${join(dir, 'labels.csv')}; 1 row(s) naming no image read; 4 labelled example(s)`,
    );
  });
});
