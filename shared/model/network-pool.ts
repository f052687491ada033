import type * as tf from '@tensorflow/tfjs';
import type { TensorSpec } from '../wire/messages.js';
import { modelFromTopologyJson, writeFlatWeights } from './flat-weights.js';

/**
 * Lends networks built from a topology and takes them back to lend again.
 *
 * Why not build one per task and dispose it: tfjs-layers gives every layer and weight a unique
 * name through a module-level map that it never clears, so each network a process builds leaves
 * its names behind for good (3.4 KiB for cnn-small, measured by building 400 of them). An agent or
 * a coordinator that builds a network every round grows by that much a round, for months. A
 * network lent again issues no new names, so the names a process holds are bounded by the most
 * networks it ever had out at once.
 *
 * Every loan overwrites all the network's weights (trainable and batch-norm statistics alike) from
 * the caller's flat weights, so nothing of an earlier loan carries over: training builds its
 * optimiser per call and layers keep no other state.
 */
export class NetworkPool {
  /** Idle networks by topology (JSON text), the most recently used topology last. */
  private readonly idle = new Map<string, tf.LayersModel[]>();

  /**
   * @param idlePerTopology networks of one topology kept for reuse (more are disposed on return)
   * @param topologies topologies kept; the least recently used one's networks go first
   */
  constructor(private readonly idlePerTopology = 1, private readonly topologies = 2) {}

  /** Runs `use` on a network of `topology` holding `weights`, then takes the network back. */
  async withNetwork<T>(
    topology: Record<string, unknown>,
    weights: { specs: readonly TensorSpec[]; flat: Float32Array },
    use: (net: tf.LayersModel) => Promise<T>,
  ): Promise<T> {
    const key = JSON.stringify(topology);
    const net = this.idle.get(key)?.pop() ?? (await modelFromTopologyJson(topology));
    let reusable = false;
    try {
      writeFlatWeights(net, weights.specs, weights.flat);
      const result = await use(net);
      reusable = true;
      return result;
    } finally {
      // A loan that threw may have left the network mid-change (an aborted step): build afresh next time.
      if (reusable) this.giveBack(key, net);
      else net.dispose();
    }
  }

  /** Networks held idle now (for tests and diagnostics). */
  get idleCount(): number {
    let n = 0;
    for (const nets of this.idle.values()) n += nets.length;
    return n;
  }

  /** Disposes every idle network. */
  clear(): void {
    for (const nets of this.idle.values()) for (const net of nets) net.dispose();
    this.idle.clear();
  }

  private giveBack(key: string, net: tf.LayersModel): void {
    const nets = this.idle.get(key) ?? [];
    this.idle.delete(key);
    this.idle.set(key, nets);
    if (nets.length < this.idlePerTopology) nets.push(net);
    else net.dispose();
    while (this.idle.size > this.topologies) {
      const [oldest, stale] = this.idle.entries().next().value as [string, tf.LayersModel[]];
      for (const old of stale) old.dispose();
      this.idle.delete(oldest);
    }
  }
}

/**
 * The process's pool. One per process, not per trainer: tfjs-layers' name map is per process, and
 * a simulation hosts many virtual sites' trainers in one process, each training in turn.
 */
export const networkPool = new NetworkPool();
