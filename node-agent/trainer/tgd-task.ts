import type * as tf from '@tensorflow/tfjs';
import { countTrainable, decodeMask, type TrainableMask } from '../../shared/model/index.js';
import type { Task } from '../../shared/wire/index.js';

/** The method name a coordinator sends for Targeted Gradient Descent. */
export const TGD_METHOD = 'tgd';

/**
 * The trainable mask a TGD task carries (Task.method_payload, computed by the coordinator from
 * the round's base model), checked against the model this site downloaded; undefined for any
 * other method (every weight trains). A payload that does not fit fails the task with the reason.
 */
export function tgdMaskOf(task: Pick<Task, 'method' | 'methodPayload' | 'round'>, model: tf.LayersModel): TrainableMask | undefined {
  if ((task.method ?? '').toLowerCase() !== TGD_METHOD) return undefined;
  const payload = task.methodPayload ?? new Uint8Array(0);
  if (payload.length === 0) throw new Error(`the TGD task of round ${task.round} carries no mask; the coordinator must send the trainable mask with every tgd task`);
  const mask = decodeMask(payload, model, `the TGD mask of round ${task.round}`);
  if (countTrainable(mask) === 0) throw new Error(`the TGD mask of round ${task.round} freezes every weight; there is nothing to train`);
  return mask;
}
