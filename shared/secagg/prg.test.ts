import { describe, expect, it } from 'vitest';
import { chachaKernel } from './chacha-kernel.js';
import { applyMask, applyMasks, applyMasksOpenSSL, expandMask } from './prg.js';

describe('mask PRG', () => {
  it('is the ChaCha20 keystream read as little-endian uint32 (RFC 8439 A.1 test vector 1)', () => {
    const mask = expandMask(new Uint8Array(32), 16);
    const expected = Buffer.from('76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586', 'hex');
    expect(Array.from(mask)).toEqual(Array.from({ length: 16 }, (_, i) => expected.readUInt32LE(4 * i)));
  });

  it('streams the same mask as it expands, across block boundaries', () => {
    const seed = new Uint8Array(32).map((_, i) => i * 13);
    const length = (1 << 18) * 2 + 12345;
    const mask = expandMask(seed, length);
    expect(Array.from(expandMask(seed, 1000))).toEqual(Array.from(mask.subarray(0, 1000)));
    const target = new Uint32Array(length).map((_, i) => i * 2654435761);
    const original = target.slice();
    applyMask(target, seed, 1);
    for (const i of [0, 1, (1 << 18) - 1, 1 << 18, length - 1]) expect(target[i]).toBe((original[i] + mask[i]) >>> 0);
    applyMask(target, seed, -1);
    expect(Buffer.from(target.buffer).equals(Buffer.from(original.buffer))).toBe(true);
  });

  it('applies many masks in one pass exactly as one after another, from a separate source', () => {
    const length = (1 << 16) * 3 + 7;
    const seeds = [3, 5, 7, 11].map((k) => new Uint8Array(32).map((_, i) => i * k));
    const signs = [1, -1, -1, 1] as const;
    const source = new Uint32Array(length).map((_, i) => i * 2654435761);
    const expected = source.slice();
    seeds.forEach((seed, k) => {
      const mask = expandMask(seed, length);
      for (let i = 0; i < length; i++) expected[i] = (expected[i] + signs[k] * mask[i]) >>> 0;
    });
    const masks = seeds.map((seed, k) => ({ seed, sign: signs[k] }));
    // The WebAssembly kernel (where this Node has SIMD, as every Node 20 does) and the OpenSSL path.
    expect(chachaKernel(65536)).not.toBeNull();
    for (const apply of [applyMasks, applyMasksOpenSSL]) {
      const target = new Uint32Array(length);
      apply(target, masks, source);
      expect(Buffer.from(target.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(source[1]).toBe(2654435761);
      expect(() => apply(target, [], source.subarray(1))).toThrow(/cannot mask/);
    }
  });

  it('masks vectors shorter than a group of four blocks, and of every length around one', () => {
    const seed = new Uint8Array(32).fill(9);
    const mask = expandMask(seed, 200);
    for (const length of [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200]) {
      const target = new Uint32Array(length).fill(7);
      applyMasks(target, [{ seed, sign: -1 }]);
      expect(Array.from(target)).toEqual(Array.from(mask.subarray(0, length), (m) => (7 - m) >>> 0));
    }
  });

  it('different seeds give different masks; bad seeds are refused', () => {
    const a = expandMask(new Uint8Array(32).fill(1), 64);
    const b = expandMask(new Uint8Array(32).fill(2), 64);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(() => expandMask(new Uint8Array(16), 4)).toThrow(/seed must be 32 bytes/);
  });
});
