import type { Command } from 'commander';
import { DATA_HELP } from './data-options.js';
import { flopsCommand, pruneCommand, truncateCommand } from './model-surgery.js';
import { finiteNumber, nonNegativeInt, positiveInt, positiveNumber } from './parse.js';

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function registerModel(program: Command): void {
  const model = program.command('model').description('model surgery: truncated transfer, channel-scaling pruning, parameter and FLOP counts');
  model
    .command('truncate')
    .description('cut a pretrained backbone after block K and put a new head on it (global average pooling + dense), fitted on --data with the backbone frozen; writes a TF.js model folder for `coordinator init --model DIR`')
    .requiredOption('--model <dir|arch>', 'the pretrained TF.js model folder (or a zoo architecture, untrained)')
    .requiredOption('--data <synthetic|file.npz>', `images to fit the head on (training split) and score it with (validation split); ${DATA_HELP}`)
    .requiredOption('--out <dir>', 'folder to write the truncated model to (new or empty)')
    .option('--cut <k>', 'cut after the k-th cut point (1 = nearest the input)', positiveInt)
    .option('--cut-layer <name>', 'cut after this layer (a cut point)')
    .option('--search', 'try every cut point, fitting a head at each, and keep the best validation AUROC')
    .option('--epochs <n>', 'epochs of head training', positiveInt, 30)
    .option('--lr <rate>', 'head learning rate (Adam)', positiveNumber, 0.01)
    .option('--limit <n>', 'use at most this many training images', positiveInt)
    .option('--count <n>', 'synthetic images (default 400)', positiveInt)
    .option('--size <n>', 'synthetic image side in pixels (default 28)', positiveInt)
    .option('--seed <s>', 'seed of data, head initialisation and order', nonNegativeInt, 1)
    .action(async (o) => print(await truncateCommand({ ...o, search: Boolean(o.search) })));
  model
    .command('prune')
    .description("channel-scaling pruning of a coordinator's latest global model (stop the coordinator first): per-channel scales trained with an L1 penalty, weights frozen; channels under the threshold go, cycle after cycle, while validation AUROC stays within --tolerance; the slim network becomes the next model version")
    .requiredOption('--dir <state>', "the coordinator's state folder")
    .requiredOption('--data <synthetic|file.npz>', 'images at the coordinator: scales are fitted on the training split, the tolerance is judged on the validation split')
    .option('--tolerance <auroc>', 'validation AUROC the pruned model may lose', finiteNumber, 0.01)
    .option('--l1 <weight>', 'L1 penalty on the scales', finiteNumber)
    .option('--lr <rate>', 'step size of the scale training', positiveNumber)
    .option('--epochs <n>', 'epochs of scale training per cycle', positiveInt)
    .option('--threshold <t>', 'a channel goes when |scale| <= t', finiteNumber)
    .option('--max-cycles <n>', 'most pruning cycles', positiveInt)
    .option('--batch-size <n>', 'scale training batch size', positiveInt)
    .option('--limit <n>', 'use at most this many training images', positiveInt)
    .option('--count <n>', 'synthetic images (default 400)', positiveInt)
    .option('--size <n>', 'synthetic image side in pixels (default 28)', positiveInt)
    .option('--seed <s>', 'seed of data and order', nonNegativeInt, 1)
    .action(async (o) => print(await pruneCommand(o)));
  model
    .command('flops')
    .description('parameters and floating-point operations per image of one forward pass, per layer (a multiply-add counts 2)')
    .requiredOption('--model <dir|arch>', 'a TF.js model folder or a zoo architecture (arch[:HxWxC[:classes]])')
    .option('--seed <s>', 'seed of a zoo model', nonNegativeInt, 1)
    .action(async (o) => print(await flopsCommand(o.model, o.seed)));
}
