import { describe, expect, it } from 'vitest';
import { DicomwebError, type Exchange } from './dicomweb-http.js';
import { dicomMultipartBoundary, readDicomParts } from './dicomweb-multipart.js';

/**
 * The multipart reader on answers as other PACSs may shape them (Orthanc's own are covered in
 * dicomweb-client.test.ts): preamble, epilogue, quoted boundaries, chunks split anywhere, bodies
 * that contain boundary-like bytes, and broken answers.
 */
const URL_ = 'http://pacs.test/dicom-web/studies/1.2.3';

/** Payloads with bytes that look like the start of a delimiter, and CRLFs at both ends. */
const payloads = [
  Buffer.from('\r\nfirst\r\n--not-the-boundary\r\n'),
  Buffer.from([0, 1, 2, 13, 10, 45, 45, 255, 13, 10]),
  Buffer.alloc(3000, 7),
];

function message(boundary: string, parts: Buffer[], opts: { preamble?: string; epilogue?: string; partType?: string } = {}): Buffer {
  const chunks: Buffer[] = [];
  if (opts.preamble !== undefined) chunks.push(Buffer.from(opts.preamble));
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${opts.partType ?? 'application/dicom'}\r\nContent-Length: ${p.length}\r\n\r\n`));
    chunks.push(p, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--`));
  if (opts.epilogue !== undefined) chunks.push(Buffer.from(opts.epilogue));
  return Buffer.concat(chunks);
}

/** An exchange over a body delivered in the given pieces, as a socket would. */
function exchange(contentType: string, pieces: Uint8Array[]): Exchange {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of pieces) controller.enqueue(p);
      controller.close();
    },
  });
  return {
    response: new Response(body, { headers: { 'content-type': contentType } }),
    touch: () => undefined,
    done: () => undefined,
    explain: (err) => {
      throw err;
    },
  };
}

async function read(contentType: string, pieces: Uint8Array[]): Promise<Buffer[]> {
  const got: Buffer[] = [];
  const n = await readDicomParts(exchange(contentType, pieces), URL_, async (b) => void got.push(Buffer.from(b)));
  expect(n).toBe(got.length);
  return got;
}

const related = (boundary: string) => `multipart/related; type="application/dicom"; boundary=${boundary}`;

describe('readDicomParts', () => {
  it('returns each part exactly, whatever the chunking (a boundary split at any byte)', async () => {
    const boundary = 'b0undary-1234';
    const whole = message(boundary, payloads);
    // Every cut that falls inside or beside a delimiter or a header block, plus some in the bodies.
    const cuts = new Set<number>();
    for (const mark of [`--${boundary}`, '\r\n\r\n']) {
      for (let at = whole.indexOf(mark); at >= 0; at = whole.indexOf(mark, at + 1)) {
        for (let c = at - 3; c <= at + mark.length + 3; c++) if (c > 0 && c < whole.length) cuts.add(c);
      }
    }
    for (let c = 1; c < whole.length; c += 211) cuts.add(c);
    for (const cut of cuts) {
      const got = await read(related(boundary), [whole.subarray(0, cut), whole.subarray(cut)]);
      expect(got, `cut at ${cut}`).toEqual(payloads);
    }
    // One byte at a time, the worst a network can do (small parts: this is slow per byte).
    const small = message(boundary, payloads.slice(0, 2));
    expect(await read(related(boundary), [...small].map((b) => Uint8Array.of(b)))).toEqual(payloads.slice(0, 2));
  });

  it('accepts a quoted boundary, a preamble and an epilogue (in its own chunk)', async () => {
    const boundary = 'with spaces:and=equals';
    const whole = message(boundary, payloads.slice(0, 2), { preamble: 'This is a preamble.\r\n' });
    const ct = `multipart/related; boundary="${boundary}"; type="application/dicom"`;
    expect(await read(ct, [whole, Buffer.from('\r\nan epilogue\r\n')])).toEqual(payloads.slice(0, 2));
  });

  it('takes the boundary from the content type, quoted or not, wherever the parameter stands', () => {
    expect(dicomMultipartBoundary('multipart/related; type="application/dicom"; boundary=abc', URL_)).toBe('abc');
    expect(dicomMultipartBoundary('Multipart/Related;boundary="a b";type=application/dicom', URL_)).toBe('a b');
    expect(dicomMultipartBoundary('multipart/related; boundary=xyz ; type="application/dicom"', URL_)).toBe('xyz');
  });

  it('refuses what is not a multipart application/dicom answer, naming the URL', async () => {
    expect(() => dicomMultipartBoundary('application/json', URL_)).toThrow(`DICOMweb GET ${URL_} answered with content type 'application/json', not multipart/related`);
    expect(() => dicomMultipartBoundary(null, URL_)).toThrow(/'\(none\)', not multipart\/related/);
    expect(() => dicomMultipartBoundary('multipart/related; type="application/octet-stream"; boundary=x', URL_)).toThrow(/of type 'application\/octet-stream', not application\/dicom/);
    expect(() => dicomMultipartBoundary('multipart/related; type="application/dicom"', URL_)).toThrow(/without a boundary parameter/);
    const wrongPart = message('bb', payloads.slice(0, 1), { partType: 'image/jpeg' });
    await expect(read(related('bb'), [wrongPart])).rejects.toThrow(/part 1 of the answer is 'image\/jpeg', not application\/dicom/);
  });

  it('an answer cut before its closing boundary is an error that may be retried', async () => {
    const whole = message('cutb', payloads);
    const err = await read(related('cutb'), [whole.subarray(0, whole.length - 20)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomwebError);
    expect((err as DicomwebError).retryable).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`DICOMweb GET ${URL_}: the answer ended before its closing multipart boundary \\(after 2 instance\\(s\\)\\)`));
  });

  it('an answer with no boundary at all says so', async () => {
    const err = await read(related('nob'), [Buffer.from('just some text, no parts')]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/ended before its closing multipart boundary \(after 0 instance\(s\)\)/);
  });
});
