import { endianness } from 'node:os';
import { F64, get, I32, instantiate, loop, set, simd, V128, type FunctionDef } from '../../shared/runtime/wasm-asm.js';

/**
 * The finite scan's hot loop as a WebAssembly SIMD kernel: four float32 values a step, squared in
 * float64 into four lane sums. Lane j sums the squares of the values at 4i + j, exactly the four
 * running sums of the JS loop in finite-scan.ts, in the same order, and a float32 squared is exact
 * in float64, so both paths give bit-identical sums (finite-scan.test.ts checks). NaN or Infinity
 * anywhere makes a lane sum non-finite, as in JS. The JS loop cost about 0.4 ms per MiB of update
 * on the benchmark machine, a fifth of the ingest worker's time; this runs at memory speed.
 */

/** Values per call: the window in the kernel's memory (small enough to stay in a core's cache). */
export const SQUARES_WINDOW = 1 << 14;

function squaresFunction(): FunctionDef {
  // params: 0 ptr, 1 n (a multiple of 4), 2 lanes (four float64 sums, read and written back);
  // locals: 3 end, 4 sums of lanes 0 and 1, 5 of lanes 2 and 3, 6 two values promoted.
  const F64X2_MUL = simd(0xf2);
  const F64X2_ADD = simd(0xf0);
  const PROMOTE_LOW = simd(0x5f);
  const LOAD64_ZERO = (offset: number) => simd(0x5d, 0, offset);
  const accumulate = (offset: number, acc: number) => [
    ...get(0), ...LOAD64_ZERO(offset), ...PROMOTE_LOW, ...set(6),
    ...get(acc), ...get(6), ...get(6), ...F64X2_MUL, ...F64X2_ADD, ...set(acc),
  ];
  return {
    name: 'squares',
    params: [I32, I32, I32],
    results: [],
    locals: [[1, I32], [3, V128]],
    code: [
      // end = ptr + 4 * n
      ...get(0), ...get(1), 0x41, 2, 0x74 /* i32.shl */, 0x6a /* i32.add */, ...set(3),
      ...get(2), ...simd(0x00, 3, 0) /* v128.load */, ...set(4),
      ...get(2), ...simd(0x00, 3, 16), ...set(5),
      ...loop(0, 3, [...accumulate(0, 4), ...accumulate(8, 5)], [0], 16),
      ...get(2), ...get(4), ...simd(0x0b, 3, 0) /* v128.store */,
      ...get(2), ...get(5), ...simd(0x0b, 3, 16),
    ],
  };
}

interface SquaresKernel {
  window: Float32Array;
  lanes: Float64Array;
  squares: (ptr: number, n: number, lanes: number) => void;
}

let kernel: SquaresKernel | null | undefined;

function load(): SquaresKernel | null {
  if (endianness() !== 'LE') return null;
  const bytes = SQUARES_WINDOW * 4 + 32;
  const wasm = instantiate<{ squares: (ptr: number, n: number, lanes: number) => void }>([squaresFunction()], bytes);
  if (!wasm) return null;
  return { window: new Float32Array(wasm.memory, 0, SQUARES_WINDOW), lanes: new Float64Array(wasm.memory, SQUARES_WINDOW * 4, 4), squares: wasm.exports.squares };
}

/**
 * Adds the squares of `values` (a multiple of 4 long) to `sums` lane by lane, as the JS loop
 * does; false where WebAssembly SIMD is missing (the caller runs the JS loop instead).
 */
export function addSquares(values: Float32Array, sums: Float64Array): boolean {
  kernel ??= load();
  if (!kernel) return false;
  const { window, lanes, squares } = kernel;
  lanes.set(sums);
  for (let start = 0; start < values.length; start += SQUARES_WINDOW) {
    const n = Math.min(SQUARES_WINDOW, values.length - start);
    window.set(values.subarray(start, start + n));
    squares(0, n, SQUARES_WINDOW * 4);
  }
  sums.set(lanes);
  return true;
}
