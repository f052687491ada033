/**
 * Hand-written SVG line charts, so the report is one self-contained file that opens on an
 * offline hospital workstation (no chart library, script, font or CDN). The frame pieces (scales,
 * ticks, axes, legend) are exported for the other chart kinds beside this file (svg-bars.ts,
 * svg-reliability.ts), so every figure of the report looks and reads the same.
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
  /** A dot per point (default). Curves of hundreds of points (ROC, PR) leave them out. */
  markers?: boolean;
  /** A guide rather than data (the chance diagonal): drawn thin and grey, under the data. */
  reference?: boolean;
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
  /** Exact y axis range, no padding (ROC and PR curves live on [0, 1] x [0, 1]). */
  yRange?: [number, number];
  /** Exact x axis range; by default the data's extent. */
  xRange?: [number, number];
  /** Where to put x ticks: whole numbers (rounds, the default), evenly spaced round numbers, or these values. */
  xTicks?: 'integer' | 'auto' | number[];
  /** A log x axis, for shares of data (10%, 25%, 50%, 100%): equal ratios lie equal distances apart. Needs x > 0. */
  xLog?: boolean;
  /** Formats y tick labels (defaults to a compact number). */
  formatY?: (v: number) => string;
  /** Formats x tick labels (defaults to a compact number). */
  formatX?: (v: number) => string;
}

/** Colour-blind-friendly palette (Okabe–Ito with a darker yellow for white backgrounds, then Tol), cycled for many sites. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#B8860B', '#882255', '#44AA99', '#999933', '#AA4499', '#332288'];

export const MARGIN = { top: 34, right: 16, bottom: 44, left: 58 };
const LEGEND_ROW = 18;
const REFERENCE_COLOR = '#9a9a9a';

export function lineChartSvg(opts: ChartOptions): string {
  const width = opts.width ?? 640;
  const legend: LegendEntry[] = opts.series.map((s, i) => ({
    name: s.name,
    color: s.reference ? REFERENCE_COLOR : (s.color ?? PALETTE[i % PALETTE.length]),
    mark: 'line',
    dashed: s.dashed || s.reference,
    emphasis: s.emphasis,
  }));
  const frame = chartFrame({ title: opts.title, width, height: opts.height ?? 300, legend });
  const { plot } = frame;

  const finite = opts.series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!opts.xLog || p.x > 0)));
  const tx = opts.xLog ? Math.log10 : (x: number) => x;
  const [x0, x1] = opts.xRange ? opts.xRange.map(tx) : xDomain(finite.map((p) => tx(p.x)));
  const [y0, y1] = opts.yRange ?? yDomain(
    finite.map((p) => p.y),
    opts.yBounds,
  );
  const sx = (x: number): number => plot.left + ((tx(x) - x0) / (x1 - x0)) * plot.width;
  const sy = (y: number): number => plot.top + plot.height - ((y - y0) / (y1 - y0)) * plot.height;
  const fmtY = opts.formatY ?? compactNumber;
  const fmtX = opts.formatX ?? compactNumber;

  const out: string[] = [frame.open];
  out.push(yGridSvg(plot, niceTicks(y0, y1, 5).map((t) => ({ at: r(sy(t)), label: fmtY(t) }))));
  const xTicks = opts.xTicks ?? 'integer';
  const xTickValues = Array.isArray(xTicks)
    ? xTicks.filter((t) => !opts.xLog || t > 0)
    : opts.xLog
      ? niceTicks(x0, x1, 4)
          .filter((e) => Number.isInteger(e))
          .map((e) => 10 ** e)
      : // Rounds are integers: by default never label fractional positions.
        niceTicks(x0, x1, 10).filter((v) => xTicks === 'auto' || Number.isInteger(v));
  out.push(xTicksSvg(plot, xTickValues.map((t) => ({ at: r(sx(t)), label: fmtX(t) }))));
  out.push(axesSvg(plot, opts.xLabel, opts.yLabel));

  if (finite.length === 0) out.push(emptySvg(plot));

  // References under the data, emphasised series last so the global model is drawn on top of the sites.
  const rank = (s: Series): number => (s.reference ? 0 : s.emphasis ? 2 : 1);
  const order = opts.series.map((s, i) => ({ s, i })).sort((a, b) => rank(a.s) - rank(b.s));
  for (const { s, i } of order) {
    const color = legend[i].color;
    const stroke = s.emphasis ? 2.6 : s.reference ? 1 : 1.6;
    const dash = legend[i].dashed ? ' stroke-dasharray="5 3"' : '';
    const visible = s.points.filter((p) => !opts.xLog || p.x > 0);
    out.push(`<g class="series${s.reference ? ' reference' : ''}" data-series="${escapeHtml(s.name)}">`);
    out.push(`<title>${escapeHtml(s.name)}</title>`);
    for (const segment of segments(visible)) {
      const pts = segment.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="${stroke}"${dash}/>`);
    }
    if (s.markers === false || s.reference) {
      out.push('</g>');
      continue;
    }
    for (const p of visible) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      out.push(
        `<circle cx="${r(sx(p.x))}" cy="${r(sy(p.y))}" r="${s.emphasis ? 3.2 : 2.4}" fill="${color}"><title>${escapeHtml(`${s.name}: ${fmtY(p.y)} at ${fmtX(p.x)}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  }

  out.push(frame.legend, '</svg>');
  return out.join('\n');
}

/** One legend entry: a line (line charts, guides) or a filled box (bars). */
export interface LegendEntry {
  name: string;
  color: string;
  mark: 'line' | 'box';
  dashed?: boolean;
  emphasis?: boolean;
  /** Fill opacity of a box. */
  opacity?: number;
}

