/**
 * Grouped bar charts (per site, per subgroup, held-out vs in-distribution), on the frame that
 * svg-chart.ts draws for every figure of the report.
 */
import { escapeHtml } from './escape.js';
import { axesSvg, chartFrame, compactNumber, emptySvg, MARGIN, niceTicks, PALETTE, r, yDomain, yGridSvg, type LegendEntry } from './svg-chart.js';

export interface BarSeries {
  name: string;
  /** One value per category, in the categories' order; NaN draws no bar and marks the slot "n/a". */
  values: number[];
  color?: string;
}

export interface BarChartOptions {
  title: string;
  /** The groups along the x axis (sites, subgroup values). */
  categories: string[];
  /** The bars within each group (metrics, or "held out" and "in distribution"). */
  series: BarSeries[];
  yLabel?: string;
  xLabel?: string;
  /** Exact y range (metrics bounded by [0, 1]); by default from zero to the data. */
  yRange?: [number, number];
  /** A horizontal guide with its legend name (AUROC 0.5 is chance). */
  guide?: { value: number; name: string };
  formatY?: (v: number) => string;
  /** Minimum width; grows with the number of bars so each stays readable. */
  width?: number;
  height?: number;
}

/** Category labels longer than this are cut (the whole name is in the bar's tooltip and the table). */
const LABEL_CHARS = 18;
const GUIDE_COLOR = '#666666';

export function barChartSvg(opts: BarChartOptions): string {
  const nCat = opts.categories.length;
  const nSer = Math.max(1, opts.series.length);
  // A bar at least 10 units wide and a gap of one bar between groups.
  const width = Math.max(opts.width ?? 640, MARGIN.left + MARGIN.right + nCat * (nSer + 1) * 10);
  const legend: LegendEntry[] = opts.series.map((s, i) => ({ name: s.name, color: color(s, i), mark: 'box' }));
  if (opts.guide) legend.push({ name: opts.guide.name, color: GUIDE_COLOR, mark: 'line', dashed: true });
  // Names wider than their group (about 6.5 units a character at the tick size) are drawn slanted, which needs more room under the axis.
  const longest = Math.max(0, ...opts.categories.map((c) => Math.min(c.length, LABEL_CHARS)));
  const slanted = nCat > 0 && longest * 6.5 > (width - MARGIN.left - MARGIN.right) / nCat - 6;
  const bottom = slanted ? 36 + Math.ceil(longest * 6.5 * 0.58) : MARGIN.bottom;
  const frame = chartFrame({ title: opts.title, width, height: opts.height ?? 300, legend, bottom });
  const { plot } = frame;

  const values = opts.series.flatMap((s) => s.values.filter(Number.isFinite));
  const [y0, y1] = opts.yRange ?? yDomain([0, ...values, ...(opts.guide ? [opts.guide.value] : [])]);
  const sy = (y: number): number => plot.top + plot.height - ((Math.min(y1, Math.max(y0, y)) - y0) / (y1 - y0)) * plot.height;
  const fmtY = opts.formatY ?? compactNumber;
  const base = r(sy(Math.max(y0, Math.min(y1, 0))));

  const out: string[] = [frame.open];
  out.push(yGridSvg(plot, niceTicks(y0, y1, 5).map((t) => ({ at: r(sy(t)), label: fmtY(t) }))));
  if (nCat === 0 || values.length === 0) out.push(emptySvg(plot));

  const groupWidth = nCat > 0 ? plot.width / nCat : plot.width;
  const barWidth = (groupWidth * 0.8) / nSer;
  opts.categories.forEach((category, c) => {
    const g0 = plot.left + c * groupWidth + groupWidth * 0.1;
    const cx = r(plot.left + (c + 0.5) * groupWidth);
    out.push(`<g class="bar-group" data-category="${escapeHtml(category)}">`);
    opts.series.forEach((s, i) => {
      const v = s.values[c];
      const x = r(g0 + i * barWidth);
      if (!Number.isFinite(v)) {
        out.push(`<text x="${r(x + barWidth / 2)}" y="${base - 3}" text-anchor="middle" class="na">n/a<title>${escapeHtml(`${s.name}, ${category}: n/a`)}</title></text>`);
        return;
      }
      const y = r(sy(v));
      out.push(
        `<rect class="bar" data-series="${escapeHtml(s.name)}" data-value="${v}" x="${x}" y="${Math.min(y, base)}" width="${r(Math.max(1, barWidth - 1))}" height="${r(Math.max(Math.abs(base - y), 0.5))}" fill="${color(s, i)}"><title>${escapeHtml(`${s.name}, ${category}: ${fmtY(v)}`)}</title></rect>`,
      );
    });
    const label = category.length > LABEL_CHARS ? `${category.slice(0, LABEL_CHARS - 1)}…` : category;
    const ly = plot.top + plot.height + 16;
    out.push(
      slanted
        ? `<text x="${cx}" y="${ly}" transform="rotate(-35 ${cx} ${ly})" text-anchor="end" class="tick">${escapeHtml(label)}<title>${escapeHtml(category)}</title></text>`
        : `<text x="${cx}" y="${ly}" text-anchor="middle" class="tick">${escapeHtml(label)}<title>${escapeHtml(category)}</title></text>`,
    );
    out.push('</g>');
  });

  if (opts.guide && Number.isFinite(opts.guide.value)) {
    const y = r(sy(opts.guide.value));
    out.push(
      `<line class="guide" x1="${plot.left}" x2="${plot.left + plot.width}" y1="${y}" y2="${y}" stroke="${GUIDE_COLOR}" stroke-width="1" stroke-dasharray="5 3"><title>${escapeHtml(`${opts.guide.name}: ${fmtY(opts.guide.value)}`)}</title></line>`,
    );
  }
  out.push(axesSvg(plot, opts.xLabel, opts.yLabel, slanted ? bottom - 6 : 36));
  out.push(frame.legend, '</svg>');
  return out.join('\n');
}

function color(s: BarSeries, i: number): string {
  return s.color ?? PALETTE[i % PALETTE.length];
}
