import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { modelFromTopologyJson, readFlatWeights, weightLayout } from './flat-weights.js';
import { NetworkPool } from './network-pool.js';
import { randomValues } from './test-helpers.js';
import { buildModel } from './zoo.js';

function topologyOf(arch: 'cnn-small' | 'resnet-mini', classes = 2): { topology: Record<string, unknown>; specs: ReturnType<typeof weightLayout>['specs']; flat: Float32Array } {
  const model = buildModel({ arch, inputShape: [16, 16, 1], classes }, 7);
  const out = { topology: model.toJSON(null, false) as Record<string, unknown>, specs: weightLayout(model).specs, flat: readFlatWeights(model) };
  model.dispose();
  return out;
}

/** The numeric suffix tfjs-layers gave a freshly built network's first weight: it counts the networks this process built. */
async function nameCounter(topology: Record<string, unknown>): Promise<number> {
  const net = await modelFromTopologyJson(topology);
  const name = net.weights[0]!.name;
  net.dispose();
  const m = /_(\d+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** A built network's weight shape, whose every dimension is known. */
function knownShape(shape: readonly (number | null)[]): number[] {
  return shape.map((d) => {
    if (d === null) throw new Error(`weight shape [${shape.join(', ')}] has an unknown dimension`);
    return d;
  });
}

/** Writes values unlike any model's into every weight (as a training step would change them). */
function scramble(net: tf.LayersModel): void {
  net.setWeights(net.weights.map((w, i) => {
    const shape = knownShape(w.shape);
    return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), 100 + i), shape);
  }));
}

describe('NetworkPool', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'cpu' });
  });

  it('lends the same network again, with exactly the weights of each loan, and builds no new one', async () => {
    const pool = new NetworkPool();
    const base = topologyOf('resnet-mini');
    const other = Float32Array.from(base.flat, (v, i) => v + (i % 7) / 10);
    const before = await nameCounter(base.topology);
    let first: tf.LayersModel | null = null;
    for (let loan = 0; loan < 20; loan++) {
      const flat = loan % 2 === 0 ? base.flat : other;
      await pool.withNetwork(base.topology, { specs: base.specs, flat }, async (net) => {
        first ??= net;
        expect(net).toBe(first);
        // Batch-norm statistics included: nothing of the previous loan's changes survives.
        expect(readFlatWeights(net)).toEqual(flat);
        scramble(net);
      });
    }
    expect(pool.idleCount).toBe(1);
    // One network built by the pool, one by the probe: 20 loans issued the names of one network.
    expect(await nameCounter(base.topology)).toBe(before + 2);
    pool.clear();
    expect(pool.idleCount).toBe(0);
  });

  it('disposes a network whose loan threw and builds a fresh one next time', async () => {
    const pool = new NetworkPool();
    const base = topologyOf('cnn-small');
    let failed: tf.LayersModel | null = null;
    await expect(pool.withNetwork(base.topology, { specs: base.specs, flat: base.flat }, async (net) => {
      failed = net;
      throw new Error('aborted mid-step');
    })).rejects.toThrow('aborted mid-step');
    expect(pool.idleCount).toBe(0);
    await pool.withNetwork(base.topology, { specs: base.specs, flat: base.flat }, async (net) => {
      expect(net).not.toBe(failed);
      expect(readFlatWeights(net)).toEqual(base.flat);
    });
    pool.clear();
  });

  it('refuses weights that do not belong to the topology, naming the mismatch, and keeps nothing broken', async () => {
    const pool = new NetworkPool();
    const base = topologyOf('cnn-small');
    const wrong = topologyOf('cnn-small', 3);
    await expect(pool.withNetwork(base.topology, { specs: wrong.specs, flat: wrong.flat }, async () => 1)).rejects.toThrow(/shape/);
    expect(pool.idleCount).toBe(0);
    pool.clear();
  });

  it('keeps networks of the most recently used topologies only, and a second network for loans at the same time', async () => {
    const pool = new NetworkPool(1, 2);
    const a = topologyOf('cnn-small', 2);
    const b = topologyOf('cnn-small', 3);
    const c = topologyOf('cnn-small', 4);
    const lend = (t: typeof a) => pool.withNetwork(t.topology, { specs: t.specs, flat: t.flat }, async (net) => net);
    const netA = await lend(a);
    await lend(b);
    expect(pool.idleCount).toBe(2);
    await lend(c);
    // a was the least recently used of three: its network went.
    expect(pool.idleCount).toBe(2);
    // Two loans of one topology at once get two networks; only one is kept after.
    const [b1, b2] = await Promise.all([lend(b), lend(b)]);
    expect(b1).not.toBe(b2);
    expect(pool.idleCount).toBe(2);
    expect(await lend(a)).not.toBe(netA);
    pool.clear();
  });
});
