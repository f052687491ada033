import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCountingProxy, type CountingProxy } from '../../../test/helpers/counting-proxy.js';
import { testUid, writeInstance } from '../../../test/helpers/dicomweb-fixtures.js';
import { startOrthanc, type Orthanc } from '../../../test/helpers/orthanc.js';
import { attribute, DicomwebClient, TAG } from './dicomweb-client.js';
import { DicomwebError } from './dicomweb-http.js';

/** A real Orthanc with basic auth, two studies (one with two series), six instances with known bytes. */
const USER = 'site-reader';
const PASSWORD = 'pw-7f3a9c';
const RUN = 11;
const studyA = testUid(RUN, 1, 1);
const studyB = testUid(RUN, 1, 2);
const seriesA1 = testUid(RUN, 2, 1);
const seriesA2 = testUid(RUN, 2, 2);
const seriesB1 = testUid(RUN, 2, 3);
const layout = [
  { study: studyA, series: seriesA1, patientId: 'PAT-A', count: 3 },
  { study: studyA, series: seriesA2, patientId: 'PAT-A', count: 1 },
  { study: studyB, series: seriesB1, patientId: 'PAT-B', count: 2 },
];
const files = new Map<string, Uint8Array>();
const sopsOf = (series: string) => [...files.keys()].filter((sop) => series === sopSeries.get(sop));
const sopSeries = new Map<string, string>();

let orthanc: Orthanc;
let proxy: CountingProxy;
const fast = { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 };
const auth = { kind: 'basic', username: USER, password: PASSWORD } as const;

beforeAll(async () => {
  orthanc = await startOrthanc({ users: { [USER]: PASSWORD } });
  proxy = await startCountingProxy(orthanc.url);
  let n = 0;
  for (const { study, series, patientId, count } of layout) {
    for (let i = 0; i < count; i++) {
      const sop = testUid(RUN, 3, ++n);
      const pixels = new Uint16Array(6 * 5).map((_, p) => n * 100 + p);
      const bytes = writeInstance({ study, series, sop, patientId, instanceNumber: i + 1, rows: 6, columns: 5, pixels });
      await orthanc.upload(bytes);
      files.set(sop, bytes);
      sopSeries.set(sop, series);
    }
  }
});

afterAll(async () => {
  await proxy?.close();
  await orthanc?.stop();
});

beforeEach(() => proxy.reset());

function client(extra: ConstructorParameters<typeof DicomwebClient>[1] = {}) {
  return new DicomwebClient(`${proxy.url}/dicom-web`, { auth, env: {}, ...fast, ...extra });
}

const uidsOf = (results: Array<Record<string, { vr: string; Value?: unknown[] }>>, tag: string) => results.map((r) => attribute(r, tag)).sort();

describe('DicomwebClient QIDO-RS against a real Orthanc', () => {
  it('searches studies, with attribute matching and UID lists', async () => {
    const c = client();
    expect(uidsOf(await c.searchStudies(), TAG.StudyInstanceUID)).toEqual([studyA, studyB].sort());
    expect(uidsOf(await c.searchStudies({ match: { PatientID: 'PAT-B' } }), TAG.StudyInstanceUID)).toEqual([studyB]);
    expect(uidsOf(await c.searchStudies({ match: { StudyInstanceUID: [studyA, studyB] } }), TAG.StudyInstanceUID)).toEqual([studyA, studyB].sort());
    expect(await c.searchStudies({ match: { PatientID: 'NOBODY' } })).toEqual([]);
  });

  it('searches the series of a study and the instances of a series', async () => {
    const c = client();
    expect(uidsOf(await c.searchSeries({ study: studyA }), TAG.SeriesInstanceUID)).toEqual([seriesA1, seriesA2].sort());
    expect(uidsOf(await c.searchInstances({ study: studyA, series: seriesA1 }), TAG.SOPInstanceUID)).toEqual(sopsOf(seriesA1).sort());
    expect(uidsOf(await c.searchInstances({ study: studyA }), TAG.SOPInstanceUID)).toEqual([...sopsOf(seriesA1), ...sopsOf(seriesA2)].sort());
  });

  it('matches a list of SOPInstanceUIDs across studies, returning their study and series', async () => {
    const wanted = [sopsOf(seriesA2)[0]!, sopsOf(seriesB1)[1]!];
    const found = await client().searchInstances({}, { match: { SOPInstanceUID: wanted }, includefield: ['StudyInstanceUID', 'SeriesInstanceUID'] });
    expect(uidsOf(found, TAG.SOPInstanceUID)).toEqual([...wanted].sort());
    for (const r of found) {
      expect(attribute(r, TAG.SeriesInstanceUID)).toBe(sopSeries.get(attribute(r, TAG.SOPInstanceUID)!));
    }
  });

  it('pages with limit and offset, and searchAll gathers every page', async () => {
    const c = client();
    const first = await c.searchInstances({}, { limit: 4, offset: 0 });
    const second = await c.searchInstances({}, { limit: 4, offset: 4 });
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(2);
    proxy.reset();
    const all = await c.searchAll('instances', {}, {}, 4);
    expect(uidsOf(all, TAG.SOPInstanceUID)).toEqual([...files.keys()].sort());
    expect(proxy.requests.map((r) => r.path)).toEqual(['/dicom-web/instances?limit=4&offset=0', '/dicom-web/instances?limit=4&offset=4']);
  });
});

