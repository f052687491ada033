import { availableParallelism } from 'node:os';
import { FoldHelper } from './fold-helper.js';
import { createMemory, instantiate, simdModule, type SimdExports, type WasmMemory } from './simd-kernel.js';

/**
 * The hot loops of every weighted average: sum[offset + i] += weight * values[i] in float32 (as
 * NumPy does it for Flower), and the final base + sum / total. Kept in their own file so a faster
 * kernel can replace them without touching the strategies.
 *
 * A sum made by `allocateSum` lives in a WebAssembly memory next to small scratch areas; for such
 * a sum each segment is copied into scratch (where it stays in cache) and folded in by a SIMD
 * kernel, which runs at memory speed, 3-5x the JavaScript loop. A large sum also gets a helper
 * thread (fold-helper.ts) that shares the pieces of every segment held in shared memory. Any other
 * Float32Array takes the plain loop. All paths give bit-identical results (see simd-kernel.ts).
 */

/** Scratch for one piece of a segment; small enough to stay in a core's L2 between copy and use. */
const SCRATCH_BYTES = 64 << 10;
const SCRATCH_ELEMENTS = SCRATCH_BYTES / 4;
/** Below this many elements the copy and call overhead outweighs the SIMD gain. */
const MIN_SIMD_ELEMENTS = 64;
/** Sums this large get a helper thread; segments this large are shared with it. */
const HELPER_MIN_SUM = 1 << 20;
const HELPER_MIN_SEGMENT = 1 << 14;
const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

interface SumMemory {
  memory: WasmMemory;
  kernel: SimdExports;
  /** Byte address of this thread's scratch area; the sum starts at byte 0. */
  scratch: number;
  helper: FoldHelper | null;
}

/** Which Float32Array buffers are sums living in a kernel's memory. */
const sums = new WeakMap<ArrayBufferLike, SumMemory>();
/** A sum's helper thread ends when the sum's memory is collected. */
const helpers = new FinalizationRegistry<FoldHelper>((helper) => helper.terminate());

let threads = Math.min(2, availableParallelism());

/** How many threads fold into sums allocated from now on (1 or 2); for benchmarks and tests. */
export function setAggregationThreads(count: 1 | 2): void {
  threads = count;
}

/**
 * A zeroed running sum of `elements` float32 values. It lives in WebAssembly memory when that is
 * possible (up to 4 GiB), so `scaledAddInto` and `finishInPlace` can use the SIMD kernel on it.
 * `spare`, a sum made here earlier that its owner no longer needs, is zeroed and reused when it
 * has the right size: a fresh 100 MB sum costs ~25,000 page faults, more than folding an update.
 */
export function allocateSum(elements: number, spare?: Float32Array | null): Float32Array {
  const reusable = spare && spare.length === elements && spare.byteOffset === 0 ? sums.get(spare.buffer) : undefined;
  if (spare && reusable) {
    if (reusable.helper && elements >= HELPER_MIN_SEGMENT) reusable.helper.run('zero', spare, 0, 0, (start, n) => spare.fill(0, start, start + n));
    else spare.fill(0);
    return spare;
  }
  const shared = threads > 1 && elements >= HELPER_MIN_SUM && simdModule(true) !== null;
  const scratch = Math.ceil((elements * 4) / 16) * 16;
  const pages = Math.ceil((scratch + (shared ? 2 : 1) * SCRATCH_BYTES) / PAGE);
  const memory = pages <= MAX_PAGES ? createMemory(pages, shared) : null;
  const kernel = memory ? instantiate(memory, shared) : null;
  if (!memory || !kernel) return new Float32Array(elements); // no SIMD or no room: the plain loop works everywhere
  const buffer = memory.buffer;
  let helper: FoldHelper | null = null;
  if (shared) {
    try {
      helper = new FoldHelper(memory, simdModule(true)!, scratch + SCRATCH_BYTES, SCRATCH_ELEMENTS);
      helpers.register(buffer, helper);
    } catch {
      helper = null; // no worker threads here: one thread folds everything
    }
  }
  sums.set(buffer, { memory, kernel, scratch, helper });
  return new Float32Array(buffer, 0, elements);
}

/** Pieces of segments the helper thread of `sum` has folded, or null when it has none. */
export function helperPieces(sum: Float32Array): number | null {
  return sums.get(sum.buffer)?.helper?.piecesByHelper ?? null;
}

function checkRange(sum: Float32Array, offset: number, n: number): void {
  if (offset < 0 || offset + n > sum.length) {
    throw new RangeError(`segment [${offset}, ${offset + n}) lies outside a model of ${sum.length} elements`);
  }
}

/**
 * Runs the kernel `op` over `values` (into the sum from byte `sumByte`), one scratch-sized piece
 * at a time, sharing the pieces with the helper thread when there is one.
 */
function fold(wasm: SumMemory, op: 'axpy' | 'finish', values: Float32Array, sumByte: number, factor: number): void {
  const scratch = new Float32Array(wasm.memory.buffer, wasm.scratch, SCRATCH_ELEMENTS);
  const foldPiece = (start: number, n: number) => {
    scratch.set(values.subarray(start, start + n));
    const at = sumByte + start * 4;
    if (op === 'axpy') wasm.kernel.axpy(at, wasm.scratch, n, factor);
    else wasm.kernel.finish(at, wasm.scratch, at, n, factor);
  };
  if (wasm.helper && values.length >= HELPER_MIN_SEGMENT) {
    wasm.helper.run(op, values, sumByte, factor, foldPiece);
    return;
  }
  for (let start = 0; start < values.length; start += SCRATCH_ELEMENTS) foldPiece(start, Math.min(SCRATCH_ELEMENTS, values.length - start));
}

export function scaledAddInto(sum: Float32Array, offset: number, values: Float32Array, weight: number): void {
  const n = values.length;
  checkRange(sum, offset, n);
  const wasm = n >= MIN_SIMD_ELEMENTS ? sums.get(sum.buffer) : undefined;
  // float32 arithmetic, exactly as the SIMD kernel does it (see simd-kernel.ts).
  const w = Math.fround(weight);
  if (!wasm) {
    const target = sum.subarray(offset, offset + n);
    for (let i = 0; i < n; i++) target[i]! += Math.fround(w * values[i]!);
    return;
  }
  fold(wasm, 'axpy', values, sum.byteOffset + offset * 4, w);
}

/**
 * The final FedAvg step for one segment: sum[offset + i] = base[i] + sum[offset + i] / total,
 * computed in float64 and rounded once. The result overwrites that part of the sum (which is not
 * needed afterwards) and is returned as a view of it, so finishing a 100 MB model allocates and
 * copies nothing beyond the base segment.
 */
export function finishInPlace(sum: Float32Array, offset: number, base: Float32Array, total: number): Float32Array {
  const n = base.length;
  checkRange(sum, offset, n);
  const target = sum.subarray(offset, offset + n);
  const wasm = n >= MIN_SIMD_ELEMENTS ? sums.get(sum.buffer) : undefined;
  if (!wasm) {
    for (let i = 0; i < n; i++) target[i] = base[i]! + target[i]! / total;
    return target;
  }
  fold(wasm, 'finish', base, target.byteOffset, total);
  return target;
}
