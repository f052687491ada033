import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { repoFile } from './lib/assets.js';
import { benchOutFile } from './lib/rss-series.js';
import { barChartSvg } from '../cli/report/svg-bars.js';
import { aggregateSoftLabels } from '../coordinator/aggregation/soft-labels.js';
import { trainModel } from '../node-agent/trainer/local-trainer.js';
import { loadMedmnistSplits, type ImageSet } from '../shared/data/index.js';
import { distillModel, predictSoftLabels, type TransferImages } from '../shared/distill/index.js';
import { buildModel, evaluateTask, selectBackend } from '../shared/model/index.js';
import { classificationMetrics } from '../shared/metrics/index.js';

/*
 * Federated distillation on PneumoniaMNIST (BENCH.md `distill`): three sites, each with its own
 * architecture and its own shard of the training split, train locally; each labels a transfer set
 * (training-split images no site holds, used without their labels); the coordinator's mean of the
 * three sites' soft labels is what the student (the global cnn-small) is distilled from. Student
 * and teachers are scored on the whole test split. The parts are the ones a federation runs:
 * trainModel (the agent's local training), predictSoftLabels, aggregateSoftLabels (the
 * coordinator's mean) and distillModel (the coordinator's student training); the gRPC path around
 * them is covered by test/e2e/distill-federation.test.ts.
 */

const SITES = [
  { name: 'site-a', arch: 'cnn-small' },
  { name: 'site-b', arch: 'resnet-mini' },
  { name: 'site-c', arch: 'mlp' },
] as const;

/** Images `from`..`from + count` of `set` after a seeded shuffle: disjoint slices for the sites and the transfer set. */
function slice(set: ImageSet, order: Int32Array, from: number, count: number): ImageSet {
  const per = set.height * set.width * set.channels;
  const pick = order.subarray(from, from + count);
  const images = new Float32Array(count * per);
  pick.forEach((src, i) => images.set(set.images.subarray(src * per, (src + 1) * per), i * per));
  return { images, labels: Int32Array.from(pick, (src) => set.labels[src]!), count, height: set.height, width: set.width, channels: set.channels, classes: set.classes };
}

function shuffled(count: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: count }, (_, i) => i);
  let a = seed >>> 0;
  for (let i = count - 1; i > 0; i--) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const j = a % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/** A site's own network: a zoo classifier, or (site c) a plain multilayer perceptron no zoo model resembles. */
