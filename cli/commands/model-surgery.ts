import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ModelStore } from '../../coordinator/index.js';
import { loadSiteData, type ImageSet, type SiteData } from '../../shared/data/index.js';
import { modelFromTopologyJson, readFlatWeights, saveLayersModelToDir, selectBackend, weightLayout, writeFlatWeights } from '../../shared/model/index.js';
import * as surgery from '../../shared/model/surgery/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { dataSpecFrom, SPLITTABLE_KINDS } from './data-options.js';
import { FolderLock } from '../../shared/runtime/folder-lock.js';

/*
 * What `medley model truncate|prune|flops` do. Truncation and FLOP counting work on a model folder
 * (or a zoo architecture); pruning works on a coordinator's state folder and writes the slim
 * network as the next global version, so every later round sends (and trains) the smaller model.
 */

export interface DataChoice {
  data: string;
  seed: number;
  count?: number;
  /** Synthetic: image side in pixels (default 28). */
  size?: number;
  /** Training images used at most (a seeded subsample; default all). */
  limit?: number;
}

const log = (m: string) => process.stderr.write(`[model] ${m}\n`);

function firstImages(set: ImageSet, limit: number | undefined): ImageSet {
  if (limit === undefined || limit >= set.count) return set;
  const pixels = set.height * set.width * set.channels;
  return { ...set, images: set.images.slice(0, limit * pixels), labels: set.labels.slice(0, limit), count: limit, subgroups: undefined };
}

/** The images the surgery fits on (train) and judges by (val): the source's own two splits. */
export function surgeryData(choice: DataChoice): SiteData {
  const spec = dataSpecFrom(
    { data: choice.data, seed: choice.seed, shard: '1/1', partition: 'iid', count: choice.count, size: choice.size },
    { kinds: SPLITTABLE_KINDS, refusal: 'model surgery reads synthetic data or a MedMNIST .npz' },
  );
  const data = loadSiteData(spec);
  if (data.train.targets || data.val.targets) throw new ConfigError(`--data ${choice.data}: truncation and pruning are judged by AUROC, so they need a classification data set (one class per image)`);
  return { ...data, train: firstImages(data.train, choice.limit) };
}

/** A model folder, a model.json, or a zoo architecture (built with `seed`, untrained). */
export async function loadModelArg(model: string, seed: number): Promise<tf.LayersModel> {
  await selectBackend();
  const m = await import('../../shared/model/index.js');
  if (existsSync(model)) return m.loadLayersModelFromDir(model);
  return m.buildModel(m.modelSpecFromString(model), seed);
}

export interface TruncateChoice extends DataChoice {
  model: string;
  out: string;
  cut?: number;
  cutLayer?: string;
  search: boolean;
  epochs: number;
  lr: number;
}

export async function truncateCommand(o: TruncateChoice): Promise<Record<string, unknown>> {
  const picked = [o.cut !== undefined, o.cutLayer !== undefined, o.search].filter(Boolean).length;
  if (picked !== 1) throw new ConfigError('give exactly one of --cut K, --cut-layer NAME or --search');
  if (existsSync(o.out) && (await readdir(o.out)).length > 0) throw new ConfigError(`--out ${o.out} is not empty; choose a new folder for the truncated model`);
  const model = await loadModelArg(o.model, o.seed);
  const data = surgeryData(o);
  const head = { ...surgery.DEFAULT_HEAD_TRAINING, epochs: o.epochs, learningRate: o.lr, seed: o.seed };
  try {
    const full = await evaluateFull(model, data.val);
    let cut: number | string;
    let rows: surgery.CutResult[] = [];
    if (o.search) {
      const search = await surgery.searchCut(model, data.train, data.val, { head, log });
      rows = search.results;
      cut = search.best.cut.index;
      log(`best cut: ${search.best.cut.index} (${search.best.cut.layer}), validation AUROC ${search.best.auroc.toFixed(4)}`);
    } else {
      cut = o.cutLayer ?? o.cut!;
    }
    const { model: truncated, result } = await surgery.evaluateCut(model, cut, data.train, data.val, head);
    try {
      await saveLayersModelToDir(truncated, o.out);
    } finally {
      truncated.dispose();
    }
    const report = { out: o.out, cut: result.cut, validation: { auroc: result.auroc, auprc: result.auprc }, parameters: result.parameters, flops: result.flops, full, searched: rows };
    await writeFile(join(o.out, 'truncation.json'), JSON.stringify(report, null, 1));
    log(`wrote ${o.out}: cut ${result.cut.index} (${result.cut.layer}), ${result.parameters} parameters (full ${full.parameters}), ${result.flops} FLOPs per image (full ${full.flops}), validation AUROC ${result.auroc.toFixed(4)}; start a federation from it with \`medley coordinator init --model ${o.out}\` and train the head with \`round start --method truncated\``);
    return report;
  } finally {
    model.dispose();
  }
}

