/**
 * Hand-written SVG line charts, so the report is one self-contained file that opens on an
 * offline hospital workstation (no chart library, script, font or CDN).
 */
import { escapeHtml } from './escape.js';

export interface Point {
  x: number;
  /** NaN (or missing) values leave a gap in the line. */
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
  color?: string;
  /** Drawn thicker and first in the legend (the global model). */
  emphasis?: boolean;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  series: Series[];
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Hard limits for the y axis (e.g. [0, 1] for AUROC): the range adapts to the data but never leaves them. */
  yBounds?: [number, number];
  /** Formats y tick labels (defaults to a compact number). */
  formatY?: (v: number) => string;
}

/** Colour-blind-friendly palette (Okabe–Ito with a darker yellow for white backgrounds, then Tol), cycled for many sites. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#B8860B', '#882255', '#44AA99', '#999933', '#AA4499', '#332288'];

const MARGIN = { top: 34, right: 16, bottom: 44, left: 58 };
const LEGEND_ROW = 18;

export function lineChartSvg(opts: ChartOptions): string {
  const width = opts.width ?? 640;
  const legendRows = legendLayout(opts.series, width).rows;
  const plotHeight = (opts.height ?? 300) - MARGIN.top - MARGIN.bottom;
  const height = MARGIN.top + plotHeight + MARGIN.bottom + legendRows * LEGEND_ROW;
  const plotWidth = width - MARGIN.left - MARGIN.right;

  const finite = opts.series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  const [x0, x1] = xDomain(finite.map((p) => p.x));
  const [y0, y1] = yDomain(
    finite.map((p) => p.y),
    opts.yBounds,
  );
  const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0)) * plotWidth;
  const sy = (y: number): number => MARGIN.top + plotHeight - ((y - y0) / (y1 - y0)) * plotHeight;
  const fmtY = opts.formatY ?? compactNumber;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(opts.title)}">`,
  );
  out.push(`<text x="${MARGIN.left}" y="20" class="chart-title">${escapeHtml(opts.title)}</text>`);

  // Grid and y ticks.
  for (const t of niceTicks(y0, y1, 5)) {
    const y = r(sy(t));
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end" class="tick">${escapeHtml(fmtY(t))}</text>`);
  }
  // x ticks: rounds are integers, so never label fractional positions.
  for (const t of niceTicks(x0, x1, 10).filter((v) => Number.isInteger(v))) {
    const x = r(sx(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 4}" class="axis"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotHeight + 17}" text-anchor="middle" class="tick">${t}</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" class="axis"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" class="axis"/>`);
  if (opts.xLabel) {
    out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight + 36}" text-anchor="middle" class="label">${escapeHtml(opts.xLabel)}</text>`);
  }
  if (opts.yLabel) {
    const cy = MARGIN.top + plotHeight / 2;
    out.push(`<text x="14" y="${cy}" transform="rotate(-90 14 ${cy})" text-anchor="middle" class="label">${escapeHtml(opts.yLabel)}</text>`);
  }

  if (finite.length === 0) {
    out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" class="empty">no data</text>`);
  }

  // Emphasised series last so the global model is drawn on top of the sites.
  const order = opts.series.map((s, i) => ({ s, i })).sort((a, b) => Number(!!a.s.emphasis) - Number(!!b.s.emphasis));
  for (const { s, i } of order) {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const stroke = s.emphasis ? 2.6 : 1.6;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<g class="series" data-series="${escapeHtml(s.name)}">`);
    out.push(`<title>${escapeHtml(s.name)}</title>`);
    for (const segment of segments(s.points)) {
      const pts = segment.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="${stroke}"${dash}/>`);
    }
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      out.push(
        `<circle cx="${r(sx(p.x))}" cy="${r(sy(p.y))}" r="${s.emphasis ? 3.2 : 2.4}" fill="${color}"><title>${escapeHtml(`${s.name}: ${fmtY(p.y)} at ${p.x}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  }

  // Legend below the plot.
  const layout = legendLayout(opts.series, width);
  const legendTop = MARGIN.top + plotHeight + MARGIN.bottom;
  opts.series.forEach((s, i) => {
    const { x, row } = layout.positions[i];
    const y = legendTop + row * LEGEND_ROW;
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="${s.emphasis ? 2.6 : 1.6}"${dash}/>`);
    out.push(`<text x="${x + 23}" y="${y}" class="legend">${escapeHtml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Contiguous runs of finite points; a NaN ends a run. */
export function segments(points: Point[]): Point[][] {
  const runs: Point[][] = [];
  let current: Point[] = [];
  for (const p of points) {
    if (Number.isFinite(p.x) && Number.isFinite(p.y)) {
      current.push(p);
    } else if (current.length > 0) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/** Legend entries flow left to right and wrap; text width is estimated since there is no DOM to measure. */
function legendLayout(series: Series[], width: number): { rows: number; positions: { x: number; row: number }[] } {
  const positions: { x: number; row: number }[] = [];
  let x = MARGIN.left;
  let row = 0;
  for (const s of series) {
    const w = 23 + Math.min(40, s.name.length) * 6.5 + 16;
    if (x + w > width - MARGIN.right && x > MARGIN.left) {
      row++;
      x = MARGIN.left;
    }
    positions.push({ x, row });
    x += w;
  }
  return { rows: series.length > 0 ? row + 1 : 0, positions };
}

function xDomain(xs: number[]): [number, number] {
  if (xs.length === 0) return [0, 1];
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function yDomain(ys: number[], bounds?: [number, number]): [number, number] {
  if (ys.length === 0) return bounds ?? [0, 1];
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  const pad = hi > lo ? (hi - lo) * 0.08 : Math.max(Math.abs(hi) * 0.1, 0.05);
  lo -= pad;
  hi += pad;
  if (bounds) {
    lo = Math.max(bounds[0], lo);
    hi = Math.min(bounds[1], hi);
  }
  // Counts and durations are never negative; an axis below zero would only confuse.
  if (Math.min(...ys) >= 0) lo = Math.max(0, lo);
  const step = niceStep(hi - lo, 5);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  if (bounds) {
    lo = Math.max(bounds[0], lo);
    hi = Math.min(bounds[1], hi);
  }
  return hi > lo ? [lo, hi] : [lo - 1, lo + 1];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/** Evenly spaced round numbers within [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const step = niceStep(hi - lo, count);
  const ticks: number[] = [];
  const start = Math.ceil(lo / step - 1e-9);
  const end = Math.floor(hi / step + 1e-9);
  for (let k = start; k <= end && ticks.length < 50; k++) ticks.push(parseFloat((k * step).toPrecision(12)));
  return ticks;
}

export function compactNumber(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1e9) return `${parseFloat((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${parseFloat((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${parseFloat((v / 1e3).toPrecision(3))}k`;
  return `${parseFloat(v.toPrecision(4))}`;
}

function r(v: number): number {
  return Math.round(v * 10) / 10;
}
