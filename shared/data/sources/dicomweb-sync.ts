/**
 * Brings the instances a site's labels CSV names from its PACS into the site's cache, fetching
 * only what the cache lacks. The CSV selects: keyed by SOPInstanceUID it names instances; keyed by
 * StudyInstanceUID it names studies, and every instance of a listed study is used.
 *
 * Requests, for the instances that are not cached yet:
 * - by SOPInstanceUID: QIDO-RS /instances with a UID list (one request per 50) to learn each
 *   instance's study and series, then one WADO-RS request per instance;
 * - by StudyInstanceUID: QIDO-RS /studies/UID/instances once per study (remembered in the cache),
 *   then WADO-RS of the whole study when none of it is cached (one multipart answer), or of each
 *   missing instance otherwise.
 * A fully cached selection makes no request at all, so a site can train while its PACS is down.
 */
import { attribute, checkUid, TAG, type DicomwebClient } from './dicomweb-client.js';
import { DicomwebError } from './dicomweb-http.js';
import { part10Sop, type CachedInstance, type InstanceCache, type StudyInstance } from './dicomweb-cache.js';

export type Selection =
  | { readonly by: 'SOPInstanceUID'; readonly uids: readonly string[] }
  | { readonly by: 'StudyInstanceUID'; readonly uids: readonly string[] };

export interface SyncResult {
  /** Every selected instance now in the cache, in selection order (a study's in QIDO order). */
  readonly instances: Array<CachedInstance & { key: string }>;
  /** Selected UIDs that could not be had, each with a one-line reason. */
  readonly missing: Array<{ uid: string; reason: string }>;
  /** Instances that were already cached, and instances fetched now. */
  readonly fromCache: number;
  readonly fetched: number;
}

export interface SyncOptions {
  /** Parallel WADO-RS requests (default 4). */
  concurrency?: number;
  /** One line per notable event (fetch counts, damaged cache entries, missing instances). */
  log?: (line: string) => void;
}

/** UIDs per QIDO-RS list query: about 3 KB of URL, under every server's limit we know of. */
const UID_BATCH = 50;

export async function syncInstances(client: DicomwebClient, cache: InstanceCache, selection: Selection, options: SyncOptions = {}): Promise<SyncResult> {
  const uids = selection.uids.map((u) => checkUid(u, selection.by));
  const duplicate = uids.find((u, i) => uids.indexOf(u) !== i);
  if (duplicate !== undefined) throw new Error(`${selection.by} ${duplicate} is listed twice in the labels; give each one row`);
  const state: State = { client, cache, options, fetched: 0, fromCache: 0, missing: [] };
  const damagedBefore = cache.damaged.length;
  const instances = selection.by === 'SOPInstanceUID' ? await byInstance(state, uids) : await byStudy(state, uids);
  const log = options.log ?? (() => undefined);
  for (const line of cache.damaged.slice(damagedBefore)) log(line);
  for (const m of state.missing) log(`dicomweb: skipped ${m.uid}: ${m.reason}`);
  log(`dicomweb ${client.baseUrl}: ${instances.length} instance(s) ready (${state.fromCache} from the cache, ${state.fetched} fetched), ${state.missing.length} skipped`);
  return { instances, missing: state.missing, fromCache: state.fromCache, fetched: state.fetched };
}

interface State {
  client: DicomwebClient;
  cache: InstanceCache;
  options: SyncOptions;
  fetched: number;
  fromCache: number;
  missing: Array<{ uid: string; reason: string }>;
}

async function byInstance(state: State, sops: string[]): Promise<SyncResult['instances']> {
  const found = new Map<string, CachedInstance>();
  const absent: string[] = [];
  for (const sop of sops) {
    const hit = await state.cache.get(sop);
    if (hit) found.set(sop, hit);
    else absent.push(sop);
  }
  state.fromCache += found.size;

  const where = new Map<string, { study: string; series: string }>();
  for (let i = 0; i < absent.length; i += UID_BATCH) {
    const batch = absent.slice(i, i + UID_BATCH);
    const results = await state.client.searchAll('instances', {}, {
      match: { SOPInstanceUID: batch },
      includefield: ['StudyInstanceUID', 'SeriesInstanceUID'],
    });
    for (const r of results) {
      const sop = attribute(r, TAG.SOPInstanceUID);
      const study = attribute(r, TAG.StudyInstanceUID);
      const series = attribute(r, TAG.SeriesInstanceUID);
      if (sop && study && series) where.set(sop, { study, series });
    }
  }
  const toFetch = absent.filter((sop) => {
    if (where.has(sop)) return true;
    state.missing.push({ uid: sop, reason: 'the PACS has no instance with this SOPInstanceUID' });
    return false;
  });
  await pool(toFetch, state.options.concurrency ?? 4, async (sop) => {
    const got = await fetchOne(state, sop, where.get(sop)!);
    if (got) found.set(sop, got);
  });
  return sops.filter((s) => found.has(s)).map((s) => ({ ...found.get(s)!, key: s }));
}

