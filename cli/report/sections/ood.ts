/**
 * Out of distribution, leave-one-site-out: the federation trained without a site and evaluated on
 * it, beside the same site under the model trained with every site (in distribution).
 */
import type { EvaluationReport, MetricTable, OodEvaluation } from '../evaluation.js';
import { metricKeys, metricTitle, value } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { barChartSvg } from '../svg-bars.js';

const HEADLINE = ['auroc', 'auprc'];
const HELD_OUT = { name: 'left out of training', color: '#D55E00' };
const IN_DIST = { name: 'trained with it (in distribution)', color: '#0072B2' };

export function oodSection(ev: EvaluationReport): string {
  if (ev.ood.length === 0) {
    return section(
      'ood',
      'Out of distribution (leave one site out)',
      missing('no leave-one-site-out runs in this study: ood in evaluation.json is empty (training without each site in turn needs at least two sites).'),
    );
  }
  // A study may leave inDistribution out when perSite already has the site under the full model.
  const fromPerSite = new Map(ev.perSite.map((s) => [s.site, s.metrics]));
  const inDist = (o: OodEvaluation): MetricTable | undefined => o.inDistribution ?? fromPerSite.get(o.heldOutSite);
  const sites = ev.ood.map((o) => o.heldOutSite);

  const body = [note('Each site in turn is left out of training; the model trained on the others is evaluated on its data. The gap to the in-distribution figure is how much the model loses on a hospital it never saw.')];
  const metrics = HEADLINE.filter((k) => ev.ood.some((o) => k in o.metrics));
  const keys = metricKeys(ev.ood.flatMap((o) => [o.metrics, inDist(o) ?? {}]));
  const longRows = ev.ood.flatMap((o) =>
    keys.map((k): Cell[] => {
      const held = o.metrics[k] ?? null;
      const within = inDist(o)?.[k] ?? null;
      return [o.heldOutSite, metricTitle(k), held, within, held !== null && within !== null ? held - within : null];
    }),
  );
  const head = ['Held-out site', 'Metric', 'Left out of training', 'In distribution', 'Change'];
  const numbersOf = (k: string): string => table(head, longRows.filter((row) => row[1] === metricTitle(k)));

  const figures = metrics.map((k) =>
    figure(
      `fig-ood-${k}`,
      barChartSvg({
        title: `${metricTitle(k)}: site left out vs in distribution`,
        categories: sites,
        series: [
          { ...HELD_OUT, values: ev.ood.map((o) => value(o.metrics[k])) },
          { ...IN_DIST, values: ev.ood.map((o) => value(inDist(o)?.[k])) },
        ],
        yRange: [0, 1],
        yLabel: metricTitle(k),
        xLabel: 'held-out site',
        guide: k === 'auroc' ? { value: 0.5, name: 'chance' } : undefined,
      }),
      `${metricTitle(k)} of each site when it was left out of training, beside the model trained with it.`,
      numbersOf(k),
    ),
  );
  if (figures.length) body.push(`<div class="charts">${figures.join('\n')}</div>`);
  else body.push(missing('the leave-one-site-out runs report neither AUROC nor AUPRC; their numbers are in the table.'));
  body.push(
    table(
      ['Held-out site', 'Examples', 'Trained on', 'AUROC left out', 'AUROC in distribution', 'Change'],
      ev.ood.map((o): Cell[] => {
        const held = o.metrics.auroc ?? null;
        const within = inDist(o)?.auroc ?? null;
        return [o.heldOutSite, { count: o.examples ?? NaN }, o.trainedOn.join(', '), held, within, held !== null && within !== null ? held - within : null];
      }),
    ),
  );
  body.push(`<details><summary>Every metric, left out vs in distribution</summary>${table(head, longRows)}</details>`);
  return section('ood', 'Out of distribution (leave one site out)', body.join('\n'));
}
