import type * as tf from '@tensorflow/tfjs';
import { countTrainable, decodeMask, type TrainableMask } from '../../shared/model/index.js';
import type { Task } from '../../shared/wire/index.js';

/** The method name a coordinator sends for truncated transfer (head-only fine-tuning). */
export const TRUNCATED_METHOD = 'truncated';

/**
 * The trainable mask a truncated-transfer task carries (the layers from trainFrom on, computed by
 * the coordinator from the round's base model), checked against the downloaded model; undefined
 * for any other method.
 */
export function truncatedMaskOf(task: Pick<Task, 'method' | 'methodPayload' | 'round'>, model: tf.LayersModel): TrainableMask | undefined {
  if ((task.method ?? '').toLowerCase() !== TRUNCATED_METHOD) return undefined;
  const payload = task.methodPayload ?? new Uint8Array(0);
  if (payload.length === 0) throw new Error(`the truncated task of round ${task.round} carries no mask; the coordinator must send the trainable mask with every truncated task`);
  const mask = decodeMask(payload, model, `the truncated-transfer mask of round ${task.round}`);
  if (countTrainable(mask) === 0) throw new Error(`the truncated-transfer mask of round ${task.round} freezes every weight; there is nothing to train`);
  return mask;
}
