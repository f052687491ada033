import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomFile } from '../../../test/helpers/dicom-files.js';
import { loadSiteData, readHeldOut, readSiteData, readSiteShards } from '../site-data.js';
import type { ImageSet } from '../types.js';

const SIDE = 8;
const STUDIES = 5;
const PER_STUDY = 4;

/** Label 1: the left half is bright; label 0: the right half. So an example's pixels tell its label. */
function cells(label: number, seed: number): number[] {
  return Array.from({ length: SIDE * SIDE }, (_, i) => ((i % SIDE < SIDE / 2) === (label === 1) ? 900 : 100) + ((i * 7 + seed) % 13));
}

const sop = (s: number, k: number) => `2.25.9${s}${k}`;
const labelOf = (s: number, k: number) => (s + k) % 2;

let dir: string;
let elsewhere: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medley-site-split-'));
  elsewhere = await mkdtemp(join(tmpdir(), 'medley-site-split-labels-'));
  const rows = ['SOPInstanceUID,label,sex,split'];
  for (let s = 0; s < STUDIES; s++) {
    for (let k = 0; k < PER_STUDY; k++) {
      const label = labelOf(s, k);
      await writeFile(join(dir, `s${s}-${k}.dcm`), dicomFile({ sop: sop(s, k), study: `2.25.8${s}`, rows: SIDE, columns: SIDE, bitsAllocated: 16, cells: cells(label, s * 10 + k) }));
      rows.push(`${sop(s, k)},${label},${label === 1 ? 'M' : 'F'},`);
    }
  }
  await writeFile(join(dir, 'corrupt.dcm'), new Uint8Array(300).fill(7));
  await writeFile(join(dir, 'labels.csv'), rows.join('\n') + '\n');
  // The same images with a split column: study 0 held out, study 1 validates.
  await writeFile(join(elsewhere, 'split.csv'), rows.map((r, i) => (i === 0 ? r : r.replace(/,$/, i <= PER_STUDY ? ',test' : i <= 2 * PER_STUDY ? ',val' : ','))).join('\n') + '\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(elsewhere, { recursive: true, force: true });
});

/** Every example's pixels agree with its label, and its subgroup with its label (so nothing slipped). */
function expectAligned(set: ImageSet): void {
  const n = set.height * set.width;
  for (let e = 0; e < set.count; e++) {
    let left = 0;
    let right = 0;
    for (let i = 0; i < n; i++) ((i % set.width) < set.width / 2 ? (left += set.images[e * n + i]!) : (right += set.images[e * n + i]!));
    expect(left > right ? 1 : 0, `example ${e}`).toBe(set.labels[e]);
    expect(set.subgroups!.sex![e]).toBe(set.labels[e] === 1 ? 'M' : 'F');
  }
}

const spec = { source: '', shard: { index: 0, count: 1 }, partition: 'iid' as const, seed: 3, size: SIDE };

describe('readSiteData from a DICOM folder', () => {
  it("keeps a seeded 20% for validation, by study, with images, labels and subgroups in step; the corrupt file is skipped and logged", async () => {
    const lines: string[] = [];
    const data = await readSiteData({ ...spec, source: `dicom:${dir}` }, { log: (l) => lines.push(l) });
    expect(data.train.count + data.val.count).toBe(STUDIES * PER_STUDY);
    expect(data.val.count).toBe(PER_STUDY); // one whole study: round(20 * 0.2) = 4
    expectAligned(data.train);
    expectAligned(data.val);
    expect(lines.filter((l) => l.startsWith('skipped corrupt.dcm: not a DICOM file'))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/: 20 image\(s\) read, 1 skipped \(1 not a DICOM file\); 0 without a row in .*labels\.csv; 0 row\(s\) naming no image read; 20 labelled example\(s\)$/);
    expect(data.source).toMatch(/^DICOM folder .*, site 1\/1 \(iid, seed 3\): 16 train \/ 4 val$/);

    const again = await readSiteData({ ...spec, source: `dicom:${dir}` });
    expect(Array.from(again.val.images)).toEqual(Array.from(data.val.images));
    const seeds = await Promise.all([4, 5, 6, 7].map((seed) => readSiteData({ ...spec, seed, source: `dicom:${dir}` })));
    expect(new Set(seeds.map((d) => d.val.images.slice(0, 8).join(','))).size).toBeGreaterThan(1);
  });

  it("the CSV's split column: test rows are only held out, val rows validate", async () => {
    const data = await readSiteData({ ...spec, source: `dicom:${dir}`, labels: join(elsewhere, 'split.csv') });
    expect(data.val.count).toBe(PER_STUDY);
    expect(data.train.count).toBe((STUDIES - 2) * PER_STUDY);
    const held = await readHeldOut({ source: `dicom:${dir}`, seed: 0, size: SIDE, labels: join(elsewhere, 'split.csv') });
    expect(held.count).toBe(PER_STUDY);
    expect(Array.from(held.labels)).toEqual([0, 1, 0, 1]);
    expectAligned(held);
  });

  it('divides among sites: disjoint shares that cover every example', async () => {
    const shards = await readSiteShards({ ...spec, source: `dicom:${dir}` }, 2);
    const sites = [shards.load(0), shards.load(1)];
    const total = sites.reduce((a, s) => a + s.train.count + s.val.count, 0);
    expect(total).toBe(STUDIES * PER_STUDY);
    for (const s of sites) expectAligned(s.train);
    expect(shards.counts(1)).toEqual({ train: sites[1]!.train.count, val: sites[1]!.val.count });
  });

  it('labels by StudyInstanceUID label every image of the study', async () => {
    await writeFile(join(elsewhere, 'studies.csv'), `StudyInstanceUID,label\n${Array.from({ length: STUDIES }, (_, s) => `2.25.8${s},${s % 2}`).join('\n')}\n`);
    const held = await readHeldOut({ source: `dicom:${dir}`, seed: 0, size: SIDE, labels: join(elsewhere, 'studies.csv') });
    expect(Array.from(held.labels)).toEqual(Array.from({ length: STUDIES * PER_STUDY }, (_, i) => Math.floor(i / PER_STUDY) % 2));
  });

  it('says what is missing rather than training on nothing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'medley-site-split-empty-'));
    try {
      await writeFile(join(empty, 'one.dcm'), dicomFile({ sop: '2.25.1', rows: 2, columns: 2, bitsAllocated: 8, cells: [1, 2, 3, 4] }));
      await expect(readSiteData({ ...spec, source: `dicom:${empty}` })).rejects.toThrow(/^dicom:.* needs labels: pass --labels CSV .* or put labels\.csv in /);
      await writeFile(join(empty, 'labels.csv'), 'SOPInstanceUID,label\n2.25.1,1\n');
      await expect(readSiteData({ ...spec, source: `dicom:${empty}` })).rejects.toThrow(/a site has 1 labelled example\(s\); it needs at least 2/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    expect(() => loadSiteData({ ...spec, source: `dicom:${dir}` })).toThrow(/is decoded asynchronously: load it with readSiteData/);
  });
});
