/**
 * Reads a WADO-RS answer: a multipart/related body whose parts are DICOM Part 10 files. The
 * multipart grammar itself is @remix-run/multipart-parser's; this file adds what RFC 2046 allows
 * and that parser does not expect (a preamble before the first boundary, an epilogue after the
 * last one arriving in a later chunk) and checks that the answer is what was asked for.
 */
import { getMultipartBoundary, MultipartParseError, MultipartParser, type MultipartPart } from '@remix-run/multipart-parser';
import { DicomwebError, type Exchange } from './dicomweb-http.js';

/** Largest single instance accepted (a DICOM file's length field tops out at 4 GiB anyway). */
const MAX_PART_BYTES = 2 ** 31 - 1;

/**
 * The boundary of a multipart/related content type whose root type (if named) is
 * application/dicom. Throws a DicomwebError naming the URL when the answer is anything else.
 */
export function dicomMultipartBoundary(contentType: string | null, url: string): string {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'multipart/related') {
    throw new DicomwebError(`DICOMweb GET ${url} answered with content type '${contentType ?? '(none)'}', not multipart/related; check that the URL is the server's DICOMweb (WADO-RS) root`, url, undefined, false);
  }
  const type = /;\s*type\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(contentType!);
  const rootType = (type?.[1] ?? type?.[2])?.toLowerCase();
  if (rootType !== undefined && rootType !== 'application/dicom') {
    throw new DicomwebError(`DICOMweb GET ${url} answered multipart/related of type '${rootType}', not application/dicom`, url, undefined, false);
  }
  const boundary = getMultipartBoundary(contentType!)?.trim();
  if (!boundary) {
    throw new DicomwebError(`DICOMweb GET ${url} answered multipart/related without a boundary parameter; the server's answer cannot be split into instances`, url, undefined, false);
  }
  return boundary;
}

/**
 * Streams the parts of a multipart/related application/dicom answer to `onPart`, one at a time,
 * so memory holds one instance rather than the whole answer. Resolves with the number of parts.
 */
export async function readDicomParts(exchange: Exchange, url: string, onPart: (bytes: Uint8Array) => Promise<void>): Promise<number> {
  const boundary = dicomMultipartBoundary(exchange.response.headers.get('content-type'), url);
  const body = exchange.response.body;
  if (!body) throw new DicomwebError(`DICOMweb GET ${url} answered with an empty body`, url, undefined, true);
  const parser = new MultipartParser(boundary, { maxFileSize: MAX_PART_BYTES, maxTotalSize: Infinity, maxParts: Infinity, maxHeaderSize: 64 * 1024 });
  const opening = Buffer.from(`--${boundary}`, 'latin1');
  let preamble: Buffer | null = Buffer.alloc(0);
  let parts = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      exchange.touch();
      let chunk: Uint8Array = value;
      if (preamble !== null) {
        // Drop everything before the first boundary (the preamble RFC 2046 lets a server send).
        const seen = Buffer.concat([preamble, value]);
        const at = seen.indexOf(opening);
        if (at < 0) {
          preamble = seen.subarray(Math.max(0, seen.length - opening.length));
          continue;
        }
        chunk = seen.subarray(at);
        preamble = null;
      }
      for (const part of parser.write(chunk)) {
        const bytes = checkPart(part, url, parts);
        try {
          await onPart(bytes);
        } catch (err) {
          throw new HandlerError(err);
        }
        parts++;
      }
      if (finished(parser)) {
        // Whatever follows the closing boundary is an epilogue, which carries nothing.
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
    if (!finished(parser)) {
      throw new DicomwebError(`DICOMweb GET ${url}: the answer ended before its closing multipart boundary (after ${parts} instance(s)); the connection was probably cut`, url, undefined, true);
    }
  } catch (err) {
    // What the caller's handler threw (a disk full, a part that is no DICOM file) is its own
    // error, not a network failure: passed on as it is, and not retried.
    if (err instanceof HandlerError) throw err.cause;
    if (err instanceof MultipartParseError) {
      throw new DicomwebError(`DICOMweb GET ${url}: malformed multipart answer (${err.message})`, url, undefined, true);
    }
    return exchange.explain(err);
  } finally {
    exchange.done();
    reader.releaseLock();
  }
  return parts;
}

class HandlerError extends Error {
  constructor(override readonly cause: unknown) {
    super('part handler failed');
  }
}

function finished(parser: MultipartParser): boolean {
  // The parser keeps its state private; finish() throws exactly when the closing boundary is not yet seen.
  try {
    parser.finish();
    return true;
  } catch {
    return false;
  }
}

function checkPart(part: MultipartPart, url: string, index: number): Uint8Array {
  const type = part.headers['content-type'];
  const media = type?.split(';')[0]!.trim().toLowerCase();
  if (media !== undefined && media !== 'application/dicom') {
    throw new DicomwebError(`DICOMweb GET ${url}: part ${index + 1} of the answer is '${type}', not application/dicom`, url, undefined, false);
  }
  return part.bytes;
}
