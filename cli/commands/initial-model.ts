import { existsSync, statSync } from 'node:fs';
import type { InitialModel } from '../../coordinator/index.js';

/** What `coordinator init` says about the model beyond its name and input: the task type and zoo options. */
export interface ModelChoices {
  /** classification, multi-label, segmentation or denoising (default: the architecture's own). */
  task?: string;
  /** unet: 2x downsamplings; dncnn: conv layers in all. */
  depth?: number;
  /** unet: filters at the first level; dncnn: filters per layer. */
  filters?: number;
  /** unet: upsample or transpose. */
  up?: string;
  /** denoising: l1 or l2. */
  loss?: string;
}

/** Builds the initial global model: a zoo architecture, or a user's pretrained TF.js model. */
export async function initialModel(model: string, input: string, classes: number, seed: number, choices: ModelChoices = {}): Promise<InitialModel> {
  const m = await import('../../shared/model/index.js');
  await m.selectBackend();
  const task = choices.task === undefined ? undefined : m.parseTaskKind(choices.task);
  if (choices.loss !== undefined && !['l1', 'l2'].includes(choices.loss)) throw new Error(`--loss ${choices.loss}: use l1 or l2 (the denoising loss)`);
  let net;
  let spec: Record<string, unknown>;
  if (existsSync(model) && (statSync(model).isDirectory() || model.endsWith('.json'))) {
    net = await m.loadLayersModelFromDir(model);
    const shape = net.inputs[0]!.shape.slice(1) as number[];
    const out = net.outputs[0]!.shape;
    spec = { arch: 'custom', source: model, inputShape: shape, classes: out[out.length - 1], task: task ?? 'classification' };
  } else {
    const parsed = m.modelSpecFromString(`${model}:${input}:${classes}`, {
      ...(task && { task }),
      ...(choices.depth !== undefined && { depth: choices.depth }),
      ...(choices.filters !== undefined && { filters: choices.filters }),
      ...(choices.up !== undefined && { up: choices.up as 'upsample' | 'transpose' }),
    });
    net = m.buildModel(parsed, seed);
    spec = { ...parsed };
  }
  if (choices.loss !== undefined) {
    if (spec.task !== 'denoising') throw new Error(`--loss ${choices.loss} is the denoising loss; this model is trained for ${String(spec.task)}`);
    spec.loss = choices.loss;
  }
  const { specs } = m.weightLayout(net);
  const flat = m.readFlatWeights(net);
  const topology = net.toJSON(null, false) as unknown as Record<string, unknown>;
  net.dispose();
  return {
    spec,
    topology,
    tensors: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: s.dtype, data: flat.subarray(s.offset / 4, (s.offset + s.byteLength) / 4) })),
  };
}
