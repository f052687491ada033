import { InvalidArgumentError, type Command } from 'commander';
import { checkFraction, type PartitionScheme } from '../../shared/data/index.js';
import { defaultDeadlineSeconds } from '../simulate/run-simulation.js';
import { runStudy } from '../study/run-study.js';
import { dataSpecFrom, partitionFlag } from './data-options.js';
import { nonNegativeInt, positiveInt, positiveNumber } from './parse.js';

interface StudyFlags {
  data: string;
  sites: number;
  rounds: number;
  out?: string;
  partition: string;
  fractions: number[];
  ood: boolean;
  efficiency: boolean;
  seed: number;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  count?: number;
  deadline?: number;
}

function fractionList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('give at least one fraction, e.g. 0.1,0.25,0.5,1');
  return parts.map((p) => {
    try {
      return checkFraction(Number(p));
    } catch (err) {
      throw new InvalidArgumentError(`"${p}": ${(err as Error).message}`);
    }
  });
}

/** The command as typed, quoted where a shell would need it, for evaluation.json. */
function typedCommand(): string {
  return ['medley', ...process.argv.slice(2).map((a) => (/^[\w./:=,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(' ');
}

export function registerStudy(program: Command): void {
  program
    .command('study')
    .description('clinical evidence for a data source: simulated federations evaluated at every site (per site, pooled, subgroups, calibration), leave-one-site-out and data-efficiency runs; writes evaluation.json')
    .option('--data <synthetic|file.npz>', 'synthetic images, or a MedMNIST .npz whose training and validation splits are divided among the sites', 'synthetic')
    .option('--sites <n>', 'number of simulated sites', positiveInt, 4)
    .option('--rounds <r>', 'federation rounds of every run', positiveInt, 3)
    .option('--out <dir>', 'study folder (default runs/study-<time>)')
    .option('--partition <scheme>', 'how the data is split across sites: iid, dirichlet:ALPHA, by-label', partitionFlag, 'iid')
    .option('--fractions <list>', "shares of each site's training data for the data-efficiency runs", fractionList, [0.1, 0.25, 0.5, 1])
    .option('--no-ood', 'skip the leave-one-site-out runs')
    .option('--no-efficiency', 'skip the data-efficiency runs')
    .option('--seed <s>', 'seed for partition, data, initial weights and shuffling', nonNegativeInt, 0)
    .option('--model <arch|dir>', 'zoo architecture or a TF.js model folder', 'cnn-small')
    .option('--epochs <n>', 'local epochs per round', positiveInt, 2)
    .option('--batch-size <n>', 'local batch size', positiveInt, 32)
    .option('--lr <rate>', 'local learning rate (Adam)', positiveNumber, 0.003)
    .option('--count <n>', 'synthetic training images per site (default 400)', positiveInt)
    .option('--deadline <seconds>', 'round deadline (default: 600 s plus 60 s per site)', positiveInt)
    .action(async (flags: StudyFlags) => {
      const log = (m: string) => process.stderr.write(`[study] ${m}\n`);
      // Checks the source exists, with the message the other commands give.
      dataSpecFrom({ data: flags.data, shard: '1/1', partition: flags.partition, seed: flags.seed, count: flags.count });
      const result = await runStudy(
        {
          data: flags.data,
          sites: flags.sites,
          rounds: flags.rounds,
          out: flags.out ?? `runs/study-${new Date().toISOString().replace(/[:.]/g, '-')}`,
          partition: flags.partition as PartitionScheme,
          fractions: flags.fractions,
          ood: flags.ood,
          efficiency: flags.efficiency,
          seed: flags.seed,
          model: flags.model,
          epochs: flags.epochs,
          batchSize: flags.batchSize,
          lr: flags.lr,
          count: flags.count,
          deadlineSeconds: flags.deadline ?? defaultDeadlineSeconds(flags.sites, 1, 'tfjs'),
          log,
          command: typedCommand(),
        },
        (await import('../simulate/inproc-transport.js')).startInProcessFederation,
      );
      const { report } = result;
      const m = report.pooled.metrics;
      const c = report.calibration;
      const fmt = (x: number | null | undefined) => (typeof x === 'number' ? x.toFixed(4) : 'n/a');
      log(`done in ${(result.seconds / 60).toFixed(1)} min`);
      log(`pooled (${report.pooled.examples} validation images at ${report.perSite.length} sites): AUROC ${fmt(m.auroc)}, AUPRC ${fmt(m.auprc)}, ECE ${fmt(m.ece)}, Brier ${fmt(m.brier)}`);
      if (c) log(`calibration: temperature ${c.temperature.toFixed(3)}; ECE ${fmt(c.before.ece)} -> ${fmt(c.after.ece)}, Brier ${fmt(c.before.brier)} -> ${fmt(c.after.brier)}`);
      log(`per site AUROC: ${report.perSite.map((s) => `${s.site} ${fmt(s.metrics.auroc)}`).join(', ')}`);
      if (report.ood.length) log(`held out (OOD) AUROC: ${report.ood.map((o) => `${o.heldOutSite} ${fmt(o.metrics.auroc)} (in-distribution ${fmt(o.inDistribution?.auroc)})`).join(', ')}`);
      if (report.dataEfficiency.length) log(`data efficiency AUROC: ${report.dataEfficiency.map((d) => `${d.fraction} ${fmt(d.metrics.auroc)} (${d.examples} images)`).join(', ')}`);
      log(`evaluation: ${result.evaluationPath}`);
      log(`report: ${result.reportPath}`);
    });
}
