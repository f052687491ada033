import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCountingProxy, type CountingProxy } from '../../../test/helpers/counting-proxy.js';
import { testUid, writeInstance } from '../../../test/helpers/dicomweb-fixtures.js';
import { startOrthanc, type Orthanc } from '../../../test/helpers/orthanc.js';
import { InstanceCache } from './dicomweb-cache.js';
import { DicomwebClient } from './dicomweb-client.js';
import { syncInstances } from './dicomweb-sync.js';

/**
 * Fetching into the site's cache from a real Orthanc, counting every request at a proxy in front
 * of it: what is cached is never asked for again; what is damaged is asked for again, alone.
 */
const RUN = 31;
const studies = [testUid(RUN, 1, 1), testUid(RUN, 1, 2), testUid(RUN, 1, 3)];
/** study index -> series -> instance count */
const layout: Array<[number, string, number]> = [
  [0, testUid(RUN, 2, 1), 2],
  [0, testUid(RUN, 2, 2), 1],
  [1, testUid(RUN, 2, 3), 3],
  [2, testUid(RUN, 2, 4), 2],
];
const files = new Map<string, Uint8Array>();
const sopsOfStudy = new Map<string, string[]>();

let orthanc: Orthanc;
let proxy: CountingProxy;

beforeAll(async () => {
  orthanc = await startOrthanc();
  proxy = await startCountingProxy(orthanc.url);
  let n = 0;
  for (const [s, series, count] of layout) {
    for (let i = 0; i < count; i++) {
      const sop = testUid(RUN, 3, ++n);
      const bytes = writeInstance({ study: studies[s]!, series, sop, instanceNumber: i + 1, rows: 8, columns: 8, pixels: new Uint16Array(64).fill(n * 10) });
      await orthanc.upload(bytes);
      files.set(sop, bytes);
      sopsOfStudy.set(studies[s]!, [...(sopsOfStudy.get(studies[s]!) ?? []), sop]);
    }
  }
});

afterAll(async () => {
  await proxy?.close();
  await orthanc?.stop();
});

beforeEach(() => proxy.reset());

const client = () => new DicomwebClient(`${proxy.url}/dicom-web`, { env: {}, attempts: 2, baseDelayMs: 5 });
const freshCache = async () => InstanceCache.open(join(await mkdtemp(join(tmpdir(), 'medley-dwsync-')), 'cache'));
const paths = () => proxy.requests.map((r) => r.path.replace(/2\.25\.\d+/g, 'UID'));

async function expectCachedExactly(cache: InstanceCache, sops: string[]): Promise<void> {
  for (const sop of sops) {
    expect(Buffer.from((await cache.read(sop))!).equals(Buffer.from(files.get(sop)!)), sop).toBe(true);
  }
}

describe('syncInstances by SOPInstanceUID against a real Orthanc', () => {
  it('fetches what is missing, then nothing; a damaged entry is fetched again, alone', async () => {
    const cache = await freshCache();
    const wanted = [...files.keys()].filter((_, i) => i % 2 === 0); // 4 of 8, across studies
    const lines: string[] = [];

    const first = await syncInstances(client(), cache, { by: 'SOPInstanceUID', uids: wanted }, { log: (l) => lines.push(l) });
    expect(first.instances.map((i) => i.sop)).toEqual(wanted);
    expect(first.instances.map((i) => i.key)).toEqual(wanted);
    expect([first.fromCache, first.fetched, first.missing.length]).toEqual([0, 4, 0]);
    // One QIDO-RS with the UID list, one WADO-RS per instance.
    expect(paths().filter((p) => p.startsWith('/dicom-web/instances?'))).toHaveLength(1);
    expect(paths().filter((p) => /^\/dicom-web\/studies\/UID\/series\/UID\/instances\/UID$/.test(p))).toHaveLength(4);
    expect(proxy.requests).toHaveLength(5);
    await expectCachedExactly(cache, wanted);
    expect(lines.at(-1)).toMatch(/4 instance\(s\) ready \(0 from the cache, 4 fetched\), 0 skipped/);

    proxy.reset();
    const second = await syncInstances(client(), await InstanceCache.open(cache.dir), { by: 'SOPInstanceUID', uids: wanted });
    expect([second.fromCache, second.fetched]).toEqual([4, 0]);
    expect(proxy.requests).toEqual([]);

    // Damage one cached file: only it is asked for again.
    const victim = wanted[2]!;
    const path = cache.pathOf(victim);
    const bytes = await readFile(path);
    bytes[bytes.length - 3] ^= 0x55;
    await writeFile(path, bytes);
    proxy.reset();
    const reopened = await InstanceCache.open(cache.dir);
    const third = await syncInstances(client(), reopened, { by: 'SOPInstanceUID', uids: wanted }, { log: (l) => lines.push(l) });
    expect([third.fromCache, third.fetched]).toEqual([3, 1]);
    expect(proxy.requests).toHaveLength(2);
    expect(proxy.requests[1]!.path).toMatch(new RegExp(`/instances/${victim.replace(/\./g, '\\.')}$`));
    expect(lines.some((l) => l.includes(path) && /damaged cache entry/.test(l))).toBe(true);
    await expectCachedExactly(reopened, wanted);
  });

  it('an instance the PACS does not have is skipped with a reason, the rest are fetched', async () => {
    const cache = await freshCache();
    const ghost = testUid(RUN, 3, 777);
    const real = [...files.keys()][1]!;
    const result = await syncInstances(client(), cache, { by: 'SOPInstanceUID', uids: [ghost, real] });
    expect(result.instances.map((i) => i.sop)).toEqual([real]);
    expect(result.missing).toEqual([{ uid: ghost, reason: 'the PACS has no instance with this SOPInstanceUID' }]);
  });

  it('refuses a selection with a malformed or repeated UID before asking anything', async () => {
    const cache = await freshCache();
    const real = [...files.keys()][0]!;
    await expect(syncInstances(client(), cache, { by: 'SOPInstanceUID', uids: [real, real] })).rejects.toThrow(`SOPInstanceUID ${real} is listed twice in the labels; give each one row`);
    await expect(syncInstances(client(), cache, { by: 'SOPInstanceUID', uids: ['scan-001.dcm'] })).rejects.toThrow(/SOPInstanceUID 'scan-001.dcm' is not a DICOM UID/);
    expect(proxy.requests).toEqual([]);
  });
});

