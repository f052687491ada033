import { parentPort } from 'node:worker_threads';
// prg.js alone (and the small modules it imports): the heap stays a few MB, so the collections the
// keystream buffers set off stay cheap.
import { applyMasksOpenSSL, type MaskSpec } from './prg.js';

/*
 * The masking thread (mask-thread.ts): adds a site's masks to its quantized update with Node's
 * OpenSSL ChaCha20, in place in the buffer it was handed, and hands the buffer back.
 */

export interface ToMaskWorker {
  id: number;
  /** The quantized update (uint32 words), transferred; masked in place and transferred back. */
  buffer: ArrayBuffer;
  masks: MaskSpec[];
}

export type FromMaskWorker = { id: number; buffer: ArrayBuffer } | { id: number; error: string; range: boolean };

parentPort!.on('message', ({ id, buffer, masks }: ToMaskWorker) => {
  try {
    applyMasksOpenSSL(new Uint32Array(buffer), masks);
    parentPort!.postMessage({ id, buffer } satisfies FromMaskWorker, [buffer]);
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message, range: err instanceof RangeError } satisfies FromMaskWorker);
  } finally {
    // This thread's copies of the seeds (structured clones of the caller's).
    for (const mask of masks) mask.seed.fill(0);
  }
});
