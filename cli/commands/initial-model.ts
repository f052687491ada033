import { existsSync, statSync } from 'node:fs';
import type { InitialModel } from '../../coordinator/index.js';

/** Builds the initial global model: a zoo architecture, or a user's pretrained TF.js model. */
export async function initialModel(model: string, input: string, classes: number, seed: number): Promise<InitialModel> {
  const m = await import('../../shared/model/index.js');
  await m.selectBackend();
  let net;
  let spec: Record<string, unknown>;
  if (existsSync(model) && (statSync(model).isDirectory() || model.endsWith('.json'))) {
    net = await m.loadLayersModelFromDir(model);
    const shape = net.inputs[0]!.shape.slice(1) as number[];
    const out = net.outputs[0]!.shape;
    spec = { arch: 'custom', source: model, inputShape: shape, classes: out[out.length - 1] };
  } else {
    const parsed = m.modelSpecFromString(`${model}:${input}:${classes}`);
    net = m.buildModel(parsed, seed);
    spec = { ...parsed };
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
