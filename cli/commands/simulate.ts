import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import type { PartitionScheme } from '../../shared/data/index.js';
import { formatMetric } from '../progress/format.js';
import { parseAttack, type AttackCount } from '../simulate/attack.js';
import { defaultDeadlineSeconds, runSimulation } from '../simulate/run-simulation.js';
import { TRAINER_KINDS, type TrainerKind } from '../simulate/site-trainer.js';
import { TRANSPORTS, type StartFederation, type TransportName } from '../simulate/transport.js';
import { dataSpecFrom, partitionFlag, SPLITTABLE_KINDS } from './data-options.js';
import { finiteNumber, positiveInt, positiveNumber, nonNegativeInt } from './parse.js';
import { checkStrategy, strategyOptions } from './strategy-options.js';
import { LR_SCHEDULE_HELP, lrScheduleFlag } from './lr-schedule-option.js';

interface SimulateFlags {
  sites: number;
  rounds: number;
  partition: string;
  data: string;
  transport: TransportName;
  workers?: number;
  trainer: TrainerKind;
  strategy: string;
  strategyParam: Record<string, number>;
  attack?: AttackCount[];
  attackFactor: number;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSchedule: string;
  seed: number;
  count?: number;
  out?: string;
  json?: boolean;
  deadline?: number;
  minSites?: number;
}

function oneOf<T extends string>(flag: string, choices: readonly T[]): (value: string) => T {
  return (value) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`"${value}" is not one of ${choices.join(', ')} (${flag})`);
  };
}

function attackFlag(value: string): AttackCount[] {
  try {
    return parseAttack(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Picks the transport's start function; the in-process one is loaded only when asked for. */
async function transportStarter(name: TransportName): Promise<StartFederation> {
  if (name === 'inproc') return (await import('../simulate/inproc-transport.js')).startInProcessFederation;
  return (await import('../simulate/grpc-transport.js')).startGrpcFederation;
}

export function registerSimulate(program: Command): void {
  const simulate = program
    .command('simulate')
    .description('simulate a federation of N virtual sites on this machine through the real coordinator and agent pipeline')
    .option('--sites <n>', 'number of virtual sites', positiveInt, 10)
    .option('--rounds <r>', 'federation rounds', positiveInt, 3)
    .option('--partition <scheme>', 'how the data is split across sites: iid, dirichlet:ALPHA (label skew; smaller ALPHA = more skew), by-label (site i holds class i mod classes)', partitionFlag, 'iid')
    .option('--data <synthetic|file.npz>', 'synthetic images, or a MedMNIST .npz whose training split is partitioned across the sites (its test split is the held-out set)', 'synthetic')
    .option('--transport <grpc|inproc>', 'grpc: coordinator in its own process, sites over loopback gRPC from worker threads; inproc: all in this process and thread', oneOf('--transport', TRANSPORTS), 'grpc')
    .option('--workers <w>', `site worker threads for --transport grpc, each training one site at a time (default: the cores, here ${availableParallelism()})`, positiveInt)
    .option('--trainer <tfjs|fixed-step>', 'tfjs trains for real; fixed-step adds a constant to every weight (framework cost only, for scale runs)', oneOf('--trainer', TRAINER_KINDS), 'tfjs')
    .option('--attack <kind=count,...>', 'research: the last COUNT sites of each KIND (scale, sign-flip, random) send crafted updates derived from their honest delta', attackFlag)
    .option('--attack-factor <x>', 'scale and sign-flip multiply the honest delta by this; random draws noise with this times its RMS', finiteNumber, 10)
    .option('--model <arch|dir>', 'zoo architecture or a TF.js model folder', 'cnn-small')
    .option('--epochs <n>', 'local epochs per round', positiveInt, 2)
    .option('--batch-size <n>', 'local batch size', positiveInt, 32)
    .option('--lr <rate>', 'local learning rate (Adam)', positiveNumber, 0.003)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, lrScheduleFlag, 'constant')
    .option('--seed <s>', 'seed for partition, data, initial weights and shuffling', nonNegativeInt, 0)
    .option('--count <n>', 'synthetic training images per site (default 400)', positiveInt)
    .option('--deadline <seconds>', 'round deadline (default: 600 s plus 60 s per site a worker trains in turn; 5 s with fixed-step)', positiveInt)
    .option('--min-sites <k>', 'fewest updates a round needs (default: every site)', positiveInt)
    .option('--out <dir>', 'run folder (default runs/simulate-<time>)')
    .option('--json', 'print summary.json on stdout (progress stays on stderr)');
  strategyOptions(simulate).action(async (flags: SimulateFlags) => {
    const log = (m: string) => process.stderr.write(`[simulate] ${m}\n`);
    const strategyParams = checkStrategy(flags.strategy, flags.strategyParam);
    if (flags.transport === 'inproc' && flags.workers !== undefined && flags.workers !== 1) {
      throw new InvalidArgumentError(`--workers ${flags.workers}: --transport inproc trains every site in this one thread; drop --workers or use --transport grpc`);
    }
    if (flags.minSites !== undefined && flags.minSites > flags.sites) {
      throw new InvalidArgumentError(`--min-sites ${flags.minSites} is more than the ${flags.sites} sites simulated`);
    }
    // Checks the file exists (with the message the other commands give).
    dataSpecFrom({ data: flags.data, shard: '1/1', partition: flags.partition, seed: flags.seed, count: flags.count }, { kinds: SPLITTABLE_KINDS, refusal: 'simulate divides synthetic data or a .npz among its sites; a folder or PACS is one real site, for `medley agent run --data`' });
    const workers = flags.transport === 'inproc' ? 1 : Math.min(flags.workers ?? availableParallelism(), flags.sites);
    const out = flags.out ?? `runs/simulate-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const result = await runSimulation(
      {
        sites: flags.sites,
        rounds: flags.rounds,
        data: flags.data,
        partition: flags.partition as PartitionScheme,
        transport: flags.transport,
        workers,
        trainer: flags.trainer,
        strategy: flags.strategy,
        strategyParams,
        attack: flags.attack ?? [],
        attackFactor: flags.attackFactor,
        model: flags.model,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        lr: flags.lr,
        lrSchedule: flags.lrSchedule,
        seed: flags.seed,
        count: flags.count,
        out,
        deadlineSeconds: flags.deadline ?? defaultDeadlineSeconds(flags.sites, workers, flags.trainer),
        minSites: flags.minSites ?? flags.sites,
        log,
      },
      await transportStarter(flags.transport),
    );
    const { summary } = result;
    const last = summary.rounds.at(-1);
    if (flags.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    const failed = summary.rounds.filter((r) => r.state !== 'closed').length;
    log(
      `done in ${summary.seconds.toFixed(1)} s: ${summary.rounds.length - failed}/${summary.rounds.length} rounds closed, model version ${summary.modelVersion}, ` +
        `held-out AUROC ${formatMetric(last?.metrics.auroc)}, accuracy ${formatMetric(last?.metrics.accuracy)}; ` +
        `peak RSS: ${summary.coordinatorPeakRssMiB === null ? 'coordinator in this process' : `coordinator ${summary.coordinatorPeakRssMiB} MiB`}, simulator ${summary.simulatorPeakRssMiB} MiB`,
    );
    log(`summary: ${result.outDir}/summary.json`);
    log(`report:  ${result.reportPath}`);
    if (failed === summary.rounds.length) process.exitCode = 2;
  });
}
