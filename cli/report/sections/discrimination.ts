/**
 * Discrimination: ROC and precision-recall curves of the pooled evaluation and of each site,
 * with AUROC and AUPRC in the legend; the curves' points and the areas as tables.
 */
import type { CurvePoints, EvaluatedModel, EvaluationReport } from '../evaluation.js';
import { fmt } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { MAX_SITE_LINES } from '../learning-curves.js';
import { lineChartSvg, type Series } from '../svg-chart.js';
import { GLOBAL_COLOR, siteColors } from './common.js';

interface Source {
  label: string;
  model: EvaluatedModel;
  color: string;
  emphasis: boolean;
}

export function discriminationSection(ev: EvaluationReport): string {
  const color = siteColors(ev);
  const sites: Source[] = ev.perSite.map((s) => ({ label: s.site, model: s, color: color(s.site), emphasis: false }));
  const sources: Source[] = [{ label: 'pooled', model: ev.pooled, color: GLOBAL_COLOR, emphasis: true }, ...sites];
  // As with the learning curves, many site curves would hide the pooled one; the table keeps them all.
  const drawn = sites.length <= MAX_SITE_LINES ? sources : sources.slice(0, 1);

  // Pooled curves come from the sites' score histograms; the study says how far that AUROC can be from the exact one.
  const resolution = ev.pooled.aurocResolution;
  const body: string[] = [
    note(
      `Pooled (black): ${ev.pooled.source}, ${ev.pooled.examples.toLocaleString('en-US')} examples` +
        (typeof resolution === 'number' ? `; its AUROC is within ${fmt(resolution)} of the AUROC over every image scored together. ` : '. ') +
        (ev.perSite.length === 0
          ? 'No per-site curves: perSite in evaluation.json is empty.'
          : drawn.length < sources.length
            ? `The ${sites.length} sites' own curves are left out (more than ${MAX_SITE_LINES}); their areas are in the table.`
            : "Colours: each site's own held-out split."),
    ),
  ];

  const curves: string[] = [];
  const roc = drawn.filter((s) => s.model.roc?.length);
  if (roc.length) {
    const series = roc.map((s) => curveSeries(s, s.model.roc!, `AUROC ${fmt(s.model.metrics.auroc)}`));
    series.push({ name: 'chance (AUROC 0.5)', reference: true, points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] });
    const svg = lineChartSvg({ ...SQUARE, title: 'ROC curve', xLabel: 'false positive rate (1 - specificity)', yLabel: 'true positive rate (sensitivity)', series });
    curves.push(figure('fig-roc', svg, 'Receiver operating characteristic: sensitivity against 1 - specificity over every threshold.', pointsTable(roc, 'roc', ['False positive rate', 'True positive rate'])));
  }
  const pr = drawn.filter((s) => s.model.pr?.length);
  if (pr.length) {
    const series = pr.map((s) => curveSeries(s, s.model.pr!, `AUPRC ${fmt(s.model.metrics.auprc)}`));
    // A classifier that guesses has precision equal to the share of positives at every recall.
    const prevalence = ev.pooled.metrics.prevalence;
    if (typeof prevalence === 'number') series.push({ name: `chance (prevalence ${fmt(prevalence)})`, reference: true, points: [{ x: 0, y: prevalence }, { x: 1, y: prevalence }] });
    const svg = lineChartSvg({ ...SQUARE, title: 'Precision-recall curve', xLabel: 'recall (sensitivity)', yLabel: 'precision (positive predictive value)', series });
    curves.push(figure('fig-pr', svg, 'Precision against recall over every threshold; AUPRC is average precision.', pointsTable(pr, 'pr', ['Recall', 'Precision'])));
  }
  if (curves.length) body.push(`<div class="charts">${curves.join('\n')}</div>`);
  else body.push(missing('evaluation.json has no ROC or PR points (pooled.roc, pooled.pr and perSite[].roc are absent): the study recorded metrics only, so there are no curves to draw. The areas are in the table below.'));

  const rows = sources.map((s): Cell[] => [s.label, { count: s.model.examples }, s.model.metrics.auroc ?? null, s.model.metrics.auprc ?? null]);
  body.push(table(['Source', 'Examples', 'AUROC', 'AUPRC'], rows, 'Area under the ROC and precision-recall curves'));
  return section('discrimination', 'Discrimination', body.join('\n'));
}

const SQUARE = { width: 520, height: 470, xRange: [0, 1] as [number, number], yRange: [0, 1] as [number, number], xTicks: 'auto' as const };

function curveSeries(s: Source, points: CurvePoints, area: string): Series {
  return {
    name: `${s.label} (${area})`,
    color: s.color,
    emphasis: s.emphasis,
    markers: false,
    points: points.map(([x, y]) => ({ x, y })),
  };
}

function pointsTable(sources: Source[], curve: 'roc' | 'pr', axes: [string, string]): string {
  const rows: Cell[][] = sources.flatMap((s) => (s.model[curve] ?? []).map(([x, y]): Cell[] => [s.label, x, y]));
  return table(['Source', ...axes], rows);
}
