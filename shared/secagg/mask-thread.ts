import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../runtime/module-worker.js';
import { applyMasks, type MaskSpec } from './prg.js';
import type { FromMaskWorker, ToMaskWorker } from './mask-worker.js';

/*
 * Why a site masks on a thread of its own. Masking expands one keystream per mask (11 x 1M words
 * per site at 20 sites and 1M parameters). Node's OpenSSL ChaCha20 computes it about twice as fast
 * as the WebAssembly kernel (prg.ts, 34-39 against 54-64 ms of CPU per site here), but hands every
 * keystream byte back in a fresh buffer. In the agent's main thread that garbage set off full
 * collections of a heap holding the gRPC stack and TF.js, some of them landing in later rounds:
 * in the `secagg` benchmark the plain rounds after secure ones took 50-100 ms more CPU per agent.
 * On a worker whose heap holds nothing but prg.js, those collections cost next to nothing, so
 * the OpenSSL path's lower CPU is what the round pays. (The coordinator's ingest worker is slim
 * for the same reason.)
 */

/** The thread itself failed (not the job): the caller may mask in its own thread instead. */
class MaskThreadStopped extends Error {}

type Pending = { resolve: (masked: Uint32Array) => void; reject: (err: Error) => void };

class MaskThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  dead = false;

  constructor() {
    this.worker = spawnModuleWorker(import.meta.url, './mask-worker', {});
    this.worker.unref();
    this.worker.on('message', (m: FromMaskWorker) => {
      const job = this.pending.get(m.id);
      if (!job) return;
      this.settled(m.id);
      if ('buffer' in m) job.resolve(new Uint32Array(m.buffer));
      else job.reject(m.range ? new RangeError(m.error) : new Error(m.error));
    });
    const die = (err: Error) => {
      this.dead = true;
      for (const [id, job] of this.pending) {
        this.settled(id);
        job.reject(new MaskThreadStopped(`the masking thread stopped: ${err.message}`));
      }
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  run(masks: readonly MaskSpec[], source: Uint32Array): Promise<Uint32Array> {
    const id = this.nextId++;
    // Copies travel, transferred rather than cloned again: the caller's arrays stay as they were,
    // and no second copy of a seed is left behind in this thread (a clone of a view would also
    // carry its whole underlying buffer).
    const buffer = source.slice().buffer;
    // new Uint8Array(view) always copies (a Buffer's slice would be a view of the caller's bytes).
    const seeds = masks.map(({ seed }) => new Uint8Array(seed));
    const message: ToMaskWorker = { id, buffer, masks: masks.map(({ sign }, i) => ({ seed: seeds[i], sign })) };
    return new Promise<Uint32Array>((resolve, reject) => {
      try {
        this.worker.postMessage(message, [buffer, ...seeds.map((seed) => seed.buffer as ArrayBuffer)]);
      } catch (err) {
        for (const seed of seeds) seed.fill(0);
        reject(err as Error);
        return;
      }
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    // Idle, the thread must not keep the process alive.
    if (this.pending.size === 0) this.worker.unref();
  }
}

let thread: MaskThread | null = null;

/**
 * source + sum of sign * mask over `masks`, mod 2^32, as a new array (`source` is not touched),
 * computed on the masking thread. Where no worker can be started, or it stops, the same sum is
 * computed here with applyMasks. The seeds are copied to the thread; the caller still wipes its own.
 */
export async function applyMasksOffThread(masks: readonly MaskSpec[], source: Uint32Array): Promise<Uint32Array> {
  if (!thread || thread.dead) {
    try {
      thread = new MaskThread();
    } catch {
      thread = null;
    }
  }
  if (thread) {
    try {
      return await thread.run(masks, source);
    } catch (err) {
      if (!(err instanceof MaskThreadStopped)) throw err;
    }
  }
  const masked = new Uint32Array(source.length);
  applyMasks(masked, masks, source);
  return masked;
}
