import { createMemory, instantiate, type SimdExports, type WasmMemory } from './simd-kernel.js';

/**
 * The hot loops of every weighted average: sum[offset + i] += weight * values[i] in float32 (as
 * NumPy does it for Flower), and the final base + sum / total. Kept in their own file so a faster
 * kernel can replace them without touching the strategies.
 *
 * A sum made by `allocateSum` lives in a WebAssembly memory next to a small scratch area; for such
 * a sum each segment is copied into the scratch (where it stays in cache) and folded in by a SIMD
 * kernel, which runs at memory speed, 4-5x the JavaScript loop. Any other Float32Array takes the
 * plain loop. Both paths give bit-identical results (see simd-kernel.ts).
 */

/** Scratch for one piece of a segment; small enough to stay in a core's L2 between copy and use. */
const SCRATCH_BYTES = 64 << 10;
const SCRATCH_ELEMENTS = SCRATCH_BYTES / 4;
/** Below this many elements the copy and call overhead outweighs the SIMD gain. */
const MIN_SIMD_ELEMENTS = 64;
const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

interface SumMemory {
  memory: WasmMemory;
  kernel: SimdExports;
  /** Byte address of the scratch area; the sum starts at byte 0. */
  scratch: number;
}

/** Which Float32Array buffers are sums living in a kernel's memory. */
const sums = new WeakMap<ArrayBufferLike, SumMemory>();

/**
 * A zeroed running sum of `elements` float32 values. It lives in WebAssembly memory when that is
 * possible (up to 4 GiB), so `scaledAddInto` and `finishInPlace` can use the SIMD kernel on it.
 * `spare`, a sum made here earlier that its owner no longer needs, is zeroed and reused when it
 * has the right size: a fresh 100 MB sum costs ~25,000 page faults, more than folding an update.
 */
export function allocateSum(elements: number, spare?: Float32Array | null): Float32Array {
  if (spare && spare.length === elements && spare.byteOffset === 0 && sums.has(spare.buffer)) return spare.fill(0);
  const scratch = Math.ceil((elements * 4) / 16) * 16;
  const pages = Math.ceil((scratch + SCRATCH_BYTES) / PAGE);
  const memory = pages <= MAX_PAGES ? createMemory(pages) : null;
  const kernel = memory ? instantiate(memory) : null;
  if (!memory || !kernel) return new Float32Array(elements); // no SIMD or no room: the plain loop works everywhere
  sums.set(memory.buffer, { memory, kernel, scratch });
  return new Float32Array(memory.buffer, 0, elements);
}

function checkRange(sum: Float32Array, offset: number, n: number): void {
  if (offset < 0 || offset + n > sum.length) {
    throw new RangeError(`segment [${offset}, ${offset + n}) lies outside a model of ${sum.length} elements`);
  }
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
  const scratch = new Float32Array(wasm.memory.buffer, wasm.scratch, SCRATCH_ELEMENTS);
  const sumByte = sum.byteOffset + offset * 4;
  for (let done = 0; done < n; done += SCRATCH_ELEMENTS) {
    const piece = Math.min(SCRATCH_ELEMENTS, n - done);
    scratch.set(values.subarray(done, done + piece));
    wasm.kernel.axpy(sumByte + done * 4, wasm.scratch, piece, w);
  }
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
  const scratch = new Float32Array(wasm.memory.buffer, wasm.scratch, SCRATCH_ELEMENTS);
  const sumByte = target.byteOffset;
  for (let done = 0; done < n; done += SCRATCH_ELEMENTS) {
    const piece = Math.min(SCRATCH_ELEMENTS, n - done);
    scratch.set(base.subarray(done, done + piece));
    wasm.kernel.finish(sumByte + done * 4, wasm.scratch, sumByte + done * 4, piece, total);
  }
  return target;
}