async function evaluateFull(model: tf.LayersModel, val: ImageSet): Promise<{ parameters: number; flops: number; auroc: number | null }> {
  const counted = surgery.countFlops(model);
  const outputs = model.outputs[0]!.shape.at(-1);
  let auroc: number | null = null;
  if (outputs === val.classes) {
    const m = await (await import('../../shared/model/index.js')).evaluateTask(model, val, 'classification');
    auroc = m.auroc ?? null;
  }
  return { parameters: counted.parameters, flops: counted.flops, auroc };
}

export interface PruneChoice extends DataChoice {
  dir: string;
  tolerance: number;
  l1?: number;
  lr?: number;
  epochs?: number;
  threshold?: number;
  maxCycles?: number;
  batchSize?: number;
}

/** Prunes the latest global version of a stopped coordinator's state and writes the slim network as the next version. */
export async function pruneCommand(o: PruneChoice): Promise<Record<string, unknown>> {
  surgery.checkPruneOptions({ tolerance: o.tolerance, threshold: o.threshold, maxCycles: o.maxCycles, ...(o.l1 !== undefined && { l1: o.l1 }) });
  if (!existsSync(join(o.dir, 'models'))) throw new ConfigError(`--dir ${o.dir} is not a coordinator state folder (no models/ in it); give the folder \`medley coordinator init --dir\` created`);
  if (existsSync(join(o.dir, 'run.json'))) {
    throw new ConfigError(`a run is in progress in ${o.dir} (run.json); let it finish or stop it before pruning: a round's updates must match the model it started from`);
  }
  // A coordinator serving this folder holds its lock: pruning under it would race its rounds.
  const lock = await FolderLock.acquire(o.dir, 'model prune');
  try {
    return await pruneLocked(o);
  } finally {
    await lock.release();
  }
}

async function pruneLocked(o: PruneChoice): Promise<Record<string, unknown>> {
  await selectBackend();
  const store = await ModelStore.open(o.dir);
  const base = await store.manifest(store.latest);
  const chunks: Buffer[] = [];
  for await (const chunk of store.readWeights(base.version)) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const net = await modelFromTopologyJson(base.topology);
  writeFlatWeights(net, base.tensors, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
  const data = surgeryData(o);
  try {
    const outcome = await surgery.pruneByChannelScaling(net, data.train, data.val, {
      tolerance: o.tolerance,
      ...(o.l1 !== undefined && { l1: o.l1 }),
      ...(o.lr !== undefined && { learningRate: o.lr }),
      ...(o.epochs !== undefined && { epochs: o.epochs }),
      ...(o.threshold !== undefined && { threshold: o.threshold }),
      ...(o.maxCycles !== undefined && { maxCycles: o.maxCycles }),
      ...(o.batchSize !== undefined && { batchSize: o.batchSize }),
      seed: o.seed,
      log,
    });
    try {
      const kept = outcome.cycles.some((c) => c.kept);
      const summary = {
        base: base.version,
        baseline: outcome.baseline,
        final: outcome.final,
        cycles: outcome.cycles,
        stopped: outcome.stopped,
        channels: Object.fromEntries(surgery.planPruning(outcome.model).units.map((u) => [u.conv, u.channels])),
      };
      if (!kept) {
        log(`no pruned network stayed within the tolerance (${outcome.stopped}); the global model is unchanged (version ${base.version})`);
        return { ...summary, version: null };
      }
      const { specs, totalBytes } = weightLayout(outcome.model);
      const flat = readFlatWeights(outcome.model);
      const spec = { ...base.spec, pruned: { from: base.version, method: 'channel-scaling', tolerance: o.tolerance, validationAuroc: [outcome.baseline.auroc, outcome.final.auroc], convParameters: [outcome.baseline.convParameters, outcome.final.convParameters] } };
      const topology = outcome.model.toJSON(null, false) as unknown as Record<string, unknown>;
      const manifest = await store.writeNext({ parent: base.version, round: null, spec, topology, tensors: specs, totalBytes }, [new Uint8Array(flat.buffer)], { newArchitecture: true });
      await recordSurgery(o.dir, { at: manifest.createdAt, operation: 'prune', version: manifest.version, ...summary });
      log(`wrote model version ${manifest.version} (parent ${base.version}): ${outcome.baseline.parameters} -> ${outcome.final.parameters} parameters, conv ${outcome.baseline.convParameters} -> ${outcome.final.convParameters}, validation AUROC ${outcome.baseline.auroc.toFixed(4)} -> ${outcome.final.auroc.toFixed(4)}; later rounds send this model`);
      return { ...summary, version: manifest.version };
    } finally {
      outcome.model.dispose();
    }
  } finally {
    net.dispose();
  }
}

/** STATE/surgery.jsonl: one line per model surgery, so the history of a version's shape is on record. */
async function recordSurgery(dir: string, entry: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { appendFile } = await import('node:fs/promises');
  await appendFile(join(dir, 'surgery.jsonl'), JSON.stringify(entry) + '\n');
}

export async function flopsCommand(model: string, seed: number): Promise<surgery.FlopCount> {
  const net = await loadModelArg(model, seed);
  try {
    return surgery.countFlops(net);
  } finally {
    net.dispose();
  }
}
