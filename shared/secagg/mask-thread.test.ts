import { describe, expect, it } from 'vitest';
import { applyMasksOffThread } from './mask-thread.js';
import { applyMasks, expandMask } from './prg.js';

describe('masking on the masking thread', () => {
  const length = (1 << 16) * 2 + 37; // two whole chunks and a tail short of a block group
  const source = new Uint32Array(length).map((_, i) => i * 2654435761);
  const masksFor = (k: number) => [1, 2, 3].map((j) => ({ seed: new Uint8Array(32).map((_, i) => i * (k + 1) + j * 7), sign: (j % 2 ? 1 : -1) as 1 | -1 }));

  it('gives exactly what applyMasks gives, leaving the source and the seeds as they were', async () => {
    const masks = masksFor(0);
    const seedsBefore = masks.map((m) => m.seed.slice());
    const sourceBefore = source.slice();
    const expected = new Uint32Array(length);
    applyMasks(expected, masks, source);
    const masked = await applyMasksOffThread(masks, source);
    expect(masked).toHaveLength(length);
    expect(Buffer.from(masked.buffer, masked.byteOffset, masked.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
    // The keystream really was added: spot-check one word against the masks expanded by hand.
    const sum = masks.reduce((acc, m) => (acc + m.sign * expandMask(m.seed, length)[length - 1]) >>> 0, source[length - 1]);
    expect(masked[length - 1]).toBe(sum);
    expect(Buffer.from(source.buffer).equals(Buffer.from(sourceBefore.buffer))).toBe(true);
    masks.forEach((m, i) => expect(Array.from(m.seed)).toEqual(Array.from(seedsBefore[i])));
  });

  it('leaves a seed that is a view into a larger Buffer usable by its owner', async () => {
    const backing = Buffer.alloc(96, 5);
    const seed = backing.subarray(32, 64).fill(9);
    const masks = [{ seed, sign: 1 as const }];
    const expected = new Uint32Array(length);
    applyMasks(expected, masks, source);
    const masked = await applyMasksOffThread(masks, source);
    expect(Buffer.from(masked.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // Nothing of the owner's buffer was transferred away (detached) or changed.
    expect(backing.byteLength).toBe(96);
    expect([...backing.subarray(0, 32)].every((b) => b === 5) && [...seed].every((b) => b === 9)).toBe(true);
  });

  it('keeps concurrent jobs apart', async () => {
    const jobs = [0, 1, 2, 3].map((k) => ({ masks: masksFor(k), source: source.map((v) => (v + k) >>> 0) }));
    const results = await Promise.all(jobs.map((j) => applyMasksOffThread(j.masks, j.source)));
    jobs.forEach((j, k) => {
      const expected = new Uint32Array(length);
      applyMasks(expected, j.masks, j.source);
      expect(Buffer.from(results[k].buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    });
  });

  it('refuses a malformed seed with the same RangeError as applyMasks, and keeps working after it', async () => {
    await expect(applyMasksOffThread([{ seed: new Uint8Array(31), sign: 1 }], source)).rejects.toThrow(RangeError);
    await expect(applyMasksOffThread([{ seed: new Uint8Array(31), sign: 1 }], source)).rejects.toThrow(/mask seed must be 32 bytes, got 31/);
    const masks = masksFor(5);
    const expected = new Uint32Array(length);
    applyMasks(expected, masks, source);
    const masked = await applyMasksOffThread(masks, source);
    expect(Buffer.from(masked.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });
});
