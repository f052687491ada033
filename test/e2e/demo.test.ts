import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import { loadHeldOut } from '../../shared/data/index.js';
import { classificationMetrics } from '../../shared/metrics/index.js';
import { loadLayersModelFromDir, modelFromTopologyJson, selectBackend, writeFlatWeights } from '../../shared/model/index.js';
import { predictProbabilities } from '../../shared/model/predict.js';
import type { RunSummary } from '../../cli/report/index.js';
import { medley } from '../helpers/processes.js';

describe('medley demo: coordinator and 3 agents as separate processes, real training', () => {
  it('runs the rounds, improves the model on held-out synthetic data, and writes the run folder', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'medley-demo-')), 'run');
    const proc = medley(['demo', '--sites', '3', '--rounds', '2', '--count', '400', '--epochs', '3', '--out', out, '--seed', '3', '--json']);
    const code = await proc.exited;
    expect(code, proc.output()).toBe(0);

    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(summary.backend).toBe('wasm');
    expect(summary.modelVersion).toBe(3);
    expect(summary.sites.map((s) => [s.name, s.examples])).toEqual([
      ['site-1', 400],
      ['site-2', 400],
      ['site-3', 400],
    ]);
    expect(summary.rounds.map((r) => [r.round, r.sites, r.examples])).toEqual([
      [1, 3, 1200],
      [2, 3, 1200],
    ]);
    for (const r of summary.rounds) {
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.bytesUp).toBe(3 * summary.model.parameters * 4);
      expect(r.siteMetrics).toHaveLength(3);
    }
    // The progress display reported epochs and bytes on stderr.
    expect(proc.output()).toMatch(/site-1: training epoch 3\/3/);
    expect(proc.output()).toMatch(/round 2 closed/);

    // Score the initial model (version 1) on the same held-out set the coordinator used.
    await selectBackend();
    const heldOut = loadHeldOut({ source: 'synthetic', seed: 3 });
    const store = await ModelStore.open(join(out, 'state'));
    const v1 = await store.manifest(1);
    const net = await modelFromTopologyJson(v1.topology);
    const bytes = await readFile(store.weightsPath(1));
    writeFlatWeights(net, v1.tensors, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    const initial = classificationMetrics(await predictProbabilities(net, heldOut), heldOut.labels, heldOut.classes);
    net.dispose();
    const final = summary.rounds[1]!.metrics;
    expect(final.auroc).toBeGreaterThan(initial.auroc + 0.15);
    expect(final.loss).toBeLessThan(initial.loss);

    // The exported final model loads as a plain TF.js LayersModel and gives the stored model's answers.
    const exported = await loadLayersModelFromDir(join(out, 'model'));
    const probs = await predictProbabilities(exported, heldOut);
    expect(classificationMetrics(probs, heldOut.labels, heldOut.classes).auroc).toBeCloseTo(final.auroc, 6);
    exported.dispose();

    const report = await readFile(join(out, 'report.html'), 'utf8');
    expect(report.match(/<svg/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    expect(report).toContain('site-3');
  });
});
