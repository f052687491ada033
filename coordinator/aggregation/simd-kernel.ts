/**
 * A tiny WebAssembly SIMD module for the aggregation loops, assembled here byte by byte (the
 * module is ~250 bytes; a build-time wat2wasm step would be a heavier dependency than this file).
 *
 *   axpy(sumPtr, valPtr, n, w):             sum[i] = f32(sum[i] + f32(w * val[i]))      (f32x4)
 *   finish(outPtr, basePtr, sumPtr, n, t):  out[i] = f32(f64(base[i]) + f64(sum[i]) / t) (f64x2)
 *
 * axpy is float32 arithmetic, as NumPy does it for Flower's aggregate(): four lanes per
 * instruction, so it runs at memory speed. finish keeps float64 (one rounding per element) because
 * it runs once per round and its result is the stored model. The plain loops in scaled-add.ts
 * compute exactly the same values (a float32 add or multiply done in float64 and rounded once is
 * the correctly rounded float32 result), so both paths give bit-identical models.
 *
 * Pointers are byte addresses in the imported memory; they need no alignment.
 */

import { F64, I32, V128, get, i32c, set, uleb } from '../../shared/runtime/wasm-asm.js';

const F32 = 0x7d;

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => vec([...s].map((c) => [c.charCodeAt(0)]));

// Instructions used below (the common encoders come from shared/runtime/wasm-asm.ts).
const I32_ADD = [0x6a];
const I32_SHL = [0x74];
const I32_AND = [0x71];
const I32_GE_U = [0x4f];
const F32_LOAD = [0x2a, 0, 0];
const F32_STORE = [0x38, 0, 0];
const F64_PROMOTE = [0xbb];
const F32_DEMOTE = [0xb6];
const F32_ADD = [0x92];
const F32_MUL = [0x94];
const F64_ADD = [0xa0];
const F64_DIV = [0xa3];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const vLoadAt = (offset: number) => simd(0x00, 0, ...uleb(offset));
const load64Zero = (offset: number) => simd(0x5d, 0, ...uleb(offset)); // v128.load64_zero
const store64Lane0 = (offset: number) => simd(0x5b, 0, ...uleb(offset), 0); // v128.store64_lane, lane 0
const vStoreAt = (offset: number) => simd(0x0b, 0, ...uleb(offset));
const F32X4_SPLAT = simd(0x13);
const F64X2_SPLAT = simd(0x14);
const PROMOTE_LOW = simd(0x5f); // f64x2.promote_low_f32x4
const DEMOTE_ZERO = simd(0x5e); // f32x4.demote_f64x2_zero
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const F64X2_ADD = simd(0xf0);
const F64X2_DIV = simd(0xf3);

/** `while (ptr < end) { body; ptr += step for each ptr }` as block/loop/br_if. */
function loop(ptr: number, end: number, body: number[], bumps: number[], step: number): number[] {
  const bump = bumps.flatMap((p) => [...get(p), ...i32c(step), ...I32_ADD, ...set(p)]);
  return [0x02, 0x40, 0x03, 0x40, ...get(ptr), ...get(end), ...I32_GE_U, 0x0d, 1, ...body, ...bump, 0x0c, 0, 0x0b, 0x0b];
}

/** Sets local `end` to `ptr` plus 4 bytes for each of the first (n & mask) elements. */
function endOf(ptr: number, n: number, mask: number, end: number): number[] {
  return [...get(ptr), ...get(n), ...i32c(mask), ...I32_AND, ...i32c(2), ...I32_SHL, ...I32_ADD, ...set(end)];
}

