import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageSet } from '../shared/data/types.js';
import { selectBackend } from '../shared/model/backend.js';
import { buildModel, describeModel } from '../shared/model/zoo.js';
import { shutdownTrainingWorkers } from '../node-agent/trainer/gradient-pool.js';
import { resolveThreads, trainClassifier } from '../node-agent/trainer/local-trainer.js';
import type { BenchResult } from './result.js';

/*
 * Local training throughput of the zoo CNN (64x64x1, batch 32) on the backend Medley picks, through
 * the same trainClassifier a site runs, against the identical network trained by PyTorch on this CPU.
 */

export const BENCH_NAME = 'training';

const SIZE = 64;
const BATCH = 32;
const WARMUP_BATCHES = 3;

function randomSet(count: number, seed: number): ImageSet {
  let a = seed >>> 0;
  const images = new Float32Array(count * SIZE * SIZE);
  for (let i = 0; i < images.length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    images[i] = a / 4294967296;
  }
  const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
  return { images, labels, count, height: SIZE, width: SIZE, channels: 1, classes: 2 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The PyTorch twin lives next to the TypeScript source; from dist/ it is two levels up. */
function torchScript(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.join(here, 'training_torch.py'),
    path.join(here, '..', '..', 'bench', 'training_torch.py'),
    path.join(process.cwd(), 'bench', 'training_torch.py'),
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}

interface TorchResult {
  torch?: string;
  threads?: number;
  images_per_s?: number;
  ms_per_batch_median?: number;
  parameters_with_bn_stats?: number;
  error?: string;
}

function runTorch(batches: number): Promise<TorchResult> {
  const script = torchScript();
  if (!script) return Promise.resolve({ error: 'bench/training_torch.py not found' });
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return new Promise((resolve) => {
    const child = spawn(python, [script, '--batches', String(batches), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: `${python} could not be started: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as TorchResult);
      } catch {
        resolve({ error: `${python} ${path.basename(script)} exited ${code}: ${(err || out).trim().split('\n').pop() ?? ''}` });
      }
    });
  });
}

export async function benchTraining(opts: { quick: boolean; log: (s: string) => void }): Promise<BenchResult> {
  const { log } = opts;
  const timed = opts.quick ? 6 : 30;
  const backend = await selectBackend({ log });
  const threads = resolveThreads(undefined, BATCH);
  const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 1);
  const params = describeModel(model).parameters;
  const train = { epochs: 1, batchSize: BATCH, learningRate: 1e-3, seed: 1 };
  let value: number;
  let batchMs: number[] = [];
  try {
    // Warm-up: starts worker threads, compiles WASM kernels and allocates the heap; not timed.
    await trainClassifier(model, randomSet(WARMUP_BATCHES * BATCH, 1), train);
    let last = performance.now();
    const started = last;
    await trainClassifier(model, randomSet(timed * BATCH, 2), {
      ...train,
      onProgress: () => {
        const now = performance.now();
        batchMs.push(now - last);
        last = now;
      },
    });
    value = (timed * BATCH) / ((performance.now() - started) / 1000);
  } finally {
    model.dispose();
    await shutdownTrainingWorkers();
  }
  batchMs = batchMs.map((m) => Math.round(m * 10) / 10);
  log(`training: ${value.toFixed(1)} images/s on ${backend.name} with ${threads} thread(s), median ${median(batchMs).toFixed(1)} ms/batch`);

  const torch = await runTorch(timed);
  const peerValue = typeof torch.images_per_s === 'number' ? torch.images_per_s : null;
  const peerName = `PyTorch ${torch.torch ?? '(unavailable)'} CPU, same network`;
  if (peerValue === null) log(`training: no PyTorch peer: ${torch.error ?? 'no result'}`);
  else log(`training: ${peerName}: ${peerValue.toFixed(1)} images/s with ${torch.threads} thread(s)`);
  const ratio = peerValue ? value / peerValue : null;
  return {
    name: BENCH_NAME,
    metric: 'images/s, zoo CNN, 64x64x1, batch 32',
    unit: 'images/s',
    value: Math.round(value * 10) / 10,
    peer: { name: peerName, value: peerValue === null ? null : Math.round(peerValue * 10) / 10 },
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    target: 'at least 0.25x PyTorch',
    met: ratio !== null && ratio >= 0.25,
    ...(peerValue === null ? { peerSkipped: torch.error ?? 'PyTorch produced no result' } : {}),
    backend: backend.name,
    threads,
    cores: availableParallelism(),
    batches: timed,
    warmupBatches: WARMUP_BATCHES,
    msPerBatchMedian: median(batchMs),
    parameters: params,
    peerParameters: torch.parameters_with_bn_stats ?? null,
    peerThreads: torch.threads ?? null,
    peerMsPerBatchMedian: torch.ms_per_batch_median ?? null,
  };
}
