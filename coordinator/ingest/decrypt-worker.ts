import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
// The chunk layer alone: the worker's heap stays small, so its frequent full collections stay cheap.
import { ChunkDecryptor, ChunkRefusedError } from '../../shared/crypto/chunk-aead.js';
import type { TensorSpec } from '../../shared/wire/index.js';
import { FiniteScan } from './finite-scan.js';

/*
 * The ingest worker: decrypts sealed update chunks, scans them for NaN/Inf, and writes the
 * plaintext to the upload's staging segments in shared memory (staging.ts) or, when those are
 * full, to its spool file, off the coordinator's event loop. Decryption allocates a
 * buffer per chunk; here its garbage collection runs beside the event loop instead of stalling it.
 */

/**
 * A chunk travels in the gRPC message's own buffer, transferred (not copied), when that buffer holds
 * only the chunk; otherwise in a buffer the upload lends the worker and gets back. (Shared memory
 * was measured slower here: V8 copies into a SharedArrayBuffer byte by byte.)
 */
export type ToDecryptWorker =
  | { type: 'begin'; id: number; key: Uint8Array; digest: Uint8Array; who: string; target: PlainTarget; tensors: TensorSpec[] | null }
  | { type: 'chunk'; id: number; buffer: ArrayBuffer; offset: number; length: number; lent?: boolean }
  | { type: 'final'; id: number; buffer: ArrayBuffer; length: number }
  | { type: 'end'; id: number };

export type FromDecryptWorker =
  | { type: 'returned'; id: number; buffer?: ArrayBuffer }
  | { type: 'failed'; id: number; message: string; invalid: boolean }
  | { type: 'finished'; id: number; report: Uint8Array; tagChain: Uint8Array; chunks: number; bytes: number; problem: string | null; l2Norm: number };

/** Where an upload's plaintext goes: shared segments of `segmentBytes` each, or a spool file. */
export type PlainTarget = { segments: SharedArrayBuffer[]; segmentBytes: number } | { path: string };

interface Job {
  decryptor: ChunkDecryptor;
  fd: number | null;
  segments: Uint8Array[] | null;
  segmentBytes: number;
  position: number;
  scan: FiniteScan | null;
  failed: boolean;
}

/** Copies a decrypted chunk into the job's segments at its position (a chunk may straddle two). */
function stage(job: Job, plain: Uint8Array): void {
  const segments = job.segments!;
  if (job.position + plain.byteLength > segments.length * job.segmentBytes) {
    // The event loop checks the byte count before it hands a chunk over; this is the backstop.
    throw new Error(`an upload overran its ${segments.length * job.segmentBytes} staging bytes`);
  }
  let done = 0;
  while (done < plain.byteLength) {
    const at = job.position + done;
    const segment = segments[Math.floor(at / job.segmentBytes)]!;
    const within = at % job.segmentBytes;
    const n = Math.min(plain.byteLength - done, job.segmentBytes - within);
    segment.set(plain.subarray(done, done + n), within);
    done += n;
  }
}

function run(port: NonNullable<typeof parentPort>): void {
  const jobs = new Map<number, Job>();
  const close = (job: Job) => {
    if (job.fd !== null) closeSync(job.fd);
    job.fd = null;
  };
  const fail = (id: number, job: Job, err: unknown) => {
    job.failed = true;
    try {
      close(job);
    } catch {
      // the failure being reported matters more than a close error
    }
    const invalid = err instanceof ChunkRefusedError;
    port.postMessage({ type: 'failed', id, message: (err as Error).message, invalid } satisfies FromDecryptWorker);
  };
  port.on('message', (m: ToDecryptWorker) => {
    if (m.type === 'begin') {
      const staged = 'segments' in m.target ? m.target : null;
      const job: Job = {
        decryptor: new ChunkDecryptor(m.key, m.digest, m.who),
        fd: null,
        segments: staged ? staged.segments.map((segment) => new Uint8Array(segment)) : null,
        segmentBytes: staged?.segmentBytes ?? 0,
        position: 0,
        scan: m.tensors ? new FiniteScan(m.tensors) : null,
        failed: false,
      };
      jobs.set(m.id, job);
      try {
        if ('path' in m.target) job.fd = openSync(m.target.path, 'w', 0o600);
      } catch (err) {
        fail(m.id, job, err);
      }
      return;
    }
    const job = jobs.get(m.id);
    if (m.type === 'end') {
      if (job) close(job);
      jobs.delete(m.id);
      return;
    }
    const ciphertext = new Uint8Array(m.buffer, m.type === 'chunk' ? m.offset : 0, m.length);
    try {
      if (!job || job.failed) return;
      if (m.type === 'chunk') {
        const plain = job.decryptor.open(ciphertext, false);
        job.scan?.feed(plain);
        if (job.segments) stage(job, plain);
        else writeSync(job.fd!, plain, 0, plain.byteLength, job.position);
        job.position += plain.byteLength;
      } else {
        const report = job.decryptor.open(ciphertext, true);
        close(job);
        port.postMessage({
          type: 'finished',
          id: m.id,
          report: new Uint8Array(report),
          tagChain: job.decryptor.tagChain(),
          chunks: job.decryptor.chunksOpened,
          bytes: job.position,
          problem: job.scan?.problem() ?? null,
          l2Norm: job.scan?.l2Norm ?? Number.NaN,
        } satisfies FromDecryptWorker);
      }
    } catch (err) {
      if (job) fail(m.id, job, err);
    } finally {
      // A lent buffer goes back to the upload for its next chunk; a handed-over one is freed here.
      if (m.type === 'chunk') {
        if (m.lent) port.postMessage({ type: 'returned', id: m.id, buffer: m.buffer } satisfies FromDecryptWorker, [m.buffer]);
        else port.postMessage({ type: 'returned', id: m.id } satisfies FromDecryptWorker);
      }
    }
  });
}

if (parentPort && (workerData as { medleyDecryptWorker?: boolean } | null)?.medleyDecryptWorker) run(parentPort);
