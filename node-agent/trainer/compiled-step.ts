import * as tf from '@tensorflow/tfjs';

/*
 * A hand-derived training step for the conv nets the zoo builds (and user models made of the same
 * layer types). tfjs autodiff through tfjs-layers is correct but slow on WASM: batch norm differentiates
 * through `moments` (~20 full-tensor passes per layer), fused convolutions compute the input gradient
 * even for the image, and every op goes through the tape. Here the backward pass is written out per
 * layer type with the closed-form batch-norm gradient and no unneeded input gradient. Semantics follow
 * tfjs-layers exactly (biased batch variance, moving-stat update, categorical cross-entropy on the
 * softmax output), so it trains the same weights the generic path would; `compileTrainingStep`
 * returns null for anything it does not understand and the caller falls back to autodiff.
 */

type T = tf.Tensor;
type Sym = tf.SymbolicTensor;

interface LayerWeights {
  [role: string]: tf.Variable;
}

interface Op {
  layer: tf.layers.Layer;
  kind: string;
  cfg: Record<string, any>;
  w: LayerWeights;
  inputs: number[];
  output: number;
  /** Batch norm whose only consumer is a ReLU: the ReLU is applied inside the same pass. */
  fuseRelu?: boolean;
  /** ReLU fed by such a batch norm: its forward is the identity, its backward still masks. */
  afterFusedBn?: boolean;
}

export interface CompiledStep {
  /** Trainable variables in model.trainableWeights order, keyed by their tfjs variable name. */
  readonly variables: tf.Variable[];
  /**
   * Runs forward and backward on one batch (training mode: batch-norm batch statistics, dropout),
   * updates batch-norm moving statistics, and returns the loss and gradients (caller disposes).
   */
  gradients(x: T, yOneHot: T): { loss: tf.Scalar; grads: tf.NamedTensorMap };
}

const SUPPORTED = new Set([
  'InputLayer', 'Conv2D', 'BatchNormalization', 'ReLU', 'Activation', 'MaxPooling2D',
  'GlobalAveragePooling2D', 'Dense', 'Dropout', 'Add', 'Flatten',
]);

const ROLE = /\/(kernel|bias|gamma|beta|moving_mean|moving_variance)(_\d+)?$/;

function weightsOf(layer: tf.layers.Layer): LayerWeights {
  const out: LayerWeights = {};
  for (const w of layer.weights) {
    const name = (w as unknown as { originalName?: string }).originalName ?? w.name;
    const m = ROLE.exec(name);
    if (!m) throw new Error(`unrecognised weight ${name}`);
    out[m[1]] = w.read() as tf.Variable;
  }
  return out;
}

/** Builds the step for `model`, or returns null when a layer or option is outside what it handles. */
export function compileTrainingStep(model: tf.LayersModel): CompiledStep | null {
  try {
    return build(model);
  } catch {
    return null;
  }
}

function build(model: tf.LayersModel): CompiledStep | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const known = new Set<number>([model.inputs[0].id]);
  const ops: Op[] = [];
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (!SUPPORTED.has(kind)) return null;
    if (kind === 'InputLayer') continue;
    // Frozen layers (fine-tuning a pretrained model) keep tfjs-layers' own semantics.
    if (!layer.trainable && layer.weights.length > 0) return null;
    const node = layer.inboundNodes.find((n) => n.inputTensors.every((t: Sym) => known.has(t.id)));
    if (!node || node.outputTensors.length !== 1) return null;
    const cfg = layer.getConfig() as Record<string, any>;
    if (!supportedConfig(kind, cfg)) return null;
    const output = node.outputTensors[0].id;
    known.add(output);
    ops.push({ layer, kind, cfg, w: weightsOf(layer), inputs: node.inputTensors.map((t: Sym) => t.id), output });
  }
  markReluFusion(ops);
  const last = ops[ops.length - 1];
  if (!last || last.output !== model.outputs[0].id || last.kind !== 'Dense' || last.cfg.activation !== 'softmax') return null;
  const inputId = model.inputs[0].id;
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    variables,
    gradients: (x, y) => step(ops, inputId, x, y),
  };
}

function isRelu(op: Op): boolean {
  return op.kind === 'ReLU' || (op.kind === 'Activation' && op.cfg.activation === 'relu');
}

function markReluFusion(ops: Op[]): void {
  for (const op of ops) {
    if (op.kind !== 'BatchNormalization') continue;
    const consumers = ops.filter((o) => o.inputs.includes(op.output));
    if (consumers.length === 1 && isRelu(consumers[0]) && consumers[0].inputs.length === 1) {
      op.fuseRelu = true;
      consumers[0].afterFusedBn = true;
    }
  }
}

