/*
 * Worker-thread side of data-parallel training: holds a replica of the model on its own WASM
 * instance (the WASM backend is single-threaded in Node, so a second core needs a second instance)
 * and turns (weights, shard) into (gradients, loss, batch-norm moving statistics).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../../shared/model/backend.js';
import { compileTrainingStep, type CompiledStep } from './compiled-step.js';
import { flattenTensors } from '../../shared/model/flat-weights.js';
import { setFlatWeights } from './flat-weights.js';

export interface InitMessage {
  type: 'init';
  topology: object;
  backend: string;
}

export interface StepMessage {
  type: 'step';
  /** All model weights (model.weights order), flattened. */
  weights: Float32Array;
  pixels: Float32Array;
  onehot: Float32Array;
  shape: [number, number, number, number];
  classes: number;
}

export interface StepReply {
  type: 'step';
  loss: number;
  /** Gradients in model.trainableWeights order, flattened. */
  grads: Float32Array;
  /** Non-trainable weights (batch-norm moving statistics) after this step, flattened. */
  state: Float32Array;
}

export type WorkerReply = { type: 'ready' } | StepReply | { type: 'error'; message: string };

let model: tf.LayersModel | null = null;
let step: CompiledStep | null = null;

async function init(msg: InitMessage): Promise<void> {
  await selectBackend({ prefer: msg.backend as BackendChoice });
  model = await tf.models.modelFromJSON(msg.topology as tf.io.ModelJSON);
  step = compileTrainingStep(model);
  if (!step) throw new Error('model is not supported by the compiled training step');
}

function runStep(msg: StepMessage): StepReply {
  const m = model!;
  setFlatWeights(m.weights.map((w) => w.read() as tf.Variable), msg.weights);
  const x = tf.tensor4d(msg.pixels, msg.shape);
  const y = tf.tensor2d(msg.onehot, [msg.shape[0], msg.classes]);
  try {
    const { loss, grads } = step!.gradients(x, y);
    const ordered = step!.variables.map((v) => grads[v.name]);
    const reply: StepReply = {
      type: 'step',
      loss: loss.dataSync()[0],
      grads: flattenTensors(ordered),
      state: flattenTensors(m.nonTrainableWeights.map((w) => w.read())),
    };
    tf.dispose([loss, ...Object.values(grads)]);
    return reply;
  } finally {
    x.dispose();
    y.dispose();
  }
}

// Only when started by GradientPool: this module may also be loaded inside other worker threads.
if (parentPort && (workerData as { medleyGradientWorker?: boolean } | null)?.medleyGradientWorker) {
  const port = parentPort;
  port.on('message', async (msg: InitMessage | StepMessage) => {
    try {
      if (msg.type === 'init') {
        await init(msg);
        port.postMessage({ type: 'ready' } satisfies WorkerReply);
      } else {
        const reply = runStep(msg);
        port.postMessage(reply, [reply.grads.buffer as ArrayBuffer, reply.state.buffer as ArrayBuffer]);
      }
    } catch (err) {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies WorkerReply);
    }
  });
}
