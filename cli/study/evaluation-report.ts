/**
 * Turns the evaluation rounds of a study's runs into `evaluation.json` (cli/report/evaluation.ts):
 * the main run's per-site, pooled, subgroup and calibration figures, each leave-one-site-out run's
 * figures at the site it left out, and each data-efficiency run's pooled figures.
 */
import { figuresOf, type RecordedSiteEvaluation, type RoundEvaluation } from '../../shared/evaluation/index.js';
import type { DataEfficiencyPoint, EvaluatedModel, EvaluationReport, OodEvaluation, SiteEvaluation, SubgroupEvaluation } from '../report/evaluation.js';

export interface StudyEvaluations {
  data: string;
  createdAt: string;
  sites: string[];
  /** The main federation's evaluation round (every site). */
  main: RoundEvaluation;
  ood: { heldOutSite: string; trainedOn: string[]; evaluation: RoundEvaluation }[];
  /** Fraction 1 is the main run. */
  efficiency: { fraction: number; examples: number; evaluation: RoundEvaluation }[];
  commands: Record<string, string>;
  runs: Record<string, string>;
}

function siteFigures(site: RecordedSiteEvaluation): SiteEvaluation {
  const { roc, pr, reliability } = figuresOf(site.statistics);
  return { site: site.site, source: `${site.site}'s validation split, computed at the site`, examples: site.examples, metrics: site.metrics, roc, pr, reliability };
}

function pooledFigures(evaluation: RoundEvaluation, what: string): EvaluatedModel {
  const pooled = evaluation.pooled;
  if (!pooled) throw new Error(`${what}: no site sent an evaluation summary, so there are no pooled figures; see the run's logs`);
  return {
    source: `federated evaluation at ${pooled.sites.length} site(s) on their validation splits, pooled from score histograms and reliability sums`,
    examples: pooled.examples,
    metrics: pooled.metrics,
    roc: pooled.roc,
    pr: pooled.pr,
    reliability: pooled.reliability,
    aurocResolution: pooled.aurocResolution,
  };
}

function subgroupsOf(evaluation: RoundEvaluation): SubgroupEvaluation[] {
  return (evaluation.pooled?.subgroups ?? []).map((column) => ({
    column: column.column,
    groups: column.groups.map((g) => ({
      value: g.value,
      source: `${column.column} = ${g.value} at ${g.sites.join(', ')}, pooled`,
      examples: g.examples,
      metrics: g.metrics,
      roc: g.roc,
      pr: g.pr,
      reliability: g.reliability,
    })),
    largestGap: column.largestGap,
  }));
}

function heldOutFigures(run: StudyEvaluations['ood'][number], main: RoundEvaluation): OodEvaluation {
  const at = run.evaluation.sites.find((s) => s.site === run.heldOutSite);
  if (!at) throw new Error(`leave-one-site-out run without ${run.heldOutSite}: the site sent no evaluation summary; see the run's logs`);
  const inDistribution = main.sites.find((s) => s.site === run.heldOutSite)?.metrics;
  return { heldOutSite: run.heldOutSite, trainedOn: run.trainedOn, metrics: at.metrics, examples: at.examples, ...(inDistribution ? { inDistribution } : {}) };
}

export function buildEvaluationReport(study: StudyEvaluations): EvaluationReport {
  const calibration = study.main.pooled?.calibration ?? null;
  const efficiency: DataEfficiencyPoint[] = [...study.efficiency]
    .sort((a, b) => a.fraction - b.fraction)
    .map((run) => ({ fraction: run.fraction, examples: run.examples, metrics: pooledFigures(run.evaluation, `data-efficiency run at fraction ${run.fraction}`).metrics }));
  return {
    kind: 'evaluation',
    task: 'binary',
    createdAt: study.createdAt,
    data: study.data,
    sites: study.sites,
    pooled: pooledFigures(study.main, 'the main federation'),
    perSite: study.main.sites.map(siteFigures),
    subgroups: subgroupsOf(study.main),
    calibration: calibration && {
      temperature: calibration.temperature,
      fittedOn: calibration.fittedOn,
      atGridEdge: calibration.atGridEdge,
      before: calibration.before,
      after: calibration.after,
    },
    ood: study.ood.map((run) => heldOutFigures(run, study.main)),
    dataEfficiency: efficiency,
    commands: study.commands,
    runs: study.runs,
  };
}