/**
 * x * scale[c] + shift[c] (then ReLU) over the last axis. On rank-4 tensors this is a 1x1 depthwise
 * convolution, which XNNPACK runs as one vectorised multiply-add; tfjs's broadcasting Mul/Add are
 * several times slower on WASM and take one pass each.
 */
function channelAffine(x: T, scale: T, shift: T | null, relu: boolean): T {
  if (x.rank === 4) {
    const c = x.shape[3] as number;
    return tf.fused.depthwiseConv2d({
      x: x as tf.Tensor4D, filter: tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D, strides: 1, pad: 'valid',
      bias: shift ?? undefined, activation: relu ? 'relu' : 'linear',
    });
  }
  let y = tf.mul(x, scale);
  if (shift) y = tf.add(y, shift);
  return relu ? tf.relu(y) : y;
}

function supportedConfig(kind: string, c: Record<string, any>): boolean {
  const act = (a: unknown) => a === 'linear' || a === 'relu' || a == null;
  switch (kind) {
    case 'Conv2D':
      return c.dataFormat !== 'channelsFirst' && [c.dilationRate].flat().every((d: number) => d === 1) && act(c.activation);
    case 'BatchNormalization':
      return (c.axis === -1 || c.axis === 3) && c.center !== false && c.scale !== false;
    case 'ReLU':
      return c.maxValue == null;
    case 'Activation':
      return act(c.activation);
    case 'MaxPooling2D':
    case 'GlobalAveragePooling2D':
      return c.dataFormat !== 'channelsFirst';
    case 'Dense':
      return act(c.activation) || c.activation === 'softmax';
    case 'Dropout':
      return c.noiseShape == null;
    default:
      return true;
  }
}

function reluMask(g: T, y: T): T {
  return tf.mul(g, tf.step(y));
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

function step(ops: Op[], inputId: number, x: T, yOneHot: T): { loss: tf.Scalar; grads: tf.NamedTensorMap } {
  const values = new Map<number, T>([[inputId, x]]);
  const saved = new Map<Op, T[]>();
  const grads: tf.NamedTensorMap = {};
  let loss!: tf.Scalar;
  tf.tidy(() => {
    // Forward, keeping what each backward rule needs.
    for (const op of ops) {
      const ins = op.inputs.map((id) => values.get(id)!);
      values.set(op.output, forward(op, ins, saved));
    }
    const probs = values.get(ops[ops.length - 1].output)!;
    const batch = probs.shape[0];
    const eps = 1e-7; // tfjs-layers' epsilon()
    // Same loss as tfjs-layers categoricalCrossentropy: clip, log, mean over the batch.
    const clipped = tf.clipByValue(probs, eps, 1 - eps);
    loss = tf.mean(tf.neg(tf.sum(tf.mul(yOneHot, tf.log(clipped)), -1))) as tf.Scalar;

    // Backward. Softmax and cross-entropy combine to (p - y) / batch on the logits.
    const pending = new Map<number, T>();
    pending.set(ops[ops.length - 1].output, tf.div(tf.sub(probs, yOneHot), batch));
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i];
      const g = pending.get(op.output);
      if (!g) continue;
      const needInput = op.inputs.map((id) => id !== inputId);
      const dIns = backward(op, g, op.inputs.map((id) => values.get(id)!), values.get(op.output)!, saved.get(op) ?? [], needInput, grads);
      op.inputs.forEach((id, k) => {
        const d = dIns[k];
        if (!d || id === inputId) return;
        const prev = pending.get(id);
        pending.set(id, prev ? tf.add(prev, d) : d);
      });
    }
    // Returned tensors survive the tidy; everything else from this step is released.
    return [loss, ...Object.values(grads)];
  });
  return { loss, grads };
}

