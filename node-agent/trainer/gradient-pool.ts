import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../shared/runtime/module-worker.js';
import type { InitMessage, StepMessage, StepReply, WorkerReply } from './gradient-worker.js';

/*
 * Worker threads that each hold a model replica and compute gradients for a shard of every batch,
 * so training uses more than the one core a WASM instance can. Workers are kept between
 * trainClassifier calls (a federated round trains the same topology again) and unref'd so they
 * never keep the process alive.
 */

function spawn(): Worker {
  return spawnModuleWorker(import.meta.url, './gradient-worker', { medleyGradientWorker: true });
}

class GradientWorker {
  private waiting: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: WorkerReply) => this.settle(m));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`training worker exited with code ${code}`)));
  }

  private settle(m: WorkerReply): void {
    const w = this.waiting;
    this.waiting = null;
    this.worker.unref();
    if (!w) return;
    if (m.type === 'error') w.reject(new Error(`training worker failed: ${m.message}`));
    else w.resolve(m);
  }

  private fail(e: Error): void {
    this.dead ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }

  request(msg: InitMessage | StepMessage, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.waiting) return Promise.reject(new Error('training worker is busy'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      // Referenced only while a reply is owed, so an idle pool never holds the process open.
      this.worker.ref();
      this.worker.postMessage(msg, transfer);
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class GradientPool {
  private constructor(
    readonly key: string,
    private readonly workers: GradientWorker[],
  ) {}

  get size(): number {
    return this.workers.length;
  }

  static async create(topology: object, backend: string, count: number): Promise<GradientPool> {
    const workers = Array.from({ length: count }, () => new GradientWorker(spawn()));
    const pool = new GradientPool(poolKey(topology, backend), workers);
    try {
      await Promise.all(workers.map((w) => w.request({ type: 'init', topology, backend })));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Gradients for shard i on worker i; `weights` is copied to each worker. */
  step(weights: Float32Array, shards: Omit<StepMessage, 'type' | 'weights'>[]): Promise<StepReply>[] {
    return shards.map((s, i) => {
      const msg: StepMessage = { type: 'step', weights: weights.slice(), ...s };
      return this.workers[i].request(msg, [msg.weights.buffer as ArrayBuffer, s.pixels.buffer as ArrayBuffer, s.onehot.buffer as ArrayBuffer]) as Promise<StepReply>;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export function poolKey(topology: object, backend: string): string {
  return backend + '\n' + JSON.stringify(topology);
}

let shared: GradientPool | null = null;

/** A pool for this topology, reusing the previous one when it matches. */
export async function getGradientPool(topology: object, backend: string, count: number): Promise<GradientPool> {
  const key = poolKey(topology, backend);
  if (shared && shared.key === key && shared.size === count) return shared;
  const old = shared;
  shared = null;
  await old?.close();
  shared = await GradientPool.create(topology, backend, count);
  return shared;
}

/** Stops the training worker threads (they are unref'd, so this is only needed for tidy shutdowns). */
export async function shutdownTrainingWorkers(): Promise<void> {
  const old = shared;
  shared = null;
  await old?.close();
}
