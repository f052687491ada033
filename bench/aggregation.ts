import { FedAvg } from '../coordinator/aggregation/index.js';
import { helperPieces, setAggregationThreads } from '../coordinator/aggregation/scaled-add.js';
import type { UpdateSegment } from '../coordinator/aggregation/index.js';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { startPythonPeer, type PythonPeer } from './lib/python.js';
import { MIB, fillNoise, median, round } from './lib/stats.js';

/*
 * Weighted FedAvg of 10 float32 updates through the coordinator's own FedAvg strategy, fed in
 * 1 MiB segments as the spool reader yields them, against NumPy aggregating the same sizes the way
 * Flower's aggregate() does (bench/aggregation_numpy.py). Both sides hold every update in memory
 * and time only the aggregation, including the final division (and, for Medley, adding the base).
 * Medley's runs and NumPy's alternate, so load from other work on the machine hits both alike.
 * Updates live in SharedArrayBuffers, as the coordinator's spool reader yields them, so the
 * aggregation's helper thread can fold half of each segment; a one-thread figure is reported too.
 */

const UPDATES = [120, 80, 200, 150, 60, 310, 90, 175, 140, 230]; // example counts = weights
const SEGMENT = MIB / 4; // elements per 1 MiB segment

async function* segmentsOf(values: Float32Array): AsyncGenerator<UpdateSegment> {
  for (let offset = 0; offset < values.length; offset += SEGMENT) {
    yield { offset, values: values.subarray(offset, offset + SEGMENT) };
  }
}

/**
 * One whole aggregation (one round); returns seconds and the new model. `concurrent` folds the
 * updates as the coordinator does when they arrive together (Round.fold runs one accept per
 * upload, in parallel, so their segments interleave); otherwise one update after another. Like
 * the coordinator, one strategy object serves every round (it reuses the previous round's sum).
 */
async function aggregateOnce(
  strategy: FedAvg,
  updates: Float32Array[],
  base: Float32Array,
  concurrent: boolean,
  keep: boolean,
): Promise<{ seconds: number; model: Float32Array | null; helperPieces: number | null }> {
  const started = performance.now();
  const agg = strategy.begin(base.length);
  const accepts = updates.map((u, i) => () => agg.accept({ site: `site-${i}`, weight: UPDATES[i]!, segments: segmentsOf(u) }));
  if (concurrent) await Promise.all(accepts.map((a) => a()));
  else for (const accept of accepts) await accept();
  const model = keep ? new Float32Array(base.length) : null;
  let last: Float32Array | null = null;
  for (let offset = 0; offset < base.length; offset += SEGMENT) {
    last = await agg.finishSegment(offset, base.subarray(offset, offset + SEGMENT));
    model?.set(last, offset);
  }
  const seconds = (performance.now() - started) / 1000;
  // The finished segments are views of the sum, so they name its helper thread's counter.
  return { seconds, model, helperPieces: last ? helperPieces(last) : null };
}

/** Float32 noise in a SharedArrayBuffer, like a segment buffer of readFloat32Segments. */
function sharedNoise(elements: number, seed: number, scale: number): Float32Array {
  return fillNoise(new Float32Array(new SharedArrayBuffer(elements * 4)), seed, scale);
}

/** The same bytes moved by TypedArray.set into a model-sized array: no arithmetic, same traffic. */
function copyOnce(updates: Float32Array[], elements: number): number {
  const dest = new Float32Array(elements);
  const started = performance.now();
  for (const u of updates) for (let o = 0; o < elements; o += SEGMENT) dest.set(u.subarray(o, o + SEGMENT), o);
  return (performance.now() - started) / 1000;
}

/** The plain JavaScript loop (a sum in an ordinary Float32Array takes it), for reference. */
function plainLoopOnce(updates: Float32Array[], elements: number): number {
  const sum = new Float32Array(elements);
  const started = performance.now();
  updates.forEach((u, i) => {
    const w = Math.fround(UPDATES[i]!);
    for (let j = 0; j < elements; j++) sum[j]! += Math.fround(w * u[j]!);
  });
  return (performance.now() - started) / 1000;
}

/** Spot-checks the new model against float64 arithmetic at a few thousand positions. */
function checkModel(model: Float32Array, updates: Float32Array[], base: Float32Array): string | null {
  const total = UPDATES.reduce((a, b) => a + b, 0);
  for (let k = 0; k < 4096; k++) {
    const i = Math.floor((k / 4096) * model.length) + (k % 7);
    if (i >= model.length) continue;
    let s = 0;
    updates.forEach((u, j) => (s += UPDATES[j]! * u[i]!));
    const expected = base[i]! + s / total;
    if (!(Math.abs(model[i]! - expected) <= 1e-6 + 1e-5 * Math.abs(expected))) return `element ${i} is ${model[i]}, expected ${expected}`;
  }
  return null;
}

async function startNumpy(params: number, log: (s: string) => void): Promise<{ peer: PythonPeer | null; hello: Record<string, unknown>; error?: string }> {
  try {
    log('aggregation: starting the NumPy peer (it generates its own updates)');
    return await startPythonPeer('bench/aggregation_numpy.py', ['--serve', '--params', String(params), '--weights', UPDATES.join(',')], log);
  } catch (err) {
    log(`aggregation: no NumPy peer: ${(err as Error).message}`);
    return { peer: null, hello: {}, error: (err as Error).message };
  }
}

