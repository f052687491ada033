/**
 * One HTTP exchange with a DICOMweb server, and retrying such exchanges. Errors always name the
 * method, the URL (without credentials) and the status or network failure, and say what to check,
 * because the person reading them is a site's operator, not the author of this code.
 */
import { DICOMWEB_ENV, type Credentials } from './dicomweb-auth.js';

export interface RetryOptions {
  /** Total tries per operation, including the first (default 4). */
  attempts?: number;
  /** First back-off delay in ms; doubles each retry, with full jitter (default 250). */
  baseDelayMs?: number;
  /** Longest single back-off delay in ms (default 8000). */
  maxDelayMs?: number;
}

export interface HttpOptions extends RetryOptions {
  /**
   * Give up on an attempt when the server sends nothing for this long (ms, default 60000): while
   * waiting for the headers and between body chunks. An idle limit rather than a total one, so a
   * large series that keeps streaming is not cut off.
   */
  idleTimeoutMs?: number;
}

/** A failed exchange. `retryable` is true for failures that another try may fix. */
export class DicomwebError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DicomwebError';
  }
}

/** Statuses that mean "not now" rather than "not ever". */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export interface Exchange {
  readonly response: Response;
  /** Resets the idle timer; call on each body chunk. */
  readonly touch: () => void;
  /** Stops the idle timer; call when the body has been read (or abandoned). */
  readonly done: () => void;
  /** Rethrows an abort caused by the idle timer as a clear error. */
  readonly explain: (err: unknown) => never;
}

/**
 * Sends one GET and resolves once the status is known. A non-2xx status is a DicomwebError; the
 * body is left unread on success so a large multipart answer can be streamed.
 */
export async function send(url: string, accept: string, credentials: Credentials | undefined, idleTimeoutMs: number): Promise<Exchange> {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, idleTimeoutMs);
  };
  const done = () => clearTimeout(timer);
  const explain = (err: unknown): never => {
    done();
    if (err instanceof DicomwebError) throw err;
    if (timedOut) {
      throw new DicomwebError(`DICOMweb GET ${url}: the server sent nothing for ${idleTimeoutMs / 1000} s; check that the PACS is up and not overloaded, or raise the timeout`, url, undefined, true);
    }
    throw new DicomwebError(`DICOMweb GET ${url} failed: ${networkReason(err)}; check that the PACS is running and that the URL is right`, url, undefined, true);
  };
  const headers: Record<string, string> = { accept };
  if (credentials) headers.authorization = credentials.header();
  touch();
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
  } catch (err) {
    return explain(err);
  }
  if (!response.ok) {
    const detail = await errorDetail(response).catch(() => '');
    done();
    throw new DicomwebError(`DICOMweb GET ${url} answered ${response.status} ${response.statusText}${detail}; ${statusAdvice(response.status, credentials !== undefined)}`, url, response.status, RETRYABLE_STATUS.has(response.status));
  }
  return { response, touch, done, explain };
}

/**
 * Runs `op` until it succeeds, a failure is not retryable, or the tries are used up. Each try is
 * the whole operation (request and body), because a stream cut halfway is as retryable as a
 * refused connection.
 */
export async function withRetry<T>(options: RetryOptions, op: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 8000;
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`DICOMweb retry attempts must be an integer >= 1, got ${attempts}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const retryable = err instanceof DicomwebError && err.retryable;
      if (!retryable || attempt >= attempts) {
        if (err instanceof DicomwebError && attempt > 1) {
          throw new DicomwebError(`${err.message} (gave up after ${attempt} attempts)`, err.url, err.status, false);
        }
        throw err;
      }
      // Full jitter keeps a federation's sites from hammering a recovering PACS in step.
      const ceiling = Math.min(max, base * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, Math.random() * ceiling));
    }
  }
}

function networkReason(err: unknown): string {
  // Node's fetch wraps the socket error in `cause`; its own message is only "fetch failed".
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code === 'ECONNREFUSED') return `connection refused (${cause.message ?? cause.code})`;
  if (cause?.code === 'ENOTFOUND') return `host not found (${cause.message ?? cause.code})`;
  if (cause?.message) return cause.code ? `${cause.message} (${cause.code})` : cause.message;
  return (err as Error)?.message ?? String(err);
}

async function errorDetail(response: Response): Promise<string> {
  const text = (await response.text()).trim();
  if (text === '') return '';
  // Orthanc and other servers put the useful sentence in a JSON field; show that, not the whole body.
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const pick = json.Details ?? json.Message ?? json.message ?? json.error;
    if (typeof pick === 'string' && pick !== '') return ` (${clip(pick)})`;
  } catch {
    // not JSON
  }
  return ` (${clip(text.replace(/\s+/g, ' '))})`;
}

function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function statusAdvice(status: number, sentCredentials: boolean): string {
  if (status === 401 && sentCredentials) return 'the server refused the credentials: check the user name and password or the token';
  if (status === 401) return `the server wants credentials: set ${DICOMWEB_ENV.user} and ${DICOMWEB_ENV.password}, or ${DICOMWEB_ENV.token}`;
  if (status === 403) return 'the credentials were refused for this resource: ask the PACS administrator for read access';
  if (status === 404) return 'the PACS has no such resource: check the DICOMweb root URL and the UIDs in the labels CSV';
  if (status === 406) return 'the PACS cannot send instances in the requested form (application/dicom)';
  if (RETRYABLE_STATUS.has(status)) return 'the PACS is busy or failing; try again later';
  return 'check the DICOMweb root URL and the request';
}
