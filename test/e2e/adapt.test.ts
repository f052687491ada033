import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { addNoise, encodeNpy, makeCleanImages, noisyRealisations, parseNpy } from '../../shared/data/index.js';
import type { ImageSet } from '../../shared/data/types.js';
import { buildModel, denoisingMetrics, loadLayersModelFromDir, planTgd, predictOutputs, readFlatWeights, saveLayersModelToDir, selectBackend } from '../../shared/model/index.js';
import { trainModel } from '../../node-agent/trainer/local-trainer.js';
import { adaptToStudy } from '../../node-agent/trainer/online-adaptation.js';
import { runMedley } from '../helpers/cli-run.js';

const S = 24;
const PER = S * S;
const SPEC = { arch: 'dncnn' as const, inputShape: [S, S, 1] as [number, number, number], classes: 1, depth: 5, filters: 16 };

/** A DnCNN pretrained on faint noise (sigma 0.02): it has learnt little beyond passing images through. */
async function pretrained(): Promise<tf.LayersModel> {
  const clean = makeCleanImages(64, 1, S);
  const noisy = addNoise(clean, PER, [{ kind: 'gaussian', sigma: 0.02 }], 2);
  const set: ImageSet = { images: noisy, labels: new Int32Array(64), count: 64, height: S, width: S, channels: 1, classes: 2, targets: { data: clean, shape: [S, S, 1] } };
  const model = buildModel(SPEC, 1);
  await trainModel(model, set, { task: 'denoising', epochs: 6, batchSize: 16, learningRate: 0.003, seed: 1 });
  return model;
}

/** A study with much stronger noise than the pretraining saw (sigma 0.12), in two independent realisations. */
function shiftedStudy() {
  const clean = makeCleanImages(6, 9, S);
  const [a, b] = noisyRealisations(clean, PER, [{ kind: 'gaussian', sigma: 0.12 }], 4) as [Float32Array, Float32Array];
  return { clean, a, b, count: 6 };
}

function psnrOf(outputs: Float32Array, study: ReturnType<typeof shiftedStudy>): number {
  const set: ImageSet = { images: study.a, labels: new Int32Array(study.count), count: study.count, height: S, width: S, channels: 1, classes: 2 };
  return denoisingMetrics(outputs, set, { data: study.clean, per: PER, count: study.count }).psnr!;
}

describe('online adaptation of a denoiser with TGD (Noise2Noise, no ground truth)', () => {
  let base: tf.LayersModel;
  beforeAll(async () => {
    await selectBackend();
    base = await pretrained();
  }, 120_000);

  it('`medley adapt` raises PSNR against the clean study and leaves every frozen weight bit-identical', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-adapt-'));
    const study = shiftedStudy();
    await saveLayersModelToDir(base, join(dir, 'pretrained'));
    const npy = (x: Float32Array) => encodeNpy('<f4', [study.count, S, S], new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    await writeFile(join(dir, 'a.npy'), npy(study.a));
    await writeFile(join(dir, 'b.npy'), npy(study.b));
    const set: ImageSet = { images: study.a, labels: new Int32Array(study.count), count: study.count, height: S, width: S, channels: 1, classes: 2 };
    const before = psnrOf(await predictOutputs(base, set), study);

    const run = await runMedley(['adapt', '--model', join(dir, 'pretrained'), '--input', join(dir, 'a.npy'), '--target', join(dir, 'b.npy'),
      '--out', join(dir, 'adapted'), '--method', 'tgd', '--epochs', '20', '--lr', '0.005', '--denoised', join(dir, 'denoised.npy'), '--json'], {}, 240_000);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { cycles: { trainableElements: number }[] };
    const plan = planTgd(base);
    expect(summary.cycles).toHaveLength(1);
    expect(summary.cycles[0]!.trainableElements).toBe(plan.trainableElements);

    const denoised = parseNpy(new Uint8Array(await readFile(join(dir, 'denoised.npy'))), 'denoised.npy');
    expect(denoised.shape).toEqual([study.count, S, S, 1]);
    const after = psnrOf(denoised.data as Float32Array, study);
    expect(after, `PSNR ${before.toFixed(2)} -> ${after.toFixed(2)} dB`).toBeGreaterThan(before + 0.3);

    const adapted = await loadLayersModelFromDir(join(dir, 'adapted'));
    const w0 = new Uint32Array(readFlatWeights(base).buffer);
    const w1 = new Uint32Array(readFlatWeights(adapted).buffer);
    let frozenChanged = 0;
    let openChanged = 0;
    for (let i = 0; i < w0.length; i++) if (w0[i] !== w1[i]) plan.mask.elements[i] ? openChanged++ : frozenChanged++;
    expect(frozenChanged).toBe(0);
    expect(openChanged).toBeGreaterThan(plan.trainableElements / 2);
    adapted.dispose();
  }, 300_000);

  it('TGD^2 rescores the adapted model; nothing frozen by both cycles moves', async () => {
    const study = shiftedStudy();
    const model = buildModel(SPEC, 1);
    model.setWeights(base.getWeights());
    const start = readFlatWeights(model);
    const cycles = await adaptToStudy(model, { a: study.a, b: study.b, count: study.count, height: S, width: S, channels: 1 }, { cycles: 2, epochs: 4, batchSize: 4, learningRate: 0.005, seed: 2 });
    expect(cycles).toHaveLength(2);
    const [first, second] = cycles.map((c) => c.plan!);
    // The first cycle's plan is the pretrained model's; the second is computed on the model the first left.
    expect(Array.from(first!.mask.elements)).toEqual(Array.from(planTgd(base).mask.elements));
    expect(second!.consumers.some((c, i) => c.kse.some((v, j) => v !== first!.consumers[i]!.kse[j]))).toBe(true);
    const end = readFlatWeights(model);
    let frozenChanged = 0;
    for (let i = 0; i < end.length; i++) if (!first!.mask.elements[i] && !second!.mask.elements[i] && !Object.is(end[i], start[i])) frozenChanged++;
    expect(frozenChanged).toBe(0);
    model.dispose();
  }, 120_000);

  it('refuses mismatched realisations and a model that is not a denoiser of the study\'s size, with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-adapt-bad-'));
    await saveLayersModelToDir(base, join(dir, 'm'));
    await writeFile(join(dir, 'a.npy'), encodeNpy('<f4', [2, S, S], new Uint8Array(2 * PER * 4)));
    await writeFile(join(dir, 'b.npy'), encodeNpy('<f4', [3, S, S], new Uint8Array(3 * PER * 4)));
    await writeFile(join(dir, 'c.npy'), encodeNpy('<f4', [2, 16, 16], new Uint8Array(2 * 256 * 4)));
    const common = ['--model', join(dir, 'm'), '--out', join(dir, 'o')];
    const mismatch = await runMedley(['adapt', ...common, '--input', join(dir, 'a.npy'), '--target', join(dir, 'b.npy')]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/--input is 2x24x24x1 and --target 3x24x24x1; the two realisations must be the same study/);
    const size = await runMedley(['adapt', ...common, '--input', join(dir, 'c.npy'), '--target', join(dir, 'c.npy')]);
    expect(size.stderr).toMatch(/maps 24x24x1 to 24x24x1; online adaptation needs a denoiser whose input and output are the study's 16x16x1 slices/);
    const missing = await runMedley(['adapt', ...common, '--input', join(dir, 'nope.npy'), '--target', join(dir, 'c.npy')]);
    expect(missing.stderr).toMatch(/--input .*nope.npy: no such file/);
  }, 120_000);
});
