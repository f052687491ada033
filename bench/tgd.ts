import { writeFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { benchOutFile } from './lib/rss-series.js';
import { pneumoniaMnistPath } from './strategies.js';
import { barChartSvg } from '../cli/report/svg-bars.js';
import { trainModel } from '../node-agent/trainer/local-trainer.js';
import { loadMedmnistSplits, Random, type ImageSet } from '../shared/data/index.js';
import { buildModel, evaluateTask, planTgd, selectBackend } from '../shared/model/index.js';

/*
 * Targeted Gradient Descent on PneumoniaMNIST (BENCH.md `tgd`): cnn-small is pretrained on sites A
 * and B (two disjoint shards of the training split), then fine-tuned on site C, whose images come
 * from another scanner setting: lower contrast, a brighter floor and more noise. Two ways to adapt,
 * from the same pretrained weights, same epochs, optimiser and learning rate: plain fine-tuning of
 * every weight, and TGD (KSE masks: only filters feeding low-KSE channels train; batch-norm running
 * statistics of frozen channels stay). Scored on the test split as A and B see it (original images)
 * and as C sees it (the same images shifted). The parts are the federation's: trainModel with the
 * mask is what an agent runs for a `tgd` task, planTgd what the coordinator sends; the gRPC path is
 * covered by test/e2e/tgd-federation.test.ts.
 */

/*
 * The ways of adapting to site C, all from the same pretrained weights with the same optimiser,
 * learning rate and total epochs. TGD's main row is TGD^2 at phi 0.5: the method's default phi
 * (0.3) opens only ~1% of cnn-small's weights, too few to follow site C's shift, and a second cycle
 * rescores the model after the first (the paper's TGD^n). The default and a wider phi are extra rows.
 */
interface Variant {
  key: string;
  label: string;
  /** null: plain fine-tuning of every weight. */
  phi: number | null;
  cycles: number;
}
const VARIANTS: Variant[] = [
  { key: 'plain', label: 'plain fine-tuning on C (all layers)', phi: null, cycles: 1 },
  { key: 'tgd', label: 'TGD^2 on C (phi 0.5)', phi: 0.5, cycles: 2 },
  { key: 'tgd-default', label: 'TGD on C (phi 0.3, the default)', phi: 0.3, cycles: 1 },
  { key: 'tgd-wide', label: 'TGD on C (phi 0.7)', phi: 0.7, cycles: 1 },
];

/** Site C's scanner: contrast x0.5 around a floor of 0.35, Gaussian noise sigma 0.08, clipped to [0, 1]. */
function shiftToSiteC(set: ImageSet, seed: number): ImageSet {
  const rng = new Random(seed);
  const images = set.images.map((v) => Math.min(1, Math.max(0, 0.35 + 0.5 * v + 0.08 * rng.normal())));
  return { ...set, images };
}

function pick(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const per = set.height * set.width * set.channels;
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    images.set(set.images.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = set.labels[src]!;
  }
  return { images, labels, count: indices.length, height: set.height, width: set.width, channels: set.channels, classes: set.classes };
}

function shuffled(count: number, seed: number): Int32Array {
  const rng = new Random(seed);
  const idx = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function auroc(model: tf.LayersModel, set: ImageSet): Promise<number> {
  return (await evaluateTask(model, set, 'classification')).auroc!;
}

export async function benchTgd({ quick, log }: BenchOptions): Promise<BenchResult> {
  const metric = 'AUROC lost on the earlier sites (A+B) by TGD fine-tuning on a shifted site C';
  const path = pneumoniaMnistPath();
  if (!path) return { metric, unit: 'AUROC', value: null, skipped: 'PneumoniaMNIST not found (../shared/data/medmnist/pneumoniamnist.npz or MEDLEY_MEDMNIST)' };
  const backend = await selectBackend({ log });
  const sizes = quick
    ? { site: 300, siteC: 300, test: 300, pretrainEpochs: 3, adaptEpochs: 3 }
    : { site: 800, siteC: 600, test: 624, pretrainEpochs: 6, adaptEpochs: 5 };
  // The same optimiser, learning rate and epochs for both ways of adapting.
  const adapt = { batchSize: 32, learningRate: 0.005, optimizer: 'adam' as const };
  const { train, test: fullTest } = loadMedmnistSplits(path, ['train', 'test']);
  const order = shuffled(train.count, 21);
  const siteA = pick(train, order.subarray(0, sizes.site));
  const siteB = pick(train, order.subarray(sizes.site, 2 * sizes.site));
  const siteC = shiftToSiteC(pick(train, order.subarray(2 * sizes.site, 2 * sizes.site + sizes.siteC)), 5);
  const testAB = pick(fullTest, shuffled(fullTest.count, 22).subarray(0, Math.min(sizes.test, fullTest.count)));
  const testC = shiftToSiteC(testAB, 6);
  const pooledAB = pick({ ...train }, order.subarray(0, 2 * sizes.site));
  log(`tgd: pretrain cnn-small on sites A+B (${pooledAB.count} images, ${sizes.pretrainEpochs} epochs), adapt on site C (${siteC.count} shifted images, ${sizes.adaptEpochs} epochs); test ${testAB.count} images; backend ${backend.name}`);

  const spec = { arch: 'cnn-small' as const, inputShape: [28, 28, 1] as [number, number, number], classes: 2 };
  const pretrained = buildModel(spec, 7);
  const t0 = performance.now();
  await trainModel(pretrained, pooledAB, { epochs: sizes.pretrainEpochs, batchSize: 32, learningRate: 0.002, seed: 1 });
  const before = { ab: await auroc(pretrained, testAB), c: await auroc(pretrained, testC) };
  log(`tgd: pretrained in ${((performance.now() - t0) / 1000).toFixed(0)} s: AUROC A+B ${before.ab.toFixed(3)}, C ${before.c.toFixed(3)}`);

  const runs: Record<string, { ab: number; c: number; seconds: number; trainable: number[] }> = {};
  const redundant: Record<string, Record<string, number>[]> = {};
  for (const v of VARIANTS) {
    const net = buildModel(spec, 7);
    net.setWeights(pretrained.getWeights());
    const started = performance.now();
    const trainable: number[] = [];
    for (let cycle = 0; cycle < v.cycles; cycle++) {
      // Each cycle scores the model the previous one left; the epochs are shared out among the cycles.
      const plan = v.phi === null ? null : planTgd(net, { phi: v.phi });
      const epochs = Math.floor(sizes.adaptEpochs / v.cycles) + (cycle < sizes.adaptEpochs % v.cycles ? 1 : 0);
      trainable.push(plan ? plan.trainableElements : net.countParams());
      if (plan) (redundant[v.key] ??= []).push(Object.fromEntries(Object.entries(plan.redundant).map(([layer, f]) => [layer, f.length])));
      await trainModel(net, siteC, { ...adapt, epochs, seed: 3 + cycle, trainableMask: plan?.mask });
    }
    const seconds = (performance.now() - started) / 1000;
    runs[v.key] = { ab: await auroc(net, testAB), c: await auroc(net, testC), seconds, trainable };
    log(`tgd: ${v.label} (${seconds.toFixed(0)} s, ${trainable.join(' then ')} weights open): AUROC A+B ${runs[v.key]!.ab.toFixed(3)}, C ${runs[v.key]!.c.toFixed(3)}`);
    net.dispose();
  }
  pretrained.dispose();

  const plain = runs.plain!;
  const tgd = runs.tgd!;
  const lost = { tgd: before.ab - tgd.ab, plain: before.ab - plain.ab };
  const ratio = lost.plain > 0 ? lost.tgd / lost.plain : null;
  const forgetsLess = lost.tgd <= Math.max(0, lost.plain) / 2;
  const keepsUp = tgd.c >= plain.c - 0.01;
  const table = [
    { model: 'pretrained on A+B', aurocAB: round3(before.ab), aurocC: round3(before.c), weightsOpen: null, seconds: null },
    ...VARIANTS.map((v) => ({ model: v.label, aurocAB: round3(runs[v.key]!.ab), aurocC: round3(runs[v.key]!.c), weightsOpen: runs[v.key]!.trainable.join(' then '), seconds: Math.round(runs[v.key]!.seconds) })),
  ];
  const plot = await benchOutFile(`tgd${quick ? '-quick' : ''}.svg`);
  const svg = barChartSvg({
    title: `TGD vs plain fine-tuning on PneumoniaMNIST: AUROC on the earlier sites and on shifted site C`,
    categories: ['sites A+B (original images)', 'site C (shifted images)'],
    series: table.map((row) => ({ name: row.model, values: [row.aurocAB, row.aurocC] })),
    yRange: [0.5, 1],
    yLabel: 'test AUROC',
    width: 720,
  });
  await writeFile(plot, svg.replace(/^(<svg[^>]*>)/, '$1<style>.chart{font-family:sans-serif;background:#fff}.chart .chart-title{font-size:14px;font-weight:600}.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}</style>') + '\n');
  return {
    metric,
    unit: 'AUROC',
    value: round3(lost.tgd),
    peer: { name: 'AUROC lost on A+B by plain fine-tuning of all layers', value: round3(lost.plain) },
    ratio: ratio === null ? null : round3(ratio),
    target: 'TGD loses at most half of what plain fine-tuning loses on A+B, and is within 0.01 AUROC of plain fine-tuning on C',
    met: forgetsLess && keepsUp,
    forgetsLessMet: forgetsLess,
    siteCMet: keepsUp,
    siteCGap: round3(plain.c - tgd.c),
    backend: backend.name,
    redundantFiltersPerCycle: redundant,
    subsample: `PneumoniaMNIST: sites A and B ${sizes.site} training images each (pretraining pooled, ${sizes.pretrainEpochs} epochs), site C ${sizes.siteC} other training images shifted (contrast x0.5 + 0.35, noise sigma 0.08), ${testAB.count} test images scored as A/B and as C see them; fine-tuning ${sizes.adaptEpochs} epochs in all (TGD^2: split over the two cycles), Adam lr ${adapt.learningRate}, batch ${adapt.batchSize}`,
    table,
    plot,
    command: `npm run bench -- --json --only tgd${quick ? ' --quick' : ''}`,
  };
}
