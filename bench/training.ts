import { availableParallelism } from 'node:os';
import type { ImageSet } from '../shared/data/types.js';
import { selectBackend } from '../shared/model/backend.js';
import { buildModel, describeModel } from '../shared/model/zoo.js';
import { shutdownTrainingWorkers } from '../node-agent/trainer/gradient-pool.js';
import { resolveThreads, trainClassifier } from '../node-agent/trainer/local-trainer.js';
import { startPythonPeer } from './lib/python.js';
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

interface TorchPeer {
  hello: Record<string, unknown>;
  run(batches: number, threads: number): Promise<{ seconds: number; threads: number }>;
  close(): void;
}

async function startTorch(log: (s: string) => void): Promise<TorchPeer | string> {
  try {
    const { peer, hello } = await startPythonPeer('bench/training_torch.py', ['--serve', '--warmup', String(WARMUP_BATCHES)], log);
    return {
      hello,
      run: async (batches, threads) => {
        const r = await peer.ask(`run ${batches} ${threads}`);
        return { seconds: Number(r.seconds), threads: Number(r.threads) };
      },
      close: () => peer.close(),
    };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Alternates timed rounds of ours and PyTorch's so that load from anything else on the machine
 * hits both alike. PyTorch runs both on every core and on one thread, and its faster setting is
 * the peer: on a busy machine OpenMP's spinning threads can make one thread faster, and a peer
 * slowed down by its own settings would flatter us.
 */
export async function benchTraining(opts: { quick: boolean; log: (s: string) => void }): Promise<BenchResult> {
  const { log } = opts;
  const rounds = opts.quick ? 2 : 5;
  const perRound = opts.quick ? 3 : 6;
  const backend = await selectBackend({ log });
  const cores = availableParallelism();
  let threads = resolveThreads(undefined, BATCH);
  const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 1);
  const params = describeModel(model).parameters;
  const train = { epochs: 1, batchSize: BATCH, learningRate: 1e-3, seed: 1 };
  const torch = await startTorch(log);
  const torchThreads = [...new Set([cores, 1])];
  const torchSeconds = new Map<number, number>(torchThreads.map((t) => [t, 0]));
  let torchError = typeof torch === 'string' ? torch : null;
  let ourSeconds = 0;
  const batchMs: number[] = [];
  try {
    // Warm-up: starts worker threads, compiles WASM kernels and allocates the heap; not timed.
    await trainClassifier(model, randomSet(WARMUP_BATCHES * BATCH, 1), train);
    for (let r = 0; r < rounds; r++) {
      const data = randomSet(perRound * BATCH, 2 + r);
      let last = performance.now();
      const started = last;
      const result = await trainClassifier(model, data, {
        ...train,
        seed: 2 + r,
        onProgress: () => {
          const now = performance.now();
          batchMs.push(now - last);
          last = now;
        },
      });
      ourSeconds += (performance.now() - started) / 1000;
      threads = result.threads ?? 1;
      if (typeof torch !== 'string' && !torchError) {
        try {
          for (const t of torchThreads) torchSeconds.set(t, torchSeconds.get(t)! + (await torch.run(perRound, t)).seconds);
        } catch (err) {
          torchError = err instanceof Error ? err.message : String(err);
        }
      }
    }
  } finally {
    model.dispose();
    if (typeof torch !== 'string') torch.close();
    await shutdownTrainingWorkers();
  }
  const images = rounds * perRound * BATCH;
  const value = images / ourSeconds;
  log(`training: ${value.toFixed(1)} images/s on ${backend.name} with ${threads} thread(s), median ${median(batchMs).toFixed(1)} ms/batch`);

  const byThreads = torchError ? [] : torchThreads.map((t) => ({ threads: t, value: images / torchSeconds.get(t)! }));
  const best = byThreads.sort((a, b) => b.value - a.value)[0];
  const peerValue = best ? best.value : null;
  const hello = typeof torch === 'string' ? {} : torch.hello;
  const peerName = `PyTorch ${String(hello.torch ?? '(unavailable)')} CPU, same network`;
  if (peerValue === null) log(`training: no PyTorch peer: ${torchError ?? 'no result'}`);
  else log(`training: ${peerName}: ${peerValue.toFixed(1)} images/s with ${best.threads} thread(s)`);
  const ratio = peerValue ? value / peerValue : null;
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return {
    name: BENCH_NAME,
    metric: 'images/s, zoo CNN, 64x64x1, batch 32',
    unit: 'images/s',
    value: round1(value),
    peer: { name: peerName, value: peerValue === null ? null : round1(peerValue) },
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    target: 'at least 0.25x PyTorch',
    met: ratio !== null && ratio >= 0.25,
    ...(peerValue === null ? { peerSkipped: torchError ?? 'PyTorch produced no result' } : {}),
    backend: backend.name,
    threads,
    cores,
    rounds,
    batchesPerRound: perRound,
    warmupBatches: WARMUP_BATCHES,
    msPerBatchMedian: round1(median(batchMs)),
    parameters: params,
    peerParameters: hello.parameters_with_bn_stats ?? null,
    peerThreads: best?.threads ?? null,
    peerByThreads: Object.fromEntries(byThreads.map((b) => [String(b.threads), round1(b.value)])),
  };
}
