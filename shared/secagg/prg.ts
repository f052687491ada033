import { createCipheriv, type Cipher } from 'node:crypto';
import { endianness } from 'node:os';
import { chachaKernel, type ChachaKernel } from './chacha-kernel.js';
import { CHUNK_WORDS, wordLanes } from './word-lanes.js';

/**
 * The mask generator: a 32-byte seed expands to a ChaCha20 keystream (zero IV and counter), read
 * as little-endian uint32s. Site and coordinator expand the same seed to the same mask, so a mask
 * added by one is removed by the other. With 20 sites every site expands 20 masks per round.
 *
 * The IV is fixed because every seed is used for exactly one mask: self-mask seeds are fresh per
 * round, and pairwise seeds are hashes bound to the round and the two sites.
 */

export const SEED_BYTES = 32;

/** One mask to add (sign 1) or subtract (sign -1). */
export interface MaskSpec {
  seed: Uint8Array;
  sign: 1 | -1;
}

const ZEROS = Buffer.alloc(CHUNK_WORDS * 4);
const LITTLE_ENDIAN = endianness() === 'LE';
// ChaCha20 has a 32-bit block counter of 64-byte blocks: 256 GiB of keystream per seed.
const MAX_WORDS = 2 ** 36;
/** Words per ChaCha20 block, and per group of four blocks (one kernel step). */
const BLOCK_WORDS = 16;
const GROUP_WORDS = 64;

function checkSeed(seed: Uint8Array): void {
  if (seed.length !== SEED_BYTES) throw new RangeError(`mask seed must be ${SEED_BYTES} bytes, got ${seed.length}`);
}

function keystream(seed: Uint8Array): Cipher {
  checkSeed(seed);
  return createCipheriv('chacha20', seed, Buffer.alloc(16));
}

/** The next `words` keystream words as bytes in native order (what a Uint32Array over them reads). */
function nextBytes(cipher: Cipher, words: number): Buffer {
  const bytes = cipher.update(ZEROS.subarray(0, words * 4));
  if (!LITTLE_ENDIAN) bytes.swap32();
  return bytes;
}

function checkLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_WORDS) throw new RangeError(`mask length must be an integer in 0..2^36, got ${length}`);
}

/** The whole mask for `seed` (Node's OpenSSL ChaCha20): for tests and small vectors. */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  checkLength(length);
  const cipher = keystream(seed);
  const out = new Uint32Array(length);
  const bytes = new Uint8Array(out.buffer);
  for (let start = 0; start < length; start += CHUNK_WORDS) bytes.set(nextBytes(cipher, Math.min(CHUNK_WORDS, length - start)), start * 4);
  return out;
}

/** The chunk window (CHUNK_WORDS) and a one-group tail window in the kernel's memory. */
interface KernelWindows {
  kernel: ChachaKernel;
  acc: Uint32Array;
  tail: Uint32Array;
}

let windows: KernelWindows | null | undefined;

function kernelWindows(): KernelWindows | null {
  if (windows === undefined) {
    const kernel = chachaKernel(CHUNK_WORDS * 4 + GROUP_WORDS * 4);
    windows = kernel && { kernel, acc: new Uint32Array(kernel.memory, 0, CHUNK_WORDS), tail: new Uint32Array(kernel.memory, CHUNK_WORDS * 4, GROUP_WORDS) };
  }
  return windows;
}

/**
 * target = source + sum of sign * expandMask(seed, length) over `masks`, mod 2^32. `source` is
 * target itself by default (in place) or a separate array, not another view overlapping it.
 *
 * One pass over the vector, a chunk at a time: the chunk is copied into WebAssembly memory once,
 * the ChaCha20 kernel adds every mask's keystream for it there, and the chunk is copied out once.
 * Masking one mask at a time, as before, cost a pass over the vector per mask plus a JS add loop
 * (3.6 ns per word) as slow as the cipher. On a thread with a large heap this is the path with
 * the least CPU all told; applyMasksOpenSSL is the one with the least wall time, and the least
 * CPU on a slim thread, which is where agents run it (mask-thread.ts; chacha-kernel.ts weighs
 * the two). Without WebAssembly SIMD it falls back to that one.
 */
