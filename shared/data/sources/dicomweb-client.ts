/**
 * A DICOMweb client for what a site needs from its PACS: QIDO-RS searches (studies, series,
 * instances, with attribute matching, UID lists, includefield and paging) and WADO-RS retrieval of
 * whole instances as multipart/related; type="application/dicom". Transport concerns (timeouts,
 * retries, error wording, credentials) live in dicomweb-http.ts and dicomweb-auth.ts.
 */
import { resolveEndpoint, type Credentials, type DicomwebAuth } from './dicomweb-auth.js';
import { DicomwebError, send, withRetry, type HttpOptions } from './dicomweb-http.js';
import { readDicomParts } from './dicomweb-multipart.js';

export interface DicomwebClientOptions extends HttpOptions {
  /** Credentials; when absent, user:password in the URL, then MEDLEY_DICOMWEB_* variables. */
  auth?: DicomwebAuth;
  /** Environment to read credentials from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Transfer syntax to ask WADO-RS for: a UID, '*' (as stored), or undefined to leave it to the
   * server (the standard's default is Explicit VR Little Endian, which any decoder reads).
   */
  transferSyntax?: string;
}

/** One QIDO-RS result: the DICOM JSON model (tag -> {vr, Value}). */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export interface QidoQuery {
  /** Attribute matching: keyword or tag -> value. An array is a UID list (any of these). */
  match?: Record<string, string | readonly string[]>;
  /** Extra attributes to return (keywords or tags), beyond the level's defaults. */
  includefield?: readonly string[];
  limit?: number;
  offset?: number;
}

export type QidoLevel = 'studies' | 'series' | 'instances';

/** Where a search or retrieval applies: the whole server, one study, or one series of a study. */
export interface Scope {
  study?: string;
  series?: string;
}

/** Tags of the attributes this project reads from QIDO results. */
export const TAG = {
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  AccessionNumber: '00080050',
  Modality: '00080060',
  PatientID: '00100020',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  InstanceNumber: '00200013',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
} as const;

/** The first value of an attribute as a string, or undefined when absent or empty. */
export function attribute(result: DicomJson, tag: string): string | undefined {
  const value = result[tag.toUpperCase()]?.Value?.[0] ?? result[tag.toLowerCase()]?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && 'Alphabetic' in value) return String((value as { Alphabetic: unknown }).Alphabetic);
  return String(value);
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

/** Checks a UID before it goes into a URL path (a malformed one must not become another path). */
export function checkUid(uid: string, what: string): string {
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > 64 || !UID.test(uid)) {
    throw new Error(`${what} '${uid}' is not a DICOM UID (digits and dots, at most 64 characters); check the labels CSV or the query`);
  }
  return uid;
}

export class DicomwebClient {
  /** The DICOMweb root without credentials (safe to print). */
  readonly baseUrl: string;
  readonly #credentials: Credentials | undefined;
  readonly #options: DicomwebClientOptions;

  constructor(url: string, options: DicomwebClientOptions = {}) {
    const endpoint = resolveEndpoint(url, options.auth, options.env);
    this.baseUrl = endpoint.baseUrl;
    this.#credentials = endpoint.authorization;
    this.#options = options;
  }

