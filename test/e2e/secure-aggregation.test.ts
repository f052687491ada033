import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { ModularSumAggregate } from '../../coordinator/aggregation/index.js';
import { coordinatorKeyPath } from '../../coordinator/store/index.js';
import { loadSodium, parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import { addModular, dequantizeMean, quantizeUpdate, type SecAggParams } from '../../shared/secagg/index.js';
import type { RoundEvent, Task } from '../../shared/wire/index.js';
import { FixedStepTrainer, NodeAgent, type Trainer } from '../../node-agent/index.js';
import type { TrainingOutcome } from '../../node-agent/trainer/trainer.js';
import { siteKeyPath, tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 20_000;
const SITES = Array.from({ length: 9 }, (_, i) => `site-${i + 1}`);
const STEP = (i: number) => 0.01 * (i + 1) * (i % 2 === 0 ? 1 : -1);
const EXAMPLES = (i: number) => 10 + 7 * i;

/** A site that has sent its keys and shares and is still training when its machine goes down. */
class StalledTrainer implements Trainer {
  readonly backend = 'none (stalled)';
  readonly valExamples = 0;
  constructor(readonly trainExamples: number) {}
  train(_m: unknown, _t: Task, _p: unknown, signal: AbortSignal): Promise<TrainingOutcome> {
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));
  }
}

const running: { coordinator: Coordinator; agents: AbortController[]; runs: Promise<void>[] }[] = [];

afterEach(async () => {
  for (const { coordinator, agents, runs } of running.splice(0)) {
    for (const a of agents) a.abort();
    await Promise.allSettled(runs);
    await coordinator.close();
  }
});

/** A coordinator and nine in-process agents over real gRPC; `dropping` sites stall, then die. */
async function federation(dropping: number[], threshold: number) {
  await loadSodium();
  const state = await tinyState(SITES, ELEMENTS);
  const logs: string[] = [];
  const coordinator = await Coordinator.open({ stateDir: state, log: (m) => logs.push(m), dropGraceMs: 500 });
  const address = await coordinator.listen('127.0.0.1:0');
  const coordinatorKey = parsePublicKey(`${coordinatorKeyPath(state)}.pub`);
  const agents: AbortController[] = [];
  const runs: Promise<void>[] = [];
  running.push({ coordinator, agents, runs });
  for (const [i, site] of SITES.entries()) {
    const stop = new AbortController();
    agents.push(stop);
    const trainer = dropping.includes(i) ? new StalledTrainer(EXAMPLES(i)) : new FixedStepTrainer(STEP(i), EXAMPLES(i));
    const agent = new NodeAgent({ coordinator: address, site, trainer, identity: await readIdentityFile(siteKeyPath(state, site)), coordinatorKey, signal: stop.signal, log: () => undefined });
    runs.push(agent.run().catch(() => undefined));
  }
  while (coordinator.sessions.connected().length < SITES.length) await new Promise((r) => setTimeout(r, 20));
  const events: RoundEvent[] = [];
  coordinator.events.subscribe(0, (e) => events.push(e));
  const finished = new Promise<void>((resolve) => coordinator.events.subscribe(0, (e) => e.kind === 'run-finished' && resolve()));
  coordinator.controller.start({
    rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 10, seed: 0,
    secureAggregation: true, secaggThreshold: threshold, secaggClip: 1,
  });
  // Once the coordinator has relayed every site's key shares, the stalled sites go down.
  while (!logs.some((l) => /secure aggregation set up with 9 sites/.test(l))) await new Promise((r) => setTimeout(r, 20));
  for (const i of dropping) agents[i]!.abort();
  await finished;
  return { state, coordinator, events };
}

