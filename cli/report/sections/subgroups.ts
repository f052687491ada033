/**
 * Subgroups (fairness): for every column a site declared (sex, age band, scanner, ...), the
 * metrics of each group as bars, and the largest gap between two groups called out.
 */
import type { EvaluationReport, SubgroupEvaluation } from '../evaluation.js';
import { escapeHtml } from '../escape.js';
import { BAR_METRICS, fmt, metricKeys, metricTitle, value } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { barChartSvg } from '../svg-bars.js';
import { barMetrics } from './common.js';

export function subgroupsSection(ev: EvaluationReport): string {
  if (ev.subgroups.length === 0) {
    return section(
      'subgroups',
      'Subgroups',
      missing('no subgroup columns were declared by any site, so there are no per-subgroup metrics (a site declares columns such as sex or age band in its labels CSV).'),
    );
  }
  const body = [note('Per group of each subgroup column, the global model pooled over every site that declared the column.')];
  ev.subgroups.forEach((col, i) => body.push(column(col, i)));
  return section('subgroups', 'Subgroups', body.join('\n'));
}

function column(col: SubgroupEvaluation, index: number): string {
  const out = [`<h3>${escapeHtml(col.column)}</h3>`];
  out.push(gapCallout(col));
  if (col.groups.length === 0) {
    out.push(missing(`column ${col.column} has no groups with examples.`));
    return out.join('\n');
  }
  const keys = metricKeys(col.groups.map((g) => g.metrics));
  const rows = col.groups.map((g): Cell[] => [g.value, { count: g.examples }, ...keys.map((k) => g.metrics[k] ?? null)]);
  const gaps = table(
    ['Metric', 'Largest gap', 'Between'],
    col.largestGap.map((g): Cell[] => [metricTitle(g.metric), g.gap, `${g.between[0]} and ${g.between[1]}`]),
  );
  const numbers = table([col.column, 'Examples', ...keys.map(metricTitle)], rows) + gaps;
  const metrics = barMetrics(col.groups.map((g) => g.metrics));
  if (metrics.length === 0) {
    out.push(numbers);
    return out.join('\n');
  }
  const svg = barChartSvg({
    title: `Metrics by ${col.column}`,
    categories: col.groups.map((g) => g.value),
    series: metrics.map((k) => ({ name: metricTitle(k), values: col.groups.map((g) => value(g.metrics[k])) })),
    yRange: [0, 1],
    yLabel: 'metric',
    xLabel: col.column,
  });
  // Ids from the position, not the column name, which may hold any character.
  out.push(figure(`fig-subgroup-${index + 1}`, svg, `Each bar is one metric in one group of ${col.column}.`, numbers, true));
  return out.join('\n');
}

/** The gap of the first bar metric that has one (AUROC, usually) in words, the rest listed after it. */
function gapCallout(col: SubgroupEvaluation): string {
  if (col.largestGap.length === 0) return missing(`no gap computed for ${col.column} (it needs at least two groups with the metric defined).`);
  const rank = (m: string): number => (BAR_METRICS.includes(m) ? BAR_METRICS.indexOf(m) : BAR_METRICS.length);
  const [head, ...rest] = [...col.largestGap].sort((a, b) => rank(a.metric) - rank(b.metric));
  const groupValue = (name: string): string => fmt(col.groups.find((g) => g.value === name)?.metrics[head.metric]);
  const text =
    `Largest ${metricTitle(head.metric)} gap: ${fmt(head.gap)} between ${head.between[0]} (${groupValue(head.between[0])}) and ${head.between[1]} (${groupValue(head.between[1])}).` +
    (rest.length ? ` Also: ${rest.map((g) => `${metricTitle(g.metric)} ${fmt(g.gap)} (${g.between[0]} vs ${g.between[1]})`).join('; ')}.` : '');
  return `<p class="callout gap">${escapeHtml(text)}</p>`;
}