export async function benchAggregation({ quick, log }: BenchOptions): Promise<BenchResult> {
  const params = quick ? 2_500_000 : 25_000_000;
  const reps = quick ? 3 : 7;
  const updateMiB = (UPDATES.length * params * 4) / MIB;
  log(`aggregation: generating ${UPDATES.length} updates of ${params / 1e6} M float32 (${updateMiB.toFixed(0)} MiB)`);
  const updates = UPDATES.map((_, i) => sharedNoise(params, 1000 + i, 0.01));
  const base = sharedNoise(params, 999, 0.05);
  // A strategy allocates its sum (with or without a helper thread) in its first round and reuses
  // it after: the thread count in force at that first round is the one it keeps.
  const strategy = new FedAvg();
  const oneThread = new FedAvg();
  for (const [s, threads] of [[strategy, 2], [oneThread, 1]] as const) {
    setAggregationThreads(threads);
    const first = await aggregateOnce(s, updates, base, true, true);
    const problem = checkModel(first.model!, updates, base);
    if (problem) throw new Error(`FedAvg produced a wrong model (${threads} thread(s)): ${problem}`);
  }
  setAggregationThreads(2);

  const numpy = await startNumpy(params, log);
  const layouts = (numpy.hello.layouts as string[] | undefined) ?? [];
  const peerRuns = new Map<string, number[]>(layouts.map((l) => [l, []]));
  const concurrent: number[] = [];
  let helperCount: number | null = null; // the helper's cumulative piece count after the last run
  let helperInTimed = 0; // pieces it folded during the timed parallel runs
  const sequential: number[] = [];
  const single: number[] = [];
  const copies: number[] = [];
  let peerError = numpy.error;
  try {
    for (let r = 0; r < reps; r++) {
      log(`aggregation: run ${r + 1}/${reps}: Medley FedAvg${numpy.peer && !peerError ? ', NumPy' : ''}`);
      const run = await aggregateOnce(strategy, updates, base, true, false);
      concurrent.push(run.seconds);
      if (run.helperPieces !== null && helperCount !== null) helperInTimed += run.helperPieces - helperCount;
      helperCount = run.helperPieces;
      for (const layout of layouts) {
        if (!numpy.peer || peerError) break;
        try {
          peerRuns.get(layout)!.push(Number((await numpy.peer.ask(layout)).seconds));
        } catch (err) {
          peerError = (err as Error).message;
        }
      }
      const serial = await aggregateOnce(strategy, updates, base, false, false);
      sequential.push(serial.seconds);
      helperCount = serial.helperPieces;
      single.push((await aggregateOnce(oneThread, updates, base, true, false)).seconds);
      copies.push(copyOnce(updates, params));
    }
  } finally {
    numpy.peer?.close();
  }
  log('aggregation: plain JavaScript loop, once');
  const plain = plainLoopOnce(updates, params);

  const value = updateMiB / median(concurrent);
  const perLayout = Object.fromEntries([...peerRuns].map(([l, runs]) => [l, runs.length ? round(updateMiB / median(runs), 0) : null]));
  const best = [...peerRuns].filter(([, runs]) => runs.length === reps).sort((a, b) => median(a[1]) - median(b[1]))[0];
  const peer = best && !peerError ? updateMiB / median(best[1]) : null;
  const ratio = peer ? value / peer : null;
  log(`aggregation: Medley ${value.toFixed(0)} MiB/s (one after another: ${(updateMiB / median(sequential)).toFixed(0)}), NumPy ${peer?.toFixed(0) ?? 'n/a'} MiB/s`);
  return {
    metric: `MiB/s of update data, weighted FedAvg of ${UPDATES.length} updates x ${params / 1e6} M float32`,
    unit: 'MiB/s',
    value: round(value, 0),
    peer: { name: `NumPy ${numpy.hello.numpy ?? ''}, Flower's aggregate() (${best?.[0] ?? 'n/a'}, its faster layout)`, value: round(peer, 0) },
    ratio: round(ratio, 2),
    target: 'at least 3x NumPy',
    met: ratio !== null && ratio >= 3,
    ...(peer === null ? { peerSkipped: peerError ?? 'NumPy produced no result' } : {}),
    mode: 'updates folded as they arrive together (one FedAvg.accept per update, in parallel, 1 MiB segments), then finishSegment over the base; one FedAvg object for all runs, as in the coordinator; 2 threads (the SIMD kernel and its helper thread); median of runs alternating with NumPy',
    sequential_mib_s: round(updateMiB / median(sequential), 0),
    sequential_ratio: peer ? round(updateMiB / median(sequential) / peer, 2) : null,
    one_thread_mib_s: round(updateMiB / median(single), 0),
    // Share of the 64 KiB pieces the helper thread folded in timed runs 2..n (the rest: the caller).
    helper_share: helperCount !== null && reps > 1 ? round(helperInTimed / ((reps - 1) * (UPDATES.length + 1) * Math.ceil(params / 16384)), 2) : null,
    one_thread_ratio: peer ? round(updateMiB / median(single) / peer, 2) : null,
    memcpy_mib_s: round(updateMiB / median(copies), 0),
    plain_js_loop_mib_s: round(updateMiB / plain, 0),
    numpy_mib_s_by_layout: perLayout,
    update_mib: round(updateMiB, 1),
    runs: reps,
    runs_s: concurrent.map((s) => round(s, 3)),
    numpy_runs_s: best ? best[1].map((s) => round(s, 3)) : null,
  };
}
