/**
 * The coordinator's side of an evaluation round: adds up the sites' statistics into pooled
 * figures, per subgroup as well, and fits one temperature on the summed validation NLL.
 */
import { EVALUATION_METRICS, TEMPERATURE_GRID } from './constants.js';
import { aurocResolution, eceFromSums, metricsFromStatistics, prCurve, reliabilityDiagram, rocCurve, type CurvePoints, type ReliabilityBin } from './pooled-metrics.js';
import { addReliability, addStatistics, emptyReliability, emptyStatistics } from './statistics.js';
import { fitTemperature } from './temperature.js';
import type { MetricTable, ScoreStatistics, SiteEvaluationSummary } from './types.js';

export interface EvaluatedFigures {
  examples: number;
  metrics: MetricTable;
  roc: CurvePoints;
  pr: CurvePoints;
  reliability: ReliabilityBin[];
}

export interface PooledSubgroup {
  column: string;
  groups: (EvaluatedFigures & { value: string; sites: string[] })[];
  /** Per metric, the largest difference between two groups of the column (groups with a value). */
  largestGap: { metric: string; gap: number; between: [string, string] }[];
}

export interface CalibrationFigures {
  ece: number | null;
  brier: number | null;
  /** Mean negative log-likelihood per image. */
  nll: number | null;
  reliability: ReliabilityBin[];
}

export interface PooledCalibration {
  temperature: number;
  /** The fitted temperature is the first or last of the grid: the best one may lie beyond it. */
  atGridEdge: boolean;
  fittedOn: string;
  before: CalibrationFigures;
  after: CalibrationFigures;
}

export interface PooledEvaluation extends EvaluatedFigures {
  sites: string[];
  /** The most the pooled AUROC can differ from the AUROC over every site's images scored together. */
  aurocResolution: number | null;
  calibration: PooledCalibration | null;
  subgroups: PooledSubgroup[];
}

export interface SiteEvaluation {
  site: string;
  summary: SiteEvaluationSummary;
}

export function figuresOf(s: ScoreStatistics): EvaluatedFigures {
  return { examples: s.examples, metrics: metricsFromStatistics(s), roc: rocCurve(s), pr: prCurve(s), reliability: reliabilityDiagram(s.reliability) };
}

function perImage(x: number, n: number): number | null {
  return n > 0 && Number.isFinite(x) ? x / n : null;
}

/** Pools the summaries of the sites that answered; null when none did. */
export function poolEvaluations(sites: readonly SiteEvaluation[]): PooledEvaluation | null {
  if (sites.length === 0) return null;
  let total = emptyStatistics();
  for (const s of sites) total = addStatistics(total, s.summary.statistics);
  const resolution = aurocResolution(total);
  return {
    sites: sites.map((s) => s.site),
    ...figuresOf(total),
    aurocResolution: Number.isFinite(resolution) ? resolution : null,
    calibration: poolCalibration(sites, total),
    subgroups: poolSubgroups(sites),
  };
}

function poolCalibration(sites: readonly SiteEvaluation[], total: ScoreStatistics): PooledCalibration | null {
  const grid = TEMPERATURE_GRID.length;
  const nll = new Array<number>(grid).fill(0);
  const brier = new Array<number>(grid).fill(0);
  let reliability = Array.from({ length: grid }, () => emptyReliability());
  for (const { summary } of sites) {
    for (let i = 0; i < grid; i++) {
      nll[i] += summary.calibration.nll[i]!;
      brier[i] += summary.calibration.brier[i]!;
    }
    reliability = reliability.map((r, i) => addReliability(r, summary.calibration.reliability[i]!));
  }
  const n = total.examples;
  if (n === 0) return null;
  const fit = fitTemperature(TEMPERATURE_GRID, nll);
  const one = TEMPERATURE_GRID.indexOf(1);
  return {
    temperature: fit.temperature,
    atGridEdge: fit.atEdge,
    fittedOn: `summed validation negative log-likelihood of ${sites.length} site(s), ${n} images, over ${grid} temperatures from ${TEMPERATURE_GRID[0]!.toFixed(2)} to ${TEMPERATURE_GRID[grid - 1]!.toFixed(2)}`,
    before: {
      ece: nullable(eceFromSums(total.reliability, n)),
      brier: perImage(total.brierSum, n),
      nll: perImage(nll[one]!, n),
      reliability: reliabilityDiagram(total.reliability),
    },
    after: {
      ece: nullable(eceFromSums(reliability[fit.index]!, n)),
      brier: perImage(brier[fit.index]!, n),
      nll: perImage(nll[fit.index]!, n),
      reliability: reliabilityDiagram(reliability[fit.index]!),
    },
  };
}

function nullable(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function poolSubgroups(sites: readonly SiteEvaluation[]): PooledSubgroup[] {
  const columns = new Map<string, Map<string, { statistics: ScoreStatistics; sites: string[] }>>();
  for (const { site, summary } of sites) {
    for (const [column, groups] of Object.entries(summary.subgroups)) {
      const pooled = columns.get(column) ?? new Map();
      columns.set(column, pooled);
      for (const [value, group] of Object.entries(groups)) {
        const entry = pooled.get(value) ?? { statistics: emptyStatistics(), sites: [] };
        entry.statistics = addStatistics(entry.statistics, group.statistics);
        entry.sites.push(site);
        pooled.set(value, entry);
      }
    }
  }
  return [...columns]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([column, groups]) => {
      const figures = [...groups]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([value, g]) => ({ value, sites: g.sites, ...figuresOf(g.statistics) }));
      return { column, groups: figures, largestGap: largestGaps(figures) };
    });
}

/** For each metric defined in at least two groups: the largest minus the smallest value, and which groups. */
export function largestGaps(groups: readonly { value: string; metrics: MetricTable }[]): PooledSubgroup['largestGap'] {
  const gaps: PooledSubgroup['largestGap'] = [];
  for (const metric of EVALUATION_METRICS) {
    const defined = groups.filter((g) => typeof g.metrics[metric] === 'number');
    if (defined.length < 2) continue;
    let hi = defined[0]!;
    let lo = defined[0]!;
    for (const g of defined) {
      if (g.metrics[metric]! > hi.metrics[metric]!) hi = g;
      if (g.metrics[metric]! < lo.metrics[metric]!) lo = g;
    }
    gaps.push({ metric, gap: hi.metrics[metric]! - lo.metrics[metric]!, between: [hi.value, lo.value] });
  }
  return gaps;
}
