/**
 * Calibration: reliability diagrams before and after temperature scaling, ECE and Brier score
 * both ways, and the fitted temperature.
 */
import type { EvaluationReport, ReliabilityBin } from '../evaluation.js';
import { fmtNum } from '../format.js';
import { figure, missing, note, section, table, type Cell } from '../html-parts.js';
import { reliabilitySvg } from '../svg-reliability.js';

const BEFORE_COLOR = '#0072B2';
const AFTER_COLOR = '#009E73';

export function calibrationSection(ev: EvaluationReport): string {
  const cal = ev.calibration;
  const body: string[] = [];
  if (!cal) {
    body.push(missing('evaluation.json has no calibration (calibration is null): the study fitted no temperature, so there is no before/after comparison.'));
    if (ev.pooled.reliability?.length) {
      body.push(
        `<div class="charts">${reliabilityFigure('fig-reliability-before', 'Reliability, pooled (uncalibrated)', ev.pooled.reliability, BEFORE_COLOR, `The pooled model's predictions (${ev.pooled.source}) as they come.`)}</div>`,
      );
      body.push(table(['Metric', 'Pooled'], [['ECE', ev.pooled.metrics.ece ?? null], ['Brier score', ev.pooled.metrics.brier ?? null]]));
    }
    return section('calibration', 'Calibration', body.join('\n'));
  }

  body.push(
    note(
      `Temperature T = ${fmtNum(cal.temperature, 3)}, fitted on ${cal.fittedOn} by minimising the negative log-likelihood; calibrated probabilities are sigmoid(logit / T). ` +
        (cal.temperature > 1 ? 'T above 1 softens an over-confident model.' : cal.temperature < 1 ? 'T below 1 sharpens an under-confident model.' : 'T = 1 leaves the model as it was.') +
        ' Temperature scaling never changes the ranking, so AUROC and AUPRC stay the same.',
    ),
  );
  if (cal.atGridEdge) body.push(missing(`The temperature ${fmtNum(cal.temperature, 3)} is at the edge of the grid it was fitted on: the best temperature may lie beyond it, so the "after" figures may understate what scaling can do.`));
  // Before scaling, the pooled evaluation's own bins are the same predictions when the study gave no separate ones.
  const before = cal.before.reliability ?? ev.pooled.reliability;
  const figures: string[] = [];
  if (before?.length) figures.push(reliabilityFigure('fig-reliability-before', 'Reliability before scaling', before, BEFORE_COLOR, 'The model as trained.'));
  if (cal.after.reliability?.length) {
    figures.push(reliabilityFigure('fig-reliability-after', `Reliability after scaling (T = ${fmtNum(cal.temperature, 2)})`, cal.after.reliability, AFTER_COLOR, 'The same predictions with the fitted temperature applied.'));
  }
  if (figures.length) body.push(`<div class="charts">${figures.join('\n')}</div>`);
  else body.push(missing('evaluation.json has no reliability bins (calibration.before.reliability, calibration.after.reliability): only the summary numbers below.'));
  if (figures.length === 1) body.push(note(`The ${before?.length ? 'after' : 'before'}-scaling diagram is missing: evaluation.json has no bins for it.`));

  const change = (a: number | null, b: number | null): number | null => (a !== null && b !== null ? b - a : null);
  const rows: Cell[][] = [
    ['ECE (top label, equal-width bins)', cal.before.ece, cal.after.ece, change(cal.before.ece, cal.after.ece)],
    ['Brier score', cal.before.brier, cal.after.brier, change(cal.before.brier, cal.after.brier)],
  ];
  // The fitting objective itself, where the study recorded it.
  if (cal.before.nll !== undefined || cal.after.nll !== undefined) {
    const before = cal.before.nll ?? null;
    const after = cal.after.nll ?? null;
    rows.push(['Negative log-likelihood (per example)', before, after, change(before, after)]);
  }
  body.push(table(['Metric (lower is better)', 'Before', 'After', 'Change'], rows, `Calibration of the pooled predictions, temperature ${fmtNum(cal.temperature, 3)}`));
  return section('calibration', 'Calibration', body.join('\n'));
}

function reliabilityFigure(id: string, title: string, bins: ReliabilityBin[], color: string, caption: string): string {
  const rows = bins.map((b): Cell[] => [`(${b.lo}, ${b.hi}]`, { count: b.count }, b.confidence, b.accuracy, b.confidence !== null && b.accuracy !== null ? b.accuracy - b.confidence : null]);
  const numbers = table(['Confidence bin', 'Predictions', 'Mean confidence', 'Accuracy', 'Accuracy - confidence'], rows);
  return figure(id, reliabilitySvg({ title, bins, color }), `${caption} Bars below the diagonal: over-confident; above: under-confident.`, numbers);
}