function siteModel(arch: string, seed: number): tf.LayersModel {
  if (arch !== 'mlp') return buildModel({ arch: arch as 'cnn-small' | 'resnet-mini', inputShape: [28, 28, 1], classes: 2 }, seed);
  const input = tf.input({ shape: [28, 28, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(hidden) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const round4 = (x: number) => Math.round(x * 10000) / 10000;

export async function benchDistill({ quick, log }: BenchOptions): Promise<BenchResult> {
  const metric = 'student AUROC';
  const root = repoFile('package.json');
  const path = resolve(process.env.MEDLEY_MEDMNIST ?? join(root, '..', '..', 'shared', 'data', 'medmnist', 'pneumoniamnist.npz'));
  if (!existsSync(path)) return { metric, unit: 'AUROC', value: null, skipped: 'PneumoniaMNIST not found (../shared/data/medmnist/pneumoniamnist.npz or MEDLEY_MEDMNIST)' };
  const backend = await selectBackend({ log });
  const sizes = quick ? { shard: 150, transfer: 300, test: 200, epochs: 2, studentEpochs: 3 } : { shard: 500, transfer: 1200, test: 624, epochs: 4, studentEpochs: 8 };
  const temperature = 2;
  const { train, test: fullTest } = loadMedmnistSplits(path, ['train', 'test']);
  const order = shuffled(train.count, 11);
  const shards = SITES.map((_, i) => slice(train, order, i * sizes.shard, sizes.shard));
  const transferSet = slice(train, order, SITES.length * sizes.shard, sizes.transfer);
  const test = slice(fullTest, shuffled(fullTest.count, 12), 0, Math.min(sizes.test, fullTest.count));
  const transfer: TransferImages = { images: transferSet.images, count: transferSet.count, height: 28, width: 28, channels: 1 };
  log(`distill: ${SITES.length} sites x ${sizes.shard} training images, transfer set ${sizes.transfer} unlabelled images, test ${test.count}, backend ${backend.name}`);

  const teachers: { site: string; arch: string; parameters: number; auroc: number; seconds: number }[] = [];
  const softLabels: { probabilities: Float32Array; weight: number }[] = [];
  const testScores: Float32Array[] = [];
  for (let i = 0; i < SITES.length; i++) {
    const { name, arch } = SITES[i]!;
    const net = siteModel(arch, 100 + i);
    const started = performance.now();
    await trainModel(net, shards[i]!, { epochs: sizes.epochs, batchSize: 32, learningRate: 0.001, seed: 7 + i });
    const seconds = (performance.now() - started) / 1000;
    const auroc = (await evaluateTask(net, test, 'classification')).auroc!;
    softLabels.push({ probabilities: await predictSoftLabels(net, transfer, 'classification'), weight: shards[i]!.count });
    testScores.push(await predictSoftLabels(net, { images: test.images, count: test.count, height: 28, width: 28, channels: 1 }, 'classification'));
    teachers.push({ site: name, arch, parameters: net.countParams(), auroc, seconds: Math.round(seconds) });
    log(`distill: ${name} (${arch}, ${net.countParams()} parameters) trained in ${seconds.toFixed(0)} s: test AUROC ${auroc.toFixed(3)}`);
    net.dispose();
  }
  const aggregate = aggregateSoftLabels(softLabels, 2, { weighting: 'uniform' });
  // The teachers' ensemble on the test split: what the student can at best hope to match.
  const ensemble = aggregateSoftLabels(testScores.map((p) => ({ probabilities: p, weight: 1 })), 2, { weighting: 'uniform' });
  const ensembleAuroc = classificationMetrics(ensemble, test.labels, 2).auroc;

  const student = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 1234);
  const started = performance.now();
  const distilled = await distillModel(student, transfer, aggregate, { task: 'classification', temperature, threshold: 0.5, epochs: sizes.studentEpochs, batchSize: 32, learningRate: 0.002, seed: 3 });
  const studentSeconds = (performance.now() - started) / 1000;
  const studentAuroc = (await evaluateTask(student, test, 'classification')).auroc!;
  const studentParameters = student.countParams();
  student.dispose();
  log(`distill: student (cnn-small) distilled for ${sizes.studentEpochs} epochs (${studentSeconds.toFixed(0)} s, loss ${distilled.loss.toFixed(4)}): test AUROC ${studentAuroc.toFixed(3)}; teachers' ensemble ${ensembleAuroc.toFixed(3)}`);

  const best = teachers.reduce((a, b) => (b.auroc > a.auroc ? b : a));
  const softLabelBytes = sizes.transfer * 2 * 4;
  const table = [
    ...teachers.map((t) => ({ model: `teacher ${t.site} (${t.arch})`, parameters: t.parameters, modelBytes: t.parameters * 4, uploadBytes: softLabelBytes, testAuroc: round4(t.auroc) })),
    { model: 'teachers\' ensemble (mean of probabilities)', parameters: null, modelBytes: null, uploadBytes: null, testAuroc: round4(ensembleAuroc) },
    { model: 'student (cnn-small, distilled at the coordinator)', parameters: studentParameters, modelBytes: studentParameters * 4, uploadBytes: null, testAuroc: round4(studentAuroc) },
  ];
  const plot = await benchOutFile(`distill${quick ? '-quick' : ''}.svg`);
  const svg = barChartSvg({
    title: `Federated distillation on PneumoniaMNIST: test AUROC (${SITES.length} sites x ${sizes.shard} images, transfer set ${sizes.transfer})`,
    // Short enough for the axis (the chart cuts labels at 18 characters; full names are in the table).
    categories: [...teachers.map((t) => `${t.site.slice(-1)}: ${t.arch}`), 'ensemble', 'student'],
    series: [{ name: 'test AUROC', values: table.map((row) => row.testAuroc) }],
    yRange: [0.5, 1],
    guide: { value: best.auroc, name: `best teacher (${round4(best.auroc)})` },
    yLabel: 'AUROC',
    width: 820,
  });
  await writeFile(plot, svg.replace(/^(<svg[^>]*>)/, '$1<style>.chart{font-family:sans-serif;background:#fff}.chart .chart-title{font-size:14px;font-weight:600}.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}</style>') + '\n');
  return {
    metric,
    unit: 'AUROC',
    value: round4(studentAuroc),
    peer: { name: `best single teacher (${best.site}, ${best.arch})`, value: round4(best.auroc) },
    ratio: round4(studentAuroc / best.auroc),
    target: 'the student is at least as good as the best single teacher (AUROC)',
    // Unrounded: a tie at the printed precision is not a win.
    met: studentAuroc >= best.auroc,
    backend: backend.name,
    ensembleAuroc: round4(ensembleAuroc),
    softLabelBytesPerSite: softLabelBytes,
    subsample: `${SITES.length} site shards of ${sizes.shard} training images, a transfer set of ${sizes.transfer} other training images (labels unused), ${test.count} test images; teachers ${sizes.epochs} local epochs, student ${sizes.studentEpochs} epochs at T = ${temperature}`,
    table,
    plot,
    command: `npm run bench -- --json --only distill${quick ? ' --quick' : ''}`,
  };
}
