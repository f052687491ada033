import { barChartSvg } from '../cli/report/index.js';
import { selectBackend } from '../shared/model/backend.js';
import { countFlops, cutPoints, DEFAULT_HEAD_TRAINING, evaluateCut } from '../shared/model/surgery/index.js';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { aurocAuprc, loadPneumonia, pretrained } from './lib/pretrained.js';
import { round } from './lib/stats.js';
import { writeChart } from './lib/svg-file.js';
import { pneumoniaMnistPath } from './strategies.js';
import { PRUNE_SETTINGS } from './prune.js';

/*
 * Truncated transfer (Peng et al.) on PneumoniaMNIST: the backbone of a cnn-small pretrained here
 * (the same cached network the prune benchmark starts from) is cut at every cut point, a new head
 * (global average pooling + dense) is fitted on other training images with the backbone frozen,
 * and each is scored on the test split beside the full pretrained network. value = best truncated
 * test AUROC; peer = the full network's.
 */

export async function benchTruncate({ quick, log }: BenchOptions): Promise<BenchResult> {
  const metric = 'best test AUROC of a truncated cnn-small with a new head (PneumoniaMNIST subsample)';
  const path = pneumoniaMnistPath();
  if (!path) return { metric, unit: 'AUROC', value: null, skipped: 'PneumoniaMNIST not found (../shared/data/medmnist/pneumoniamnist.npz or MEDLEY_MEDMNIST)' };
  const s = quick ? { ...PRUNE_SETTINGS, pretrainImages: 500, tuneImages: 300, pretrainEpochs: 1 } : PRUNE_SETTINGS;
  const head = { ...DEFAULT_HEAD_TRAINING, seed: s.seed };
  const backend = await selectBackend({ log });
  const data = loadPneumonia(path, s.pretrainImages, s.tuneImages, s.seed);
  const started = performance.now();
  const base = await pretrained('cnn-small', data.train, s.pretrainEpochs, s.seed, log);
  const fullCount = countFlops(base.model);
  const full = await aurocAuprc(base.model, data.test);
  const rows: { cut: string; layer: string; shape: number[]; parameters: number; flops: number; val_auroc: number | null; auroc: number | null; auprc: number | null }[] = [];
  for (const point of cutPoints(base.model)) {
    const { model, result } = await evaluateCut(base.model, point.index, data.tune, data.val, head);
    const test = await aurocAuprc(model, data.test);
    model.dispose();
    rows.push({ cut: String(point.index), layer: point.layer, shape: point.shape, parameters: result.parameters, flops: result.flops, val_auroc: round(result.auroc, 4), auroc: round(test.auroc, 4), auprc: round(test.auprc, 4) });
    log(`truncate: cut ${point.index} (${point.layer}, ${point.shape.join('x')}): ${result.parameters} parameters, ${result.flops} FLOPs, test AUROC ${test.auroc.toFixed(4)}`);
  }
  rows.push({ cut: 'full', layer: '(whole pretrained network)', shape: [], parameters: fullCount.parameters, flops: fullCount.flops, val_auroc: null, auroc: round(full.auroc, 4), auprc: round(full.auprc, 4) });
  base.model.dispose();
  // The cut is chosen on validation AUROC, as `medley model truncate --search` does; its test AUROC is the value.
  const truncatedRows = rows.filter((r) => r.cut !== 'full');
  const chosen = truncatedRows.reduce((a, b) => ((b.val_auroc ?? -1) > (a.val_auroc ?? -1) ? b : a));
  const plot = await writeChart(`truncate${quick ? '-quick' : ''}.svg`, barChartSvg({
    title: 'Truncated transfer (cnn-small, PneumoniaMNIST): test AUROC, AUPRC per cut',
    categories: rows.map((r) => (r.cut === 'full' ? 'full network' : `cut ${r.cut}: ${r.layer}`)),
    series: [
      { name: 'AUROC', values: rows.map((r) => r.auroc ?? NaN) },
      { name: 'AUPRC', values: rows.map((r) => r.auprc ?? NaN) },
    ],
    yRange: [0, 1],
    yLabel: 'test split',
  }));
  log(`truncate: cut chosen on validation ${chosen.cut} (${chosen.layer}), test AUROC ${chosen.auroc} vs full ${round(full.auroc, 4)}; plot ${plot}`);
  return {
    metric,
    unit: 'AUROC',
    value: chosen.auroc,
    peer: { name: 'full pretrained network, test AUROC', value: round(full.auroc, 4) },
    ratio: chosen.auroc !== null ? round(chosen.auroc / full.auroc, 4) : null,
    chosen_cut: chosen.cut,
    backend: backend.name,
    table: rows,
    data: `PneumoniaMNIST 28x28: backbone pretrained on ${data.train.count} training images (${s.pretrainEpochs} epochs${base.cached ? ', cached' : ''}), heads fitted on ${data.tune.count} other training images (${head.epochs} epochs), cut chosen on the ${data.val.count} validation images, scored on the ${data.test.count} test images`,
    flops_note: 'FLOPs per image, one forward pass; a multiply-add counts 2 (shared/model/surgery/flops.ts)',
    plot,
    seconds: round((performance.now() - started) / 1000, 0),
    command: 'npm run bench -- --json --only truncate',
  };
}