  /** QIDO-RS: one page of results at `level` within `scope`. */
  async search(level: QidoLevel, scope: Scope = {}, query: QidoQuery = {}): Promise<DicomJson[]> {
    const url = this.#url([...scopePath(scope, level), level], queryParams(query));
    return withRetry(this.#options, async () => {
      const exchange = await send(url, 'application/dicom+json', this.#credentials, this.#idle());
      try {
        // 204 No Content is how some servers say "no matches".
        if (exchange.response.status === 204) return [];
        const text = await exchange.response.text();
        if (text.trim() === '') return [];
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw new DicomwebError(`DICOMweb GET ${url} answered something that is not JSON (${text.slice(0, 80).replace(/\s+/g, ' ')}...); check that the URL is the server's DICOMweb (QIDO-RS) root`, url, undefined, false);
        }
        if (!Array.isArray(json)) throw new DicomwebError(`DICOMweb GET ${url} answered JSON that is not a list of results`, url, undefined, false);
        return json as DicomJson[];
      } catch (err) {
        return exchange.explain(err);
      } finally {
        exchange.done();
      }
    });
  }

  /**
   * QIDO-RS: every result, page by page (`pageSize` per request), for servers that cap or page
   * their answers. A server that ignores `limit` answers everything at once, which is also fine.
   */
  async searchAll(level: QidoLevel, scope: Scope = {}, query: Omit<QidoQuery, 'limit' | 'offset'> = {}, pageSize = 1000): Promise<DicomJson[]> {
    const all: DicomJson[] = [];
    let previousFirst = '';
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.search(level, scope, { ...query, limit: pageSize, offset });
      const first = JSON.stringify(page[0] ?? null);
      // A server that honours limit but ignores offset would repeat its first page forever.
      if (offset > 0 && page.length > 0 && first === previousFirst) {
        throw new DicomwebError(`DICOMweb server ${this.baseUrl} ignores the QIDO-RS offset parameter, so more than ${pageSize} ${level} cannot be listed; narrow the search`, this.baseUrl, undefined, false);
      }
      previousFirst = first;
      all.push(...page);
      if (page.length !== pageSize) return all;
    }
  }

  searchStudies(query: QidoQuery = {}): Promise<DicomJson[]> {
    return this.search('studies', {}, query);
  }

  searchSeries(scope: Scope = {}, query: QidoQuery = {}): Promise<DicomJson[]> {
    return this.search('series', scope, query);
  }

  searchInstances(scope: Scope = {}, query: QidoQuery = {}): Promise<DicomJson[]> {
    return this.search('instances', scope, query);
  }

  /**
   * WADO-RS: the instances of a study, a series, or one instance, each handed to `onInstance` as
   * Part 10 bytes as it arrives. A try that fails halfway is repeated whole, so `onInstance` must
   * be idempotent (the cache's writes are). Resolves with the number of instances received.
   */
  async retrieve(target: Scope & { instance?: string }, onInstance: (bytes: Uint8Array) => Promise<void>): Promise<number> {
    if (target.study === undefined) throw new Error('a WADO-RS retrieval needs at least a StudyInstanceUID');
    if (target.instance !== undefined && target.series === undefined) throw new Error('a WADO-RS instance retrieval needs its SeriesInstanceUID too');
    const path = [...scopePath(target, 'instances')];
    if (target.instance !== undefined) path.push('instances', checkUid(target.instance, 'SOPInstanceUID'));
    const url = this.#url(path, []);
    const ts = this.#options.transferSyntax;
    const accept = `multipart/related; type="application/dicom"${ts ? `; transfer-syntax=${ts}` : ''}`;
    return withRetry(this.#options, async () => {
      const exchange = await send(url, accept, this.#credentials, this.#idle());
      return readDicomParts(exchange, url, onInstance);
    });
  }

  /** WADO-RS of one instance, as its Part 10 bytes. */
  async retrieveInstance(study: string, series: string, instance: string): Promise<Uint8Array> {
    const got: Uint8Array[] = [];
    await this.retrieve({ study, series, instance }, async (bytes) => {
      got.length = 0; // a retried try starts over
      got.push(bytes);
    });
    if (got.length !== 1) {
      throw new DicomwebError(`DICOMweb: retrieving instance ${instance} gave ${got.length} parts instead of one`, this.baseUrl, undefined, false);
    }
    return got[0]!;
  }

  toString(): string {
    return `DicomwebClient(${this.baseUrl})`;
  }

  #idle(): number {
    return this.#options.idleTimeoutMs ?? 60_000;
  }

  #url(segments: string[], params: [string, string][]): string {
    const path = segments.map(encodeURIComponent).join('/');
    const search = params.length > 0 ? `?${new URLSearchParams(params).toString()}` : '';
    return `${this.baseUrl}/${path}${search}`;
  }
}

function scopePath(scope: Scope, level: QidoLevel): string[] {
  if (scope.series !== undefined && scope.study === undefined) throw new Error('a series scope needs its StudyInstanceUID too');
  const path: string[] = [];
  if (scope.study !== undefined) {
    if (level === 'studies') throw new Error('a studies search cannot be scoped to a study; match StudyInstanceUID instead');
    path.push('studies', checkUid(scope.study, 'StudyInstanceUID'));
  }
  if (scope.series !== undefined) {
    if (level !== 'instances') throw new Error('only an instances search can be scoped to a series');
    path.push('series', checkUid(scope.series, 'SeriesInstanceUID'));
  }
  return path;
}

function queryParams(query: QidoQuery): [string, string][] {
  const params: [string, string][] = [];
  for (const [key, value] of Object.entries(query.match ?? {})) {
    // QIDO-RS UID list matching: values separated by commas.
    params.push([key, typeof value === 'string' ? value : value.join(',')]);
  }
  for (const field of query.includefield ?? []) params.push(['includefield', field]);
  if (query.limit !== undefined) params.push(['limit', String(checkCount(query.limit, 'limit'))]);
  if (query.offset !== undefined) params.push(['offset', String(checkCount(query.offset, 'offset'))]);
  return params;
}

function checkCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`QIDO-RS ${what} must be an integer >= 0, got ${n}`);
  return n;
}
