/** What the evaluation sections share: each site keeps one colour in every figure, and the pooled model is black. */
import type { EvaluationReport, MetricTable } from '../evaluation.js';
import { BAR_METRICS } from '../format.js';
import { GLOBAL_COLOR } from '../learning-curves.js';
import { PALETTE } from '../svg-chart.js';

export { GLOBAL_COLOR };

export function siteColors(ev: EvaluationReport): (site: string) => string {
  const names = [...ev.sites];
  for (const s of ev.perSite) if (!names.includes(s.site)) names.push(s.site);
  for (const o of ev.ood) if (!names.includes(o.heldOutSite)) names.push(o.heldOutSite);
  return (site) => {
    let i = names.indexOf(site);
    if (i < 0) i = names.push(site) - 1;
    return PALETTE[i % PALETTE.length];
  };
}

/** The bar metrics (in BAR_METRICS order) that at least one of these tables has. */
export function barMetrics(tables: MetricTable[]): string[] {
  return BAR_METRICS.filter((k) => tables.some((t) => k in t));
}
