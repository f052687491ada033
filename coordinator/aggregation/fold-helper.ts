import { Worker } from 'node:worker_threads';
import type { WasmMemory } from './simd-kernel.js';

/**
 * A second thread for the SIMD kernel. A segment is cut into 64 KiB pieces that the caller and
 * the helper claim one at a time from a shared counter; each copies its pieces from the segment
 * (which must live in a SharedArrayBuffer, as spooled segments do) into its own scratch and runs
 * the same kernel on the shared sum. Reading the updates is what bounds aggregation, and two cores
 * read memory faster than one. A helper that is slow to wake, or busy elsewhere on a loaded
 * machine, simply claims fewer pieces: the caller never waits for more than the piece the helper
 * is working on.
 *
 * Every element is folded by exactly one thread, with the same kernel, and the caller returns only
 * when all pieces are done, so results are bit-identical to the single-threaded path.
 */

// ctrl: Int32Array slots.
const SEQ = 0; // 2g while request g is posted, 2g - 1 while its parameters are being written
const BUSY = 1; // 1 while the helper may be folding a piece
const READY = 2; // 0 starting, 1 ready, -1 gone
const FAILED = 3; // 1 after the helper failed half way through a piece
// ticket: BigInt64Array slot 0 = request g << 16 | next piece to claim. A piece is claimed by a
// compare-and-swap that also checks g, so a late helper can never claim a piece of a newer request
// with an older request's parameters.
// params: Float64Array slots, written between SEQ = 2g - 1 and SEQ = 2g (a sequence lock).
const P_BUFFER = 0;
const P_FROM = 1; // element index in the buffer
const P_COUNT = 2;
const P_SUM_BYTE = 3;
const P_FACTOR = 4;
const P_OP = 5; // 0 axpy (factor = weight), 1 finish (factor = total), 2 zero the sum
const MAX_PIECES = 0xfff0;
/**
 * Segment buffers the helper holds at once, oldest dropped first (both sides track the same
 * order). A few folds run at a time (FedAvg's limit is 4), so 8 covers them; holding every
 * buffer ever seen would keep each fold's 4 MiB alive until a garbage collection here.
 */
const KEEP_BUFFERS = 8;

