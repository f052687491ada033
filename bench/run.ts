import { writeFile } from 'node:fs/promises';
import type { BenchResult } from './result.js';
import type { Bench } from './lib/options.js';
import { machineInfo } from './lib/machine.js';
import { renderTable } from './lib/table.js';
import { ensurePythonPeers } from './lib/python.js';

/*
 * `npm run bench -- [--json] [--only a,b] [--quick]`: runs the benchmarks of /work/shared/BENCH.md
 * in order, each isolated (a failure becomes a skipped result, the others still run), progress on
 * stderr, and exactly one JSON object (or, without --json, a table) on stdout.
 */

interface Entry {
  name: string;
  /** Needs the Python peers (bench/setup.sh runs first). */
  python?: boolean;
  run: Bench;
}

/** A benchmark of BENCH.md whose feature comes with a later issue: listed, with value null. */
const later =
  (metric: string, unit: string, issue: string): Bench =>
  async () => ({ metric, unit, value: null, skipped: `not implemented yet (${issue})` });

// Each benchmark module is imported only when it runs, so one that is broken or heavy to load
// (training pulls in TensorFlow.js) never affects the others.
const BENCHMARKS: Entry[] = [
  { name: 'aggregation', python: true, run: async (o) => (await import('./aggregation.js')).benchAggregation(o) },
  { name: 'coordinator_memory', run: async (o) => (await import('./coordinator-memory.js')).benchCoordinatorMemory(o) },
  { name: 'transfer', run: async (o) => (await import('./transfer.js')).benchTransfer(o) },
  { name: 'ingest', run: async (o) => (await import('./ingest.js')).benchIngest(o) },
  { name: 'round', run: async (o) => (await import('./round.js')).benchRound(o) },
  { name: 'training', python: true, run: async (o) => (await import('./training.js')).benchTraining(o) },
  { name: 'secagg', run: async (o) => (await import('./secagg.js')).benchSecagg(o) },
  { name: 'tgd', run: async (o) => (await import('./tgd.js')).benchTgd(o) },
  { name: 'distill', run: async (o) => (await import('./distill.js')).benchDistill(o) },
  { name: 'prune', run: async (o) => (await import('./prune.js')).benchPrune(o) },
  { name: 'truncate', run: async (o) => (await import('./truncate.js')).benchTruncate(o) },
  { name: 'soak', run: async (o) => (await import('./soak.js')).benchSoak(o) },
  { name: 'scale', run: async (o) => (await import('./scale.js')).benchScale(o) },
  { name: 'strategies', run: async (o) => (await import('./strategies.js')).benchStrategies(o) },
];

interface Args {
  json: boolean;
  quick: boolean;
  only: string[] | null;
  /** Also write the JSON object to this file (npm prints its own banner lines on stdout). */
  out: string | null;
  soakRounds: number | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { json: false, quick: false, only: null, out: null, soakRounds: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') args.json = true;
    else if (a === '--quick') args.quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const list = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!list) throw new Error('--only needs a comma-separated list of benchmark names');
      args.only = list.split(',').map((s) => s.trim()).filter(Boolean);
    } else if (a === '--out' || a.startsWith('--out=')) {
      args.out = (a === '--out' ? argv[++i] : a.slice('--out='.length)) ?? null;
      if (!args.out) throw new Error('--out needs a file name');
    } else if (a === '--soak-rounds' || a.startsWith('--soak-rounds=')) {
      const text = a === '--soak-rounds' ? argv[++i] : a.slice('--soak-rounds='.length);
      const n = Number(text);
      // The soak's windows are the last three quarters and the last half of the rounds: fewer than 40 leave too few points to fit.
      if (!Number.isInteger(n) || n < 40) throw new Error(`--soak-rounds ${text ?? ''}: give a whole number of rounds, at least 40 (default 200)`);
      args.soakRounds = n;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: node dist/bench/run.js [--json] [--quick] [--out FILE] [--soak-rounds N] [--only ${BENCHMARKS.map((b) => b.name).join(',')}]\n`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a}; try --help`);
    }
  }
  const unknown = (args.only ?? []).filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  return args;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = BENCHMARKS.filter((b) => !args.only || args.only.includes(b.name));
  if (chosen.some((b) => b.python)) await ensurePythonPeers(log);
  const results: Record<string, BenchResult> = {};
  for (const bench of chosen) {
    const started = performance.now();
    log(`== ${bench.name}${args.quick ? ' (quick)' : ''}`);
    try {
      const result = await bench.run({ quick: args.quick, ...(args.soakRounds ? { soakRounds: args.soakRounds } : {}), log: (line) => log(line) });
      // The training module adds its own name; the key already says it.
      const { name: _name, ...rest } = result as BenchResult & { name?: unknown };
      results[bench.name] = rest;
      const shown = result.value === null ? `skipped (${result.skipped ?? 'no value'})` : `${result.value} ${result.unit}`;
      log(`== ${bench.name}: ${shown} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`== ${bench.name} failed: ${message}`);
      if (err instanceof Error && err.stack) log(err.stack.split('\n').slice(1, 4).join('\n'));
      results[bench.name] = { metric: 'failed', unit: '', value: null, skipped: `failed: ${message}` };
    }
  }
  const output = { machine: await machineInfo(log), results };
  if (args.out) await writeFile(args.out, JSON.stringify(output, null, 2) + '\n');
  await new Promise<void>((resolve) => process.stdout.write(args.json ? JSON.stringify(output, null, 2) + '\n' : renderTable(output), () => resolve()));
}

main().then(
  // Worker threads or gRPC channels a benchmark left behind must not keep the runner alive.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