describe('DicomwebClient WADO-RS against a real Orthanc', () => {
  it('retrieves one instance byte for byte', async () => {
    const sop = sopsOf(seriesA1)[1]!;
    const bytes = await client().retrieveInstance(studyA, seriesA1, sop);
    expect(Buffer.from(bytes).equals(Buffer.from(files.get(sop)!))).toBe(true);
  });

  it('splits a multipart answer holding several instances (a series, a whole study)', async () => {
    const c = client();
    const series: Uint8Array[] = [];
    expect(await c.retrieve({ study: studyA, series: seriesA1 }, async (b) => void series.push(b))).toBe(3);
    const study: Uint8Array[] = [];
    expect(await c.retrieve({ study: studyA }, async (b) => void study.push(b))).toBe(4);
    // Each part is exactly one of the files uploaded: no boundary bytes, CRLF or headers left on it.
    const expected = (sops: string[]) => sops.map((s) => Buffer.from(files.get(s)!).toString('hex')).sort();
    expect(series.map((b) => Buffer.from(b).toString('hex')).sort()).toEqual(expected(sopsOf(seriesA1)));
    expect(study.map((b) => Buffer.from(b).toString('hex')).sort()).toEqual(expected([...sopsOf(seriesA1), ...sopsOf(seriesA2)]));
  });

  it('a missing instance is a 404 naming the URL, and is not retried', async () => {
    const missing = testUid(RUN, 3, 999);
    const err = await client({ attempts: 4 }).retrieveInstance(studyA, seriesA1, missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomwebError);
    expect((err as DicomwebError).status).toBe(404);
    expect((err as Error).message).toContain(`${proxy.url}/dicom-web/studies/${studyA}/series/${seriesA1}/instances/${missing}`);
    expect((err as Error).message).toMatch(/answered 404 Not Found .*check the DICOMweb root URL and the UIDs/);
    expect(proxy.requests).toHaveLength(1);
  });

  it("an error thrown by the caller's handler comes back unchanged and is not retried", async () => {
    const failure = new Error('disk full');
    const err = await client({ attempts: 3 }).retrieve({ study: studyA, series: seriesA1 }, async () => {
      throw failure;
    }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    expect(proxy.requests).toHaveLength(1);
  });

  it('asks for the transfer syntax it is told to', async () => {
    const sop = sopsOf(seriesB1)[0]!;
    const bytes = await client({ transferSyntax: '*' }).retrieveInstance(studyB, seriesB1, sop);
    expect(bytes.byteLength).toBe(files.get(sop)!.byteLength);
    expect(proxy.requests[0]!.headers.accept).toBe('multipart/related; type="application/dicom"; transfer-syntax=*');
  });
});

describe('DicomwebClient failures and credentials', () => {
  it('an unreachable server gives up after its attempts with the URL and the reason', async () => {
    const closed = await startCountingProxy(orthanc.url);
    const url = closed.url;
    await closed.close();
    const err = await new DicomwebClient(`${url}/dicom-web`, { env: {}, ...fast }).searchStudies().catch((e: unknown) => e);
    expect((err as Error).message).toContain(`DICOMweb GET ${url}/dicom-web/studies failed: connection refused`);
    expect((err as Error).message).toMatch(/check that the PACS is running and that the URL is right \(gave up after 2 attempts/);
  });

  it('retries a 503 and a cut connection, then succeeds against the real server', async () => {
    proxy.failNext(2, 503);
    expect(await client({ attempts: 3 }).searchStudies()).toHaveLength(2);
    expect(proxy.requests.map((r) => r.status)).toEqual([503, 503, 200]);

    proxy.reset();
    proxy.failNext(1, 'cut');
    const sop = sopsOf(seriesA2)[0]!;
    const bytes = await client({ attempts: 2 }).retrieveInstance(studyA, seriesA2, sop);
    expect(Buffer.from(bytes).equals(Buffer.from(files.get(sop)!))).toBe(true);
    expect(proxy.requests.map((r) => r.status)).toEqual(['cut', 200]);
  });

  it('a server that sends nothing times out with a clear message', async () => {
    proxy.hangNext(1);
    const err = await client({ attempts: 1, idleTimeoutMs: 300 }).searchStudies().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/DICOMweb GET .*\/dicom-web\/studies: the server sent nothing for 0.3 s/);
  });

  it('basic auth from the config, the URL or the environment; a refusal never shows the password', async () => {
    const direct = new DicomwebClient(`${orthanc.dicomweb}`, { auth, env: {}, ...fast });
    expect(await direct.searchStudies()).toHaveLength(2);

    const inUrl = new DicomwebClient(`http://${USER}:${PASSWORD}@127.0.0.1:${orthanc.httpPort}/dicom-web/`, { env: {}, ...fast });
    expect(inUrl.baseUrl).toBe(orthanc.dicomweb);
    expect(await inUrl.searchStudies()).toHaveLength(2);

    const fromEnv = new DicomwebClient(orthanc.dicomweb, { env: { MEDLEY_DICOMWEB_USER: USER, MEDLEY_DICOMWEB_PASSWORD: PASSWORD }, ...fast });
    expect(await fromEnv.searchStudies()).toHaveLength(2);

    const none = await new DicomwebClient(orthanc.dicomweb, { env: {}, ...fast }).searchStudies().catch((e: unknown) => e);
    expect((none as DicomwebError).status).toBe(401);
    expect((none as Error).message).toMatch(/answered 401 .*set MEDLEY_DICOMWEB_USER and MEDLEY_DICOMWEB_PASSWORD, or MEDLEY_DICOMWEB_TOKEN/);

    const wrong = new DicomwebClient(orthanc.dicomweb, { auth: { kind: 'basic', username: USER, password: 'not-it-42' }, env: {}, ...fast });
    const refused = await wrong.searchStudies().catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/answered 401 .*refused the credentials/);
    expect((refused as Error).message).not.toContain('not-it-42');
    expect(JSON.stringify(wrong)).not.toContain('not-it-42');
    expect(String(wrong)).not.toContain('not-it-42');
  });

  it('a bearer token goes only into the Authorization header', async () => {
    const token = 'tok-58c1e2d9';
    const c = new DicomwebClient(`${proxy.url}/dicom-web`, { env: { MEDLEY_DICOMWEB_TOKEN: token }, ...fast });
    // Orthanc speaks basic auth only, so it refuses; what matters is what reached it, and what is printed.
    const err = await c.searchStudies().catch((e: unknown) => e);
    expect(proxy.requests[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect((err as Error).message).toMatch(/answered 401/);
    expect((err as Error).message).not.toContain(token);
  });

  it('bad configuration is refused with what to do', async () => {
    expect(() => new DicomwebClient('pacs.local/dicom-web')).toThrow(/is not a valid URL; give the server's DICOMweb root/);
    expect(() => new DicomwebClient('ftp://pacs.local/dicom-web')).toThrow(/must start with http:\/\/ or https:\/\//);
    expect(() => new DicomwebClient('http://pacs.local/dicom-web', { env: { MEDLEY_DICOMWEB_USER: 'x' } })).toThrow(/set both MEDLEY_DICOMWEB_USER and MEDLEY_DICOMWEB_PASSWORD/);
    let message = '';
    try {
      new DicomwebClient('http://u:secret-pw@pacs.local/dicom-web?x=1');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/must not carry a query/);
    expect(message).not.toContain('secret-pw');
    const c = new DicomwebClient('http://pacs.local/dicom-web', { env: {} });
    await expect(c.searchInstances({ study: '1.2/../../x' })).rejects.toThrow(/StudyInstanceUID '1.2\/..\/..\/x' is not a DICOM UID/);
  });
});
