/** Per site: each site's held-out metrics as grouped bars beside the pooled AUROC, and the full table. */
import type { EvaluationReport } from '../evaluation.js';
import { metricKeys, metricTitle, value } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { barChartSvg } from '../svg-bars.js';
import { barMetrics } from './common.js';

export function perSiteSection(ev: EvaluationReport): string {
  if (ev.perSite.length === 0) {
    return section('per-site', 'Per site', missing('no site evaluated the model: perSite in evaluation.json is empty, so there are no per-site metrics.'));
  }
  const metrics = barMetrics(ev.perSite.map((s) => s.metrics));
  const keys = metricKeys([ev.pooled.metrics, ...ev.perSite.map((s) => s.metrics)]);
  const rows: Cell[][] = [
    [`pooled (${ev.pooled.source})`, { count: ev.pooled.examples }, ...keys.map((k) => ev.pooled.metrics[k] ?? null)],
    ...ev.perSite.map((s): Cell[] => [s.site, { count: s.examples }, ...keys.map((k) => s.metrics[k] ?? null)]),
  ];
  const numbers = table(['Site', 'Examples', ...keys.map(metricTitle)], rows, "The global model on each site's held-out split");

  const body = [note("The final global model evaluated at each site on that site's held-out split; only metrics left the site.")];
  if (metrics.length === 0) {
    body.push(missing(`the sites reported none of the metrics drawn as bars (${['AUROC', 'AUPRC', 'balanced accuracy', 'sensitivity', 'specificity', 'F1'].join(', ')}); their numbers are in the table.`));
    body.push(numbers);
  } else {
    const pooledAuroc = ev.pooled.metrics.auroc;
    const svg = barChartSvg({
      title: 'Metrics per site',
      categories: ev.perSite.map((s) => s.site),
      series: metrics.map((k) => ({ name: metricTitle(k), values: ev.perSite.map((s) => value(s.metrics[k])) })),
      yRange: [0, 1],
      yLabel: 'metric',
      guide: metrics.includes('auroc') && typeof pooledAuroc === 'number' ? { value: pooledAuroc, name: 'pooled AUROC' } : undefined,
    });
    body.push(figure('fig-per-site', svg, 'Each bar is one metric at one site; the dashed line is the pooled AUROC.', numbers, true));
  }
  return section('per-site', 'Per site', body.join('\n'));
}
