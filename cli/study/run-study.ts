/**
 * `medley study`: the clinical evidence for one data source, from simulated federations on this
 * machine (the in-process transport, the real coordinator and agent pipeline). The main federation
 * trains and is evaluated at every site (per site, pooled, subgroups, calibration); for each site
 * S a federation trains without S and is evaluated at S (leave-one-site-out); for each fraction a
 * federation trains on that share of each site's training data (data efficiency).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { PartitionScheme } from '../../shared/data/index.js';
import type { RoundEvaluation } from '../../shared/evaluation/index.js';
import type { EvaluationReport } from '../report/evaluation.js';
import { runSimulation, type SimulateOptions, type SimulationResult } from '../simulate/run-simulation.js';
import type { StartFederation } from '../simulate/transport.js';
import { buildEvaluationReport, type StudyEvaluations } from './evaluation-report.js';
import { renderStudyReport } from './render-report.js';

export interface StudyOptions {
  data: string;
  sites: number;
  rounds: number;
  out: string;
  partition: PartitionScheme;
  /** Shares of each site's training data for the data-efficiency runs (1 is the main run). */
  fractions: number[];
  ood: boolean;
  efficiency: boolean;
  seed: number;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  count?: number;
  deadlineSeconds: number;
  /** Progress lines (stderr). */
  log: (message: string) => void;
  /** The command as typed, for evaluation.json's commands. */
  command: string;
}

export interface StudyResult {
  report: EvaluationReport;
  out: string;
  evaluationPath: string;
  /** The rendered report (STUDY_DIR/report.html). */
  reportPath: string;
  seconds: number;
}

interface PlannedRun {
  key: string;
  part: string;
  options: Partial<SimulateOptions>;
}

function evaluationOf(result: SimulationResult, what: string): RoundEvaluation {
  const evaluation = result.evaluation?.evaluation;
  if (!evaluation) throw new Error(`${what}: its evaluation round produced no figures (${result.evaluation?.message ?? 'no evaluation round'}); see ${result.outDir}/logs`);
  return evaluation;
}

function formatSeconds(s: number): string {
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

/**
 * Equivalent commands for the parts, so each can be re-run alone: without --out (a study folder
 * is written once), with the other parts switched off.
 */
function partCommands(command: string): Record<string, string> {
  const base = command.replace(/\s+--no-(ood|efficiency)\b/g, '').replace(/\s+--out(=|\s+)('[^']*'|\S+)/g, '');
  const without = (...flags: string[]) => [base, ...flags].join(' ');
  const main = without('--no-ood', '--no-efficiency');
  return { study: command, pooled: main, perSite: main, subgroups: main, calibration: main, ood: without('--no-efficiency'), dataEfficiency: without('--no-ood') };
}

export async function runStudy(options: StudyOptions, startFederation: StartFederation): Promise<StudyResult> {
  const started = Date.now();
  const out = resolve(options.out);
  const runsDir = join(out, 'runs');
  const names = Array.from({ length: options.sites }, (_, i) => `site-${String(i + 1).padStart(String(options.sites).length, '0')}`);
  const plan: PlannedRun[] = [{ key: 'main', part: 'main federation', options: { evaluate: 'all' } }];
  if (options.ood) {
    if (options.sites < 2) throw new Error('leave-one-site-out needs at least 2 sites (use --no-ood with one site)');
    names.forEach((name, i) =>
      plan.push({ key: `ood-${name}`, part: `leave-one-site-out ${i + 1}/${options.sites}: without ${name}`, options: { holdOut: [i], evaluate: [i], minSites: options.sites - 1 } }),
    );
  }
  const fractions = options.efficiency ? [...new Set(options.fractions)].sort((a, b) => a - b) : [];
  for (const f of fractions.filter((f) => f < 1)) plan.push({ key: `fraction-${f}`, part: `data efficiency: ${Math.round(f * 1000) / 10}% of each site's training data`, options: { fraction: f, evaluate: 'all' } });
  const existing = await readdir(out).catch(() => [] as string[]);
  if (existing.length > 0) throw new Error(`study folder ${out} is not empty; a study writes a new folder (choose another --out)`);
  await mkdir(runsDir, { recursive: true });
  options.log(`study of ${options.data}: ${options.sites} sites, ${options.rounds} round(s) of ${options.epochs} epoch(s) per federation; ${plan.length} federation(s) to run; folder ${out}`);

  const results = new Map<string, SimulationResult>();
  for (const [k, run] of plan.entries()) {
    const runStarted = Date.now();
    const prefix = `[${k + 1}/${plan.length} ${run.key}]`;
    options.log(`${prefix} ${run.part}`);
    const result = await runSimulation(
      {
        sites: options.sites,
        rounds: options.rounds,
        data: options.data,
        partition: options.partition,
        transport: 'inproc',
        workers: 1,
        trainer: 'tfjs',
        strategy: 'fedavg',
        strategyParams: {},
        attack: [],
        attackFactor: 1,
        model: options.model,
        epochs: options.epochs,
        batchSize: options.batchSize,
        lr: options.lr,
        seed: options.seed,
        count: options.count,
        out: join(runsDir, run.key),
        deadlineSeconds: options.deadlineSeconds,
        minSites: options.sites,
        log: (m) => options.log(`${prefix} ${m}`),
        ...run.options,
      },
      startFederation,
    );
    results.set(run.key, result);
    const elapsed = (Date.now() - started) / 1000;
    const left = plan.length - k - 1;
    const pooled = result.evaluation?.evaluation?.pooled?.metrics.auroc;
    options.log(
      `${prefix} done in ${formatSeconds((Date.now() - runStarted) / 1000)}${typeof pooled === 'number' ? `, evaluation AUROC ${pooled.toFixed(4)}` : ''}` +
        (left ? `; ${left} to go, about ${formatSeconds((elapsed / (k + 1)) * left)} more` : ''),
    );
  }

  const main = results.get('main')!;
  const mainEvaluation = evaluationOf(main, 'the main federation');
  const trainingExamples = (r: SimulationResult) => r.summary.sites.reduce((n, s) => n + s.examples, 0);
  const study: StudyEvaluations = {
    data: options.data,
    createdAt: new Date().toISOString(),
    sites: names,
    main: mainEvaluation,
    ood: options.ood
      ? names.map((name) => ({ heldOutSite: name, trainedOn: names.filter((n) => n !== name), evaluation: evaluationOf(results.get(`ood-${name}`)!, `the run without ${name}`) }))
      : [],
    efficiency: fractions.map((f) => {
      const run = f < 1 ? results.get(`fraction-${f}`)! : main;
      return { fraction: f, examples: trainingExamples(run), evaluation: evaluationOf(run, `the run at fraction ${f}`) };
    }),
    commands: partCommands(options.command),
    runs: Object.fromEntries([...results].map(([key, r]) => [key, relative(out, r.outDir)])),
  };
  const report = buildEvaluationReport(study);
  const evaluationPath = join(out, 'evaluation.json');
  await writeFile(evaluationPath, JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(out, 'summary.json'), JSON.stringify(main.summary, null, 2) + '\n');
  const { path: reportPath } = await renderStudyReport(out);
  return { report, out, evaluationPath, reportPath, seconds: (Date.now() - started) / 1000 };
}
