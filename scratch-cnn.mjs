import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { makeSyntheticSet } from '/tmp/scratch/out/work/main/shared/data/synthetic.js';
import { auroc } from '/tmp/scratch/out/work/main/shared/metrics/classification.js';
await tf.setBackend('cpu'); await tf.ready();
const site = process.argv[2] === 'none' ? undefined : Number(process.argv[2] ?? 0);
const ntrain = Number(process.argv[3] ?? 400), epochs = Number(process.argv[4] ?? 5);
const tr = makeSyntheticSet({ count: ntrain, seed: 11, site });
const te = makeSyntheticSet({ count: 600, seed: 12, site });
const S = tr.height;
const m = tf.sequential();
m.add(tf.layers.conv2d({ inputShape: [S, S, 1], filters: 8, kernelSize: 3, activation: 'relu', padding: 'same' }));
m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
m.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', padding: 'same' }));
m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
m.add(tf.layers.flatten());
m.add(tf.layers.dense({ units: 32, activation: 'relu' }));
m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
m.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
const x = tf.tensor4d(tr.images, [tr.count, S, S, 1]), y = tf.tensor1d(tr.labels, 'float32');
const xt = tf.tensor4d(te.images, [te.count, S, S, 1]);
const t0 = Date.now();
for (let e = 0; e < epochs; e++) {
  await m.fit(x, y, { epochs: 1, batchSize: 32, shuffle: true, verbose: 0 });
  const p = m.predict(xt).arraySync().map(r => r[1]);
  console.log('epoch', e + 1, 'auroc', auroc(p, te.labels).toFixed(3), ((Date.now() - t0) / 1000).toFixed(1) + 's');
}
