import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { measureCoordinatorRound } from './lib/coordinator-round.js';
import { MIB, round } from './lib/stats.js';
import { slope } from './lib/rss-series.js';

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
  const rows: { strategy: string; sites: number; peak_rss_mib: number | null; round_seconds: number | null; spill_expected: boolean; uploads_turned_away: number }[] = [];
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
        uploads_turned_away: run.uploadsTurnedAway,
      });
    }
  }
  const series = (strategy: string) => rows.filter((r) => r.strategy === strategy && r.peak_rss_mib !== null) as { sites: number; peak_rss_mib: number }[];
  const streaming = series(STREAMING);
  const robust = series(ROBUST);
  const first = streaming[0]?.peak_rss_mib ?? null;
  const last = streaming.at(-1)?.peak_rss_mib ?? null;
  // "Flat": the coordinator grows by less than a tenth of what keeping every update would cost
  // (slope below 0.1 model sizes per site). "Bounded": the robust strategy's peak stays within
  // the streaming strategy's peak at the same count plus 1.5x its --strategy-memory budget.
  const slopes = { [STREAMING]: rssSlope(streaming), [ROBUST]: rssSlope(robust) };
  const flatLimit = 0.1 * modelMiB;
  const streamingFlat = slopes[STREAMING] !== null && slopes[STREAMING]! < flatLimit;
  const robustBounded =
    robust.length === counts.length &&
    robust.every((r) => {
      const reference = streaming.find((s) => s.sites === r.sites);
      return reference !== undefined && r.peak_rss_mib <= reference.peak_rss_mib + 1.5 * budgetMiB;
    });
  const met = last !== null && streamingFlat && robustBounded;
  return {
    metric: `coordinator peak RSS (MiB), ${STREAMING}, ${counts.at(-1)} sites x ${modelMiB.toFixed(1)} MiB model, one round`,
    unit: 'MiB',
    value: last,
    peer: { name: `the same at ${counts[0]} sites`, value: first },
    ratio: first && last ? round(last / first, 2) : null,
    target: `streaming flat (slope < 0.1 model sizes = ${flatLimit.toFixed(2)} MiB per site); robust within the streaming peak + 1.5x --strategy-memory (${budgetMiB} MiB) at every count`,
    met,
    model_mib: round(modelMiB, 1),
    strategy_memory_mib: budgetMiB,
    slope_mib_per_site: { [STREAMING]: round(slopes[STREAMING], 4), [ROBUST]: round(slopes[ROBUST], 4) },
    streaming_flat: streamingFlat,
    robust_bounded: robustBounded,
    rows,
  };
}

/** Least-squares slope of peak RSS over the site count (MiB per site); null with fewer than two counts. */
function rssSlope(points: { sites: number; peak_rss_mib: number }[]): number | null {
  const perSite = slope(points.map((p) => ({ x: p.sites, y: p.peak_rss_mib })));
  return Number.isNaN(perSite) ? null : perSite;
}