// The helper's code: CommonJS source run with eval, so it works from sources and from dist alike.
const HELPER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { memory, module, ctrl, ticket, params, scratch, piece } = workerData;
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
const heap = new Float32Array(memory.buffer);
const buffers = new Map();
parentPort.on('message', (m) => {
  buffers.set(m.id, new Float32Array(m.sab));
  if (buffers.size > ${KEEP_BUFFERS}) buffers.delete(buffers.keys().next().value);
});
Atomics.store(ctrl, ${READY}, 1);
let seen = 0;
(async () => {
  for (;;) {
    const seq = Atomics.load(ctrl, ${SEQ});
    if (seq === seen || seq % 2 === 1) {
      const wait = Atomics.waitAsync(ctrl, ${SEQ}, seq);
      if (wait.async) await wait.value;
      continue;
    }
    const id = params[${P_BUFFER}], from = params[${P_FROM}], count = params[${P_COUNT}];
    const sumByte = params[${P_SUM_BYTE}], factor = params[${P_FACTOR}], op = params[${P_OP}];
    if (Atomics.load(ctrl, ${SEQ}) !== seq) continue; // rewritten while being read
    const values = op === 2 ? heap : buffers.get(id);
    if (!values) { await new Promise((r) => setImmediate(r)); if (!buffers.has(id)) seen = seq; continue; }
    seen = seq;
    const pieces = BigInt(Math.ceil(count / piece)), mine = BigInt(seq / 2) << 16n;
    for (;;) {
      Atomics.store(ctrl, ${BUSY}, 1);
      const t = Atomics.load(ticket, 0);
      if ((t & ~0xffffn) !== mine || (t & 0xffffn) >= pieces) break;
      if (Atomics.compareExchange(ticket, 0, t, t + 1n) !== t) continue;
      const start = Number(t & 0xffffn) * piece, n = Math.min(piece, count - start);
      try {
        if (op === 2) {
          heap.fill(0, sumByte / 4 + start, sumByte / 4 + start + n);
          continue;
        }
        heap.set(values.subarray(from + start, from + start + n), scratch / 4);
        if (op === 0) kernel.axpy(sumByte + start * 4, scratch, n, factor);
        else kernel.finish(sumByte + start * 4, scratch, sumByte + start * 4, n, factor);
      } catch (err) {
        Atomics.store(ctrl, ${FAILED}, 1);
      }
    }
    Atomics.store(ctrl, ${BUSY}, 0);
    Atomics.notify(ctrl, ${BUSY});
  }
})();
`;

const bufferIds = new WeakMap<SharedArrayBuffer, number>();
let nextBufferId = 1;

export class FoldHelper {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(16));
  private readonly ticket = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly params = new Float64Array(new SharedArrayBuffer(64));
  private readonly worker: Worker;
  /** Ids of the buffers the helper holds, oldest first. */
  private readonly posted: number[] = [];
  private gen = 0;
  /** Pieces folded by the helper thread so far (for tests and benchmarks). */
  piecesByHelper = 0;

  /** `scratch`: byte address of `piece` float32 values of the memory for the helper alone. */
  constructor(memory: WasmMemory, module: object, scratch: number, private readonly piece: number) {
    this.worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { memory, module, ctrl: this.ctrl, ticket: this.ticket, params: this.params, scratch, piece } });
    this.worker.unref();
    this.worker.on('error', () => Atomics.store(this.ctrl, READY, -1));
    this.worker.on('exit', () => Atomics.store(this.ctrl, READY, -1));
  }

  /**
   * Folds `values` (op 'axpy': into the sum at `sumByte`, `factor` the weight; op 'finish':
   * base + sum / factor in place; op 'zero': zeroes the sum `values` itself) piece by piece,
   * sharing the pieces with the helper when it is up and `values` is shared. `foldPiece(start, n)`
   * does one piece on this thread.
   */
  run(op: 'axpy' | 'finish' | 'zero', values: Float32Array, sumByte: number, factor: number, foldPiece: (start: number, n: number) => void): void {
    const count = values.length;
    const pieces = Math.ceil(count / this.piece);
    const sab = values.buffer;
    if (Atomics.load(this.ctrl, READY) !== 1 || !(sab instanceof SharedArrayBuffer) || pieces < 2 || pieces > MAX_PIECES) {
      for (let p = 0; p < pieces; p++) foldPiece(p * this.piece, Math.min(this.piece, count - p * this.piece));
      return;
    }
    this.share(sab);
    const g = ++this.gen;
    Atomics.store(this.ctrl, SEQ, 2 * g - 1);
    const p = this.params;
    p[P_BUFFER] = bufferIds.get(sab)!;
    p[P_FROM] = values.byteOffset / 4;
    p[P_COUNT] = count;
    p[P_SUM_BYTE] = sumByte;
    p[P_FACTOR] = factor;
    p[P_OP] = op === 'axpy' ? 0 : op === 'finish' ? 1 : 2;
    Atomics.store(this.ticket, 0, BigInt(g) << 16n);
    Atomics.store(this.ctrl, SEQ, 2 * g);
    Atomics.notify(this.ctrl, SEQ);
    let mine = 0;
    for (;;) {
      const claimed = Number(Atomics.add(this.ticket, 0, 1n) & 0xffffn);
      if (claimed >= pieces) break;
      foldPiece(claimed * this.piece, Math.min(this.piece, count - claimed * this.piece));
      mine++;
    }
    this.piecesByHelper += pieces - mine;
    // All pieces are claimed; wait until the helper has finished the one it may be folding.
    while (Atomics.load(this.ctrl, BUSY) === 1 && Atomics.load(this.ctrl, READY) === 1) Atomics.wait(this.ctrl, BUSY, 1, 50);
    if (Atomics.load(this.ctrl, FAILED) === 1 || (Atomics.load(this.ctrl, BUSY) === 1 && Atomics.load(this.ctrl, READY) !== 1)) {
      Atomics.store(this.ctrl, FAILED, 0); // reported once: this request's sum is lost, not later ones
      throw new Error('the aggregation helper thread failed while folding a segment; the sum is unusable');
    }
  }

  /** Hands a segment buffer to the helper unless it holds it already. */
  private share(sab: SharedArrayBuffer): void {
    let id = bufferIds.get(sab);
    if (id === undefined) bufferIds.set(sab, (id = nextBufferId++));
    if (this.posted.includes(id)) return;
    this.posted.push(id);
    if (this.posted.length > KEEP_BUFFERS) this.posted.shift();
    this.worker.postMessage({ id, sab });
  }

  terminate(): void {
    void this.worker.terminate();
  }
}