describe('secure aggregation', () => {
  it('a third of 9 sites drop after sending their shares: the round still yields exactly the survivors\' sum, and the coordinator never holds an update', async () => {
    // What the coordinator folds for one site, observed on the real aggregate (it is passed on untouched).
    const heldForSite1: Uint32Array = new Uint32Array(ELEMENTS);
    const original = ModularSumAggregate.prototype.accept;
    ModularSumAggregate.prototype.accept = async function (update) {
      if (update.site !== 'site-1') return original.call(this, update);
      const source = update.segments;
      const segments = (async function* () {
        for await (const s of source) {
          heldForSite1.set(new Uint32Array(s.values.buffer, s.values.byteOffset, s.values.length), s.offset);
          yield s;
        }
      })();
      return original.call(this, { ...update, segments });
    };
    let result: Awaited<ReturnType<typeof federation>>;
    try {
      result = await federation([1, 4, 7], 6);
    } finally {
      ModularSumAggregate.prototype.accept = original;
    }
    const { state, coordinator, events } = result;
    const closed = events.find((e) => e.kind === 'round-closed');
    expect(closed, events.map((e) => `${e.kind}: ${e.message}`).join('\n')).toBeDefined();
    const record = closed!.record!;
    expect(record.secureAggregation).toBe(true);
    expect([...record.dropped!].sort()).toEqual(['site-2', 'site-5', 'site-8']);
    const survivors = SITES.map((_, i) => i).filter((i) => ![1, 4, 7].includes(i));
    expect(record.reports.map((r) => r.site).sort()).toEqual(survivors.map((i) => SITES[i]).sort());

    // The expected model, computed independently of the protocol: the modular sum of the
    // survivors' quantized updates, dequantized, added to the base.
    const params: SecAggParams = { threshold: 6, clipRange: 1, weightBound: SITES.reduce((n, _, i) => n + EXAMPLES(i), 0) };
    const sum = new Uint32Array(ELEMENTS);
    for (const i of survivors) addModular(sum, quantizeUpdate(new Float32Array(ELEMENTS).fill(STEP(i)), EXAMPLES(i), params));
    const mean = dequantizeMean(sum, params, survivors.reduce((n, i) => n + EXAMPLES(i), 0));
    const base = tinyModel(ELEMENTS).tensors.flatMap((t) => [...t.data]);
    const store = await ModelStore.open(state);
    expect(coordinator.store.latest).toBe(2);
    const bytes = await readFile(store.weightsPath(2));
    const stored = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect([...stored]).toEqual(base.map((w, j) => Math.fround(w + mean[j]!)));
    // And it is the plain weighted mean of the survivors' steps, to within quantization.
    const plain = survivors.reduce((n, i) => n + EXAMPLES(i) * STEP(i), 0) / survivors.reduce((n, i) => n + EXAMPLES(i), 0);
    expect(Math.abs(mean[0]! - plain)).toBeLessThan(1e-5);

    // What the coordinator held for site-1 looks like uniform noise, not like site-1's update.
    const own = quantizeUpdate(new Float32Array(ELEMENTS).fill(STEP(0)), EXAMPLES(0), params);
    let same = 0;
    for (let j = 0; j < ELEMENTS; j++) if (heldForSite1[j] === own[j]) same++;
    expect(same).toBeLessThan(ELEMENTS * 0.001);
    expect(new Set(heldForSite1).size).toBeGreaterThan(ELEMENTS * 0.99); // the update itself is one repeated value
    const counts = new Array<number>(256).fill(0);
    for (const b of new Uint8Array(heldForSite1.buffer)) counts[b]!++;
    const expected = (ELEMENTS * 4) / 256;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(377); // 255 degrees of freedom, p = 1e-6
  });

  it('below the threshold the round aborts cleanly and the model stays as it was', async () => {
    const { state, coordinator, events } = await federation([0, 2, 4, 6], 6);
    const failed = events.find((e) => e.kind === 'round-failed');
    expect(failed?.message).toMatch(/only 5 of 9 sites sent masked inputs, but at least 6 must survive/);
    expect(coordinator.store.latest).toBe(1);
    const store = await ModelStore.open(state);
    await store.verify(1);
    expect(coordinator.journal.recent().map((r) => r.state)).toEqual(['failed']);
  });
});
