import type * as tf from '@tensorflow/tfjs';
import { modelFromTopology } from '../layers-model-io.js';
import { readGraph, SurgeryError, topologyWith } from './graph.js';
import { planPruning, type ChannelReader, type ConvUnit, type PrunePlan } from './prune-plan.js';
import { readWeightMap, scaleLastAxis, takeAlong, writeWeightMap, type WeightMap, type WeightValue } from './weights.js';

/*
 * Rebuilding a network without some conv channels, folding channel scales into plain layers, and
 * (for checking the first against its definition) zeroing channels in place.
 */

/** Per conv layer, the output channels to keep (ascending), or to drop. */
export type ChannelSelection = ReadonlyMap<string, readonly number[]>;

function get(weights: WeightMap, name: string): WeightValue {
  const w = weights.get(name);
  if (!w) throw new SurgeryError(`the model has no weight ${name}`);
  return w;
}

function update(weights: WeightMap, name: string, change: (w: WeightValue) => WeightValue): void {
  if (weights.has(name)) weights.set(name, change(weights.get(name)!));
}

/** Rows of a dense kernel that carry channels `channels` of `total`, `positions` features each (position-major). */
function denseRows(channels: readonly number[], total: number, positions: number): number[] {
  const rows: number[] = [];
  for (let p = 0; p < positions; p++) for (const c of channels) rows.push(p * total + c);
  return rows;
}

function sliceReader(weights: WeightMap, reader: ChannelReader, keep: readonly number[], total: number): void {
  if (reader.kind === 'conv') update(weights, `${reader.layer}/kernel`, (w) => takeAlong(w, 2, keep));
  else update(weights, `${reader.layer}/kernel`, (w) => takeAlong(w, 0, denseRows(keep, total, reader.positions)));
}

function checkSelection(plan: PrunePlan, selection: ChannelSelection): Map<string, ConvUnit> {
  const units = new Map(plan.units.map((u) => [u.conv, u]));
  for (const [conv, keep] of selection) {
    const unit = units.get(conv);
    if (!unit) {
      const fixed = plan.fixed.find((f) => f.conv === conv);
      throw new SurgeryError(fixed ? `conv ${conv} cannot be pruned: ${fixed.why}` : `the model has no prunable conv layer ${conv}; prunable: ${[...units.keys()].join(', ')}`);
    }
    if (keep.length === 0) throw new SurgeryError(`pruning would remove every channel of conv ${conv}; keep at least one`);
    if (keep.some((c, i) => !Number.isInteger(c) || c < 0 || c >= unit.channels || (i > 0 && c <= keep[i - 1]!))) {
      throw new SurgeryError(`channels to keep of conv ${conv} must be ascending integers in 0..${unit.channels - 1}, got ${keep.join(',')}`);
    }
  }
  return units;
}

/**
 * A new, slimmer network: conv layer `conv` keeps only the output channels `keep.get(conv)`; its
 * batch norms and the layers reading its channels lose the matching slices. Layers not named keep
 * every channel. Every remaining weight is copied, so the result computes what `model` computes with
 * the removed channels' contributions zeroed (see zeroChannels).
 */
export async function pruneChannels(model: tf.LayersModel, keep: ChannelSelection, plan: PrunePlan = planPruning(model)): Promise<tf.LayersModel> {
  const units = checkSelection(plan, keep);
  const graph = readGraph(model);
  const weights = readWeightMap(model);
  const layers = graph.layers.map((l) => {
    const kept = keep.get(l.name);
    if (!kept) return l.raw;
    return { ...l.raw, config: { ...l.config, filters: kept.length } };
  });
  for (const [conv, kept] of keep) {
    const unit = units.get(conv)!;
    if (kept.length === unit.channels) continue;
    update(weights, `${conv}/kernel`, (w) => takeAlong(w, 3, kept));
    update(weights, `${conv}/bias`, (w) => takeAlong(w, 0, kept));
    for (const bn of unit.batchNorms) {
      for (const part of ['gamma', 'beta', 'moving_mean', 'moving_variance']) update(weights, `${bn}/${part}`, (w) => takeAlong(w, 0, kept));
    }
    for (const reader of unit.readers) sliceReader(weights, reader, kept, unit.channels);
  }
  const slim = await modelFromTopology(topologyWith(graph, layers, graph.outputs));
  try {
    writeWeightMap(slim, weights);
  } catch (err) {
    slim.dispose();
    throw err;
  }
  return slim;
}

/**
 * The same network with removed channels' contributions zeroed: every weight that reads channel c
 * of a conv in `drop` (the next conv's input slice, the dense rows after pooling or flatten) is set
 * to 0. Same topology, same size; the definition pruneChannels must agree with.
 */
export async function zeroChannels(model: tf.LayersModel, drop: ChannelSelection, plan: PrunePlan = planPruning(model)): Promise<tf.LayersModel> {
  const units = checkSelection(plan, new Map([...drop].map(([conv, d]) => [conv, d.length ? d : [0]])));
  const weights = readWeightMap(model);
  for (const [conv, dropped] of drop) {
    const unit = units.get(conv)!;
    const gone = new Set(dropped);
    for (const reader of unit.readers) {
      const kernel = get(weights, `${reader.layer}/kernel`);
      const data = Float32Array.from(kernel.data);
      if (reader.kind === 'conv') {
        // [kh, kw, cin, cout]: zero input channel c.
        const cin = kernel.shape[2]!;
        const cout = kernel.shape[3]!;
        for (let i = 0; i < data.length; i++) if (gone.has(Math.floor(i / cout) % cin)) data[i] = 0;
      } else {
        const rows = new Set(denseRows([...gone], unit.channels, reader.positions));
        const units_ = kernel.shape[1]!;
        for (let i = 0; i < data.length; i++) if (rows.has(Math.floor(i / units_))) data[i] = 0;
      }
      weights.set(`${reader.layer}/kernel`, { shape: kernel.shape, data });
    }
  }
  const copy = await modelFromTopology(model.toJSON(null, false) as object);
  writeWeightMap(copy, weights);
  return copy;
}

/**
 * Folds per-channel scales (conv name -> one factor per output channel) into the network's own
 * weights: into the batch norm's gamma and beta when one follows the conv (the scale sits after
 * it), else into the conv's kernel and bias. The result has plain layers and computes what the
 * network with the scale layers computes.
 */
export async function foldScales(model: tf.LayersModel, scales: ReadonlyMap<string, Float32Array>, plan: PrunePlan = planPruning(model)): Promise<tf.LayersModel> {
  const units = new Map(plan.units.map((u) => [u.conv, u]));
  const weights = readWeightMap(model);
  for (const [conv, s] of scales) {
    const unit = units.get(conv);
    if (!unit) throw new SurgeryError(`no prunable conv layer ${conv} to fold a channel scale into`);
    const targets = unit.foldInto === 'batchnorm' ? [`${unit.scaleAfter}/gamma`, `${unit.scaleAfter}/beta`] : [`${conv}/kernel`, `${conv}/bias`];
    for (const name of targets) update(weights, name, (w) => scaleLastAxis(w, s));
  }
  const copy = await modelFromTopology(model.toJSON(null, false) as object);
  writeWeightMap(copy, weights);
  return copy;
}
