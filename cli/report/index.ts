export { writeRunReport } from './write.js';
export { renderRunReport } from './html.js';
export { lineChartSvg, niceTicks, segments, compactNumber, PALETTE, type ChartOptions, type Series, type Point } from './svg-chart.js';
export { escapeHtml } from './escape.js';
export type { Metrics, RoundSummary, RunSummary } from './summary.js';
