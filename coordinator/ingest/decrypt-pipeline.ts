import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../shared/runtime/module-worker.js';
import { CHUNK_BYTES, InvalidUpdateError, StateCorruptError, type TensorSpec } from '../../shared/wire/index.js';
import type { FromDecryptWorker, PlainTarget, ToDecryptWorker } from './decrypt-worker.js';

/** Chunks of one upload in the worker's queue at once: bounds memory at DEPTH x chunk size per upload. */
const DEPTH = 8;
/** One sealed chunk as agents send it: CHUNK_BYTES of plaintext plus the tag, with room to spare. */
const BUFFER_BYTES = CHUNK_BYTES + 4096;
/** A chunk this big is handed over in its own buffer, if that buffer holds little else... */
const MIN_HANDOFF_BYTES = 64 << 10;
/** ...than the gRPC and protobuf framing around it (5 + a few bytes). */
const MAX_FRAMING_BYTES = 64;

export interface DecryptedUpload {
  report: Uint8Array;
  tagChain: Uint8Array;
  chunks: number;
  bytes: number;
  problem: string | null;
  l2Norm: number;
}

type Listener = (m: FromDecryptWorker) => void;

/**
 * One worker thread shared by every upload (the coordinator has two cores to think of, not one
 * per site): the event loop reads gRPC messages and hands each ciphertext chunk over in a
 * pooled buffer; the worker decrypts, scans and spools it. Unref'd while no upload is running.
 */
class DecryptWorker {
  private readonly worker: Worker;
  private readonly listeners = new Map<number, Listener>();
  private nextId = 1;
  dead: Error | null = null;

  constructor() {
    this.worker = spawnModuleWorker(import.meta.url, './decrypt-worker', { medleyDecryptWorker: true });
    this.worker.unref();
    this.worker.on('message', (m: FromDecryptWorker) => this.listeners.get(m.id)?.(m));
    const die = (err: Error) => {
      this.dead ??= err;
      for (const listener of this.listeners.values()) listener({ type: 'failed', id: 0, message: `the ingest worker stopped: ${err.message}`, invalid: false });
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  open(listener: Listener): number {
    const id = this.nextId++;
    if (this.listeners.size === 0) this.worker.ref();
    this.listeners.set(id, listener);
    return id;
  }

  close(id: number): void {
    this.post({ type: 'end', id });
    this.listeners.delete(id);
    if (this.listeners.size === 0) this.worker.unref();
  }

  post(message: ToDecryptWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}

let shared: DecryptWorker | null = null;

function worker(): DecryptWorker {
  if (!shared || shared.dead) shared = new DecryptWorker();
  return shared;
}

/** Starts the ingest worker ahead of the first upload, so that upload does not wait for it to load. */
export function warmDecryptWorker(): void {
  worker();
}

/** One upload's decryption, run by the shared worker. Chunks must be pushed in order. */
export class DecryptJob {
  private readonly id: number;
  private readonly free: ArrayBuffer[] = [];
  private lent = 0;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private done: ((r: DecryptedUpload) => void) | null = null;
  private closed = false;

  constructor(options: { key: Uint8Array; digest: Uint8Array; who: string; target: PlainTarget; tensors: readonly TensorSpec[] | null }) {
    const w = worker();
    this.id = w.open((m) => this.receive(m));
    w.post({ type: 'begin', id: this.id, key: options.key, digest: options.digest, who: options.who, target: options.target, tensors: options.tensors ? [...options.tensors] : null });
  }

  private receive(m: FromDecryptWorker): void {
    if (m.type === 'returned') {
      this.lent--;
      if (m.buffer) this.free.push(m.buffer);
    } else if (m.type === 'failed') {
      this.failure ??= m.invalid ? new InvalidUpdateError(m.message) : new StateCorruptError(`could not spool an update: ${m.message}`);
    } else {
      this.done?.(m);
    }
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Hands one ciphertext chunk over; waits while DEPTH chunks of this upload are still queued. */
  async push(ciphertext: Uint8Array): Promise<void> {
    while (this.lent >= DEPTH && !this.failure) await this.waitForChange();
    if (this.failure) throw this.failure;
    this.lent++;
    const own = ciphertext.buffer;
    if (own instanceof ArrayBuffer && ciphertext.byteLength >= MIN_HANDOFF_BYTES && own.byteLength - ciphertext.byteLength <= MAX_FRAMING_BYTES) {
      // The gRPC message's own buffer holds nothing but this chunk and its framing: hand it over
      // whole. The event loop then neither copies the chunk nor has to garbage-collect it.
      worker().post({ type: 'chunk', id: this.id, buffer: own, offset: ciphertext.byteOffset, length: ciphertext.byteLength }, [own]);
      return;
    }
    const buffer = this.take(ciphertext.byteLength);
    new Uint8Array(buffer, 0, ciphertext.byteLength).set(ciphertext);
    worker().post({ type: 'chunk', id: this.id, buffer, offset: 0, length: ciphertext.byteLength, lent: true }, [buffer]);
  }

  /** Hands the final chunk over and waits for the worker to finish the upload. */
  async finish(ciphertext: Uint8Array): Promise<DecryptedUpload> {
    if (this.failure) throw this.failure;
    const copy = new Uint8Array(ciphertext).buffer;
    const result = new Promise<DecryptedUpload>((resolve) => (this.done = resolve));
    worker().post({ type: 'final', id: this.id, buffer: copy, length: ciphertext.byteLength }, [copy]);
    for (;;) {
      const outcome = await Promise.race([result, this.waitForChange().then(() => null)]);
      if (outcome) return outcome;
      if (this.failure) throw this.failure;
    }
  }

  /** Ends the job in the worker (closes its spool file); safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    worker().close(this.id);
  }

  private take(bytes: number): ArrayBuffer {
    const i = this.free.findIndex((b) => b.byteLength >= bytes);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return new ArrayBuffer(Math.max(bytes, BUFFER_BYTES));
  }
}
