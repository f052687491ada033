import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { measureCoordinatorRound } from './lib/coordinator-round.js';
import { MIB, round } from './lib/stats.js';

/*
 * Coordinator peak RSS against the number of sites for a fixed model, one round each, every site
 * uploading a whole-model update at about the same moment (bench/lib/coordinator-round.ts):
 * - fedavg (streaming: one running sum) should stay flat; the slope of a least-squares line
 *   through the points says by how much it is not;
 * - fedmedian (needs every update on its own) keeps updates in memory up to the coordinator's
 *   --strategy-memory budget and spills the rest to disk, so it should stay near the budget.
 * value = fedavg RSS at the largest count; peer = fedavg RSS at the smallest (BENCH.md `scale`).
 */

const STREAMING = 'fedavg';
const ROBUST = 'fedmedian';

export async function benchScale({ quick, log }: BenchOptions): Promise<BenchResult> {
  const counts = quick ? [5, 10, 20] : [10, 50, 100, 500];
  const parameters = quick ? 250_000 : 1_000_000;
  const budgetMiB = quick ? 8 : 64;
  const modelMiB = (parameters * 4) / MIB;
  const rows: { strategy: string; sites: number; peak_rss_mib: number | null; round_seconds: number | null; spill_expected: boolean }[] = [];
  for (const strategy of [STREAMING, ROBUST]) {
    for (const sites of counts) {
      const label = `scale ${strategy} x ${sites}`;
      const run = await measureCoordinatorRound({
        sites,
        parameters,
        sitesPerSender: 50,
        strategy,
        strategyMemoryMiB: budgetMiB,
        log,
        label,
      });
      rows.push({
        strategy,
        sites,
        peak_rss_mib: round(run.peakMiB, 0),
        round_seconds: round((run.record.closedUnixMs - run.record.startedUnixMs) / 1000, 1),
        spill_expected: strategy === ROBUST && sites * modelMiB > budgetMiB,
      });
    }
  }
  const series = (strategy: string) => rows.filter((r) => r.strategy === strategy && r.peak_rss_mib !== null) as { sites: number; peak_rss_mib: number }[];
  const streaming = series(STREAMING);
  const robust = series(ROBUST);
  const first = streaming[0]?.peak_rss_mib ?? null;
  const last = streaming.at(-1)?.peak_rss_mib ?? null;
  // The coordinator_memory target (3x the model plus 200 MB whatever the site count) for the
  // streaming strategy; the robust one may add its in-memory budget to that.
  const streamingLimit = 3 * modelMiB + 200;
  const robustLimit = streamingLimit + budgetMiB;
  const met = last !== null && streaming.every((r) => r.peak_rss_mib <= streamingLimit) && robust.length === counts.length && robust.every((r) => r.peak_rss_mib <= robustLimit);
  return {
    metric: `coordinator peak RSS (MiB), ${STREAMING}, ${counts.at(-1)} sites x ${modelMiB.toFixed(1)} MiB model, one round`,
    unit: 'MiB',
    value: last,
    peer: { name: `the same at ${counts[0]} sites`, value: first },
    ratio: first && last ? round(last / first, 2) : null,
    target: `flat for streaming strategies (at most 3x model + 200 MiB = ${streamingLimit.toFixed(0)} MiB at every count); robust strategies bounded by --strategy-memory (${budgetMiB} MiB) on top of that`,
    met,
    model_mib: round(modelMiB, 1),
    strategy_memory_mib: budgetMiB,
    slope_mib_per_site: { [STREAMING]: round(slope(streaming), 4), [ROBUST]: round(slope(robust), 4) },
    rows,
  };
}

/** Least-squares slope of peak RSS over the site count (MiB per site). */
function slope(points: { sites: number; peak_rss_mib: number }[]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.sites, 0) / n;
  const my = points.reduce((s, p) => s + p.peak_rss_mib, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.sites - mx) * (p.peak_rss_mib - my);
    den += (p.sites - mx) ** 2;
  }
  return den > 0 ? num / den : null;
}
