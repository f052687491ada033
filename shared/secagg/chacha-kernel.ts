import { endianness } from 'node:os';
import { get, I32, i32c, instantiate, loop, set, simd, V128, vLoad, vStore, type FunctionDef } from '../runtime/wasm-asm.js';

/**
 * ChaCha20 (RFC 8439, zero nonce) in WebAssembly SIMD, its keystream added to (or subtracted
 * from) words already in WebAssembly memory, four blocks at a time (one block per i32x4 lane).
 *
 * Why not Node's OpenSSL ChaCha20, which computes the keystream about four times faster
 * (AVX-512)? Because cipher.update hands every byte back in a new ArrayBuffer (allocated, zero
 * filled, copied once more inside Node 20): 80 MiB of short-lived external memory per site per
 * round at 20 x 1M. Profiled across the 20 agents of the secagg benchmark, that allocation, the
 * page faults and the extra major GCs it set off (some finishing in the next round) cost about
 * three times the cipher itself. Here the keystream never leaves registers. In the benchmark the
 * secure rounds took about 10% less time than with the OpenSSL path, and the plain rounds after
 * them were faster too. Agents now mask with OpenSSL after all, on a worker thread whose heap is
 * too small for that garbage to cost much (mask-thread.ts); this kernel serves maskInput on the
 * caller's thread (tests, tools) and the fallback where no worker starts. (The coordinator's
 * unmask uses OpenSSL: it runs alone at the end of the round, where wall time counts and a core
 * is free for the GC; see prg.ts.) It runs at about 0.9 GB/s here, near what 128-bit SIMD allows with three
 * instructions per 12- and 7-bit rotation (a row-per-vector layout, free of register spills,
 * measured the same).
 *
 *   maskAdd(dst, groups, k0..k7, counter): for each group g < groups, the keystream of blocks
 *   counter + 4g .. counter + 4g + 3 (64 words) is added to the 64 words at dst + 256g;
 *   maskSub subtracts it.
 *
 * prg.test.ts checks it against Node's ChaCha20, itself checked against RFC 8439.
 */

const I32X4_ADD = simd(0xae);
const V128_XOR = simd(0x51);
const V128_OR = simd(0x50);
const I32X4_SPLAT = simd(0x11);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes);
/** Byte orders that rotate each 32-bit lane left by 16 and by 8 bits (little-endian lanes). */
const ROTL16 = shuffle([2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13]);
const ROTL8_BYTES = [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14];

// Locals: params 0 dst, 1 groups, 2..9 key words, 10 counter; 11 end, 12 round; 13..28 x0..x15.
const DST = 0;
const GROUPS = 1;
const KEY = 2;
const COUNTER = 10;
const END = 11;
const ROUND = 12;
const X = 13;
const x = (i: number) => X + i;

/** "expand 32-byte k" */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

/**
 * Rotations: by 16 as a 16-bit lane shuffle (V8 emits pshuflw + pshufhw); by 8 as a byte swizzle
 * of a constant index vector (V8 keeps the constant in a register and emits one pshufb; the same
 * rotation as an i8x16.shuffle rebuilds its mask from immediates every time, about 10% slower
 * overall); by 12 and 7 as shift, shift, or.
 */
function rotl(v: number, bits: number): number[] {
  if (bits === 16) return [...get(v), ...get(v), ...ROTL16, ...set(v)];
  if (bits === 8) return [...get(v), ...simd(0x0c, ...ROTL8_BYTES) /* v128.const */, ...simd(0x0e) /* i8x16.swizzle */, ...set(v)];
  return [...get(v), ...i32c(bits), ...simd(0xab) /* i32x4.shl */, ...get(v), ...i32c(32 - bits), ...simd(0xad) /* i32x4.shr_u */, ...V128_OR, ...set(v)];
}

function quarterRound(a: number, b: number, c: number, d: number): number[] {
  const addXorRot = (p: number, q: number, r: number, bits: number) => [
    ...get(x(p)), ...get(x(q)), ...I32X4_ADD, ...set(x(p)),
    ...get(x(r)), ...get(x(p)), ...V128_XOR, ...set(x(r)),
    ...rotl(x(r), bits),
  ];
  return [...addXorRot(a, b, d, 16), ...addXorRot(c, d, b, 12), ...addXorRot(a, b, d, 8), ...addXorRot(c, d, b, 7)];
}

