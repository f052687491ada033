/**
 * Just enough of a WebAssembly assembler for the secure-aggregation kernels (word-lanes.ts,
 * quantize-kernel.ts): modules of a few hundred bytes written out byte by byte, as
 * coordinator/aggregation/simd-kernel.ts does, because a wat2wasm build step would be a heavier
 * dependency than these files. Each module imports one memory as env.memory and exports functions.
 */

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => vec([...s].map((c) => [c.charCodeAt(0)]));

export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const i32c = (n: number) => [0x41, ...sleb(n)];
export const f64c = (x: number) => [0x44, ...new Uint8Array(Float64Array.of(x).buffer)];
/** A SIMD instruction: 0xfd prefix, opcode, immediates (memarg or lane). */
export const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
/** v128.load / v128.store at a byte offset from the address on the stack. */
export const vLoad = (offset: number) => simd(0x00, 0, ...uleb(offset));
export const vStore = (offset: number) => simd(0x0b, 0, ...uleb(offset));
export const I32_ADD = 0x6a;

/** `while (ptr < end) { body; ptr += step for each of bumps }` as block/loop/br_if. */
export function loop(ptr: number, end: number, body: number[], bumps: number[], step: number): number[] {
  const bump = bumps.flatMap((p) => [...get(p), ...i32c(step), I32_ADD, ...set(p)]);
  return [0x02, 0x40, 0x03, 0x40, ...get(ptr), ...get(end), 0x4f /* i32.ge_u */, 0x0d, 1, ...body, ...bump, 0x0c, 0, 0x0b, 0x0b];
}

/** Sets local `end` to `ptr` plus `shift`-scaled bytes for the first (n & mask) elements. */
export function endOf(ptr: number, n: number, mask: number, shift: number, end: number): number[] {
  return [...get(ptr), ...get(n), ...i32c(mask), 0x71 /* i32.and */, ...i32c(shift), 0x74 /* i32.shl */, I32_ADD, ...set(end)];
}

export interface FunctionDef {
  name: string;
  params: number[];
  results: number[];
  /** Extra locals as [count, type] runs. */
  locals: [number, number][];
  code: number[];
}

export function assemble(functions: FunctionDef[]): Uint8Array {
  const types = section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))])));
  // Memory limits 0..65536 pages accept whatever memory the caller provides.
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0]]));
  const funcs = section(3, vec(functions.map((_, i) => uleb(i))));
  const exports = section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])));
  const bodies = functions.map((f) => {
    const body = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const code = section(10, vec(bodies));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...funcs, ...exports, ...code]);
}

/** The few WebAssembly JS-API members used (TypeScript declares them only in lib.dom). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
}

/**
 * A fixed-size memory (its buffer never changes) and the module's exports over it, or null where
 * WebAssembly or its SIMD is missing: callers then run plain JS loops with the same results.
 */
export function instantiate<T>(functions: FunctionDef[], bytes: number): { memory: ArrayBuffer; exports: T } | null {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) return null;
  try {
    const pages = Math.ceil(bytes / 65536);
    const memory = new api.Memory({ initial: pages, maximum: pages });
    const instance = new api.Instance(new api.Module(assemble(functions)), { env: { memory } });
    return { memory: memory.buffer, exports: instance.exports as T };
  } catch {
    return null;
  }
}
