import * as tf from '@tensorflow/tfjs';
import { modelFromTopology } from '../layers-model-io.js';
import { readGraph, SurgeryError, topologyWith, type LayerNode, type ModelGraph } from './graph.js';
import { readWeightMap, writeWeightMap } from './weights.js';

/*
 * Truncated transfer (Peng et al.): keep a pretrained backbone up to a cut point and put a new
 * head (global average pooling + dense) on it. Cut points are the ends of blocks: the layers
 * every path from the input to the output goes through (so the backbone is one tensor), whose
 * output is still an image (H x W x C), and that close a unit (an activation or a pooling; not a
 * bare conv, batch norm or the sum of a residual block before its activation).
 */

export const HEAD_POOL = 'truncated_pool';
export const HEAD_DENSE = 'truncated_head';

const UNIT_ENDS = new Set(['ReLU', 'Activation', 'LeakyReLU', 'ELU', 'PReLU', 'MaxPooling2D', 'AveragePooling2D', 'Dropout', 'SpatialDropout2D']);

export interface CutPoint {
  /** 1-based, in order from the input. */
  index: number;
  layer: string;
  /** The backbone's output there: [H, W, C]. */
  shape: number[];
}

export interface TruncateOptions {
  /** Outputs of the new head (classes, or labels for multi-label). */
  classes: number;
  /** softmax (default) or sigmoid (multi-label). */
  activation?: 'softmax' | 'sigmoid';
  /** Seed of the new head's initial weights. */
  seed?: number;
}

function positions(graph: ModelGraph): Map<string, number> {
  return new Map(graph.layers.map((l, i) => [l.name, i]));
}

/** The model's cut points, in order from the input. */
export function cutPoints(model: tf.LayersModel): CutPoint[] {
  const graph = readGraph(model);
  if (graph.inputs.length !== 1) throw new SurgeryError(`truncation needs a model with one input; this one has ${graph.inputs.length}`);
  const pos = positions(graph);
  // firstUse[i]: the earliest layer any layer after i reads from; i is on every path when it is >= i.
  const out: CutPoint[] = [];
  graph.layers.forEach((node, i) => {
    if (!UNIT_ENDS.has(node.className)) return;
    const shape = model.getLayer(node.name).outputShape as (number | null)[];
    if (!Array.isArray(shape) || shape.length !== 4) return;
    const bypassed = graph.layers.slice(i + 1).some((later) => later.inbound.some((src) => pos.get(src)! < i));
    if (bypassed) return;
    out.push({ index: out.length + 1, layer: node.name, shape: shape.slice(1) as number[] });
  });
  if (out.length === 0) throw new SurgeryError(`model ${graph.name} has no cut point: no activation or pooling layer with an image output that every path goes through`);
  return out;
}

/** Resolves a cut given as a 1-based index or a layer name. */
export function resolveCut(model: tf.LayersModel, cut: number | string): CutPoint {
  const points = cutPoints(model);
  const list = points.map((p) => `${p.index}=${p.layer}`).join(', ');
  if (typeof cut === 'string') {
    const found = points.find((p) => p.layer === cut);
    if (!found) throw new SurgeryError(`layer ${cut} is not a cut point of this model; the cut points are ${list}`);
    return found;
  }
  if (!Number.isInteger(cut) || cut < 1 || cut > points.length) {
    throw new SurgeryError(`cut ${cut} is out of range: this model has ${points.length} cut points (1..${points.length}: ${list})`);
  }
  return points[cut - 1]!;
}

function ancestors(graph: ModelGraph, name: string): Set<string> {
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(byName.get(n) as LayerNode).inbound);
  }
  return seen;
}

function headLayers(cut: string, opts: TruncateOptions): Record<string, unknown>[] {
  return [
    { name: HEAD_POOL, class_name: 'GlobalAveragePooling2D', config: { name: HEAD_POOL, trainable: true, data_format: 'channels_last' }, inbound_nodes: [[[cut, 0, 0, {}]]] },
    {
      name: HEAD_DENSE,
      class_name: 'Dense',
      config: {
        name: HEAD_DENSE,
        trainable: true,
        units: opts.classes,
        activation: opts.activation ?? 'softmax',
        use_bias: true,
        kernel_initializer: { class_name: 'GlorotUniform', config: { seed: opts.seed ?? 1 } },
        bias_initializer: { class_name: 'Zeros', config: {} },
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
      inbound_nodes: [[[HEAD_POOL, 0, 0, {}]]],
    },
  ];
}

/**
 * The backbone of `model` up to `cut` (its weights copied) with a new, untrained head. The
 * backbone's layers keep their names, so its weights keep theirs.
 */
export async function truncateModel(model: tf.LayersModel, cut: number | string, opts: TruncateOptions): Promise<{ model: tf.LayersModel; cut: CutPoint }> {
  if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new SurgeryError(`the new head needs an integer number of outputs >= 1, got ${opts.classes}`);
  const point = resolveCut(model, cut);
  const graph = readGraph(model);
  const keep = ancestors(graph, point.layer);
  const layers = graph.layers.filter((l) => keep.has(l.name)).map((l) => l.raw);
  const topology = topologyWith(graph, [...layers, ...headLayers(point.layer, opts)], [HEAD_DENSE], `${graph.name}_cut${point.index}`);
  const truncated = await modelFromTopology(topology);
  writeWeightMap(truncated, readWeightMap(model));
  return { model: truncated, cut: point };
}

/** The sub-network from the input to `layer`'s output (shares `model`'s weights; do not dispose it separately from `model`). */
export function backboneOutput(model: tf.LayersModel, layer: string): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
}

/**
 * The index of the first layer (in `model.layers` order) of the new head: with a trainable mask
 * that freezes everything before it, a site fine-tunes the head alone.
 */
export function headStart(model: tf.LayersModel): number {
  const i = model.layers.findIndex((l) => l.name === HEAD_POOL);
  if (i < 0) throw new SurgeryError(`model ${model.name} has no ${HEAD_POOL} layer: it was not made by medley model truncate`);
  return i;
}
