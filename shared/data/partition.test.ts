import { describe, expect, it } from 'vitest';
import { concatSets, parsePartition, partitionIndices, partitionPlan, subset } from './partition.js';
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

describe('parsePartition', () => {
  it('accepts every documented form and returns it canonically', () => {
    expect(parsePartition('iid')).toBe('iid');
    expect(parsePartition('by-label')).toBe('by-label');
    expect(parsePartition('label-skew')).toBe('label-skew');
    expect(parsePartition('dirichlet:0.5')).toBe('dirichlet:0.5');
    expect(parsePartition(' dirichlet:.30 ')).toBe('dirichlet:0.3');
    expect(parsePartition('dirichlet:1e2')).toBe('dirichlet:100');
  });

  it('names the bad value and the accepted forms', () => {
    expect(() => parsePartition('dirichlet')).toThrow(/partition 'dirichlet' is not known; use 'iid', 'dirichlet:ALPHA'.*'by-label'/);
    expect(() => parsePartition('dirichlet:')).toThrow(/'dirichlet:'.*number above 0/);
    expect(() => parsePartition('dirichlet:0')).toThrow(/'dirichlet:0'.*number above 0/);
    expect(() => parsePartition('dirichlet:-1')).toThrow(/number above 0/);
    expect(() => parsePartition('dirichlet:abc')).toThrow(/number above 0/);
    expect(() => parsePartition('dirichlet:Infinity')).toThrow(/number above 0/);
    expect(() => parsePartition('bylabel')).toThrow(/'bylabel' is not known/);
  });

  it('label-skew is dirichlet:0.5', () => {
    expect(partitionPlan('label-skew')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(partitionPlan('dirichlet:2')).toEqual({ kind: 'dirichlet', alpha: 2 });
    expect(partitionPlan('by-label')).toEqual({ kind: 'by-label' });
  });
});

describe('partitionIndices: dirichlet:ALPHA and by-label', () => {
  const labels = randomLabels(3000, 3, 2);

  /** Mean over sites of the largest class share: 1/3 for a perfect mix, 1 for one class per site. */
  function dominance(parts: Int32Array[]): number {
    const shares = parts.map((p) => Math.max(...[0, 1, 2].map((c) => p.reduce((a, i) => a + (labels[i] === c ? 1 : 0), 0) / p.length)));
    return shares.reduce((a, b) => a + b, 0) / shares.length;
  }

  it('dirichlet:0.5 splits exactly as label-skew does', () => {
    const opts = { sites: 7, seed: 3 };
    expect(partitionIndices(labels, 3, { ...opts, scheme: 'dirichlet:0.5' })).toEqual(partitionIndices(labels, 3, { ...opts, scheme: 'label-skew' }));
  });

  it('dirichlet: disjoint, complete, and more skewed the smaller alpha is', () => {
    const skew = (alpha: number) => {
      const parts = partitionIndices(labels, 3, { sites: 10, seed: 8, scheme: `dirichlet:${alpha}` });
      checkCover(parts, labels.length);
      return dominance(parts);
    };
    const [tiny, half, large] = [skew(0.05), skew(0.5), skew(1000)];
    expect(tiny).toBeGreaterThan(half);
    expect(half).toBeGreaterThan(large);
    expect(tiny).toBeGreaterThan(0.8);
    expect(large).toBeLessThan(0.45);
  });

  it('by-label: site i holds only class i mod classes, each class split evenly among its sites', () => {
    const parts = partitionIndices(labels, 3, { sites: 7, seed: 4, scheme: 'by-label' });
    checkCover(parts, labels.length);
    parts.forEach((p, site) => {
      expect(p.length).toBeGreaterThan(0);
      for (const i of p) expect(labels[i]).toBe(site % 3);
    });
    const total = (c: number) => labels.filter((y) => y === c).length;
    // Class 0 is held by sites 0, 3 and 6: three near-equal thirds of its examples.
    for (const site of [0, 3, 6]) expect(Math.abs(parts[site]!.length - total(0) / 3)).toBeLessThanOrEqual(1);
    for (const site of [1, 4]) expect(Math.abs(parts[site]!.length - total(1) / 2)).toBeLessThanOrEqual(1);
  });

  it('by-label refuses what it cannot do, naming the numbers and the way out', () => {
    expect(() => partitionIndices(labels, 3, { sites: 2, seed: 1, scheme: 'by-label' })).toThrow(/2 site\(s\) cannot hold 3 classes.*at least 3 sites, or dirichlet:ALPHA/);
    const fewOnes = Int32Array.from([0, 0, 0, 0, 0, 0, 1, 0]);
    expect(() => partitionIndices(fewOnes, 2, { sites: 4, seed: 1, scheme: 'by-label' })).toThrow(/class 1 has 1 example\(s\) but 2 sites hold it/);
  });

  it('refuses a bad alpha from a direct caller', () => {
    expect(() => partitionIndices(labels, 3, { sites: 2, seed: 1, scheme: 'dirichlet:0' as 'dirichlet:0.5' })).toThrow(/alpha must be > 0/);
    expect(() => partitionIndices(labels, 3, { sites: 2, seed: 1, scheme: 'label-skew', alpha: -1 })).toThrow(/alpha must be > 0/);
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
