import type { Command } from 'commander';
import type { RoundRecord, StartRoundsRequest } from '../../shared/wire/index.js';
import { AdminClient } from '../admin-client.js';
import { adminKeyFrom, adminKeyOptions, type AdminKeyOptions } from './admin-key.js';
import { evaluationLines } from '../progress/evaluation-table.js';
import { RoundProgress } from '../progress/round-progress.js';
import { methodOptions } from './method-options.js';
import { strategyOptions } from './strategy-options.js';
import { LR_SCHEDULE_HELP, lrScheduleFlag } from './lr-schedule-option.js';
import { hostPort, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './parse.js';

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
  const rounds = await admin.roundsBetween(started.firstRound, started.lastRound);
  const status = await admin.status({ fromRound: started.lastRound, limit: 1 });
  return { ...started, rounds, modelVersion: status.modelVersion };
}

interface RoundStartOptions extends AdminKeyOptions {
  coordinator: string;
  secureAggregation?: boolean;
  secaggThreshold: number;
  secaggClip: number;
  dpNoise: number;
  dpClip: number;
  strategy: string;
  strategyParam: Record<string, number>;
  method: string;
  methodParam: Record<string, number>;
  rounds: number;
  /** `constant`, `exp:GAMMA` or `cosine:FLOOR`, already checked. */
  lrSchedule: string;
  minSites: number;
  maxSites: number;
  epochs: number;
  batchSize: number;
  lr: number;
  deadline: number;
  wait: number;
  seed: number;
  json?: boolean;
  evaluate?: boolean;
  sites?: string[];
}

function siteList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

interface RoundWatchOptions extends AdminKeyOptions {
  coordinator: string;
  round?: number;
}

/**
 * Follows the run going on at a coordinator (started by someone else, a script, the scheduler)
 * until it ends, through the same RoundProgress display `round start` uses.
 */
export async function watchRun(admin: AdminClient, fromRound: number | undefined, out: NodeJS.WriteStream = process.stderr): Promise<RoundRunResult | null> {
  const status = await admin.status();
  const open = status.rounds.find((r) => r.state === 'open');
  const lastRound = status.lastRound ?? status.rounds.at(-1)?.round ?? 0;
  if (fromRound === undefined && !status.running) return null;
  // The round open now, or the next one when the run is between rounds (waiting for sites).
  const now = open?.round ?? lastRound + 1;
  const first = fromRound ?? now;
  // roundsRemaining counts the round in progress; a finished run replayed with --round has none.
  const last = status.running ? now + status.roundsRemaining - 1 : Math.max(first, lastRound);
  const progress = new RoundProgress(Math.max(1, last - first + 1), first, out);
  try {
    await admin.watch(first, (event) => progress.handle(event));
  } finally {
    progress.stop();
  }
  const after = await admin.status({ fromRound: first, limit: 1 });
  const rounds = (await admin.roundsBetween(first, after.lastRound ?? last)).filter((r) => r.state !== 'open');
  return { firstRound: first, lastRound: rounds.at(-1)?.round ?? first, rounds, modelVersion: after.modelVersion };
}