export function applyMasks(target: Uint32Array, masks: readonly MaskSpec[], source: Uint32Array = target): void {
  checkMasks(target, masks, source);
  const w = kernelWindows();
  if (w) applyWithKernel(w, target, masks, source);
  else applyMasksOpenSSL(target, masks, source);
}

function checkMasks(target: Uint32Array, masks: readonly MaskSpec[], source: Uint32Array): void {
  for (const { sign } of masks) if (sign !== 1 && sign !== -1) throw new RangeError(`mask sign must be 1 or -1, got ${sign}`);
  for (const { seed } of masks) checkSeed(seed);
  checkLength(target.length);
  if (source.length !== target.length) throw new RangeError(`cannot mask ${source.length} values into a vector of ${target.length}`);
}

function applyWithKernel({ kernel, acc, tail }: KernelWindows, target: Uint32Array, masks: readonly MaskSpec[], source: Uint32Array): void {
  const keys = masks.map(({ seed }) => {
    const view = new DataView(seed.buffer, seed.byteOffset, SEED_BYTES);
    return Array.from({ length: 8 }, (_, i) => view.getUint32(4 * i, true));
  });
  const tailAt = CHUNK_WORDS * 4;
  for (let start = 0; start < target.length; start += CHUNK_WORDS) {
    const n = Math.min(CHUNK_WORDS, target.length - start);
    const whole = n - (n % GROUP_WORDS);
    acc.set(source.subarray(start, start + n));
    // The vector's last words, short of a whole group of blocks, are masked in the tail window.
    const rest = n - whole;
    if (rest > 0) {
      tail.fill(0);
      tail.set(acc.subarray(whole, n));
    }
    const counter = start / BLOCK_WORDS;
    for (let m = 0; m < masks.length; m++) {
      const apply = masks[m].sign === 1 ? kernel.maskAdd : kernel.maskSub;
      const [k0, k1, k2, k3, k4, k5, k6, k7] = keys[m];
      apply(0, whole / GROUP_WORDS, k0, k1, k2, k3, k4, k5, k6, k7, counter);
      if (rest > 0) apply(tailAt, 1, k0, k1, k2, k3, k4, k5, k6, k7, counter + whole / BLOCK_WORDS);
    }
    if (rest > 0) acc.set(tail.subarray(0, rest), whole);
    target.set(acc.subarray(0, n), start);
  }
  for (const key of keys) key.fill(0);
}

/**
 * applyMasks on Node's OpenSSL ChaCha20 and the word lanes: about twice as fast in wall time (4.6
 * against 2.3 ms per 1M-word mask here), at the price of a fresh buffer for every keystream byte
 * and the GC work that follows. For the coordinator's unmask: it runs at the end of the round,
 * on the critical path, with the sites idle and a core free for the GC.
 */
export function applyMasksOpenSSL(target: Uint32Array, masks: readonly MaskSpec[], source: Uint32Array = target): void {
  checkMasks(target, masks, source);
  const ciphers = masks.map((mask) => keystream(mask.seed));
  const lanes = wordLanes();
  for (let start = 0; start < target.length; start += CHUNK_WORDS) {
    const n = Math.min(CHUNK_WORDS, target.length - start);
    lanes.acc.set(source.subarray(start, start + n));
    for (let m = 0; m < masks.length; m++) {
      lanes.srcBytes.set(nextBytes(ciphers[m], n));
      if (masks[m].sign === 1) lanes.add(n);
      else lanes.sub(n);
    }
    target.set(lanes.acc.subarray(0, n), start);
  }
}

/** target += sign * expandMask(seed, target.length) mod 2^32. */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  applyMasks(target, [{ seed, sign }]);
}
