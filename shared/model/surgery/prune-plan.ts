import type * as tf from '@tensorflow/tfjs';
import { CHANNELWISE, consumersOf, MERGES, readGraph, SurgeryError, type LayerNode, type ModelGraph } from './graph.js';

/*
 * Which conv layers channel pruning can slim, and what else changes when one of their output
 * channels goes: a channel of conv C flows through channel-wise layers (batch norm, activations,
 * pooling, dropout) into its consumers, each of which reads it as an input channel (the next conv's
 * kernel), a feature (a dense layer after global pooling) or H x W features (a dense layer after
 * flatten). Removing the channel removes exactly those slices; nothing else in the network reads it.
 */

/** A layer that reads a conv's channels as inputs. */
export type ChannelReader =
  | { kind: 'conv'; layer: string }
  /** A dense layer: `positions` input features per channel (1 after global pooling, H*W after flatten), laid out position-major. */
  | { kind: 'dense'; layer: string; positions: number };

export interface ConvUnit {
  conv: string;
  channels: number;
  /**
   * Where its channel scale sits and is folded: after the batch norm that directly follows the conv
   * (folded into gamma and beta), else after the conv itself (folded into kernel and bias).
   */
  scaleAfter: string;
  foldInto: 'batchnorm' | 'conv';
  /** Batch norms on the channels' way (their per-channel parameters and statistics are sliced too). */
  batchNorms: string[];
  readers: ChannelReader[];
}

export interface PrunePlan {
  /** Conv layers that can be slimmed, in model order. */
  units: ConvUnit[];
  /** Conv layers whose channel count is fixed (their channels are the model's output), with why. */
  fixed: { conv: string; why: string }[];
}

function refuseMerge(conv: string, merge: LayerNode): never {
  throw new SurgeryError(
    `channel pruning cannot follow conv ${conv}'s channels through layer ${merge.name} (${merge.className}), which combines them with another tensor; ` +
      'it handles networks whose conv layers feed each other through channel-wise layers (e.g. cnn-small), not U-Nets, ResNets or DnCNNs',
  );
}

/** Follows conv `start`'s channels to the layers that read them. Returns null when they reach the model's output. */
function follow(graph: ModelGraph, model: tf.LayersModel, start: LayerNode): { batchNorms: string[]; readers: ChannelReader[] } | null {
  const batchNorms: string[] = [];
  const readers: ChannelReader[] = [];
  const stack: { node: LayerNode; positions: number; flat: boolean }[] = [{ node: start, positions: 1, flat: false }];
  while (stack.length) {
    const { node, positions, flat } = stack.pop()!;
    if (graph.outputs.includes(node.name)) return null;
    for (const next of consumersOf(graph, node.name)) {
      const cls = next.className;
      if (MERGES.has(cls)) refuseMerge(start.name, next);
      if (cls === 'Conv2D' && !flat) readers.push({ kind: 'conv', layer: next.name });
      else if (cls === 'Dense' && flat) readers.push({ kind: 'dense', layer: next.name, positions });
      else if (cls === 'BatchNormalization' && !flat) {
        batchNorms.push(next.name);
        stack.push({ node: next, positions, flat });
      } else if (CHANNELWISE.has(cls) && !(flat && !cls.includes('Dropout'))) stack.push({ node: next, positions, flat });
      else if ((cls === 'GlobalAveragePooling2D' || cls === 'GlobalMaxPooling2D') && !flat) stack.push({ node: next, positions: 1, flat: true });
      else if (cls === 'Flatten' && !flat) {
        const shape = model.getLayer(node.name).outputShape as number[];
        stack.push({ node: next, positions: shape[1]! * shape[2]!, flat: true });
      } else {
        throw new SurgeryError(`channel pruning does not know how layer ${next.name} (${cls}) reads conv ${start.name}'s channels; it follows Conv2D, Dense, batch norm, activations, pooling, dropout and flatten`);
      }
    }
  }
  return { batchNorms, readers };
}

/** The conv layers of `model` that channel pruning can slim, and what each one's channels feed. */
export function planPruning(model: tf.LayersModel): PrunePlan {
  const graph = readGraph(model);
  const units: ConvUnit[] = [];
  const fixed: PrunePlan['fixed'] = [];
  for (const node of graph.layers) {
    if (node.className === 'DepthwiseConv2D' || node.className === 'SeparableConv2D' || node.className === 'Conv2DTranspose') {
      throw new SurgeryError(`channel pruning does not handle layer ${node.name} (${node.className}); it prunes Conv2D layers`);
    }
    if (node.className !== 'Conv2D') continue;
    const channels = Number(node.config.filters);
    const flow = follow(graph, model, node);
    if (!flow) {
      fixed.push({ conv: node.name, why: 'its channels are the model output' });
      continue;
    }
    const consumers = consumersOf(graph, node.name);
    const bn = consumers.length === 1 && consumers[0]!.className === 'BatchNormalization' ? consumers[0]! : null;
    if (bn && (bn.config.scale === false || bn.config.center === false)) {
      throw new SurgeryError(`batch norm ${bn.name} after conv ${node.name} has no ${bn.config.scale === false ? 'gamma' : 'beta'}; channel scales fold into both, so pruning needs scale and center on`);
    }
    const activation = node.config.activation ?? 'linear';
    if (!bn && activation !== 'linear') {
      throw new SurgeryError(`conv ${node.name} applies ${String(activation)} itself and no batch norm follows it, so a channel scale cannot be folded into it; put the activation in its own layer`);
    }
    units.push({ conv: node.name, channels, scaleAfter: bn ? bn.name : node.name, foldInto: bn ? 'batchnorm' : 'conv', batchNorms: flow.batchNorms, readers: flow.readers });
  }
  if (units.length === 0) {
    const why = fixed.length ? ` (${fixed.map((f) => `${f.conv}: ${f.why}`).join('; ')})` : ' (it has no Conv2D layer)';
    throw new SurgeryError(`model ${graph.name} has no conv layer channel pruning can slim${why}`);
  }
  return { units, fixed };
}
