import type * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../shared/data/types.js';
import { planTgd, type TgdOptions, type TgdPlan } from '../../shared/model/index.js';
import { trainModel, type TrainResult } from './local-trainer.js';
import type { DenoisingLoss } from './task-loss.js';

/*
 * Online (test-time) adaptation of a denoiser to one study, as Chen, Asma and Chan do for PET:
 * there is no clean image of the study, but two independent noisy realisations of it (two
 * reconstructions from split list-mode data, or two acquisitions). Noise2Noise: the expected value
 * of one realisation given the other is the clean image, so training each to predict the other (both
 * ways) fits the denoiser to this study's noise without ground truth. With TGD only the filters KSE
 * calls redundant move, so what the pretrained network does well stays exactly as it was.
 */

export interface StudyPair {
  /** First noisy realisation, N x H x W x C (float32, [0, 1] range as the model was trained on). */
  a: Float32Array;
  /** Second, independent realisation of the same study, same layout. */
  b: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface AdaptOptions extends TgdOptions {
  /** 'tgd' (masked, the default) or 'plain' (every weight trains; the comparison). */
  method?: 'tgd' | 'plain';
  /** TGD^n: rescore with KSE and fine-tune again, n times (default 1). */
  cycles?: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  loss?: DenoisingLoss;
  weightDecay?: number;
  signal?: AbortSignal;
}

export interface AdaptCycle {
  plan: TgdPlan | null;
  result: TrainResult;
}

/** The Noise2Noise training set of a study: a -> b and b -> a. */
export function noise2NoiseSet(study: StudyPair): ImageSet {
  const per = study.height * study.width * study.channels;
  const n = study.count;
  if (study.a.length !== n * per || study.b.length !== n * per) {
    throw new Error(`the two realisations must each hold ${n} images of ${study.height}x${study.width}x${study.channels}; got ${study.a.length} and ${study.b.length} values`);
  }
  const images = new Float32Array(2 * n * per);
  images.set(study.a, 0);
  images.set(study.b, n * per);
  const targets = new Float32Array(2 * n * per);
  targets.set(study.b, 0);
  targets.set(study.a, n * per);
  return {
    images, labels: new Int32Array(2 * n), count: 2 * n, height: study.height, width: study.width, channels: study.channels, classes: 2,
    targets: { data: targets, shape: [study.height, study.width, study.channels] },
  };
}

/** Fine-tunes `model` in place on the study; returns what each cycle opened and how training went. */
export async function adaptToStudy(model: tf.LayersModel, study: StudyPair, opts: AdaptOptions): Promise<AdaptCycle[]> {
  const method = opts.method ?? 'tgd';
  const cycles = opts.cycles ?? 1;
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error(`cycles must be an integer >= 1, got ${cycles}`);
  const data = noise2NoiseSet(study);
  const out: AdaptCycle[] = [];
  for (let c = 0; c < (method === 'tgd' ? cycles : 1); c++) {
    // Each cycle scores the model as the previous cycle left it (TGD^n).
    const plan = method === 'tgd' ? planTgd(model, opts) : null;
    if (plan && plan.trainableElements === 0) throw new Error(`TGD cycle ${c + 1}: no channel scores below phi = ${opts.phi ?? 0.3}, so nothing would train; raise phi`);
    const result = await trainModel(model, data, {
      task: 'denoising', denoisingLoss: opts.loss, epochs: opts.epochs, batchSize: opts.batchSize, learningRate: opts.learningRate,
      seed: opts.seed + c, weightDecay: opts.weightDecay, signal: opts.signal, trainableMask: plan?.mask,
    });
    out.push({ plan, result });
  }
  return out;
}
