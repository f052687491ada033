import type { Command } from 'commander';
import { runDemo, type DemoOptions } from '../demo/run-demo.js';
import { formatMetric } from '../progress/format.js';
import { partitionFlag } from './data-options.js';
import { checkMethod, methodOptions } from './method-options.js';
import { checkStrategy, strategyOptions } from './strategy-options.js';
import { LR_SCHEDULE_HELP, lrScheduleFlag } from './lr-schedule-option.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './parse.js';

interface DemoFlags extends Omit<DemoOptions, 'out' | 'log'> {
  out?: string;
  json?: boolean;
}

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description('run a whole federation on this machine: one coordinator and N agents as separate processes')
    .option('--sites <n>', 'number of hospital sites (agent processes)', positiveInt, 3)
    .option('--rounds <r>', 'federation rounds', positiveInt, 5)
    .option('--data <synthetic|file.npz>', 'synthetic images, or a MedMNIST .npz split across the sites', 'synthetic')
    .option('--out <dir>', 'run folder (default runs/demo-<time>)')
    .option('--seed <s>', 'seed for data, initial weights and shuffling', nonNegativeInt, 0)
    .option('--epochs <n>', 'local epochs per round', positiveInt, 2)
    .option('--batch-size <n>', 'local batch size', positiveInt, 32)
    .option('--lr <rate>', 'local learning rate (Adam)', positiveNumber, 0.003)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, lrScheduleFlag, 'constant')
    .option('--model <arch|dir>', 'zoo architecture or a TF.js model folder', 'cnn-small')
    .option('--partition <scheme>', "how the sites' data is split: iid, dirichlet:ALPHA (label skew; label-skew = dirichlet:0.5) or by-label", partitionFlag, 'iid')
    .option('--count <n>', 'synthetic training images per site', positiveInt)
    .option('--secure-aggregation', 'mask updates so the coordinator learns only their sum')
    .option('--dp-noise <sigma>', 'differential privacy at the sites: Gaussian noise multiplier', nonNegativeNumber)
    .option('--dp-clip <norm>', "differential privacy at the sites: clip each update's L2 norm to this", positiveNumber)
    .option('--json', 'print summary.json on stdout (progress stays on stderr)');
  methodOptions(strategyOptions(demo)).action(async (flags: DemoFlags & { strategy: string; strategyParam: Record<string, number>; method: string; methodParam: Record<string, number> }) => {
      checkStrategy(flags.strategy, flags.strategyParam);
      checkMethod(flags.method, flags.methodParam);
      const log = (m: string) => process.stderr.write(`[demo] ${m}\n`);
      const out = flags.out ?? `runs/demo-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const result = await runDemo({ ...flags, strategyParams: flags.strategyParam, methodParams: flags.methodParam, out, log });
      const last = result.summary.rounds.at(-1);
      if (flags.json) process.stdout.write(JSON.stringify(result.summary, null, 2) + '\n');
      log(
        `done in ${result.summary.seconds.toFixed(1)}s: model version ${result.summary.modelVersion}, held-out AUROC ${formatMetric(last?.metrics.auroc)}, accuracy ${formatMetric(last?.metrics.accuracy)} (backend ${result.summary.backend})`,
      );
      log(`summary: ${result.outDir}/summary.json`);
      log(`report:  ${result.reportPath}`);
      log(`model:   ${result.modelPath}`);
    });
}
