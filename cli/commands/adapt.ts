import { readFile, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { encodeNpy, parseNpy, npyNumber } from '../../shared/data/index.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './parse.js';

interface AdaptFlags {
  model: string;
  input: string;
  target: string;
  out: string;
  method: 'tgd' | 'plain';
  phi: number;
  alpha: number;
  k: number;
  cycles: number;
  epochs: number;
  batchSize: number;
  lr: number;
  loss: 'l1' | 'l2';
  seed: number;
  denoised?: string;
  json?: boolean;
}

/**
 * A study as the model sees it: N x H x W x C float32 from an .npy of shape [H, W], [N, H, W] or
 * [N, H, W, C] (any numeric dtype; values used as they are, so scale them as the model was trained).
 */
async function readStudy(file: string, flag: string): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    throw new InvalidArgumentError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}; give an .npy file of the study`);
  }
  const arr = parseNpy(bytes, file);
  const s = arr.shape;
  const shape: [number, number, number, number] | null =
    s.length === 2 ? [1, s[0]!, s[1]!, 1] : s.length === 3 ? [s[0]!, s[1]!, s[2]!, 1] : s.length === 4 ? [s[0]!, s[1]!, s[2]!, s[3]!] : null;
  if (!shape) throw new InvalidArgumentError(`${flag} ${file}: shape [${s.join(', ')}]; give [H, W], [N, H, W] or [N, H, W, C]`);
  const data = new Float32Array(arr.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = npyNumber(arr, i);
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${flag} ${file}: value ${i} is ${v}; the study must be finite numbers`);
    data[i] = v;
  }
  return { data, shape };
}

async function adapt(flags: AdaptFlags): Promise<void> {
  const m = await import('../../shared/model/index.js');
  const { adaptToStudy } = await import('../../node-agent/index.js');
  const backend = await m.selectBackend();
  const a = await readStudy(flags.input, '--input');
  const b = await readStudy(flags.target, '--target');
  if (a.shape.join('x') !== b.shape.join('x')) {
    throw new InvalidArgumentError(`--input is ${a.shape.join('x')} and --target ${b.shape.join('x')}; the two realisations must be the same study (same shape)`);
  }
  const model = await m.loadLayersModelFromDir(flags.model);
  const [count, height, width, channels] = a.shape;
  const inShape = model.inputs[0]!.shape.slice(1);
  const outShape = model.outputs[0]!.shape.slice(1);
  if (inShape.join('x') !== [height, width, channels].join('x') || outShape.join('x') !== inShape.join('x')) {
    throw new InvalidArgumentError(`--model ${flags.model} maps ${inShape.join('x')} to ${outShape.join('x')}; online adaptation needs a denoiser whose input and output are the study's ${height}x${width}x${channels} slices`);
  }
  const study = { a: a.data, b: b.data, count, height, width, channels };
  const progress = (what: string) => process.stderr.write(`${what}\n`);
  progress(`adapting ${flags.model} to ${count} slice(s) of ${height}x${width}x${channels} with ${flags.method} (${backend.name})`);
  const cycles = await adaptToStudy(model, study, {
    method: flags.method, phi: flags.phi, alpha: flags.alpha, k: flags.k, cycles: flags.cycles,
    epochs: flags.epochs, batchSize: flags.batchSize, learningRate: flags.lr, seed: flags.seed, loss: flags.loss,
  });
  await m.saveLayersModelToDir(model, flags.out);
  if (flags.denoised) {
    const set = { images: a.data, labels: new Int32Array(count), count, height, width, channels, classes: 2 };
    const out = await m.predictOutputs(model, set);
    await writeFile(flags.denoised, encodeNpy('<f4', [count, height, width, channels], new Uint8Array(out.buffer, out.byteOffset, out.byteLength)));
  }
  model.dispose();
  const summary = {
    model: flags.out,
    method: flags.method,
    backend: backend.name,
    cycles: cycles.map((c, i) => ({
      cycle: i + 1,
      trainableElements: c.plan ? c.plan.trainableElements : null,
      redundantFilters: c.plan ? c.plan.redundant : null,
      loss: c.result.loss,
      seconds: c.result.seconds,
    })),
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    for (const c of summary.cycles) {
      const what = c.redundantFilters ? `${c.trainableElements} weights open (${Object.entries(c.redundantFilters).map(([l, f]) => `${l}: ${f.length}`).join(', ')})` : 'every weight open';
      process.stdout.write(`cycle ${c.cycle}: ${what}; Noise2Noise loss ${c.loss.toFixed(5)} (${c.seconds.toFixed(1)} s)\n`);
    }
    process.stdout.write(`adapted model written to ${flags.out}${flags.denoised ? `; denoised --input written to ${flags.denoised}` : ''}\n`);
  }
}

export function registerAdapt(program: Command): void {
  program
    .command('adapt')
    .description('online adaptation of a denoiser to one study without ground truth: two independent noisy realisations of the study train each other (Noise2Noise), with Targeted Gradient Descent so only redundant filters change')
    .requiredOption('--model <dir>', 'TF.js model folder of the pretrained denoiser (model.json + weights), as for `coordinator init --model`')
    .requiredOption('--input <file.npy>', 'first noisy realisation of the study: [H, W], [N, H, W] or [N, H, W, C]')
    .requiredOption('--target <file.npy>', 'second, independent realisation of the same study (same shape)')
    .requiredOption('--out <dir>', 'folder for the adapted TF.js model')
    .addOption(new Option('--method <name>', 'tgd: only filters KSE calls redundant train; plain: every weight trains').choices(['tgd', 'plain']).default('tgd'))
    .option('--phi <x>', 'TGD: KSE threshold in [0, 1]', unitInterval, 0.3)
    .option('--alpha <x>', 'TGD: weight of the kernel entropy in KSE', nonNegativeNumber, 1)
    .option('--k <n>', 'TGD: nearest kernels in each density', positiveInt, 5)
    .option('--cycles <n>', 'TGD^n: rescore and fine-tune again n times', positiveInt, 1)
    .option('--epochs <n>', 'epochs over the study per cycle', positiveInt, 15)
    .option('--batch-size <n>', 'batch size', positiveInt, 4)
    .option('--lr <rate>', 'learning rate (Adam)', positiveNumber, 0.003)
    .addOption(new Option('--loss <l1|l2>', 'denoising loss (Noise2Noise needs l2 for the mean, l1 for the median)').choices(['l1', 'l2']).default('l2'))
    .option('--seed <s>', 'seed for shuffling', nonNegativeInt, 0)
    .option('--denoised <file.npy>', 'also write the adapted model\'s output on --input')
    .option('--json', 'print a JSON summary on stdout')
    .action(adapt);
}

function unitInterval(value: string): number {
  const x = Number(value);
  if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError(`${value} is not a number in [0, 1]`);
  return x;
}
