/**
 * `dicomweb:URL`: a site's images on its PACS, found with QIDO-RS, fetched with WADO-RS into the
 * site's cache (dicomweb-sync.ts), and decoded from there like any DICOM file.
 *
 * The labels CSV decides what is fetched, because a PACS holds far more than a study needs:
 * - keyed by SOPInstanceUID: exactly the listed instances;
 * - keyed by StudyInstanceUID: every instance of each listed study (all with the study's label);
 * - keyed by path: refused, since instances on a PACS have no file path.
 * Nothing the CSV does not list is fetched. A listed UID the PACS does not have is skipped with a
 * reason, like an undecodable file in a DICOM folder.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeDicomPart10 } from './dicom/part10.js';
import { InstanceCache } from './dicomweb-cache.js';
import { DicomwebClient, type DicomwebClientOptions } from './dicomweb-client.js';
import { syncInstances, type Selection } from './dicomweb-sync.js';
import { readLabelTable, type LabelTable } from './labels-csv.js';
import type { ImageSource, SourceItem } from './types.js';

export interface DicomwebSourceOptions extends DicomwebClientOptions {
  /** The labels CSV (a path, or the table already read): it selects what is fetched. */
  labels: string | LabelTable;
  /** Where fetched instances are kept on the site's disk (see dicomwebCacheDir). */
  cacheDir: string;
  /** Parallel WADO-RS requests (default 4). */
  concurrency?: number;
  /** Progress and skip lines (default: stderr). */
  log?: (line: string) => void;
}

/** Environment variable that names the cache folder, over any default. */
export const DICOMWEB_CACHE_ENV = 'MEDLEY_DICOMWEB_CACHE';

/**
 * The folder a dicomweb: source caches in: MEDLEY_DICOMWEB_CACHE when set (a site may want its
 * PACS copies on another disk), else `dicomweb` inside the data cache folder the caller keeps (the
 * agent's lies in its state folder, on the site's own disk), else the user's cache folder.
 */
export function dicomwebCacheDir(dataCacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env[DICOMWEB_CACHE_ENV]) return resolve(env[DICOMWEB_CACHE_ENV]!);
  if (dataCacheDir) return join(resolve(dataCacheDir), 'dicomweb');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'medley', 'dicomweb');
}

export function openDicomweb(url: string, options: DicomwebSourceOptions): ImageSource {
  // Built now, so a bad URL or bad credentials settings fail when the source is named, not later.
  const client = new DicomwebClient(url, options);
  const table = typeof options.labels === 'string' ? readLabelTable(options.labels) : options.labels;
  const selection = selectionOf(table);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return {
    description: `DICOMweb PACS ${client.baseUrl}`,
    frames: 'middle',
    async *items(signal?: AbortSignal): AsyncIterable<SourceItem> {
      const cache = await InstanceCache.open(options.cacheDir);
      const synced = await syncInstances(client, cache, selection, { concurrency: options.concurrency, log });
      for (const m of synced.missing) yield { skipped: { path: m.uid, reason: m.reason } };
      for (const entry of synced.instances) {
        signal?.throwIfAborted();
        // The instance's address under the DICOMweb root: what a site's IT person can look up.
        const path = `studies/${entry.study}/series/${entry.series}/instances/${entry.sop}`;
        const bytes = await cache.read(entry.sop);
        if (!bytes) {
          yield { skipped: { path, reason: `its cached copy in ${options.cacheDir} changed while the source was read; run again to fetch it anew` } };
          continue;
        }
        const decoded = decodeDicomPart10(bytes, path);
        yield decoded.ok ? { image: decoded.image } : { skipped: { path, reason: decoded.reason } };
      }
    },
  };
}

function selectionOf(table: LabelTable): Selection {
  const uids = [...table.rows.keys()];
  if (table.idColumn === 'SOPInstanceUID') return { by: 'SOPInstanceUID', uids };
  if (table.idColumn === 'StudyInstanceUID') return { by: 'StudyInstanceUID', uids };
  throw new Error(
    `labels ${table.file}: a DICOMweb source needs its CSV keyed by SOPInstanceUID or StudyInstanceUID (instances on a PACS have no file path); rename the identifier column and list UIDs`,
  );
}
