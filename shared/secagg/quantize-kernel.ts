import { endianness } from 'node:os';
import { endOf, f64c, F64, get, I32, instantiate, loop, set, simd, V128, type FunctionDef } from '../runtime/wasm-asm.js';

/**
 * The fixed-point encoding of quantizeUpdate as a WebAssembly SIMD loop, two values per step. The
 * JS loop costs 10 to 25 ns per value on the benchmark machine (its Math.round and clipping
 * branches mispredict on real updates, and its first calls run before the JIT has optimized it);
 * this runs at about 4 ns per value, copies in and out included. Per value, in float64 as in JS:
 *
 *   y = min(max(f64(x), -c), c) * factor      (x > c ? c : x < -c ? -c : x, then the multiply)
 *   q = floor(y) + (y - floor(y) >= 0.5)      (Math.round: y - floor(y) is exact, ties go up)
 *   q = min(max(q, -cap), cap)                 (then i32x4.trunc_sat_f64x2_s_zero: q is integral)
 *
 * so its output equals the JS loop's bit for bit (kernels.test.ts checks ties, near-ties and
 * clip edges). NaN inputs are only flagged: the caller's JS loop redoes that chunk and throws.
 */

const CHUNK = 1 << 16;
const F64X2_SPLAT = simd(0x14);
const PMIN = simd(0xf6);
const PMAX = simd(0xf7);

function quantizeFunction(): FunctionDef {
  // params: 0 src (f32), 1 dst (i32), 2 n, 3 c, 4 factor, 5 cap; locals: 6 end,
  // 7 C, 8 -C, 9 F, 10 CAP, 11 -CAP, 12 HALF, 13 ONE, 14 NaN seen, 15 x, 16 y, 17 floor(y).
  const splat = (value: number[], local: number) => [...value, ...F64X2_SPLAT, ...set(local)];
  const NEG = 0x9a; // f64.neg
  const pair = [
    ...get(0), ...simd(0x5d, 0, 0) /* v128.load64_zero */, ...simd(0x5f) /* f64x2.promote_low_f32x4 */, ...set(15),
    ...get(14), ...get(15), ...get(15), ...simd(0x48) /* f64x2.ne */, ...simd(0x50) /* v128.or */, ...set(14),
    ...get(15), ...get(7), ...PMIN, ...get(8), ...PMAX, ...get(9), ...simd(0xf2) /* f64x2.mul */, ...set(16),
    ...get(16), ...simd(0x75) /* f64x2.floor */, ...set(17),
    ...get(1),
    ...get(17), ...get(16), ...get(17), ...simd(0xf1) /* f64x2.sub */, ...get(12), ...simd(0x4c) /* f64x2.ge */,
    ...get(13), ...simd(0x4e) /* v128.and: 1.0 where the fraction is >= 0.5 */, ...simd(0xf0) /* f64x2.add */,
    ...get(10), ...PMIN, ...get(11), ...PMAX,
    ...simd(0xfc) /* i32x4.trunc_sat_f64x2_s_zero */, ...simd(0x5b, 0, 0, 0) /* v128.store64_lane 0 */,
  ];
  return {
    name: 'quantize',
    params: [I32, I32, I32, F64, F64, F64],
    results: [I32],
    locals: [[1, I32], [11, V128]],
    code: [
      ...endOf(0, 2, -2, 2, 6),
      ...splat(get(3), 7), ...splat([...get(3), NEG], 8), ...splat(get(4), 9),
      ...splat(get(5), 10), ...splat([...get(5), NEG], 11), ...splat(f64c(0.5), 12), ...splat(f64c(1), 13),
      ...loop(0, 6, pair, [0, 1], 8),
      ...get(14), ...simd(0x53) /* v128.any_true */,
    ],
  };
}

type Quantize = (src: number, dst: number, n: number, c: number, factor: number, cap: number) => number;

let kernel: { values: Float32Array; out: Int32Array; quantize: Quantize } | null | undefined;

function load(): typeof kernel {
  if (endianness() !== 'LE') return null;
  const wasm = instantiate<{ quantize: Quantize }>([quantizeFunction()], 2 * CHUNK * 4);
  if (!wasm) return null;
  return { values: new Float32Array(wasm.memory, 0, CHUNK), out: new Int32Array(wasm.memory, CHUNK * 4, CHUNK), quantize: wasm.exports.quantize };
}

/**
 * Fills out[0..k) with the encoding of values[0..k) and returns k: all but the last value of an
 * odd length, less from the first chunk holding a NaN, 0 without WebAssembly SIMD. The caller's JS
 * loop does the rest (and throws on the NaN).
 */
export function quantizeSimd(values: Float32Array, out: Int32Array, c: number, factor: number, cap: number): number {
  kernel ??= load();
  if (!kernel) return 0;
  const even = values.length & ~1;
  let done = 0;
  while (done < even) {
    const n = Math.min(CHUNK, even - done);
    kernel.values.set(values.subarray(done, done + n));
    if (kernel.quantize(0, CHUNK * 4, n, c, factor, cap) !== 0) break;
    out.set(kernel.out.subarray(0, n), done);
    done += n;
  }
  // The windows held a piece of the site's plain update: not left lying in a long-lived buffer.
  kernel.values.fill(0);
  kernel.out.fill(0);
  return done;
}
