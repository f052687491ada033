import { describe, expect, it } from 'vitest';
import { AdaptiveStep, ServerMomentum } from './fedopt.js';
import { ServerOptimizer } from './server-optimizer.js';
import type { RoundAggregate, UpdateSegment } from './strategy.js';

async function* whole(values: Float32Array): AsyncGenerator<UpdateSegment> {
  yield { offset: 0, values };
}

/** FedAvgM with eta 1 and momentum 0.5: the new model is base + m, with m = 0.5 m + Delta. */
function momentum(log: (message: string) => void = () => {}): ServerOptimizer {
  return new ServerOptimizer('fedavgm', { eta: 1, momentum: 0.5 }, new ServerMomentum(1, 0.5), log);
}

async function oneSiteRound(strategy: ServerOptimizer, delta: number, elements: number): Promise<RoundAggregate> {
  const aggregate = strategy.begin(elements);
  await aggregate.accept({ site: 'a', weight: 3, segments: whole(new Float32Array(elements).fill(delta)) });
  return aggregate;
}

describe('ServerOptimizer', () => {
  it('carries its state to the next round and returns arrays the next round does not overwrite', async () => {
    const strategy = momentum();
    const first = await oneSiteRound(strategy, 2, 5);
    const x1 = first.finishSegment(0, new Float32Array(5).fill(1)) as Float32Array;
    const kept = Float32Array.from(x1);
    const second = await oneSiteRound(strategy, 4, 5);
    const x2 = second.finishSegment(0, x1) as Float32Array;
    expect([...x1]).toEqual([...kept]);
    // m1 = 2, x1 = 1 + 2; m2 = 0.5 * 2 + 4, x2 = x1 + m2.
    expect([...x1]).toEqual(Array(5).fill(1 + 2));
    expect([...x2]).toEqual(Array(5).fill(1 + 2 + (0.5 * 2 + 4)));
  });

  it('refuses a round whose model has another size than the run began with', async () => {
    const strategy = momentum();
    strategy.begin(10);
    expect(() => strategy.begin(11)).toThrow(/fedavgm: this round's model has 11 weights but the optimiser state of this run was built for 10.*start a new run/);
  });

  it('refuses a segment finished twice or skipped, which would advance the state wrongly', async () => {
    const strategy = momentum();
    const aggregate = await oneSiteRound(strategy, 1, 6);
    aggregate.finishSegment(0, new Float32Array(3));
    expect(() => aggregate.finishSegment(0, new Float32Array(3))).toThrow(/segment at element 0 finished out of order; the next segment starts at 3/);
    expect(() => aggregate.finishSegment(4, new Float32Array(2))).toThrow(/out of order/);
    expect(() => aggregate.finishSegment(3, new Float32Array(4))).toThrow(/segment 3\.\.7 lies outside a model of 6 weights/);
  });

  it('starts its state afresh, and says so, after a round stopped part-way through its model', async () => {
    const messages: string[] = [];
    const strategy = momentum((m) => messages.push(m));
    const torn = await oneSiteRound(strategy, 8, 6);
    torn.finishSegment(0, new Float32Array(3));
    const next = await oneSiteRound(strategy, 2, 6);
    const x = next.finishSegment(0, new Float32Array(6)) as Float32Array;
    // With the torn momentum kept, the first half would read 0.5 * 8 + 2.
    expect([...x]).toEqual(Array(6).fill(2));
    expect(messages.join('\n')).toMatch(/fedavgm: the previous round stopped while its model was being written; the optimiser state starts afresh/);
  });

  it('keeps its state when a round failed before any segment was finished', async () => {
    const strategy = momentum();
    const first = await oneSiteRound(strategy, 2, 4);
    first.finishSegment(0, new Float32Array(4));
    await oneSiteRound(strategy, 100, 4); // never finished: the run controller kept the model
    const third = await oneSiteRound(strategy, 1, 4);
    expect([...(third.finishSegment(0, new Float32Array(4)) as Float32Array)]).toEqual(Array(4).fill(0.5 * 2 + 1));
  });

  it('passes the mean aggregate\'s problem on, and refuses to finish a round without updates', async () => {
    const strategy = momentum();
    const mean: RoundAggregate = {
      updates: 0,
      totalWeight: 0,
      accept: async () => {},
      finishSegment: (_, base) => base,
      problem: () => 'the masks could not be removed',
    };
    expect(strategy.begin(2, mean).problem?.()).toBe('the masks could not be removed');
    const empty = strategy.begin(2);
    expect(empty.problem?.()).toBeNull();
    expect(() => empty.finishSegment(0, new Float32Array(2))).toThrow(/without updates/);
  });

  it('snapshots its state after whole rounds only, and a restored copy continues exactly as the original (FedAdam)', async () => {
    const adam = () => new ServerOptimizer('fedadam', { eta: 0.1 }, new AdaptiveStep('adam', { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }));
    const step = async (s: ServerOptimizer, d: number, x: Float32Array) => (await oneSiteRound(s, d, 4)).finishSegment(0, x) as Float32Array;
    const start = new Float32Array(4).fill(1);
    const original = adam();
    expect(original.snapshot()).toBeNull();
    const x2 = await step(original, -0.2, await step(original, 0.3, start));
    const saved = original.snapshot()!;
    expect(saved).toHaveLength(2);
    // Part-way through a round the state matches no model version: nothing to save.
    (await oneSiteRound(original, 0.5, 4)).finishSegment(0, x2.subarray(0, 2));
    expect(original.snapshot()).toBeNull();
    // A coordinator restarted after round 2: a new instance restored from the snapshot.
    const resumed = adam();
    resumed.restore(saved, 4);
    const x3 = await step(resumed, 0.5, x2);
    const reference = adam();
    const y3 = await step(reference, 0.5, await step(reference, -0.2, await step(reference, 0.3, start)));
    expect([...x3]).toEqual([...y3]);
    // Without the state (m = 0, v = tau^2) the third step differs.
    const fresh = await step(adam(), 0.5, x2);
    expect(Math.abs(fresh[0]! - x3[0]!)).toBeGreaterThan(1e-3);
  });

  it('refuses a saved state that does not fit the model, naming both sizes', () => {
    const strategy = new ServerOptimizer('fedadam', { eta: 0.1 }, new AdaptiveStep('adam', { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }));
    expect(() => strategy.restore([new Float32Array(5), new Float32Array(5)], 6)).toThrow(/saved state has 2 array\(s\) of 5, 5 values; a model of 6 weights needs 2 of 6/);
    expect(() => strategy.restore([new Float32Array(6)], 6)).toThrow(/saved state has 1 array/);
  });
});
