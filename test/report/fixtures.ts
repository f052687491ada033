/**
 * Test fixtures for the report: a RunSummary like `medley demo` writes and an EvaluationReport
 * like `medley study` will write, made from simulated predictions so every number is consistent
 * (curves, bins and metrics come from the same scores through shared/metrics). Seeded: the same
 * call gives the same report, so tests can count curves, bars and points exactly.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '../../shared/data/random.js';
import { auprc, auroc, balancedAccuracy, brier, ece, f1, reliabilityBins, sensitivity, specificity } from '../../shared/metrics/index.js';
import type { CurvePoints, EvaluatedModel, EvaluationReport, MetricTable, ReliabilityBin, SubgroupEvaluation } from '../../cli/report/evaluation.js';
import type { Metrics, RunSummary } from '../../cli/report/summary.js';

/** Names that need escaping in HTML and SVG, and one plain. */
export const SITES = ['site-1', "St. Mary's & <North>", 'clinic "B"', 'site-4'];
export const FRACTIONS = [0.1, 0.25, 0.5, 1];
export const SUBGROUP_COLUMNS: Record<string, string[]> = { sex: ['F', 'M'], 'age band': ['<40', '40-65', '>65'] };
export const BINS = 15;

interface Predictions {
  y: number[];
  /** Positive-class probabilities. */
  p: number[];
  /** The subgroup value of each example, per column. */
  groups: Record<string, string[]>;
}

/** n examples, about 30% positive, logits separated by `separation` standard deviations; `scale` > 1 makes the model over-confident. */
function predictions(rng: Random, n: number, separation: number, scale = 3): Predictions {
  const y: number[] = [];
  const p: number[] = [];
  const groups: Record<string, string[]> = Object.fromEntries(Object.keys(SUBGROUP_COLUMNS).map((c) => [c, []]));
  for (let i = 0; i < n; i++) {
    const label = rng.next() < 0.3 ? 1 : 0;
    const logit = scale * ((label ? separation / 2 : -separation / 2) + rng.normal() - 0.4);
    y.push(label);
    p.push(1 / (1 + Math.exp(-logit)));
    for (const [column, values] of Object.entries(SUBGROUP_COLUMNS)) groups[column].push(values[rng.int(values.length)]);
  }
  return { y, p, groups };
}

function metricsOf({ y, p }: Pick<Predictions, 'y' | 'p'>): MetricTable {
  const nan = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    auroc: nan(auroc(y, p)),
    auprc: nan(auprc(y, p)),
    balancedAccuracy: nan(balancedAccuracy(y, p)),
    sensitivity: nan(sensitivity(y, p)),
    specificity: nan(specificity(y, p)),
    f1: nan(f1(y, p)),
    accuracy: y.filter((t, i) => (p[i] >= 0.5 ? 1 : 0) === t).length / y.length,
    ece: nan(ece(y, p, BINS)),
    brier: nan(brier(y, p)),
    prevalence: y.reduce((a, b) => a + b, 0) / y.length,
  };
}

/** ROC ([fpr, tpr]) and PR ([recall, precision]) points at up to `steps` thresholds, as score histograms would give. */
function curves({ y, p }: Pick<Predictions, 'y' | 'p'>, steps = 50): { roc: CurvePoints; pr: CurvePoints } {
  const pos = y.reduce((a, b) => a + b, 0);
  const neg = y.length - pos;
  const roc: CurvePoints = [[0, 0]];
  const pr: CurvePoints = [[0, 1]];
  for (let k = steps - 1; k >= 0; k--) {
    const t = k / steps;
    let tp = 0;
    let fp = 0;
    p.forEach((s, i) => {
      if (s >= t) {
        if (y[i]) tp++;
        else fp++;
      }
    });
    roc.push([fp / neg, tp / pos]);
    if (tp + fp > 0) pr.push([tp / pos, tp / (tp + fp)]);
  }
  return { roc, pr };
}