function forward(op: Op, ins: T[], saved: Map<Op, T[]>): T {
  const { cfg, w } = op;
  const x = ins[0];
  switch (op.kind) {
    case 'Conv2D': {
      let y: T = tf.conv2d(x as tf.Tensor4D, w.kernel as tf.Tensor4D, pair(cfg.strides), cfg.padding);
      if (w.bias) y = tf.add(y, w.bias);
      return cfg.activation === 'relu' ? tf.relu(y) : y;
    }
    case 'BatchNormalization': {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const mean = tf.mean(x, axes);
      const centred = channelAffine(x, tf.onesLike(mean), tf.neg(mean), false);
      const variance = tf.mean(tf.square(centred), axes);
      const rstd = tf.rsqrt(tf.add(variance, cfg.epsilon));
      saved.set(op, [centred, rstd]);
      updateMoving(w.moving_mean, mean, cfg.momentum);
      updateMoving(w.moving_variance, variance, cfg.momentum);
      return channelAffine(centred, tf.mul(rstd, w.gamma), w.beta, op.fuseRelu === true);
    }
    case 'ReLU':
    case 'Activation':
      if (!isRelu(op) || op.afterFusedBn) return x;
      return tf.relu(x);
    case 'MaxPooling2D':
      return tf.maxPool(x as tf.Tensor4D, pair(cfg.poolSize), pair(cfg.strides ?? cfg.poolSize), cfg.padding);
    case 'GlobalAveragePooling2D':
      return tf.mean(x, [1, 2]);
    case 'Dense': {
      let y: T = tf.matMul(x, w.kernel);
      if (w.bias) y = tf.add(y, w.bias);
      if (cfg.activation === 'relu') return tf.relu(y);
      return cfg.activation === 'softmax' ? tf.softmax(y) : y;
    }
    case 'Dropout': {
      const rate = cfg.rate as number;
      if (rate <= 0) return x;
      const mask = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(x.shape), rate), 'float32'), 1 - rate);
      saved.set(op, [mask]);
      return tf.mul(x, mask);
    }
    case 'Add':
      return ins.slice(1).reduce((a, b) => tf.add(a, b), ins[0]);
    case 'Flatten':
      return tf.reshape(x, [x.shape[0], -1]);
    default:
      throw new Error(`no forward rule for ${op.kind}`);
  }
}

function updateMoving(v: tf.Variable, value: T, momentum: number): void {
  // tfjs-layers: moving -= (moving - batchValue) * (1 - momentum)
  v.assign(tf.sub(v, tf.mul(tf.sub(v, value), 1 - momentum)));
}

function backward(
  op: Op, g: T, ins: T[], y: T, saved: T[], needInput: boolean[], grads: tf.NamedTensorMap,
): (T | null)[] {
  const { cfg, w } = op;
  const x = ins[0];
  switch (op.kind) {
    case 'Conv2D': {
      if (cfg.activation === 'relu') g = reluMask(g, y);
      const strides = pair(cfg.strides);
      grads[w.kernel.name] = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, {
        strides, pad: cfg.padding, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: w.kernel.shape,
      } as unknown as tf.NamedAttrMap) as T;
      if (w.bias) grads[w.bias.name] = tf.sum(g, [0, 1, 2]);
      if (!needInput[0]) return [null];
      return [tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter: w.kernel }, {
        strides, pad: cfg.padding, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: x.shape,
      } as unknown as tf.NamedAttrMap) as T];
    }
    case 'BatchNormalization': {
      // g arrives already masked by the ReLU op when fused (that op's forward was the identity).
      const [centred, rstd] = saved;
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const n = x.size / x.shape[x.shape.length - 1];
      const dBeta = tf.sum(g, axes);
      const gCentred = tf.sum(tf.mul(g, centred), axes);
      grads[w.gamma.name] = tf.mul(gCentred, rstd);
      grads[w.beta.name] = dBeta;
      // dx = gamma*rstd/n * (n*g - sum(g) - xhat*sum(g*xhat)), with xhat = centred*rstd.
      const k = tf.mul(w.gamma, rstd);
      const kn = tf.div(k, -n);
      const fromStats = channelAffine(centred, tf.mul(kn, tf.mul(tf.square(rstd), gCentred)), tf.mul(kn, dBeta), false);
      return [tf.add(channelAffine(g, k, null, false), fromStats)];
    }
    case 'ReLU':
      return [reluMask(g, y)];
    case 'Activation':
      return [cfg.activation === 'relu' ? reluMask(g, y) : g];
    case 'MaxPooling2D':
      return [tf.engine().runKernel('MaxPoolGrad', { dy: g, input: x, output: y }, {
        filterSize: pair(cfg.poolSize), strides: pair(cfg.strides ?? cfg.poolSize), pad: cfg.padding, dimRoundingMode: undefined,
      } as unknown as tf.NamedAttrMap) as T];
    case 'GlobalAveragePooling2D': {
      const [b, h, wd, c] = x.shape;
      return [tf.mul(tf.reshape(tf.div(g, h * wd), [b, 1, 1, c]), tf.onesLike(x))];
    }
    case 'Dense': {
      if (cfg.activation === 'relu') g = reluMask(g, y);
      // softmax was folded into the loss gradient.
      grads[w.kernel.name] = tf.matMul(x, g, true, false);
      if (w.bias) grads[w.bias.name] = tf.sum(g, 0);
      return [needInput[0] ? tf.matMul(g, w.kernel, false, true) : null];
    }
    case 'Dropout':
      return [saved.length ? tf.mul(g, saved[0]) : g];
    case 'Add':
      return ins.map(() => g);
    case 'Flatten':
      return [tf.reshape(g, x.shape)];
    default:
      throw new Error(`no backward rule for ${op.kind}`);
  }
}
