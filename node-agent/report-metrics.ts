/**
 * Skewed partitions give sites one-class validation splits, where AUROC and AUPRC are undefined
 * (NaN). The sealed report is JSON, which has no NaN: it would arrive as null and the coordinator
 * would refuse the whole update for a metric nobody could compute. An undefined metric is left out
 * of the report instead (summaries show n/a), and the update still counts.
 */
export function definedMetrics(metrics: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}
