import { lineChartSvg } from '../cli/report/index.js';
import { selectBackend } from '../shared/model/backend.js';
import { pruneByChannelScaling } from '../shared/model/surgery/index.js';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { aurocAuprc, loadPneumonia, pretrained } from './lib/pretrained.js';
import { round } from './lib/stats.js';
import { writeChart } from './lib/svg-file.js';
import { pneumoniaMnistPath } from './strategies.js';

/*
 * Channel-scaling pruning (Wong, Kashyap, Moradi, ISBI 2021) of a cnn-small pretrained here on a
 * PneumoniaMNIST subsample: scales fitted on other training images, the tolerance (0.01 validation
 * AUROC) judged on the validation split, the result reported on the test split, which the
 * pruning never sees. value = fraction of conv parameters removed; peer = test AUROC before.
 */

export const PRUNE_SETTINGS = { pretrainImages: 2000, tuneImages: 1000, pretrainEpochs: 4, seed: 1, tolerance: 0.01, l1: 0.01, learningRate: 1, epochs: 3, batchSize: 16, threshold: 0.05, maxCycles: 8, retries: 4, backoff: 0.7 };

export async function benchPrune({ quick, log }: BenchOptions): Promise<BenchResult> {
  const metric = 'fraction of conv parameters removed by channel-scaling pruning (cnn-small, PneumoniaMNIST subsample)';
  const target = '>= 90% of conv parameters removed with <= 0.01 AUROC lost';
  const path = pneumoniaMnistPath();
  if (!path) return { metric, unit: 'fraction', value: null, target, skipped: 'PneumoniaMNIST not found (../shared/data/medmnist/pneumoniamnist.npz or MEDLEY_MEDMNIST)' };
  const s = quick ? { ...PRUNE_SETTINGS, pretrainImages: 500, tuneImages: 300, pretrainEpochs: 1, epochs: 1, maxCycles: 1 } : PRUNE_SETTINGS;
  const backend = await selectBackend({ log });
  const data = loadPneumonia(path, s.pretrainImages, s.tuneImages, s.seed);
  const started = performance.now();
  const base = await pretrained('cnn-small', data.train, s.pretrainEpochs, s.seed, log);
  const before = { val: await aurocAuprc(base.model, data.val), test: await aurocAuprc(base.model, data.test) };
  const outcome = await pruneByChannelScaling(base.model, data.tune, data.val, {
    tolerance: s.tolerance, l1: s.l1, learningRate: s.learningRate, epochs: s.epochs, batchSize: s.batchSize, threshold: s.threshold, maxCycles: s.maxCycles, retries: s.retries, backoff: s.backoff, seed: s.seed,
    log: (l) => log(`prune: ${l}`),
  });
  const after = { val: await aurocAuprc(outcome.model, data.val), test: await aurocAuprc(outcome.model, data.test) };
  const removed = 1 - outcome.final.convParameters / outcome.baseline.convParameters;
  const lost = before.test.auroc - after.test.auroc;
  const plot = await writeChart(`prune${quick ? '-quick' : ''}.svg`, lineChartSvg({
    title: 'Channel-scaling pruning, cnn-small on PneumoniaMNIST: each cycle (discarded ones over the tolerance)',
    series: [
      { name: 'conv parameters left (fraction)', points: [{ x: 0, y: 1 }, ...outcome.cycles.map((c) => ({ x: c.cycle, y: c.convParameters / outcome.baseline.convParameters }))] },
      { name: 'validation AUROC', points: [{ x: 0, y: outcome.baseline.auroc }, ...outcome.cycles.map((c) => ({ x: c.cycle, y: c.auroc }))] },
    ],
    xLabel: 'cycle', yLabel: 'fraction / AUROC', yRange: [0, 1], width: 760, height: 360,
  }));
  outcome.model.dispose();
  base.model.dispose();
  const seconds = (performance.now() - started) / 1000;
  log(`prune: ${(removed * 100).toFixed(1)}% of conv parameters removed, test AUROC ${before.test.auroc.toFixed(4)} -> ${after.test.auroc.toFixed(4)}; plot ${plot}`);
  return {
    metric,
    unit: 'fraction',
    value: round(removed, 4),
    peer: { name: 'test AUROC before pruning', value: round(before.test.auroc, 4) },
    auroc_after: round(after.test.auroc, 4),
    auroc_lost: round(lost, 4),
    target,
    met: removed >= 0.9 && lost <= 0.01,
    backend: backend.name,
    table: {
      conv_parameters: [outcome.baseline.convParameters, outcome.final.convParameters],
      parameters: [outcome.baseline.parameters, outcome.final.parameters],
      validation_auroc: [round(before.val.auroc, 4), round(after.val.auroc, 4)],
      test_auroc: [round(before.test.auroc, 4), round(after.test.auroc, 4)],
      test_auprc: [round(before.test.auprc, 4), round(after.test.auprc, 4)],
      cycles: outcome.cycles.map((c) => ({ ...c, auroc: round(c.auroc, 4) })),
      stopped: outcome.stopped,
    },
    data: `PneumoniaMNIST 28x28: pretrain on ${data.train.count} training images (${s.pretrainEpochs} epochs${base.cached ? ', cached' : ''}), scales on ${data.tune.count} other training images, tolerance on the ${data.val.count} validation images, reported on the ${data.test.count} test images`,
    settings: s,
    plot,
    seconds: round(seconds, 0),
    command: 'npm run bench -- --json --only prune',
  };
}
