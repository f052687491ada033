import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeMedmnistFile, type MedmnistSplitFile } from '../../test/helpers/medmnist-file.js';
import { Random } from './random.js';
import { formatShard, loadHeldOut, loadSiteData, openSiteShards, parsePartition, parseShard } from './site-data.js';
import type { ImageSet } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'medley-sitedata-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mean(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s / a.length;
}

function sameImages(a: ImageSet, b: ImageSet): boolean {
  return Buffer.from(a.images.buffer, a.images.byteOffset, a.images.byteLength).equals(Buffer.from(b.images.buffer, b.images.byteOffset, b.images.byteLength));
}

/** Each image encodes its own id in its pixels, so tests can tell which images a site got. */
function writeToyMedmnist(path: string, sizes: { train: number; val: number; test: number }): void {
  const rng = new Random(1);
  const splits: Record<string, MedmnistSplitFile> = {};
  let id = 0;
  for (const [split, n] of Object.entries(sizes)) {
    const images = new Uint8Array(n * 4 * 4);
    for (let i = 0; i < n; i++, id++) {
      images.fill(id % 256, i * 16, i * 16 + 8);
      images.fill(id >> 8, i * 16 + 8, (i + 1) * 16);
    }
    splits[split] = { images, shape: [n, 4, 4], labels: Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0)) };
  }
  writeMedmnistFile(path, splits);
}

describe('parseShard', () => {
  it('parses 1-based i/n into a 0-based index', () => {
    expect(parseShard('1/3')).toEqual({ index: 0, count: 3 });
    expect(parseShard(' 3 / 3 ')).toEqual({ index: 2, count: 3 });
    expect(formatShard({ index: 1, count: 4 })).toBe('2/4');
  });

  it('explains bad input', () => {
    expect(() => parseShard('0/3')).toThrow(/between 1 and 3.*numbered from 1/);
    expect(() => parseShard('4/3')).toThrow(/between 1 and 3/);
    expect(() => parseShard('2')).toThrow(/form i\/n/);
    expect(() => parseShard('1/0')).toThrow(/at least 1/);
    expect(() => parsePartition('dirichlet')).toThrow(/'iid', 'dirichlet:ALPHA'/);
    expect(parsePartition('label-skew')).toBe('label-skew');
  });
});

