import { describe, expect, it } from 'vitest';
import { concatSets, partitionIndices, subset } from './partition.js';
import { Random } from './random.js';
import type { ImageSet } from './types.js';

function randomLabels(n: number, classes: number, seed: number): Int32Array {
  const rng = new Random(seed);
  return Int32Array.from({ length: n }, () => rng.int(classes));
}

function checkCover(parts: Int32Array[], n: number): void {
  const seen = new Uint8Array(n);
  for (const p of parts) {
    for (const i of p) {
      expect(seen[i]).toBe(0);
      seen[i] = 1;
    }
  }
  expect(seen.every((v) => v === 1)).toBe(true);
}

function fractions(parts: Int32Array[], labels: Int32Array, cls: number): number[] {
  return parts.map((p) => p.reduce((a, i) => a + (labels[i] === cls ? 1 : 0), 0) / p.length);
}

describe('partitionIndices', () => {
  const labels = randomLabels(1000, 3, 1);

  it('iid: disjoint, complete, near-equal sizes, similar label mix', () => {
    const parts = partitionIndices(labels, 3, { sites: 4, scheme: 'iid', seed: 5 });
    checkCover(parts, labels.length);
    expect(parts.map((p) => p.length)).toEqual([250, 250, 250, 250]);
    const f = fractions(parts, labels, 0);
    expect(Math.max(...f) - Math.min(...f)).toBeLessThan(0.12);
  });

  it('label-skew: disjoint, complete, no empty site, and skewed', () => {
    const parts = partitionIndices(labels, 3, { sites: 5, scheme: 'label-skew', seed: 5, alpha: 0.3 });
    checkCover(parts, labels.length);
    for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(10);
    const f = fractions(parts, labels, 0);
    expect(Math.max(...f) - Math.min(...f)).toBeGreaterThan(0.3);
  });

  it('keeps every site non-empty even with tiny alpha and many sites', () => {
    const small = randomLabels(60, 2, 9);
    for (let seed = 0; seed < 20; seed++) {
      const parts = partitionIndices(small, 2, { sites: 6, scheme: 'label-skew', seed, alpha: 0.01 });
      checkCover(parts, small.length);
      for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(5);
    }
  });

  it('is deterministic and seed-dependent', () => {
    const opts = { sites: 3, scheme: 'label-skew' as const, seed: 11 };
    expect(partitionIndices(labels, 3, opts)).toEqual(partitionIndices(labels, 3, opts));
    expect(partitionIndices(labels, 3, opts)).not.toEqual(partitionIndices(labels, 3, { ...opts, seed: 12 }));
    const iid = { sites: 3, scheme: 'iid' as const, seed: 11 };
    expect(partitionIndices(labels, 3, iid)).toEqual(partitionIndices(labels, 3, iid));
  });

  it('rejects impossible requests clearly', () => {
    expect(() => partitionIndices(Int32Array.from([0, 1]), 2, { sites: 3, scheme: 'iid', seed: 1 })).toThrow(/cannot split 2 examples across 3 sites/);
    expect(() => partitionIndices(labels, 3, { sites: 0, scheme: 'iid', seed: 1 })).toThrow(/sites must be/);
    expect(() => partitionIndices(labels, 3, { sites: 2, scheme: 'bogus' as 'iid', seed: 1 })).toThrow(/unknown scheme 'bogus'/);
  });
});

describe('subset and concatSets', () => {
  const set: ImageSet = {
    images: Float32Array.from({ length: 4 * 2 * 2 }, (_, i) => i / 16),
    labels: Int32Array.from([0, 1, 0, 1]),
    count: 4,
    height: 2,
    width: 2,
    channels: 1,
    classes: 2,
  };

  it('copies the chosen rows in order', () => {
    const s = subset(set, [3, 1]);
    expect(s.count).toBe(2);
    expect([...s.labels]).toEqual([1, 1]);
    expect([...s.images.subarray(0, 4)]).toEqual([...set.images.subarray(12, 16)]);
    expect([...s.images.subarray(4, 8)]).toEqual([...set.images.subarray(4, 8)]);
    expect(() => subset(set, [4])).toThrow(/outside 0..3/);
  });

  it('concatenates sets', () => {
    const c = concatSets([subset(set, [0]), subset(set, [1, 2])]);
    expect(c.count).toBe(3);
    expect([...c.labels]).toEqual([0, 1, 0]);
    expect([...c.images]).toEqual([...set.images.subarray(0, 12)]);
  });
});
