import { endianness } from 'node:os';
import { endOf, get, I32, I32_ADD, instantiate, loop, simd, vLoad, vStore, type FunctionDef } from '../runtime/wasm-asm.js';

/**
 * Wrapping uint32 adds over long vectors: the coordinator folds every masked input into its
 * running sum with them (addModular), and masking on Node's ChaCha20 (prg.ts, where the
 * WebAssembly kernel is missing) adds keystream with them. V8 runs the plain JS loop at about
 * 3.6 ns per word on the benchmark machine; a WebAssembly i32x4 loop runs at memory speed, even
 * counting the copy of the operand into WebAssembly memory (together about 0.3 ns per word):
 *
 *   add(dst, src, n): dst[i] = dst[i] + src[i] mod 2^32     (i32x4.add)
 *   sub(dst, src, n): dst[i] = dst[i] - src[i] mod 2^32     (i32x4.sub)
 *
 * Operands live in one fixed scratch window of WebAssembly memory (`acc` and `src` below), so
 * callers work chunk by chunk: copy in, add one or many operands, copy out. Where WebAssembly SIMD
 * is missing, or on a big-endian host (WebAssembly memory is little-endian, typed arrays native),
 * the same interface runs plain JS loops: results are identical either way.
 */

/** Words per chunk: acc and src together (512 KiB) stay in a core's L2 while many operands pass. */
export const CHUNK_WORDS = 1 << 16;

export interface WordLanes {
  /** The accumulator: CHUNK_WORDS words. */
  readonly acc: Uint32Array;
  /** The operand: CHUNK_WORDS words, and the same memory as bytes (for copying keystream in). */
  readonly src: Uint32Array;
  readonly srcBytes: Uint8Array;
  /** acc[i] += src[i] mod 2^32 for i < n. */
  add(n: number): void;
  /** acc[i] -= src[i] mod 2^32 for i < n. */
  sub(n: number): void;
}

/** One function (dst, src, n) applying `vectorOp` (i32x4.add/sub) and `scalarOp` (i32.add/sub). */
function kernel(exportName: string, vectorOp: number, scalarOp: number): FunctionDef {
  // params: 0 dst, 1 src, 2 n; locals: 3 end of the 16-word part, 4 end of the 4-word part, 5 end.
  const step = (at: number) => [...get(0), ...get(0), ...vLoad(at), ...get(1), ...vLoad(at), ...simd(vectorOp), ...vStore(at)];
  const scalar = [...get(0), ...get(0), 0x28, 2, 0 /* i32.load */, ...get(1), 0x28, 2, 0, scalarOp, 0x36, 2, 0 /* i32.store */];
  return {
    name: exportName,
    params: [I32, I32, I32],
    results: [],
    locals: [[3, I32]],
    code: [
      ...endOf(1, 2, -16, 2, 3),
      ...endOf(1, 2, -4, 2, 4),
      ...endOf(1, 2, -1, 2, 5),
      // Four vectors per turn: the loop's own bookkeeping would otherwise cost as much as the work.
      ...loop(1, 3, [...step(0), ...step(16), ...step(32), ...step(48)], [0, 1], 64),
      ...loop(1, 4, step(0), [0, 1], 16),
      ...loop(1, 5, scalar, [0, 1], 4),
    ],
  };
}

type Kernel = (dst: number, src: number, n: number) => void;

function wasmLanes(): WordLanes | null {
  if (endianness() !== 'LE') return null;
  const bytes = CHUNK_WORDS * 4;
  const wasm = instantiate<{ add: Kernel; sub: Kernel }>([kernel('add', 0xae /* i32x4.add */, I32_ADD), kernel('sub', 0xb1 /* i32x4.sub */, 0x6b /* i32.sub */)], 2 * bytes);
  if (!wasm) return null;
  const { add, sub } = wasm.exports;
  return {
    acc: new Uint32Array(wasm.memory, 0, CHUNK_WORDS),
    src: new Uint32Array(wasm.memory, bytes, CHUNK_WORDS),
    srcBytes: new Uint8Array(wasm.memory, bytes, bytes),
    add: (n) => add(0, bytes, n),
    sub: (n) => sub(0, bytes, n),
  };
}

/** The same lanes as plain JS loops. Exported for tests, to check the WebAssembly ones against. */
export function jsWordLanes(): WordLanes {
  const acc = new Int32Array(CHUNK_WORDS);
  const src = new Int32Array(CHUNK_WORDS);
  return {
    acc: new Uint32Array(acc.buffer),
    src: new Uint32Array(src.buffer),
    srcBytes: new Uint8Array(src.buffer),
    add: (n) => {
      for (let i = 0; i < n; i++) acc[i] = (acc[i] + src[i]) | 0;
    },
    sub: (n) => {
      for (let i = 0; i < n; i++) acc[i] = (acc[i] - src[i]) | 0;
    },
  };
}

let lanes: WordLanes | undefined;

/**
 * The process's one scratch window. Every user fills and drains it within one synchronous call,
 * so sharing it is safe (a worker thread loads its own copy of this module).
 */
export function wordLanes(): WordLanes {
  lanes ??= wasmLanes() ?? jsWordLanes();
  return lanes;
}

/** target[offset + i] += sign * values[i] mod 2^32, a chunk at a time through the lanes. */
export function foldWords(target: Uint32Array, values: Uint32Array, offset: number, sign: 1 | -1): void {
  const l = wordLanes();
  for (let start = 0; start < values.length; start += CHUNK_WORDS) {
    const n = Math.min(CHUNK_WORDS, values.length - start);
    const at = offset + start;
    l.acc.set(target.subarray(at, at + n));
    l.src.set(values.subarray(start, start + n));
    if (sign === 1) l.add(n);
    else l.sub(n);
    target.set(l.acc.subarray(0, n), at);
  }
}