function bins(pred: Pick<Predictions, 'y' | 'p'>): ReliabilityBin[] {
  const b = reliabilityBins(pred.y, pred.p, BINS);
  return Array.from(b.count, (count, m) => ({
    lo: b.edges[m],
    hi: b.edges[m + 1],
    count,
    confidence: count > 0 ? b.confidence[m] : null,
    accuracy: count > 0 ? b.accuracy[m] : null,
  }));
}

function evaluated(source: string, pred: Pick<Predictions, 'y' | 'p'>, withCurves: boolean): EvaluatedModel {
  const base: EvaluatedModel = { source, examples: pred.y.length, metrics: metricsOf(pred) };
  return withCurves ? { ...base, ...curves(pred), reliability: bins(pred) } : base;
}

function concat(parts: Predictions[]): Predictions {
  const groups: Record<string, string[]> = {};
  for (const column of Object.keys(SUBGROUP_COLUMNS)) groups[column] = parts.flatMap((x) => x.groups[column]);
  return { y: parts.flatMap((x) => x.y), p: parts.flatMap((x) => x.p), groups };
}

function subgroups(pooled: Predictions): SubgroupEvaluation[] {
  return Object.entries(SUBGROUP_COLUMNS).map(([column, values]) => {
    const groups = values.map((value) => {
      const idx = pooled.groups[column].flatMap((g, i) => (g === value ? [i] : []));
      const part = { y: idx.map((i) => pooled.y[i]), p: idx.map((i) => pooled.p[i]) };
      return { ...evaluated(`pooled, ${column} = ${value}`, part, false), value };
    });
    const largestGap = ['auroc', 'auprc', 'sensitivity'].map((metric) => {
      let best = { metric, gap: -1, between: ['', ''] as [string, string] };
      for (const a of groups)
        for (const b of groups) {
          const gap = (a.metrics[metric] ?? NaN) - (b.metrics[metric] ?? NaN);
          if (gap > best.gap) best = { metric, gap, between: [a.value, b.value] };
        }
      return best;
    });
    return { column, groups, largestGap };
  });
}

/** The temperature with the least negative log-likelihood on a grid, as a study fits it on validation data. */
function fitTemperature(pred: Pick<Predictions, 'y' | 'p'>): number {
  let best = { t: 1, nll: Infinity };
  for (let t = 0.5; t <= 4; t += 0.05) {
    const value = nll({ y: pred.y, p: temperatureScaled(pred.p, t) });
    if (value < best.nll) best = { t: Math.round(t * 100) / 100, nll: value };
  }
  return best.t;
}

/** Mean negative log-likelihood of the labels under the probabilities. */
function nll({ y, p }: Pick<Predictions, 'y' | 'p'>): number {
  return -y.reduce((a, t, i) => a + Math.log(Math.min(1 - 1e-12, Math.max(1e-12, t ? p[i] : 1 - p[i]))), 0) / y.length;
}

function temperatureScaled(p: number[], t: number): number[] {
  return p.map((q) => {
    const logit = Math.log(q / (1 - q));
    return 1 / (1 + Math.exp(-logit / t));
  });
}

