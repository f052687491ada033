/** How numbers and metric names read in the report: one place, so every table and legend agrees. */
import { compactNumber } from './svg-chart.js';

const METRIC_TITLES: Record<string, string> = {
  auroc: 'AUROC',
  auprc: 'AUPRC',
  accuracy: 'Accuracy',
  balancedAccuracy: 'Balanced accuracy',
  sensitivity: 'Sensitivity',
  specificity: 'Specificity',
  f1: 'F1',
  ece: 'ECE',
  brier: 'Brier score',
  loss: 'Loss',
  dice: 'Dice',
  iou: 'IoU',
  psnr: 'PSNR',
  ssim: 'SSIM',
  prevalence: 'Prevalence',
};

/** Metrics drawn as bars, in this order, where an evaluation has them: all in [0, 1], higher is better. */
export const BAR_METRICS = ['auroc', 'auprc', 'balancedAccuracy', 'sensitivity', 'specificity', 'f1'];

/** "AUROC" for auroc; an unknown metric keeps its own name. */
export function metricTitle(key: string): string {
  return METRIC_TITLES[key] ?? key;
}

/** Every metric key of these tables, known ones first in the usual reading order, then the rest by name. */
export function metricKeys(tables: Record<string, number | null>[]): string[] {
  const known = Object.keys(METRIC_TITLES);
  const keys = new Set(tables.flatMap((t) => Object.keys(t)));
  return [...known.filter((k) => keys.has(k)), ...[...keys].filter((k) => !known.includes(k)).sort()];
}

/** A metric to three decimals; n/a where it could not be computed (NaN, null, missing). */
export function fmt(v: number | null | undefined): string {
  return fmtNum(v, 3);
}

export function fmtNum(v: number | null | undefined, digits: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/** A metric value for a chart: null and missing become NaN, which charts leave out. */
export function value(v: number | null | undefined): number {
  return typeof v === 'number' ? v : Number.NaN;
}

export function percent(fraction: number): string {
  return `${parseFloat((fraction * 100).toPrecision(3))}%`;
}

export function bytes(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v < 1024) return `${Math.round(v)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${compactNumber(parseFloat(x.toPrecision(3)))} ${units[u]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h > 0 ? `${h} h ${m} min ${s} s` : `${m} min ${s} s`;
}
