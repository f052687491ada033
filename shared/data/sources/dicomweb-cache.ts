/**
 * The site's on-disk copy of what it fetched from its PACS, so a restarted agent does not fetch
 * it again. Instances are keyed by SOPInstanceUID (unique across PACSs by definition). Each
 * instance is two files written atomically (temporary name, fsync, rename): the Part 10 bytes and
 * a small JSON record with their SHA-256. The record is written last, so it marks a complete entry;
 * an entry whose bytes do not match the record is damaged, removed and fetched again.
 *
 * It also remembers each study's instance list as QIDO-RS gave it, so a re-run keyed by study
 * needs no query either (a study in a PACS does not change once it is archived; delete
 * studies/UID.json to make it be asked again).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { checkUid } from './dicomweb-client.js';

export interface CachedInstance {
  readonly sop: string;
  readonly study: string;
  readonly series: string;
  /** Path of the Part 10 file. */
  readonly path: string;
  readonly bytes: number;
}

interface EntryRecord {
  sop: string;
  study: string;
  series: string;
  sha256: string;
  bytes: number;
}

export interface StudyInstance {
  readonly sop: string;
  readonly series: string;
}

export class InstanceCache {
  /** One line per damaged entry found (and removed) since the cache was opened. */
  readonly damaged: string[] = [];

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<InstanceCache> {
    try {
      await mkdir(join(dir, 'instances'), { recursive: true });
      await mkdir(join(dir, 'studies'), { recursive: true });
    } catch (err) {
      throw new Error(`the DICOMweb cache folder ${dir} cannot be created (${(err as Error).message}); give a writable folder on the site's disk`);
    }
    return new InstanceCache(dir);
  }

  /** Path of an instance's Part 10 file (whether or not it is there). */
  pathOf(sop: string): string {
    checkUid(sop, 'SOPInstanceUID');
    // 256 sub-folders, so a large archive does not put every file in one directory.
    const shard = createHash('sha256').update(sop).digest('hex').slice(0, 2);
    return join(this.dir, 'instances', shard, `${sop}.dcm`);
  }

  /** The entry, if present and intact; a damaged entry is removed (and noted) and reads as absent. */
  async get(sop: string): Promise<CachedInstance | undefined> {
    const got = await this.#load(sop);
    return got?.entry;
  }

  /** The instance's bytes, if present and intact (same checks as get). */
  async read(sop: string): Promise<Uint8Array | undefined> {
    const got = await this.#load(sop);
    return got?.bytes;
  }

  /**
   * Stores one instance fetched from `source` (a URL, for messages). Its SOPInstanceUID is read
   * from the file's own meta header, which is also the check that the bytes are a DICOM Part 10
   * file at all; `place` is its study and series as the PACS listed them.
   */
  async put(bytes: Uint8Array, source: string, place: { study: string; series: string }): Promise<CachedInstance> {
    const sop = part10Sop(bytes, source);
    const path = this.pathOf(sop);
    await mkdir(join(path, '..'), { recursive: true });
    const record: EntryRecord = {
      sop,
      study: checkUid(place.study, 'StudyInstanceUID'),
      series: checkUid(place.series, 'SeriesInstanceUID'),
      sha256: sha256(bytes),
      bytes: bytes.byteLength,
    };
    await writeAtomic(path, bytes);
    await writeAtomic(recordPath(path), Buffer.from(JSON.stringify(record)));
    return { sop, study: record.study, series: record.series, path, bytes: record.bytes };
  }

  async getStudy(study: string): Promise<StudyInstance[] | undefined> {
    try {
      const json = JSON.parse(await readFile(this.#studyPath(study), 'utf8')) as { study?: string; instances?: StudyInstance[] };
      if (json.study !== study || !Array.isArray(json.instances)) throw new Error('not a study list');
      return json.instances;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.damaged.push(`${this.#studyPath(study)}: unreadable study list (${(err as Error).message}); asking the PACS again`);
      }
      return undefined;
    }
  }

  async putStudy(study: string, instances: readonly StudyInstance[]): Promise<void> {
    await writeAtomic(this.#studyPath(study), Buffer.from(JSON.stringify({ study, instances })));
  }

  #studyPath(study: string): string {
    return join(this.dir, 'studies', `${checkUid(study, 'StudyInstanceUID')}.json`);
  }

  async #load(sop: string): Promise<{ entry: CachedInstance; bytes: Uint8Array } | undefined> {
    const path = this.pathOf(sop);
    let recordText: string;
    try {
      recordText = await readFile(recordPath(path), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // never fetched (or the write did not finish)
      throw err;
    }
    let record: EntryRecord;
    let bytes: Buffer;
    try {
      record = JSON.parse(recordText) as EntryRecord;
      if (record.sop !== sop || typeof record.sha256 !== 'string') throw new Error('its record does not describe this instance');
      bytes = await readFile(path);
      if (bytes.byteLength !== record.bytes || sha256(bytes) !== record.sha256) {
        throw new Error(`its ${bytes.byteLength} bytes do not match the ${record.bytes} bytes recorded when it was fetched`);
      }
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'its DICOM file is missing' : (err as Error).message;
      this.damaged.push(`${path}: damaged cache entry (${why}); fetching it again`);
      await rm(recordPath(path), { force: true });
      await rm(path, { force: true });
      return undefined;
    }
    return { entry: { sop, study: record.study, series: record.series, path, bytes: record.bytes }, bytes };
  }
}

function recordPath(dcmPath: string): string {
  return dcmPath.replace(/\.dcm$/, '.json');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The SOPInstanceUID in a Part 10 file's meta header; throws naming `source` if it is not one. */
export function part10Sop(bytes: Uint8Array, source: string): string {
  let sop: string | undefined;
  try {
    sop = dicomParser.readPart10Header(bytes).string('x00020003')?.trim();
  } catch (err) {
    throw new Error(`${source} is not a DICOM Part 10 file (${typeof err === 'string' ? err : (err as Error).message}); the PACS sent something else than an instance`);
  }
  if (!sop) throw new Error(`${source} has no MediaStorageSOPInstanceUID in its meta header; it cannot be cached`);
  return checkUid(sop, `MediaStorageSOPInstanceUID of ${source}`);
}

/** Writes a file so that readers see either nothing or all of it, even across a crash. */
async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}
