import { createMemory, instantiate, type SimdExports, type WasmMemory } from './simd-kernel.js';

/**
 * The hot loops of every weighted average: sum[offset + i] += weight * values[i], and the final
 * base + sum / total. Kept in their own file so a faster kernel can replace them without touching
 * the strategies.
 *
 * A sum made by `allocateSum` lives in a WebAssembly memory next to a small scratch area; for such
 * a sum each segment is copied into the scratch (it stays in L2) and folded in by a SIMD kernel,
 * 3-5x faster than the JavaScript loop. Any other Float32Array takes the plain loop. Both paths
 * give bit-identical results (see simd-kernel.ts).
 */

/** Scratch for one piece of a segment; small enough to stay in a core's L2 between copy and use. */
const SCRATCH_BYTES = 256 << 10;
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
 * possible (up to 4 GiB), so `scaledAddInto` and `addMeanInto` can use the SIMD kernel on it.
 */
export function allocateSum(elements: number): Float32Array {
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
  if (!wasm) {
    const target = sum.subarray(offset, offset + n);
    for (let i = 0; i < n; i++) target[i]! += weight * values[i]!;
    return;
  }
  const scratch = new Float32Array(wasm.memory.buffer, wasm.scratch, SCRATCH_ELEMENTS);
  const sumByte = sum.byteOffset + offset * 4;
  for (let done = 0; done < n; done += SCRATCH_ELEMENTS) {
    const piece = Math.min(SCRATCH_ELEMENTS, n - done);
    scratch.set(values.subarray(done, done + piece));
    wasm.kernel.axpy(sumByte + done * 4, wasm.scratch, piece, weight);
  }
}

/** out[i] = base[i] + sum[offset + i] / total, for i < base.length (the final FedAvg step). */
export function addMeanInto(out: Float32Array, base: Float32Array, sum: Float32Array, offset: number, total: number): void {
  const n = base.length;
  checkRange(sum, offset, n);
  if (out.length < n) throw new RangeError(`output of ${out.length} elements is shorter than the base segment of ${n}`);
  const wasm = n >= MIN_SIMD_ELEMENTS ? sums.get(sum.buffer) : undefined;
  if (!wasm) {
    const s = sum.subarray(offset, offset + n);
    for (let i = 0; i < n; i++) out[i] = base[i]! + s[i]! / total;
    return;
  }
  const scratch = new Float32Array(wasm.memory.buffer, wasm.scratch, SCRATCH_ELEMENTS);
  const sumByte = sum.byteOffset + offset * 4;
  for (let done = 0; done < n; done += SCRATCH_ELEMENTS) {
    const piece = Math.min(SCRATCH_ELEMENTS, n - done);
    scratch.set(base.subarray(done, done + piece));
    wasm.kernel.finish(wasm.scratch, wasm.scratch, sumByte + done * 4, piece, total);
    out.set(scratch.subarray(0, piece), done);
  }
}
