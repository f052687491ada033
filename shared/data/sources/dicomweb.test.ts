import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testUid, writeInstance } from '../../../test/helpers/dicomweb-fixtures.js';
import { startOrthanc, type Orthanc } from '../../../test/helpers/orthanc.js';
import { dicomwebCacheDir, openDicomweb } from './dicomweb.js';
import type { DecodedImage, SkippedInput, SourceItem } from './types.js';

/** The dicomweb: source end to end below the training pipeline: CSV -> PACS -> cache -> decoded pixels. */
const RUN = 41;
const study = (i: number) => testUid(RUN, 1, i);
const series = (i: number) => testUid(RUN, 2, i);
const sop = (i: number) => testUid(RUN, 3, i);
const pixelsOf = (i: number) => new Uint16Array(5 * 7).map((_, p) => (i * 37 + p * 11) % 4096);

let orthanc: Orthanc;
let dir: string;

beforeAll(async () => {
  orthanc = await startOrthanc();
  dir = await mkdtemp(join(tmpdir(), 'medley-dwsource-'));
  // Studies 1 and 2: two instances each; study 3 holds one more that no CSV below lists.
  for (const [i, s] of [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3]] as const) {
    await orthanc.upload(writeInstance({ study: study(s), series: series(s), sop: sop(i), rows: 5, columns: 7, pixels: pixelsOf(i) }));
  }
});

afterAll(async () => {
  await orthanc?.stop();
});

async function collect(items: AsyncIterable<SourceItem>): Promise<{ images: DecodedImage[]; skipped: SkippedInput[] }> {
  const images: DecodedImage[] = [];
  const skipped: SkippedInput[] = [];
  for await (const item of items) 'image' in item ? images.push(item.image) : skipped.push(item.skipped);
  return { images, skipped };
}

async function csv(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('dicomweb: source against a real Orthanc', () => {
  it('keyed by SOPInstanceUID: fetches exactly the listed instances and decodes their pixel values', async () => {
    const labels = await csv('by-sop.csv', `SOPInstanceUID,label,sex\n${sop(4)},1,F\n${sop(1)},0,M\n${testUid(RUN, 3, 99)},1,F\n`);
    const lines: string[] = [];
    const source = openDicomweb(orthanc.dicomweb, { labels, cacheDir: join(dir, 'cache-sop'), env: {}, log: (l) => lines.push(l) });
    expect(source.description).toBe(`DICOMweb PACS ${orthanc.dicomweb}`);
    const { images, skipped } = await collect(source.items());
    expect(images.map((i) => i.ids.SOPInstanceUID)).toEqual([sop(4), sop(1)]);
    for (const [image, i] of [[images[0]!, 4], [images[1]!, 1]] as const) {
      expect([image.rows, image.columns, image.frames, image.samples, image.photometric]).toEqual([5, 7, 1, 1, 'MONOCHROME2']);
      expect([...image.pixels]).toEqual([...pixelsOf(i)]);
      expect(image.path).toBe(`studies/${study(i <= 2 ? 1 : 2)}/series/${series(i <= 2 ? 1 : 2)}/instances/${sop(i)}`);
    }
    expect(skipped).toEqual([{ path: testUid(RUN, 3, 99), reason: 'the PACS has no instance with this SOPInstanceUID' }]);
    expect(lines.at(-1)).toMatch(/2 instance\(s\) ready \(0 from the cache, 2 fetched\), 1 skipped/);

    // A second reading of the same source comes from the cache.
    lines.length = 0;
    expect((await collect(source.items())).images).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/\(2 from the cache, 0 fetched\)/);
  });

  it('keyed by StudyInstanceUID: every instance of the listed studies, none of the others', async () => {
    const labels = await csv('by-study.csv', `StudyInstanceUID,label\n${study(2)},1\n${study(1)},0\n`);
    const source = openDicomweb(orthanc.dicomweb, { labels, cacheDir: join(dir, 'cache-study'), env: {}, log: () => undefined });
    const { images, skipped } = await collect(source.items());
    expect(skipped).toEqual([]);
    expect(images.map((i) => i.ids.StudyInstanceUID)).toEqual([study(2), study(2), study(1), study(1)]);
    expect(images.map((i) => i.ids.SOPInstanceUID).sort()).toEqual([sop(1), sop(2), sop(3), sop(4)].sort());
  });

  it('a CSV keyed by path, and a bad URL, are refused when the source is opened', async () => {
    const labels = await csv('by-path.csv', 'path,label\na.dcm,1\n');
    expect(() => openDicomweb(orthanc.dicomweb, { labels, cacheDir: join(dir, 'x'), env: {} })).toThrow(
      /a DICOMweb source needs its CSV keyed by SOPInstanceUID or StudyInstanceUID \(instances on a PACS have no file path\)/,
    );
    const good = await csv('ok.csv', `SOPInstanceUID,label\n${sop(1)},0\n`);
    expect(() => openDicomweb('localhost:8042/dicom-web', { labels: good, cacheDir: join(dir, 'x'), env: {} })).toThrow(/DICOMweb URL 'localhost:8042\/dicom-web' must start with http:\/\/ or https:\/\//);
  });

  it('the cache folder: the environment, else inside the data cache folder, else the user cache', () => {
    expect(dicomwebCacheDir('/var/lib/medley/agent/data-cache', { MEDLEY_DICOMWEB_CACHE: '/data/pacs-cache' })).toBe('/data/pacs-cache');
    expect(dicomwebCacheDir('/var/lib/medley/agent/data-cache', {})).toBe('/var/lib/medley/agent/data-cache/dicomweb');
    expect(dicomwebCacheDir(undefined, { XDG_CACHE_HOME: '/home/u/.cache' })).toBe('/home/u/.cache/medley/dicomweb');
  });
});