function axpyBody(): number[] {
  // params: 0 sum, 1 val, 2 n, 3 w (f32); locals: 4 end16, 5 end4, 6 end (i32), 7 W (v128)
  // sum[k] = sum[k] + W * val[k] on the 16 bytes at byte offset `at` from both pointers.
  const step = (at: number) => [...get(0), ...get(0), ...vLoadAt(at), ...get(1), ...vLoadAt(at), ...get(7), ...F32X4_MUL, ...F32X4_ADD, ...vStoreAt(at)];
  const scalar = [...get(0), ...get(0), ...F32_LOAD, ...get(1), ...F32_LOAD, ...get(3), ...F32_MUL, ...F32_ADD, ...F32_STORE];
  const code = [
    ...endOf(1, 2, -16, 4),
    ...endOf(1, 2, -4, 5),
    ...endOf(1, 2, -1, 6),
    ...get(3), ...F32X4_SPLAT, ...set(7),
    // Four vectors per turn: the loop's own bookkeeping would otherwise cost as much as the work.
    ...loop(1, 4, [...step(0), ...step(16), ...step(32), ...step(48)], [0, 1], 64),
    ...loop(1, 5, step(0), [0, 1], 16),
    ...loop(1, 6, scalar, [0, 1], 4),
    0x0b,
  ];
  const locals = vec([[3, I32], [1, V128]]);
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function finishBody(): number[] {
  // params: 0 out, 1 base, 2 sum, 3 n, 4 total; locals: 5 end8, 6 end2, 7 end (i32), 8 T (v128)
  // Two elements at a time: each pair is loaded straight into the low half (no shuffles, which
  // would compete with the conversions for the same execution port) and stored from there.
  const pair = (at: number) => [
    ...get(0),
    ...get(1), ...load64Zero(at), ...PROMOTE_LOW,
    ...get(2), ...load64Zero(at), ...PROMOTE_LOW,
    ...get(8), ...F64X2_DIV, ...F64X2_ADD, ...DEMOTE_ZERO,
    ...store64Lane0(at),
  ];
  const scalar = [...get(0), ...get(1), ...F32_LOAD, ...F64_PROMOTE, ...get(2), ...F32_LOAD, ...F64_PROMOTE, ...get(4), ...F64_DIV, ...F64_ADD, ...F32_DEMOTE, ...F32_STORE];
  const code = [
    ...endOf(1, 3, -8, 5),
    ...endOf(1, 3, -2, 6),
    ...endOf(1, 3, -1, 7),
    ...get(4), ...F64X2_SPLAT, ...set(8),
    ...loop(1, 5, [...pair(0), ...pair(8), ...pair(16), ...pair(24)], [0, 1, 2], 32),
    ...loop(1, 6, pair(0), [0, 1, 2], 8),
    ...loop(1, 7, scalar, [0, 1, 2], 4),
    0x0b,
  ];
  const locals = vec([[3, I32], [1, V128]]);
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function assemble(shared: boolean): Uint8Array {
  const types = section(1, vec([
    [0x60, ...vec([[I32], [I32], [I32], [F32]]), 0],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [F64]]), 0],
  ]));
  // Memory limits 0..65536 pages accept any memory the caller provides.
  const limits = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const funcs = section(3, vec([[0], [1]]));
  const exports = section(7, vec([[...name('axpy'), 0x00, 0], [...name('finish'), 0x00, 1]]));
  const code = section(10, vec([axpyBody(), finishBody()]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...funcs, ...exports, ...code]);
}

export interface SimdExports {
  /** `weight` is used as float32. */
  axpy(sumPtr: number, valPtr: number, n: number, weight: number): void;
  finish(outPtr: number, basePtr: number, sumPtr: number, n: number, total: number): void;
}

/**
 * The few WebAssembly JS-API members used here. TypeScript ships these types only in lib.dom,
 * which this Node project does not load, so they are declared locally.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

export const wasmApi: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const modules = new Map<boolean, object | null>();

/** The compiled module, or null where WebAssembly SIMD is unavailable (callers fall back to JS). */
export function simdModule(shared = false): object | null {
  if (!modules.has(shared)) {
    let compiled: object | null = null;
    try {
      compiled = wasmApi ? new wasmApi.Module(assemble(shared)) : null;
    } catch {
      compiled = null;
    }
    modules.set(shared, compiled);
  }
  return modules.get(shared)!;
}

/** Memory of `pages` 64 KiB pages (fixed size, so its buffer never changes), or null. */
export function createMemory(pages: number, shared = false): WasmMemory | null {
  if (!wasmApi) return null;
  try {
    return new wasmApi.Memory({ initial: pages, maximum: pages, shared });
  } catch {
    return null; // out of address space
  }
}

export function instantiate(memory: WasmMemory, shared = false): SimdExports | null {
  const module = simdModule(shared);
  if (!module || !wasmApi) return null;
  return new wasmApi.Instance(module, { env: { memory } }).exports as SimdExports;
}
