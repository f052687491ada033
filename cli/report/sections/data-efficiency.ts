/** Data efficiency: the same federation on a fraction of each site's data, metrics against the fraction. */
import type { EvaluationReport } from '../evaluation.js';
import { BAR_METRICS, metricKeys, metricTitle, percent, value } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { lineChartSvg } from '../svg-chart.js';

export function dataEfficiencySection(ev: EvaluationReport): string {
  if (ev.dataEfficiency.length === 0) {
    return section('data-efficiency', 'Data efficiency', missing('no data-efficiency runs in this study: dataEfficiency in evaluation.json is empty.'));
  }
  const points = [...ev.dataEfficiency].sort((a, b) => a.fraction - b.fraction);
  const keys = metricKeys(points.map((p) => p.metrics));
  const drawn = [...BAR_METRICS, 'accuracy'].filter((k) => keys.includes(k));
  const rows = points.map((p): Cell[] => [percent(p.fraction), { count: p.examples }, ...keys.map((k) => p.metrics[k] ?? null)]);
  const numbers = table(["Share of each site's data", 'Training examples', ...keys.map(metricTitle)], rows);
  const body = [note("The same federation trained on a share of each site's training data and evaluated on the same held-out data. The x axis is logarithmic, so equal ratios of data lie equal distances apart.")];
  if (drawn.length === 0) {
    body.push(numbers);
  } else {
    const svg = lineChartSvg({
      title: 'Metrics against the share of training data',
      xLabel: "share of each site's training data (log scale)",
      yLabel: 'metric',
      xLog: true,
      xTicks: points.map((p) => p.fraction),
      formatX: percent,
      yBounds: [0, 1],
      series: drawn.map((k) => ({ name: metricTitle(k), points: points.map((p) => ({ x: p.fraction, y: value(p.metrics[k]) })) })),
    });
    body.push(figure('fig-data-efficiency', svg, 'One line per metric; each point is one training run.', numbers, true));
  }
  return section('data-efficiency', 'Data efficiency', body.join('\n'));
}
