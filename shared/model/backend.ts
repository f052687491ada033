import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerBatchNormGradient } from './batchnorm-gradient.js';
import { registerWasmFastKernels } from './wasm-fast-kernels.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { registerCpuResizeGradient } from './resize-gradient.js';

export type BackendChoice = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendReport {
  /** tfjs backend name now active: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** npm package that provides it. */
  package: string;
  /** Rungs of the ladder that were tried and failed, in order. */
  tried: { name: string; error: string }[];
}

export interface SelectBackendOptions {
  prefer?: BackendChoice;
  log?: (msg: string) => void;
}

interface Rung {
  choice: BackendChoice;
  backend: string;
  pkg: string;
  load: () => Promise<void>;
}

const require = createRequire(import.meta.url);

const LADDER: Rung[] = [
  { choice: 'tensorflow-gpu', backend: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu', load: () => loadNative('@tensorflow/tfjs-node-gpu') },
  { choice: 'tensorflow', backend: 'tensorflow', pkg: '@tensorflow/tfjs-node', load: () => loadNative('@tensorflow/tfjs-node') },
  { choice: 'wasm', backend: 'wasm', pkg: '@tensorflow/tfjs-backend-wasm', load: loadWasm },
  { choice: 'cpu', backend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', load: async () => {} },
];

let current: BackendReport | null = null;
let pending: Promise<BackendReport> | null = null;

/**
 * Picks the fastest tfjs backend that loads here: native TensorFlow (GPU, then CPU), then WASM, then
 * plain JS. `MEDLEY_BACKEND` (or `prefer`) forces one rung; a forced rung that fails is an error rather
 * than a silent fall to something 10-50x slower.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendReport> {
  const forced = parseChoice(process.env.MEDLEY_BACKEND, 'MEDLEY_BACKEND');
  const want = forced ?? opts.prefer;
  if (current && (!want || current.name === rungFor(want).backend) && tf.getBackend() === current.name) return current;
  // Concurrent callers share one attempt so kernels and wasm are initialised once.
  if (!pending) {
    pending = climb(want, forced !== undefined, opts.log ?? (() => {})).finally(() => {
      pending = null;
    });
  }
  return pending;
}

/**
 * tfjs-layers caches the execution order of every network it has run (100 by default). An agent
 * builds a new network per task and disposes it after, so the cache only fills with orders of
 * networks long gone: over a 200-round soak that showed as the agent's memory rising for 100 rounds.
 * A few entries cover the networks alive at once (the trained model, an evaluation copy).
 */
const GRAPH_ORDERS_KEPT = 4;

function boundGraphCache(): void {
  tf.env().set('TOPOLOGICAL_SORT_CACHE_MAX_ENTRIES', GRAPH_ORDERS_KEPT);
}

/** The backend chosen by the last successful `selectBackend`, or null. */
export function currentBackend(): BackendReport | null {
  return current;
}

async function climb(want: BackendChoice | undefined, strict: boolean, log: (m: string) => void): Promise<BackendReport> {
  const tried: { name: string; error: string }[] = [];
  const start = want ? LADDER.findIndex((r) => r.choice === want) : 0;
  const rungs = strict ? [LADDER[start]] : LADDER.slice(start);
  for (const rung of rungs) {
    try {
      await rung.load();
      const ok = await tf.setBackend(rung.backend);
      if (!ok) throw new Error(`tf.setBackend('${rung.backend}') returned false`);
      await tf.ready();
      if (rung.backend === 'wasm') {
        registerWasmGradients();
        registerWasmFastKernels();
      }
      if (rung.backend === 'cpu') registerCpuResizeGradient();
      registerBatchNormGradient();
      boundGraphCache();
      current = { name: rung.backend, package: rung.pkg, tried };
      log(`tfjs backend: ${rung.backend} (${rung.pkg})`);
      return current;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      tried.push({ name: rung.choice, error: firstLine(error) });
      log(`tfjs backend ${rung.choice} unavailable: ${firstLine(error)}`);
      if (strict) {
        throw new Error(
          `MEDLEY_BACKEND=${rung.choice} was requested but ${rung.pkg} could not be loaded: ${firstLine(error)}. ` +
            `Install it (npm install ${rung.pkg}) or unset MEDLEY_BACKEND to let Medley pick a backend.`,
        );
      }
    }
  }
  throw new Error(`no tfjs backend could be loaded: ${tried.map((t) => `${t.name}: ${firstLine(t.error)}`).join('; ')}`);
}

function rungFor(choice: BackendChoice): Rung {
  return LADDER.find((r) => r.choice === choice)!;
}

function parseChoice(value: string | undefined, source: string): BackendChoice | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  const alias: Record<string, BackendChoice> = {
    'tensorflow-gpu': 'tensorflow-gpu', gpu: 'tensorflow-gpu', 'tfjs-node-gpu': 'tensorflow-gpu',
    tensorflow: 'tensorflow', node: 'tensorflow', 'tfjs-node': 'tensorflow',
    wasm: 'wasm', cpu: 'cpu',
  };
  const c = alias[v];
  if (!c) throw new Error(`${source}='${value}' is not a backend; use one of tensorflow-gpu, tensorflow, wasm, cpu`);
  return c;
}

async function loadNative(pkg: string): Promise<void> {
  // The native bindings are optional dependencies whose binaries often cannot be fetched; a plain
  // dynamic import keeps them out of the module graph when absent. Both register backend 'tensorflow'
  // on the shared tfjs-core instance as a side effect.
  require.resolve(pkg);
  await import(pkg);
  if (!tf.findBackend('tensorflow')) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend`);
}

let wasmPathsSet = false;

async function loadWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    // Emscripten would otherwise look for the .wasm next to the process cwd or fetch it; point it at the
    // installed package so any working directory works offline.
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.dirname(main) + path.sep);
    wasmPathsSet = true;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
