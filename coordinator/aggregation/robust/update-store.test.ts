import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCohort, reusedSegments } from '../../../test/helpers/cohort.js';
import { permutation, Random } from '../../../shared/data/index.js';
import { UpdateStore } from './update-store.js';

const ELEMENTS = 1009;
const UPDATE_BYTES = ELEMENTS * 4;

let spillDir: string;
let logged: string[];

beforeEach(async () => {
  spillDir = join(await mkdtemp(join(tmpdir(), 'medley-store-')), 'spill');
  logged = [];
});

afterEach(async () => {
  await rm(join(spillDir, '..'), { recursive: true, force: true });
});

function storeWithBudget(updatesInMemory: number): UpdateStore {
  return new UpdateStore(ELEMENTS, { spillDir, memoryBudgetBytes: updatesInMemory * UPDATE_BYTES + 100, log: (m) => logged.push(m) });
}

async function acceptAll(store: UpdateStore, sites: string[], updates: Float32Array[], seed = 3): Promise<void> {
  const order = permutation(sites.length, new Random(seed));
  await Promise.all(Array.from(order, (i) => store.accept({ site: sites[i]!, weight: 1, segments: reusedSegments(updates[i]!, [97, 211, 13]) })));
}

async function readWhole(store: UpdateStore, index: number): Promise<Float32Array> {
  const out = new Float32Array(ELEMENTS);
  // Odd ranges, so reads cross the segment boundaries the update arrived in.
  for (let start = 0; start < ELEMENTS; start += 313) {
    const length = Math.min(313, ELEMENTS - start);
    out.set(await store.read(index, start, length, new Float32Array(length)), start);
  }
  return out;
}

describe('UpdateStore', () => {
  it('keeps updates within the budget in memory and numbers them by site name, whatever the arrival order', async () => {
    const cohort = makeCohort(11, { sites: 6, elements: ELEMENTS });
    const store = storeWithBudget(6);
    await acceptAll(store, [...cohort.sites].reverse(), [...cohort.updates].reverse());
    expect(store.updates).toBe(6);
    expect(store.sites()).toEqual(cohort.sites);
    expect(store.spilledUpdates).toBe(0);
    expect(await store.spillFolder()).toBeNull();
    for (let i = 0; i < 6; i++) expect(await readWhole(store, i)).toEqual(cohort.updates[i]);
    await store.dispose();
  });

  it('spills updates beyond the budget to private files and reads back the same values', async () => {
    const cohort = makeCohort(12, { sites: 5, elements: ELEMENTS, outliers: 1 });
    const store = storeWithBudget(2);
    await acceptAll(store, cohort.sites, cohort.updates);
    expect(store.memoryBytes).toBe(2 * UPDATE_BYTES);
    expect(store.spilledUpdates).toBe(3);
    const folder = (await store.spillFolder())!;
    expect(folder.startsWith(spillDir)).toBe(true);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    const files = await readdir(folder);
    expect(files).toHaveLength(3);
    for (const file of files) {
      const info = await stat(join(folder, file));
      expect(info.mode & 0o777).toBe(0o600);
      expect(info.size).toBe(UPDATE_BYTES);
    }
    expect(logged.join('\n')).toMatch(/spilling further updates to/);
    for (let i = 0; i < 5; i++) expect(await readWhole(store, i)).toEqual(cohort.updates[i]);
    await store.dispose();
    await expect(stat(folder)).rejects.toThrow(/ENOENT/);
    expect(await readdir(spillDir)).toEqual([]);
    await expect(store.read(0, 0, 1, new Float32Array(1))).rejects.toThrow(/released/);
  });

  it('gives each round its own spill folder, so disposing one leaves the other intact', async () => {
    const cohort = makeCohort(13, { sites: 2, elements: ELEMENTS });
    const first = storeWithBudget(0);
    const second = storeWithBudget(0);
    await acceptAll(first, cohort.sites, cohort.updates);
    await acceptAll(second, cohort.sites, cohort.updates);
    const [a, b] = [await first.spillFolder(), await second.spillFolder()];
    expect(a).not.toBe(b);
    await first.dispose();
    expect(await readdir(b!)).toHaveLength(2);
    expect(await readWhole(second, 1)).toEqual(cohort.updates[1]);
    await second.dispose();
  });

  it('refuses a second update from a site, segments outside the model and incomplete updates, releasing what they held', async () => {
    const store = storeWithBudget(1);
    const good = new Float32Array(ELEMENTS).fill(1);
    await store.accept({ site: 'a', weight: 1, segments: reusedSegments(good, [500]) });
    await expect(store.accept({ site: 'a', weight: 1, segments: reusedSegments(good, [500]) })).rejects.toThrow(/already holds an update from a/);
    // These go to disk (the budget holds one update); a failed one must leave no file behind.
    await expect(store.accept({ site: 'b', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS + 1), [600]) })).rejects.toThrow(
      /update from b has a segment at 600 of 410 elements, outside a model of 1009/,
    );
    await expect(store.accept({ site: 'c', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS - 9), [500]) })).rejects.toThrow(
      /update from c carried 1000 elements for a model of 1009/,
    );
    await expect(store.accept({ site: 'd', weight: 0, segments: reusedSegments(good, [500]) })).rejects.toThrow(/weight 0/);
    expect(store.updates).toBe(1);
    expect(store.sites()).toEqual(['a']);
    expect(await readdir((await store.spillFolder())!)).toEqual([]);
    await store.dispose();
  });

  it('returns the budget of an in-memory update that failed half way', async () => {
    const store = storeWithBudget(1);
    await expect(store.accept({ site: 'x', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS + 5), [1000]) })).rejects.toThrow(/outside a model/);
    expect(store.memoryBytes).toBe(0);
    await store.accept({ site: 'y', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS).fill(2), [1000]) });
    expect(store.spilledUpdates).toBe(0);
    await store.dispose();
  });

  it('refuses a late update once the updates are being read', async () => {
    const store = storeWithBudget(2);
    await store.accept({ site: 'a', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS), [1009]) });
    await store.read(0, 0, 10, new Float32Array(10));
    await expect(store.accept({ site: 'b', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS), [1009]) })).rejects.toThrow(
      /already being combined; no update can join now/,
    );
    await store.dispose();
  });

  it('names the spill folder and the remedy when it cannot spill', async () => {
    await writeFile(spillDir, 'not a folder');
    const store = storeWithBudget(0);
    await expect(store.accept({ site: 'a', weight: 1, segments: reusedSegments(new Float32Array(ELEMENTS), [1009]) })).rejects.toThrow(
      new RegExp(`could not spill the update from a to ${spillDir}.*--strategy-memory`),
    );
    await store.dispose();
  });
});
