import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testUid, writeInstance } from '../../../test/helpers/dicomweb-fixtures.js';
import { InstanceCache } from './dicomweb-cache.js';

const study = testUid(21, 1, 1);
const series = testUid(21, 2, 1);
const place = { study, series };

function instance(n: number): { sop: string; bytes: Uint8Array } {
  const sop = testUid(21, 3, n);
  return { sop, bytes: writeInstance({ study, series, sop, rows: 4, columns: 4, pixels: new Uint16Array(16).fill(n) }) };
}

async function openCache(): Promise<InstanceCache> {
  return InstanceCache.open(join(await mkdtemp(join(tmpdir(), 'medley-dwcache-')), 'cache'));
}

async function allFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('InstanceCache', () => {
  it('stores an instance under its own SOPInstanceUID and gives the same bytes back, leaving no temporary file', async () => {
    const cache = await openCache();
    const { sop, bytes } = instance(1);
    const entry = await cache.put(bytes, 'http://pacs/x', place);
    expect(entry).toMatchObject({ sop, study, series, bytes: bytes.byteLength, path: cache.pathOf(sop) });
    expect(Buffer.from(await readFile(entry.path)).equals(Buffer.from(bytes))).toBe(true);
    expect(await cache.get(sop)).toEqual(entry);
    expect(Buffer.from((await cache.read(sop))!).equals(Buffer.from(bytes))).toBe(true);
    expect((await allFiles(cache.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await cache.get(instance(2).sop)).toBeUndefined();
    expect(cache.damaged).toEqual([]);
  });

  it('a cached file whose bytes changed is reported, removed, and reads as absent', async () => {
    const cache = await openCache();
    const { sop, bytes } = instance(3);
    const entry = await cache.put(bytes, 'http://pacs/x', place);
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 1] ^= 0xff; // same length, one pixel byte flipped
    await writeFile(entry.path, damaged);
    expect(await cache.get(sop)).toBeUndefined();
    expect(cache.damaged).toHaveLength(1);
    expect(cache.damaged[0]).toContain(entry.path);
    expect(cache.damaged[0]).toMatch(/damaged cache entry .*do not match .* fetching it again/);
    expect(await allFiles(cache.dir)).toEqual([]);
    // Stored again, it is good again.
    await cache.put(bytes, 'http://pacs/x', place);
    expect(await cache.get(sop)).toBeDefined();
  });

  it('a truncated file, or a file without its record, is not taken for a cached instance', async () => {
    const cache = await openCache();
    const a = instance(4);
    const b = instance(5);
    const entryA = await cache.put(a.bytes, 'http://pacs/x', place);
    const entryB = await cache.put(b.bytes, 'http://pacs/x', place);
    await writeFile(entryA.path, a.bytes.subarray(0, 100));
    await rm(entryB.path.replace(/\.dcm$/, '.json'));
    expect(await cache.read(a.sop)).toBeUndefined();
    expect(await cache.read(b.sop)).toBeUndefined();
    expect(cache.damaged).toHaveLength(1); // the truncated one; a missing record is an unfinished write, not damage
  });

  it('refuses bytes that are not a DICOM Part 10 file, naming where they came from', async () => {
    const cache = await openCache();
    await expect(cache.put(new TextEncoder().encode('<html>login page</html>'), 'http://pacs/studies/1.2', place)).rejects.toThrow(
      /http:\/\/pacs\/studies\/1.2 is not a DICOM Part 10 file .*the PACS sent something else than an instance/,
    );
  });

  it('keeps a study instance list, and refuses UIDs that could escape its folder', async () => {
    const cache = await openCache();
    expect(await cache.getStudy(study)).toBeUndefined();
    await cache.putStudy(study, [{ sop: instance(6).sop, series }]);
    expect(await cache.getStudy(study)).toEqual([{ sop: instance(6).sop, series }]);
    expect(() => cache.pathOf('../../etc/passwd')).toThrow(/SOPInstanceUID '..\/..\/etc\/passwd' is not a DICOM UID/);
    await expect(cache.putStudy('1.2/../3', [])).rejects.toThrow(/StudyInstanceUID '1.2\/..\/3' is not a DICOM UID/);
  });

  it('says which folder it cannot create', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'medley-dwcache-')), 'a-file');
    await writeFile(file, 'x');
    await expect(InstanceCache.open(join(file, 'cache'))).rejects.toThrow(`the DICOMweb cache folder ${join(file, 'cache')} cannot be created`);
  });
});
