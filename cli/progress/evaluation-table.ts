import type { MetricTable, RoundEvaluation } from '../../shared/evaluation/index.js';

const COLUMNS: [string, string][] = [
  ['auroc', 'AUROC'],
  ['auprc', 'AUPRC'],
  ['ece', 'ECE'],
  ['brier', 'Brier'],
  ['sensitivity', 'sens'],
  ['specificity', 'spec'],
  ['balancedAccuracy', 'bal.acc'],
  ['f1', 'F1'],
];

function cell(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(4) : 'n/a';
}

/** One line per row: name, images, then the metrics of COLUMNS. */
export function metricLines(rows: { name: string; examples: number; metrics: MetricTable }[]): string[] {
  const width = Math.max(6, ...rows.map((r) => r.name.length));
  const header = `${'site'.padEnd(width)}  ${'images'.padStart(6)}  ${COLUMNS.map(([, h]) => h.padStart(7)).join(' ')}`;
  return [header, ...rows.map((r) => `${r.name.padEnd(width)}  ${String(r.examples).padStart(6)}  ${COLUMNS.map(([k]) => cell(r.metrics[k]).padStart(7)).join(' ')}`)];
}

/** What `medley round start --evaluate` prints: each site's figures, the pooled ones, the calibration fit. */
export function evaluationLines(evaluation: RoundEvaluation): string[] {
  const rows = evaluation.sites.map((s) => ({ name: s.site, examples: s.examples, metrics: s.metrics }));
  const pooled = evaluation.pooled;
  if (pooled) rows.push({ name: 'pooled', examples: pooled.examples, metrics: pooled.metrics });
  const lines = [`model version ${evaluation.modelVersion}, scored at the sites on their validation split:`, ...metricLines(rows)];
  if (pooled?.aurocResolution !== null && pooled?.aurocResolution !== undefined) {
    lines.push(`pooled AUROC from the sites' score histograms: within ${pooled.aurocResolution.toFixed(4)} of the AUROC over all images`);
  }
  const c = pooled?.calibration;
  if (c) {
    lines.push(
      `temperature ${c.temperature.toFixed(3)}${c.atGridEdge ? ' (at the end of the grid)' : ''}: ECE ${cell(c.before.ece)} -> ${cell(c.after.ece)}, Brier ${cell(c.before.brier)} -> ${cell(c.after.brier)}`,
    );
  }
  for (const column of pooled?.subgroups ?? []) {
    const gap = column.largestGap.find((g) => g.metric === 'auroc');
    lines.push(`subgroup ${column.column}: ${column.groups.map((g) => `${g.value} ${cell(g.metrics.auroc)} (${g.examples})`).join(', ')}${gap ? `; largest AUROC gap ${gap.gap.toFixed(4)} (${gap.between.join(' vs ')})` : ''}`);
  }
  return lines;
}