/** Word i of the initial state of the four blocks, as a vector. */
function initial(i: number): number[] {
  if (i < 4) return [...i32c(SIGMA[i] | 0), ...I32X4_SPLAT];
  if (i < 12) return [...get(KEY + i - 4), ...I32X4_SPLAT];
  if (i === 12) {
    // counter + (0, 1, 2, 3): one block per lane.
    const lanes = new Uint8Array(Int32Array.of(0, 1, 2, 3).buffer);
    return [...get(COUNTER), ...I32X4_SPLAT, ...simd(0x0c, ...lanes) /* v128.const */, ...I32X4_ADD];
  }
  return [...i32c(0), ...I32X4_SPLAT]; // the zero nonce
}

function maskFunction(name: string, combine: number[]): FunctionDef {
  const doubleRound = [
    ...quarterRound(0, 4, 8, 12), ...quarterRound(1, 5, 9, 13), ...quarterRound(2, 6, 10, 14), ...quarterRound(3, 7, 11, 15),
    ...quarterRound(0, 5, 10, 15), ...quarterRound(1, 6, 11, 12), ...quarterRound(2, 7, 8, 13), ...quarterRound(3, 4, 9, 14),
  ];
  const rounds = [
    ...i32c(0), ...set(ROUND),
    0x03, 0x40, // loop
    ...doubleRound,
    ...get(ROUND), ...i32c(1), 0x6a, 0x22 /* local.tee */, ROUND, ...i32c(10), 0x49 /* i32.lt_u */, 0x0d, 0, // br_if loop
    0x0b,
  ];
  // Feed-forward, then a 4x4 transpose per quarter of the state: lane k of x[4q .. 4q + 3] is
  // words 4q .. 4q + 3 of block k, which go to dst at byte 64k + 16q.
  const lo32 = shuffle([0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23]);
  const hi32 = shuffle([8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31]);
  const lo64 = shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
  const hi64 = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31]);
  const output: number[] = [];
  for (let i = 0; i < 16; i++) output.push(...get(x(i)), ...initial(i), ...I32X4_ADD, ...set(x(i)));
  for (let q = 0; q < 4; q++) {
    const [a, b, c, d] = [x(4 * q), x(4 * q + 1), x(4 * q + 2), x(4 * q + 3)];
    // t0 = (a0 b0 a1 b1), t1 = (c0 d0 c1 d1), t2 = (a2 b2 a3 b3), t3 = (c2 d2 c3 d3), kept in a..d.
    output.push(...get(a), ...get(b), ...lo32, ...get(a), ...get(b), ...hi32, ...set(b), ...set(a));
    output.push(...get(c), ...get(d), ...lo32, ...get(c), ...get(d), ...hi32, ...set(d), ...set(c));
    const rows = [
      [...get(a), ...get(c), ...lo64],
      [...get(a), ...get(c), ...hi64],
      [...get(b), ...get(d), ...lo64],
      [...get(b), ...get(d), ...hi64],
    ];
    rows.forEach((row, k) => {
      const at = 64 * k + 16 * q;
      output.push(...get(DST), ...get(DST), ...vLoad(at), ...row, ...combine, ...vStore(at));
    });
  }
  const group = [...Array.from({ length: 16 }, (_, i) => [...initial(i), ...set(x(i))]).flat(), ...rounds, ...output, ...get(COUNTER), ...i32c(4), 0x6a, ...set(COUNTER)];
  return {
    name,
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [[2, I32], [16, V128]],
    code: [
      // end = dst + 256 * groups
      ...get(DST), ...get(GROUPS), ...i32c(8), 0x74 /* i32.shl */, 0x6a, ...set(END),
      ...loop(DST, END, group, [DST], 256),
    ],
  };
}

type Mask = (dst: number, groups: number, k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number, counter: number) => void;

export interface ChachaKernel {
  /** The memory the kernel works in, and its add/subtract entry points (byte addresses). */
  readonly memory: ArrayBuffer;
  maskAdd: Mask;
  maskSub: Mask;
}

/** Compiles the kernel over a new memory of `bytes`, or null without WebAssembly SIMD (or on big-endian hosts). */
export function chachaKernel(bytes: number): ChachaKernel | null {
  if (endianness() !== 'LE') return null;
  const wasm = instantiate<{ maskAdd: Mask; maskSub: Mask }>([maskFunction('maskAdd', I32X4_ADD), maskFunction('maskSub', simd(0xb1))], bytes);
  return wasm && { memory: wasm.memory, maskAdd: wasm.exports.maskAdd, maskSub: wasm.exports.maskSub };
}