describe('loadSiteData (synthetic)', () => {
  const spec = { source: 'synthetic', partition: 'iid' as const, seed: 4, syntheticCount: 80 };
  const site0 = loadSiteData({ ...spec, shard: { index: 0, count: 3 } });
  const site1 = loadSiteData({ ...spec, shard: { index: 1, count: 3 } });

  it('gives each site its own shifted train and val data', () => {
    expect(site0.train.count).toBe(80);
    expect(site0.val.count).toBe(50);
    expect(site0.train.labels.reduce((a, b) => a + b, 0)).toBe(40);
    expect(sameImages(site0.train, site0.val)).toBe(false);
    expect(Math.abs(mean(site0.train.images) - mean(site1.train.images))).toBeGreaterThan(0.005);
    expect(site0.source).toMatch(/synthetic site 1\/3/);
  });

  it('is deterministic', () => {
    expect(sameImages(loadSiteData({ ...spec, shard: { index: 1, count: 3 } }).train, site1.train)).toBe(true);
  });

  it('label-skew changes the case mix per site', () => {
    const prevalence = [0, 1, 2, 3].map((index) => {
      const s = loadSiteData({ ...spec, partition: 'label-skew', shard: { index, count: 4 } });
      return s.train.labels.reduce((a, b) => a + b, 0) / s.train.count;
    });
    expect(Math.max(...prevalence) - Math.min(...prevalence)).toBeGreaterThan(0.05);
  });

  it('by-label gives site i only class i mod 2; dirichlet:ALPHA skews the mix more for small ALPHA', () => {
    const prevalence = (partition: 'by-label' | `dirichlet:${number}`) =>
      [0, 1, 2, 3, 4, 5].map((index) => {
        const s = loadSiteData({ ...spec, partition, shard: { index, count: 6 } });
        return s.train.labels.reduce((a, b) => a + b, 0) / s.train.count;
      });
    expect(prevalence('by-label')).toEqual([0, 1, 0, 1, 0, 1]);
    const spread = (p: number[]) => p.reduce((a, x) => a + Math.abs(x - 0.5), 0) / p.length;
    expect(spread(prevalence('dirichlet:0.1'))).toBeGreaterThan(spread(prevalence('dirichlet:100')) + 0.15);
    expect(() => loadSiteData({ ...spec, partition: 'by-label', shard: { index: 0, count: 1 } })).toThrow(/1 site\(s\) cannot hold 2 classes/);
  });

  it('openSiteShards gives each site what loadSiteData gives it, and counts without building images', () => {
    const shards = openSiteShards({ ...spec, partition: 'dirichlet:0.5' }, 3);
    for (const index of [0, 2]) {
      const direct = loadSiteData({ ...spec, partition: 'dirichlet:0.5', shard: { index, count: 3 } });
      const shard = shards.load(index);
      expect(sameImages(shard.train, direct.train)).toBe(true);
      expect([...shard.val.labels]).toEqual([...direct.val.labels]);
      expect(shards.counts(index)).toEqual({ train: direct.train.count, val: direct.val.count });
    }
    expect(() => shards.load(3)).toThrow(/0 <= index < count/);
  });

  it('builds a balanced held-out mixture distinct from any site', () => {
    const held = loadHeldOut({ source: 'synthetic', seed: 4, count: 90, sites: 3 });
    expect(held.count).toBe(90);
    expect(held.labels.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(44);
    expect(held.labels.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(46);
    const keys = (set: ImageSet): Set<string> =>
      new Set(Array.from({ length: set.count }, (_, n) => set.images.subarray(n * 784, n * 784 + 400).join(',')));
    const heldKeys = keys(held);
    for (const s of [site0.train, site0.val, site1.train]) for (const k of keys(s)) expect(heldKeys.has(k)).toBe(false);
  });

  it('rejects a bad shard', () => {
    expect(() => loadSiteData({ ...spec, shard: { index: 3, count: 3 } })).toThrow(/0 <= index < count/);
  });
});

describe('loadSiteData (.npz)', () => {
  const path = join(dir, 'toymnist.npz');
  writeToyMedmnist(path, { train: 300, val: 60, test: 40 });

  function ids(set: ImageSet): number[] {
    return Array.from({ length: set.count }, (_, n) => Math.round(set.images[n * 16] * 255) + 256 * Math.round(set.images[n * 16 + 8] * 255));
  }

  for (const partition of ['iid', 'label-skew'] as const) {
    it(`splits the train and val splits disjointly across sites (${partition})`, () => {
      const sites = [0, 1, 2].map((index) => loadSiteData({ source: path, shard: { index, count: 3 }, partition, seed: 9 }));
      const trainIds = sites.flatMap((s) => ids(s.train));
      expect(new Set(trainIds).size).toBe(300);
      expect(trainIds.every((i) => i < 300)).toBe(true);
      const valIds = sites.flatMap((s) => ids(s.val));
      expect(new Set(valIds).size).toBe(60);
      expect(sites.map((s) => s.val.count)).toEqual([20, 20, 20]);
      for (const s of sites) expect(s.train.count).toBeGreaterThan(0);
      expect(sites[0].source).toMatch(/toymnist.*shard 1\/3/);
    });
  }

  it('openSiteShards partitions once and matches loadSiteData shard by shard (by-label, dirichlet)', () => {
    for (const partition of ['by-label', 'dirichlet:0.3'] as const) {
      const shards = openSiteShards({ source: path, partition, seed: 9 }, 4);
      for (let index = 0; index < 4; index++) {
        const direct = loadSiteData({ source: path, shard: { index, count: 4 }, partition, seed: 9 });
        expect(ids(shards.load(index).train)).toEqual(ids(direct.train));
        expect(shards.counts(index)).toEqual({ train: direct.train.count, val: direct.val.count });
        if (partition === 'by-label') expect(new Set(direct.train.labels)).toEqual(new Set([index % 2]));
      }
    }
    expect(() => openSiteShards({ source: path, partition: 'iid', seed: 9 }, 61)).toThrow(/validation split has 60 images, fewer than the 61 sites/);
  });

  it('returns the test split as held-out data', () => {
    const held = loadHeldOut({ source: path, seed: 9 });
    expect(held.count).toBe(40);
    expect(ids(held)[0]).toBe(360);
  });

  it('checks size and path', () => {
    expect(() => loadHeldOut({ source: path, seed: 9, size: 28 })).toThrow(/holds 4x4 images but size 28/);
    expect(() => loadSiteData({ source: join(dir, 'missing.npz'), shard: { index: 0, count: 1 }, partition: 'iid', seed: 1 })).toThrow(
      /missing\.npz cannot be read.*'synthetic' or the path/,
    );
  });
});
