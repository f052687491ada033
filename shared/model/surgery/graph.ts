import type * as tf from '@tensorflow/tfjs';

/*
 * The layer graph of a functional TF.js Layers model, read from its topology JSON
 * (`model.toJSON(null, false)`). Surgery (truncation, pruning) edits this JSON and rebuilds the
 * model from it, so layer names, and with them weight names, survive the operation.
 */

/** Why a surgery refused a model or an argument; the message names the input and what to do. */
export class SurgeryError extends Error {
  override readonly name = 'SurgeryError';
}

export interface LayerNode {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** Names of the layers feeding this one (first inbound node; a layer applied twice is refused). */
  inbound: string[];
  /** The raw entry of the topology's layer list (edited copies are made from it). */
  raw: Record<string, unknown>;
}

export interface ModelGraph {
  name: string;
  /** Layers in topological order, as the topology lists them. */
  layers: LayerNode[];
  inputs: string[];
  outputs: string[];
  /** The whole topology, for copies with edits. */
  topology: Record<string, unknown>;
}

/** Layer classes whose output channel c depends only on input channel c (same channel count). */
export const CHANNELWISE = new Set([
  'BatchNormalization', 'ReLU', 'Activation', 'LeakyReLU', 'ELU', 'PReLU', 'Softmax', 'ThresholdedReLU',
  'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
  'MaxPooling2D', 'AveragePooling2D', 'ZeroPadding2D', 'Cropping2D', 'UpSampling2D',
]);

/** Layers that combine several tensors: channel surgery across them is not defined here. */
export const MERGES = new Set(['Add', 'Concatenate', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Subtract', 'Dot']);

/** Reads the layer graph of `model` (a functional model; Sequential topologies are refused). */
export function readGraph(model: tf.LayersModel): ModelGraph {
  return graphOfTopology(model.toJSON(null, false) as unknown as Record<string, unknown>);
}

export function graphOfTopology(topology: Record<string, unknown>): ModelGraph {
  const top = ('modelTopology' in topology ? topology.modelTopology : topology) as Record<string, unknown>;
  if (top.class_name !== 'Model' && top.class_name !== 'Functional') {
    throw new SurgeryError(
      `model surgery needs a functional model; this one is a ${String(top.class_name)}: rebuild it with tf.model({inputs, outputs}) (Keras: the functional API) and save it again`,
    );
  }
  const config = top.config as { name: string; layers: Record<string, unknown>[]; input_layers: unknown[][]; output_layers: unknown[][] };
  const layers = config.layers.map((raw): LayerNode => {
    const nodes = raw.inbound_nodes as unknown[][][];
    if (nodes.length > 1) throw new SurgeryError(`layer ${String(raw.name)} is applied ${nodes.length} times (shared weights); model surgery handles layers used once`);
    return {
      name: String(raw.name),
      className: String(raw.class_name),
      config: raw.config as Record<string, unknown>,
      inbound: nodes.length === 0 ? [] : nodes[0]!.map((edge) => String(edge[0])),
      raw,
    };
  });
  return {
    name: config.name,
    layers,
    inputs: config.input_layers.map((e) => String(e[0])),
    outputs: config.output_layers.map((e) => String(e[0])),
    topology: top,
  };
}

export function layerOf(graph: ModelGraph, name: string): LayerNode {
  const found = graph.layers.find((l) => l.name === name);
  if (!found) throw new SurgeryError(`the model has no layer named ${name}; its layers are ${graph.layers.map((l) => l.name).join(', ')}`);
  return found;
}

/** The layers that take `name`'s output as an input. */
export function consumersOf(graph: ModelGraph, name: string): LayerNode[] {
  return graph.layers.filter((l) => l.inbound.includes(name));
}

/** Deep copy of the topology with `layers` as its layer list and `outputs` as its outputs. */
export function topologyWith(graph: ModelGraph, layers: Record<string, unknown>[], outputs: string[], name = graph.name): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(graph.topology)) as Record<string, unknown>;
  const config = copy.config as Record<string, unknown>;
  config.name = name;
  config.layers = JSON.parse(JSON.stringify(layers));
  config.output_layers = outputs.map((o) => [o, 0, 0]);
  return copy;
}