export function registerRound(program: Command): void {
  const round = program.command('round').description('launch and follow federation rounds');
  const start = round
    .command('start')
    .description('start rounds on a running coordinator and follow them until done')
    .requiredOption('--coordinator <host:port>', 'coordinator address', hostPort)
    .option('--rounds <n>', 'number of rounds', positiveInt, 1)
    .option('--min-sites <k>', 'fewest updates a round needs to produce a model', positiveInt, 1)
    .option('--max-sites <k>', 'most sites asked per round (0 = every connected site)', nonNegativeInt, 0)
    .option('--epochs <n>', 'local epochs per round', positiveInt, 1)
    .option('--batch-size <n>', 'local batch size', positiveInt, 32)
    .option('--lr <rate>', 'local learning rate', positiveNumber, 0.001)
    .option('--lr-schedule <spec>', LR_SCHEDULE_HELP, lrScheduleFlag, 'constant')
    .option('--deadline <seconds>', 'round deadline; later updates are refused', positiveInt, 600)
    .option('--wait <seconds>', 'how long to wait for --min-sites sites to connect', positiveInt, 120)
    .option('--seed <s>', 'seed for site selection and local shuffling', nonNegativeInt, 0)
    .option('--secure-aggregation', 'mask updates so the coordinator learns only their sum (SecAgg with dropout recovery)')
    .option('--secagg-threshold <k>', 'least surviving sites for a secure round (0 = two thirds of the selected)', nonNegativeInt, 0)
    .option('--secagg-clip <c>', 'secure aggregation clips every update value to [-c, c] before quantizing', positiveNumber, 1)
    .option('--dp-noise <sigma>', 'differential privacy at the sites: Gaussian noise multiplier (0 = clip only)', nonNegativeNumber, 0)
    .option('--dp-clip <norm>', "differential privacy at the sites: clip each update's L2 norm to this (enables DP)", positiveNumber)
    .option('--evaluate', 'one evaluation round: the sites score the current model on their validation split and send aggregate figures only; nothing is trained')
    .option('--sites <names>', 'only these sites (comma-separated) may be selected', siteList)
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)');
  adminKeyOptions(methodOptions(strategyOptions(start))).action(async (opts: RoundStartOptions) => {
      const admin = new AdminClient(opts.coordinator, adminKeyFrom(opts));
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
            lrSchedule: opts.lrSchedule,
            deadlineSeconds: opts.deadline,
            waitSeconds: opts.wait,
            seed: opts.seed,
            strategy: opts.strategy,
            strategyParams: opts.strategyParam,
            method: opts.method,
            methodParams: opts.methodParam,
            secureAggregation: Boolean(opts.secureAggregation),
            secaggThreshold: opts.secaggThreshold,
            secaggClip: opts.secaggClip,
            dpNoiseMultiplier: opts.dpNoise,
            dpClipNorm: opts.dpClip ?? 0,
            evaluate: Boolean(opts.evaluate),
            sites: opts.sites ?? [],
          },
          true,
        );
        if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        for (const r of result.rounds) if (r.evaluation) process.stderr.write(evaluationLines(r.evaluation).join('\n') + '\n');
        const failed = result.rounds.filter((r) => r.state !== 'closed').length;
        process.stderr.write(`rounds ${result.firstRound}-${result.lastRound} done: ${result.rounds.length - failed} closed, ${failed} failed; model version ${result.modelVersion}\n`);
        if (failed === result.rounds.length) process.exitCode = 2;
      } finally {
        admin.close();
      }
    });
  const watch = round
    .command('watch')
    .description("follow the run going on at a coordinator: each site's progress (phase, epoch, bytes) and each round's result; exits when the run ends")
    .requiredOption('--coordinator <host:port>', 'coordinator address', hostPort)
    .option('--round <n>', 'follow from round N (rounds already over are replayed from what the coordinator still holds); without it, from the round in progress', positiveInt);
  adminKeyOptions(watch).action(async (opts: RoundWatchOptions) => {
    const admin = new AdminClient(opts.coordinator, adminKeyFrom(opts));
    try {
      const result = await watchRun(admin, opts.round);
      if (!result) {
        process.stderr.write(`no run is going on at ${opts.coordinator}; start one with \`medley round start\`, or pass --round N to replay the rounds from N\n`);
        process.exitCode = 1;
        return;
      }
      const failed = result.rounds.filter((r) => r.state !== 'closed').length;
      process.stderr.write(`rounds ${result.firstRound}-${result.lastRound} over: ${result.rounds.length - failed} closed, ${failed} failed; model version ${result.modelVersion}\n`);
      if (result.rounds.length > 0 && failed === result.rounds.length) process.exitCode = 2;
    } finally {
      admin.close();
    }
  });
}
