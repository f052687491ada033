import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { measureCoordinatorRound } from './lib/coordinator-round.js';
import { MIB, round } from './lib/stats.js';

/*
 * Peak RSS of the real coordinator process through one FedAvg round in which 50 sites upload an
 * update of a 100 MB model at about the same moment (bench/lib/coordinator-round.ts).
 */
export async function benchCoordinatorMemory({ quick, log }: BenchOptions): Promise<BenchResult> {
  const sites = quick ? 10 : 50;
  const parameters = quick ? 5_000_000 : 25_000_000;
  const modelMiB = (parameters * 4) / MIB;
  log(`coordinator_memory: ${sites} sites and a ${modelMiB.toFixed(1)} MiB model`);
  const run = await measureCoordinatorRound({ sites, parameters, sitesPerSender: 10, log, label: 'coordinator_memory' });
  const { peakMiB: peak, record } = run;
  const limit = 3 * modelMiB + 200;
  return {
    metric: `peak RSS (MiB) of the coordinator process, ${sites} sites x ${modelMiB.toFixed(1)} MiB model, one round`,
    unit: 'MiB',
    value: round(peak, 0),
    peer: { name: 'model size (MiB)', value: round(modelMiB, 1) },
    ratio: round(peak / modelMiB, 2),
    target: 'at most 3x the model size plus 200 MB, whatever the site count',
    met: peak <= limit,
    limit_mib: round(limit, 0),
    sites,
    model_mib: round(modelMiB, 1),
    round_seconds: round((record.closedUnixMs - record.startedUnixMs) / 1000, 1),
    peak_rss_before_round_mib: round(run.peakBeforeRoundMiB, 0),
    updates_accepted: record.reports.length,
    upload_failures: run.uploadFailures,
    uploads_turned_away: run.uploadsTurnedAway,
    sender_processes: run.senderProcesses,
    rss_timeline_s_mib: run.timeline,
  };
}