/** A full evaluation of 4 sites: every optional part present. */
export function fullEvaluation(seed = 1): EvaluationReport {
  const rng = new Random(seed);
  const perSitePred = SITES.map((_, i) => predictions(rng, 300 + 40 * i, 2.2 - 0.3 * i));
  const pooledPred = concat(perSitePred);
  const temperature = fitTemperature(pooledPred);
  const after = { y: pooledPred.y, p: temperatureScaled(pooledPred.p, temperature) };
  const afterMetrics = metricsOf(after);
  return {
    kind: 'evaluation',
    task: 'binary',
    createdAt: '2026-11-22T08:00:00.000Z',
    data: 'synthetic (fixture)',
    sites: [...SITES],
    pooled: { ...evaluated(`federated evaluation at ${SITES.length} sites, pooled`, pooledPred, true), aurocResolution: 0.004 },
    perSite: SITES.map((site, i) => ({ ...evaluated(`${site} held-out split`, perSitePred[i], true), site })),
    subgroups: subgroups(pooledPred),
    calibration: {
      temperature,
      fittedOn: 'validation splits of every site (pooled histograms)',
      before: { ece: metricsOf(pooledPred).ece, brier: metricsOf(pooledPred).brier, reliability: bins(pooledPred), nll: nll(pooledPred) },
      after: { ece: afterMetrics.ece, brier: afterMetrics.brier, reliability: bins(after), nll: nll(after) },
      atGridEdge: false,
    },
    ood: SITES.map((site, i) => ({
      heldOutSite: site,
      trainedOn: SITES.filter((s) => s !== site),
      examples: 300,
      metrics: metricsOf(predictions(rng, 300, 1.4 - 0.2 * i)),
      // The last site's in-distribution figures come from perSite (a study may leave them out).
      ...(i < SITES.length - 1 ? { inDistribution: metricsOf(perSitePred[i]) } : {}),
    })),
    dataEfficiency: FRACTIONS.map((fraction) => ({
      fraction,
      examples: Math.round(fraction * pooledPred.y.length),
      metrics: metricsOf(predictions(rng, 400, 0.8 + 1.4 * fraction)),
    })),
    commands: {
      study: 'medley study --data synthetic --sites 4 --out runs/study',
      ood: 'medley study --data synthetic --sites 4 --ood --out runs/study',
    },
    runs: Object.fromEntries([['main', 'runs/main'], ...SITES.map((s, i) => [`ood-site-${i + 1}`, `runs/ood-${i + 1}`])]),
  };
}

/** An evaluation with every optional part left out: metrics only, no curves, bins, calibration, subgroups, OOD or data efficiency. */
export function minimalEvaluation(): EvaluationReport {
  const full = fullEvaluation();
  const strip = (m: EvaluatedModel): EvaluatedModel => ({ source: m.source, examples: m.examples, metrics: m.metrics });
  return {
    ...full,
    pooled: strip(full.pooled),
    perSite: full.perSite.map((s) => ({ ...strip(s), site: s.site })),
    subgroups: [],
    calibration: null,
    ood: [],
    dataEfficiency: [],
    commands: {},
    runs: undefined,
  };
}

/** A 5-round run of the 4 sites, one site missing round 3 and one NaN metric, as summary.json holds it. */
export function runSummary(): RunSummary {
  const metrics = (round: number, offset: number): Metrics => ({ auroc: 0.6 + 0.06 * round + offset, auprc: 0.4 + 0.07 * round + offset, accuracy: 0.6 + 0.05 * round, loss: 0.7 - 0.08 * round });
  const rounds = [1, 2, 3, 4, 5].map((round) => {
    const siteMetrics = SITES.filter((_, i) => !(round === 3 && i === 3)).map((site, i) => ({
      site,
      examples: 300 + 40 * i,
      epochs: 2,
      metrics: round === 1 && i === 2 ? { ...metrics(round, 0.03 - 0.04 * i), auroc: NaN } : metrics(round, 0.03 - 0.04 * i),
    }));
    return {
      round,
      modelVersion: round + 1,
      sites: siteMetrics.length,
      examples: siteMetrics.reduce((a, s) => a + s.examples, 0),
      seconds: 8 + round,
      bytesDown: 4 * 96_000,
      bytesUp: 4 * 96_000,
      metrics: metrics(round, 0),
      siteMetrics,
    };
  });
  return {
    federation: 'report-fixture',
    backend: 'wasm',
    modelVersion: 6,
    model: { arch: 'cnn-small', parameters: 24_000 },
    data: 'synthetic',
    startedAt: '2026-11-22T07:00:00.000Z',
    seconds: 61.2,
    rounds,
    sites: SITES.map((name, i) => ({ name, examples: 300 + 40 * i })),
  };
}

/** Writes summary.json (and evaluation.json unless null) into `dir` as the runs do: two-space JSON, NaN as null. */
export async function writeRunFolder(dir: string, summary: RunSummary, evaluation: EvaluationReport | null): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (evaluation) await writeFile(join(dir, 'evaluation.json'), JSON.stringify(evaluation, null, 2) + '\n');
}
