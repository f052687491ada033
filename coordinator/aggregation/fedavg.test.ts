import { describe, expect, it } from 'vitest';
import { FedAvg } from './fedavg.js';
import type { UpdateSegment } from './strategy.js';

async function* segments(values: Float32Array, size: number): AsyncGenerator<UpdateSegment> {
  for (let o = 0; o < values.length; o += size) yield { offset: o, values: values.subarray(o, o + size) };
}

describe('FedAvg', () => {
  it('computes base + example-weighted mean of deltas, whatever the segmenting', async () => {
    const agg = new FedAvg().begin(7);
    await agg.accept({ site: 'a', weight: 1, segments: segments(Float32Array.from([1, 1, 1, 1, 1, 1, 1]), 3) });
    await agg.accept({ site: 'b', weight: 3, segments: segments(Float32Array.from([5, 5, 5, 5, 5, 5, -3]), 2) });
    expect(agg.updates).toBe(2);
    expect(agg.totalWeight).toBe(4);
    const base = Float32Array.from([0, 1, 2, 3, 4, 5, 6]);
    const head = await agg.finishSegment(0, base.subarray(0, 4));
    const tail = await agg.finishSegment(4, base.subarray(4));
    expect([...head, ...tail]).toEqual([4, 5, 6, 7, 8, 9, 6 + (1 - 9) / 4]);
  });

  it('refuses a non-positive weight and finishing with no updates', async () => {
    const agg = new FedAvg().begin(2);
    await expect(agg.accept({ site: 'x', weight: 0, segments: segments(new Float32Array(2), 2) })).rejects.toThrow(/positive example count/);
    expect(() => agg.finishSegment(0, new Float32Array(2))).toThrow(/without updates/);
  });

  it('refuses a segment outside the model', async () => {
    const agg = new FedAvg().begin(2);
    await expect(agg.accept({ site: 'x', weight: 1, segments: segments(new Float32Array(3), 3) })).rejects.toThrow(/outside a model of 2/);
  });
});

describe('FedAvg across rounds', () => {
  it('reuses a finished round\'s sum for the next round, zeroed, and retires the old aggregate', async () => {
    const strategy = new FedAvg();
    const first = strategy.begin(300);
    await first.accept({ site: 'a', weight: 2, segments: segments(new Float32Array(300).fill(3), 128) });
    const out = await first.finishSegment(0, new Float32Array(300).fill(1));
    expect(out[299]).toBe(4);
    const second = strategy.begin(300);
    expect(() => first.finishSegment(0, new Float32Array(300))).toThrow(/reused by a later round/);
    await second.accept({ site: 'a', weight: 1, segments: segments(new Float32Array(300).fill(-1), 100) });
    expect([...(await second.finishSegment(0, new Float32Array(300).fill(1)))].every((v) => v === 0)).toBe(true);
  });

  it('keeps an unfinished aggregate usable when the next round begins', async () => {
    const strategy = new FedAvg();
    const abandoned = strategy.begin(100);
    await abandoned.accept({ site: 'a', weight: 1, segments: segments(new Float32Array(100).fill(2), 100) });
    const next = strategy.begin(100);
    await next.accept({ site: 'b', weight: 1, segments: segments(new Float32Array(100).fill(5), 100) });
    expect((await abandoned.finishSegment(0, new Float32Array(100)))[0]).toBe(2);
    expect((await next.finishSegment(0, new Float32Array(100)))[0]).toBe(5);
  });
});
