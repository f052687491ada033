import type { Command } from 'commander';
import type { RoundRecord, StartRoundsRequest } from '../../shared/wire/index.js';
import { AdminClient } from '../admin-client.js';
import { RoundProgress } from '../progress/round-progress.js';
import { hostPort, nonNegativeInt, positiveInt, positiveNumber } from './parse.js';

export interface RoundRunResult {
  firstRound: number;
  lastRound: number;
  rounds: RoundRecord[];
  modelVersion: number;
}

/** Starts rounds on a coordinator and follows them until the run finishes. */
export async function startAndFollow(admin: AdminClient, request: StartRoundsRequest, showProgress: boolean): Promise<RoundRunResult> {
  const started = await admin.startRounds(request);
  const progress = showProgress ? new RoundProgress(request.rounds, started.firstRound) : null;
  try {
    await admin.watch(started.firstRound, (event) => progress?.handle(event));
  } finally {
    progress?.stop();
  }
  const status = await admin.status();
  return {
    ...started,
    rounds: status.rounds.filter((r) => r.round >= started.firstRound && r.round <= started.lastRound),
    modelVersion: status.modelVersion,
  };
}

interface RoundStartOptions {
  coordinator: string;
  rounds: number;
  minSites: number;
  maxSites: number;
  epochs: number;
  batchSize: number;
  lr: number;
  deadline: number;
  wait: number;
  seed: number;
  json?: boolean;
}

export function registerRound(program: Command): void {
  const round = program.command('round').description('launch and follow federation rounds');
  round
    .command('start')
    .description('start rounds on a running coordinator and follow them until done')
    .requiredOption('--coordinator <host:port>', 'coordinator address', hostPort)
    .option('--rounds <n>', 'number of rounds', positiveInt, 1)
    .option('--min-sites <k>', 'fewest updates a round needs to produce a model', positiveInt, 1)
    .option('--max-sites <k>', 'most sites asked per round (0 = every connected site)', nonNegativeInt, 0)
    .option('--epochs <n>', 'local epochs per round', positiveInt, 1)
    .option('--batch-size <n>', 'local batch size', positiveInt, 32)
    .option('--lr <rate>', 'local learning rate', positiveNumber, 0.001)
    .option('--deadline <seconds>', 'round deadline; later updates are refused', positiveInt, 600)
    .option('--wait <seconds>', 'how long to wait for --min-sites sites to connect', positiveInt, 120)
    .option('--seed <s>', 'seed for site selection and local shuffling', nonNegativeInt, 0)
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)')
    .action(async (opts: RoundStartOptions) => {
      const admin = new AdminClient(opts.coordinator);
      try {
        const result = await startAndFollow(
          admin,
          {
            rounds: opts.rounds,
            minSites: opts.minSites,
            maxSites: opts.maxSites,
            epochs: opts.epochs,
            batchSize: opts.batchSize,
            learningRate: opts.lr,
            deadlineSeconds: opts.deadline,
            waitSeconds: opts.wait,
            seed: opts.seed,
          },
          true,
        );
        if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        const failed = result.rounds.filter((r) => r.state !== 'closed').length;
        process.stderr.write(`rounds ${result.firstRound}-${result.lastRound} done: ${result.rounds.length - failed} closed, ${failed} failed; model version ${result.modelVersion}\n`);
        if (failed === result.rounds.length) process.exitCode = 2;
      } finally {
        admin.close();
      }
    });
}
