import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { repoFile } from './lib/assets.js';
import { Cleanup } from './lib/cleanup.js';
import { startMedley } from './lib/procs.js';
import { round } from './lib/stats.js';

/*
 * Rounds each strategy needs to reach a target held-out AUROC on PneumoniaMNIST split over 10
 * sites by Dirichlet(0.3) label skew (non-IID), all through `medley simulate` with the same seed,
 * data, model and local training. value = fewest rounds among FedProx/FedAdam/FedYogi; peer =
 * FedAvg's rounds. A strategy that never reaches the target within the round budget counts as
 * "not reached" (null), never as a number.
 */

interface Arm {
  strategy: string;
  params: Record<string, number>;
}

const ARMS: Arm[] = [
  { strategy: 'fedavg', params: {} },
  { strategy: 'fedprox', params: { mu: 0.01 } },
  { strategy: 'fedadam', params: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.001 } },
  { strategy: 'fedyogi', params: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.001 } },
];

interface SimulateSummary {
  seconds?: number;
  rounds: { round: number; metrics: Record<string, number> }[];
}

export function pneumoniaMnistPath(): string | null {
  const root = dirname(repoFile('bin/medley.js'));
  const path = resolve(process.env.MEDLEY_MEDMNIST ?? join(root, '..', '..', 'shared', 'data', 'medmnist', 'pneumoniamnist.npz'));
  return existsSync(path) ? path : null;
}

export async function benchStrategies({ quick, log }: BenchOptions): Promise<BenchResult> {
  const metric = 'rounds to reach the target held-out AUROC, PneumoniaMNIST, Dirichlet(0.3) over 10 sites';
  const data = pneumoniaMnistPath();
  if (!data) return { metric, unit: 'rounds', value: null, skipped: 'PneumoniaMNIST not found (../shared/data/medmnist/pneumoniamnist.npz or MEDLEY_MEDMNIST)' };
  const sites = 10;
  const maxRounds = quick ? 2 : 8;
  const target = quick ? 0.8 : 0.95;
  const partition = 'dirichlet:0.3';
  const cleanup = new Cleanup();
  const workDir = await mkdtemp(join(tmpdir(), 'medley-bench-strategies-'));
  cleanup.add(() => rm(workDir, { recursive: true, force: true }));
  const common = ['--sites', String(sites), '--rounds', String(maxRounds), '--partition', partition, '--data', data, '--seed', '7', '--epochs', '1'];
  const rows: { strategy: string; params: Record<string, number>; rounds_to_target: number | null; auroc_by_round: (number | null)[]; seconds: number | null }[] = [];
  try {
    for (const arm of ARMS) {
      const out = join(workDir, arm.strategy);
      const args = ['simulate', ...common, '--strategy', arm.strategy, '--out', out];
      for (const [k, v] of Object.entries(arm.params)) args.push('--strategy-param', `${k}=${v}`);
      log(`strategies: medley ${args.join(' ')}`);
      const started = performance.now();
      const proc = startMedley(args, cleanup, { echo: (line) => (/round \d+ (closed|failed)/.test(line) ? log(`strategies ${arm.strategy}: ${line}`) : undefined) });
      const code = await proc.exited;
      if (code !== 0) throw new Error(`simulate with ${arm.strategy} exited with ${code}:\n${proc.tail()}`);
      const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as SimulateSummary;
      const aurocs = summary.rounds.map((r) => (Number.isFinite(r.metrics.auroc) ? r.metrics.auroc! : null));
      const hit = aurocs.findIndex((a) => a !== null && a >= target);
      rows.push({
        strategy: arm.strategy,
        params: arm.params,
        rounds_to_target: hit >= 0 ? hit + 1 : null,
        auroc_by_round: aurocs.map((a) => round(a, 4)),
        seconds: round((performance.now() - started) / 1000, 0),
      });
      log(`strategies ${arm.strategy}: AUROC by round ${aurocs.map((a) => a?.toFixed(3)).join(', ')}; target ${target} ${hit >= 0 ? `reached in round ${hit + 1}` : 'not reached'}`);
    }
  } finally {
    await cleanup.run();
  }
  const fedavg = rows.find((r) => r.strategy === 'fedavg')?.rounds_to_target ?? null;
  const others = rows.filter((r) => r.strategy !== 'fedavg' && r.rounds_to_target !== null).map((r) => r.rounds_to_target!);
  const best = others.length ? Math.min(...others) : null;
  return {
    metric,
    unit: 'rounds',
    value: best,
    peer: { name: 'FedAvg, same data, seed and local training', value: fedavg },
    ratio: best !== null && fedavg ? round(best / fedavg, 2) : null,
    target: `held-out AUROC >= ${target} within ${maxRounds} rounds; table of FedAvg, FedProx, FedAdam, FedYogi`,
    command: `medley simulate ${common.join(' ').replace(data, '../shared/data/medmnist/pneumoniamnist.npz')} --strategy NAME [--strategy-param K=V]`,
    rows,
  };
}
