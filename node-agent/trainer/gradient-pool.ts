import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { InitMessage, StepMessage, StepReply, WorkerReply } from './gradient-worker.js';

/*
 * Worker threads that each hold a model replica and compute gradients for a shard of every batch,
 * so training uses more than the one core a WASM instance can. Workers are kept between
 * trainClassifier calls (a federated round trains the same topology again) and unref'd so they
 * never keep the process alive.
 */

const TS_HOOKS = `
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
let ts;
export async function initialize(data) { ts = createRequire(data.tsPath)('typescript'); }
export async function resolve(specifier, context, next) {
  if (context.parentURL && context.parentURL.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}`;

// When this module runs from TypeScript source (vitest), the worker gets a tiny loader that strips
// types with the typescript package; compiled builds start the .js worker directly.
const TS_BOOT = `
const { register } = require('node:module');
const { workerData } = require('node:worker_threads');
register('data:text/javascript,' + encodeURIComponent(workerData.hooks), { data: { tsPath: workerData.tsPath } });
import(workerData.entry).catch((e) => { console.error(e); process.exit(1); });
`;

function spawn(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./gradient-worker.ts', here).href;
    const tsPath = createRequire(here).resolve('typescript/package.json');
    return new Worker(TS_BOOT, { eval: true, workerData: { medleyGradientWorker: true, hooks: TS_HOOKS, entry, tsPath } });
  }
  return new Worker(new URL('./gradient-worker.js', here), { workerData: { medleyGradientWorker: true } });
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