describe('syncInstances by StudyInstanceUID against a real Orthanc', () => {
  it('lists each study once and fetches it in one multipart answer; a re-run asks nothing', async () => {
    const cache = await freshCache();
    const wanted = [studies[0]!, studies[1]!];
    const first = await syncInstances(client(), cache, { by: 'StudyInstanceUID', uids: wanted });
    const expected = [...sopsOfStudy.get(studies[0]!)!, ...sopsOfStudy.get(studies[1]!)!];
    expect(first.instances.map((i) => i.sop).sort()).toEqual([...expected].sort());
    expect(new Set(first.instances.filter((i) => i.key === studies[0]).map((i) => i.sop))).toEqual(new Set(sopsOfStudy.get(studies[0]!)));
    expect([first.fromCache, first.fetched]).toEqual([0, 6]);
    expect(paths()).toEqual([
      '/dicom-web/studies/UID/instances?includefield=SeriesInstanceUID&limit=1000&offset=0',
      '/dicom-web/studies/UID',
      '/dicom-web/studies/UID/instances?includefield=SeriesInstanceUID&limit=1000&offset=0',
      '/dicom-web/studies/UID',
    ]);
    await expectCachedExactly(cache, expected);
    // The study with two series: each instance recorded under its own series.
    const series = new Set((await Promise.all(sopsOfStudy.get(studies[0]!)!.map((s) => cache.get(s)))).map((e) => e!.series));
    expect(series).toEqual(new Set([layout[0]![1], layout[1]![1]]));

    proxy.reset();
    const second = await syncInstances(client(), await InstanceCache.open(cache.dir), { by: 'StudyInstanceUID', uids: wanted });
    expect([second.fromCache, second.fetched]).toEqual([6, 0]);
    expect(proxy.requests).toEqual([]);

    // One instance of a study lost from the cache: only that instance is fetched, no listing.
    const lost = sopsOfStudy.get(studies[1]!)![1]!;
    await rm(cache.pathOf(lost));
    proxy.reset();
    const third = await syncInstances(client(), await InstanceCache.open(cache.dir), { by: 'StudyInstanceUID', uids: wanted });
    expect([third.fromCache, third.fetched]).toEqual([5, 1]);
    expect(paths()).toEqual(['/dicom-web/studies/UID/series/UID/instances/UID']);
  });

  it('a study the PACS does not have is skipped with a reason, and not remembered', async () => {
    const cache = await freshCache();
    const ghost = testUid(RUN, 1, 99);
    const result = await syncInstances(client(), cache, { by: 'StudyInstanceUID', uids: [ghost, studies[2]!] });
    expect(result.instances.map((i) => i.sop)).toEqual(sopsOfStudy.get(studies[2]!));
    expect(result.missing).toEqual([{ uid: ghost, reason: 'the PACS has no instance in this study' }]);
    expect(await cache.getStudy(ghost)).toBeUndefined();
  });
});