/** The plot area inside the margins, in SVG user units. */
export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The parts every chart shares: the opening <svg> with its accessible name and title, the plot
 * area, and the legend below it (the height grows with the legend's rows).
 */
export function chartFrame(opts: { title: string; width: number; height: number; legend: LegendEntry[]; bottom?: number }): {
  open: string;
  legend: string;
  plot: PlotArea;
  height: number;
} {
  const { width, title } = opts;
  const bottom = opts.bottom ?? MARGIN.bottom;
  const layout = legendLayout(opts.legend, width);
  const plot = { left: MARGIN.left, top: MARGIN.top, width: width - MARGIN.left - MARGIN.right, height: opts.height - MARGIN.top - MARGIN.bottom };
  // The legend starts a little below the x axis label so the two never touch.
  const legendTop = MARGIN.top + plot.height + bottom + (layout.rows > 0 ? 8 : 0);
  const height = legendTop + layout.rows * LEGEND_ROW;
  const open = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${MARGIN.left}" y="20" class="chart-title">${escapeHtml(title)}</text>`,
  ].join('\n');
  const legend = opts.legend.map((e, i) => {
    const { x, row } = layout.positions[i];
    const y = legendTop + row * LEGEND_ROW;
    const mark =
      e.mark === 'box'
        ? `<rect x="${x + 4}" y="${y - 10}" width="11" height="11" fill="${e.color}"${e.opacity !== undefined ? ` fill-opacity="${e.opacity}"` : ''}/>`
        : `<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${e.color}" stroke-width="${e.emphasis ? 2.6 : 1.6}"${e.dashed ? ' stroke-dasharray="5 3"' : ''}/>`;
    return `<g class="legend-entry">${mark}<text x="${x + 23}" y="${y}" class="legend">${escapeHtml(e.name)}</text></g>`;
  });
  return { open, legend: legend.join('\n'), plot, height };
}

/** Horizontal grid lines with their labels on the y axis; `at` is already in SVG units. */
export function yGridSvg(plot: PlotArea, ticks: { at: number; label: string }[]): string {
  return ticks
    .map(
      ({ at, label }) =>
        `<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${at}" y2="${at}" class="grid"/>\n<text x="${plot.left - 6}" y="${at + 4}" text-anchor="end" class="tick">${escapeHtml(label)}</text>`,
    )
    .join('\n');
}

/** Tick marks and labels under the x axis; `at` is already in SVG units. */
export function xTicksSvg(plot: PlotArea, ticks: { at: number; label: string }[]): string {
  const base = plot.top + plot.height;
  return ticks
    .map(
      ({ at, label }) =>
        `<line x1="${at}" x2="${at}" y1="${base}" y2="${base + 4}" class="axis"/>\n<text x="${at}" y="${base + 17}" text-anchor="middle" class="tick">${escapeHtml(label)}</text>`,
    )
    .join('\n');
}

/** The two axis lines and their labels. */
export function axesSvg(plot: PlotArea, xLabel?: string, yLabel?: string, xLabelOffset = 36): string {
  const base = plot.top + plot.height;
  const out = [
    `<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${base}" y2="${base}" class="axis"/>`,
    `<line x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${base}" class="axis"/>`,
  ];
  if (xLabel) out.push(`<text x="${plot.left + plot.width / 2}" y="${base + xLabelOffset}" text-anchor="middle" class="label">${escapeHtml(xLabel)}</text>`);
  if (yLabel) {
    const cy = plot.top + plot.height / 2;
    out.push(`<text x="14" y="${cy}" transform="rotate(-90 14 ${cy})" text-anchor="middle" class="label">${escapeHtml(yLabel)}</text>`);
  }
  return out.join('\n');
}

/** Says so in the plot area rather than leaving an empty frame that looks like a rendering fault. */
export function emptySvg(plot: PlotArea, text = 'no data'): string {
  return `<text x="${plot.left + plot.width / 2}" y="${plot.top + plot.height / 2}" text-anchor="middle" class="empty">${escapeHtml(text)}</text>`;
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
function legendLayout(series: { name: string }[], width: number): { rows: number; positions: { x: number; row: number }[] } {
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

export function yDomain(ys: number[], bounds?: [number, number]): [number, number] {
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

/** Coordinates to a tenth of a unit: enough for the screen, and keeps the file small. */
export function r(v: number): number {
  return Math.round(v * 10) / 10;
}
