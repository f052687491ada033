/**
 * The coordinator's edge for evaluation summaries: the JSON a site sealed is parsed with a strict
 * schema (no unknown keys, so nothing per-image can ride along), then checked for consistency
 * (counts add up, sums within their bounds, the protocol's bins and temperature grid). Only a
 * summary that passes is pooled; anything else is refused with the path of the first problem.
 */
import { z } from 'zod';
import { InvalidUpdateError } from '../wire/index.js';
import { EVALUATION_FORMAT, EVALUATION_METRICS, LIMITS, MIN_GROUP_EXAMPLES, RELIABILITY_BINS, SCORE_BINS, TEMPERATURE_GRID } from './constants.js';
import type { ReliabilitySums, ScoreStatistics, SiteEvaluationSummary } from './types.js';

const MAX_EXAMPLES = 1e9;
const count = z.number().int().nonnegative().max(MAX_EXAMPLES);
const sum = z.number().nonnegative();
const bins = (n: number, item: z.ZodNumber) => z.array(item).length(n);

const reliabilitySchema = z.strictObject({
  count: bins(RELIABILITY_BINS, count),
  confidence: bins(RELIABILITY_BINS, sum),
  correct: bins(RELIABILITY_BINS, count),
});

const statisticsSchema = z.strictObject({
  examples: count.min(1),
  positives: count,
  negative: bins(SCORE_BINS, count),
  positive: bins(SCORE_BINS, count),
  reliability: reliabilitySchema,
  brierSum: sum,
  nllSum: sum,
});

const unit = z.number().min(0).max(1).nullable();
const metricsSchema = z.strictObject(
  Object.fromEntries(EVALUATION_METRICS.map((m) => [m, m === 'loss' ? z.number().nonnegative().nullable() : unit])) as Record<(typeof EVALUATION_METRICS)[number], z.ZodNullable<z.ZodNumber>>,
);

const name = z.string().min(1).max(LIMITS.nameLength);
const groupSchema = z.strictObject({ metrics: metricsSchema, statistics: statisticsSchema });

const G = TEMPERATURE_GRID.length;
const summarySchema = z.strictObject({
  format: z.literal(EVALUATION_FORMAT),
  modelVersion: z.number().int().positive(),
  examples: count.min(1),
  metrics: metricsSchema,
  statistics: statisticsSchema,
  calibration: z.strictObject({
    temperatures: z.array(z.number().positive()).length(G),
    nll: z.array(sum).length(G),
    brier: z.array(sum).length(G),
    reliability: z.array(reliabilitySchema).length(G),
  }),
  subgroups: z.record(name, z.record(name, groupSchema)),
  suppressedGroups: count,
  seconds: sum,
});

/** Rounding slack for sums of float64 terms compared with their bounds. */
const SLACK = 1e-6;

/** Why `s` is inconsistent, or null. */
function statisticsProblem(s: ScoreStatistics): string | null {
  const total = (a: number[]) => a.reduce((x, y) => x + y, 0);
  if (total(s.positive) !== s.positives) return `its histogram holds ${total(s.positive)} positives but it claims ${s.positives}`;
  if (s.positives > s.examples) return `${s.positives} positives among ${s.examples} examples`;
  if (total(s.negative) + s.positives !== s.examples) return `its histogram holds ${total(s.negative) + s.positives} examples but it claims ${s.examples}`;
  if (s.brierSum > s.examples * (1 + SLACK)) return `its Brier sum ${s.brierSum} exceeds its ${s.examples} examples`;
  return reliabilityProblem(s.reliability, s.examples);
}

function reliabilityProblem(r: ReliabilitySums, examples: number): string | null {
  if (r.count.reduce((x, y) => x + y, 0) !== examples) return `its reliability bins hold ${r.count.reduce((x, y) => x + y, 0)} examples, not ${examples}`;
  for (let m = 0; m < r.count.length; m++) {
    const c = r.count[m]!;
    if (r.correct[m]! > c) return `reliability bin ${m} has ${r.correct[m]} correct of ${c}`;
    // A binary top-label confidence lies in [0.5, 1] and within the bin's edges.
    const lo = Math.max(0.5, m / r.count.length);
    const hi = (m + 1) / r.count.length;
    const conf = r.confidence[m]!;
    if (conf < c * lo - SLACK * (c + 1) || conf > c * hi + SLACK * (c + 1)) return `reliability bin ${m} has a confidence sum ${conf} outside what ${c} examples in (${lo}, ${hi}] can give`;
  }
  return null;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Parses and checks one site's evaluation summary. `who` names it in errors; `expected` is what
 * the sealed header already bound (example count, model version).
 */
export function parseSiteEvaluation(json: string, who: string, expected: { examples: number; modelVersion: number }): SiteEvaluationSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidUpdateError(`${who}: its sealed body is not JSON; it was refused`);
  }
  const parsed = summarySchema.safeParse(raw);
  if (!parsed.success) throw new InvalidUpdateError(`${who} is not a valid evaluation summary (${EVALUATION_FORMAT}): ${describeIssues(parsed.error)}`);
  const s = parsed.data as SiteEvaluationSummary;
  const fail = (what: string) => new InvalidUpdateError(`${who} is inconsistent: ${what}; it was refused`);
  if (s.examples !== expected.examples || s.statistics.examples !== s.examples) {
    throw fail(`it covers ${s.statistics.examples} examples, its header ${expected.examples} and its body ${s.examples}`);
  }
  if (s.modelVersion !== expected.modelVersion) throw fail(`it evaluates model version ${s.modelVersion}, the task named version ${expected.modelVersion}`);
  const problem = statisticsProblem(s.statistics);
  if (problem) throw fail(`statistics: ${problem}`);
  for (let i = 0; i < G; i++) {
    const t = s.calibration.temperatures[i]!;
    if (Math.abs(t - TEMPERATURE_GRID[i]!) > 1e-12 * TEMPERATURE_GRID[i]!) throw fail(`calibration temperature ${i} is ${t}, the protocol's grid has ${TEMPERATURE_GRID[i]}`);
    if (s.calibration.brier[i]! > s.examples * (1 + SLACK)) throw fail(`calibration Brier sum at temperature ${t} exceeds the example count`);
    const r = reliabilityProblem(s.calibration.reliability[i]!, s.examples);
    if (r) throw fail(`calibration at temperature ${t}: ${r}`);
  }
  const columns = Object.entries(s.subgroups);
  if (columns.length > LIMITS.columns) throw fail(`${columns.length} subgroup columns, more than ${LIMITS.columns}`);
  for (const [column, groups] of columns) {
    const values = Object.entries(groups);
    if (values.length > LIMITS.valuesPerColumn) throw fail(`subgroup column ${column} has ${values.length} values, more than ${LIMITS.valuesPerColumn}`);
    let covered = 0;
    for (const [value, group] of values) {
      const where = `subgroup ${column}=${value}`;
      if (group.statistics.examples < MIN_GROUP_EXAMPLES) throw fail(`${where} has ${group.statistics.examples} examples, below the reporting minimum of ${MIN_GROUP_EXAMPLES}`);
      const gp = statisticsProblem(group.statistics);
      if (gp) throw fail(`${where}: ${gp}`);
      covered += group.statistics.examples;
    }
    if (covered > s.examples) throw fail(`subgroup column ${column} covers ${covered} examples of ${s.examples}`);
  }
  return s;
}