async function byStudy(state: State, studies: string[]): Promise<SyncResult['instances']> {
  const out: SyncResult['instances'] = [];
  for (const study of studies) {
    const list = await studyInstances(state, study);
    if (list.length === 0) {
      state.missing.push({ uid: study, reason: 'the PACS has no instance in this study' });
      continue;
    }
    const found = new Map<string, CachedInstance>();
    for (const { sop } of list) {
      const hit = await state.cache.get(sop);
      if (hit) found.set(sop, hit);
    }
    state.fromCache += found.size;
    const absent = list.filter((i) => !found.has(i.sop));
    if (absent.length === list.length) {
      // Nothing of it is here yet: one multipart answer with the whole study.
      const series = new Map(list.map((i) => [i.sop, { study, series: i.series }]));
      const url = `${state.client.baseUrl}/studies/${study}`;
      try {
        await state.client.retrieve({ study }, async (bytes) => {
          const sop = part10Sop(bytes, url);
          const place = series.get(sop);
          if (!place) {
            // Arrived on the PACS after the listing was taken; the next listing will include it.
            state.options.log?.(`dicomweb: ${url} also sent instance ${sop}, which its listing did not name; not used this time`);
            return;
          }
          const entry = await state.cache.put(bytes, url, place);
          if (!found.has(entry.sop)) state.fetched++;
          found.set(entry.sop, entry);
        });
      } catch (err) {
        if (!(err instanceof DicomwebError) || err.status !== 404) throw err;
      }
    } else {
      await pool(absent, state.options.concurrency ?? 4, async (i) => {
        const got = await fetchOne(state, i.sop, { study, series: i.series });
        if (got) found.set(i.sop, got);
      });
    }
    for (const { sop } of list) {
      const entry = found.get(sop);
      if (entry) out.push({ ...entry, key: study });
      else if (!state.missing.some((m) => m.uid === sop)) state.missing.push({ uid: sop, reason: `listed in study ${study} by the PACS, but not sent by it` });
    }
  }
  return out;
}

/** A study's instances: from the cache's remembered list, or from QIDO-RS (then remembered). */
async function studyInstances(state: State, study: string): Promise<StudyInstance[]> {
  const known = await state.cache.getStudy(study);
  if (known) return known;
  const results = await state.client.searchAll('instances', { study }, { includefield: ['SeriesInstanceUID'] });
  const list: StudyInstance[] = [];
  for (const r of results) {
    const sop = attribute(r, TAG.SOPInstanceUID);
    const series = attribute(r, TAG.SeriesInstanceUID);
    if (sop && series) list.push({ sop, series });
  }
  // An empty answer is not remembered: the study may simply not have arrived on the PACS yet.
  if (list.length > 0) await state.cache.putStudy(study, list);
  return list;
}

/** WADO-RS of one instance into the cache; a 404 makes it a skipped instance, not a failed run. */
async function fetchOne(state: State, sop: string, where: { study: string; series: string }): Promise<CachedInstance | undefined> {
  let entry: CachedInstance | undefined;
  const url = `${state.client.baseUrl}/studies/${where.study}/series/${where.series}/instances/${sop}`;
  try {
    await state.client.retrieve({ ...where, instance: sop }, async (bytes) => {
      entry = await state.cache.put(bytes, url, where);
    });
  } catch (err) {
    if (err instanceof DicomwebError && err.status === 404) {
      state.missing.push({ uid: sop, reason: `the PACS listed it but answered 404 to ${url}` });
      return undefined;
    }
    throw err;
  }
  if (!entry || entry.sop !== sop) {
    throw new Error(`${url} sent ${entry ? `instance ${entry.sop}` : 'no instance'} instead of ${sop}; the PACS answer does not match the request`);
  }
  state.fetched++;
  return entry;
}

/** Runs `work` over `items`, at most `width` at a time; the first failure stops new work and is thrown. */
async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  if (!Number.isInteger(width) || width < 1) throw new Error(`DICOMweb concurrency must be an integer >= 1, got ${width}`);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}
