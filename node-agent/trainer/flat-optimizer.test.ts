import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../shared/model/backend.js';
import { randomValues, relativeError } from '../../shared/model/test-helpers.js';
import { FlatOptimizer } from './flat-optimizer.js';

describe('flat optimiser', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it.each(['adam', 'sgd'] as const)('%s follows tf.train over several steps', (kind) => {
    const n = 50;
    const v = tf.variable(tf.tensor1d(randomValues(n, 1)));
    // Typed as the base class: AdamOptimizer's declaration narrows applyGradients to NamedVariableMap, but
    // (like every optimiser) it takes gradient tensors by variable name, as Optimizer declares.
    const tfOpt: tf.Optimizer = kind === 'adam' ? tf.train.adam(0.01) : tf.train.sgd(0.01);
    const flat = new FlatOptimizer(kind, 0.01, n);
    const w = randomValues(n, 1);
    for (let step = 0; step < 5; step++) {
      const g = randomValues(n, 10 + step);
      tf.tidy(() => tfOpt.applyGradients({ [v.name]: tf.tensor1d(g) }));
      flat.step(w, g);
    }
    expect(relativeError(w, v.dataSync() as Float32Array)).toBeLessThan(1e-5);
    tfOpt.dispose();
    v.dispose();
  });
});
