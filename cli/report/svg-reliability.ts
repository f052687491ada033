/**
 * Reliability diagram (Guo et al. 2017 style): one bar per confidence bin at the bin's observed
 * accuracy, the bin's gap to its mean confidence shaded, and the diagonal a perfectly calibrated
 * model would follow. Drawn on the frame svg-chart.ts shares with every figure.
 */
import type { ReliabilityBin } from './evaluation.js';
import { escapeHtml } from './escape.js';
import { axesSvg, chartFrame, emptySvg, niceTicks, r, xTicksSvg, yGridSvg, type LegendEntry } from './svg-chart.js';

export interface ReliabilityOptions {
  title: string;
  bins: ReliabilityBin[];
  color?: string;
  width?: number;
  height?: number;
}

const GAP_COLOR = '#D55E00';
const DIAGONAL_COLOR = '#666666';

/** Bins a diagram draws: those with examples and both means known. */
export function drawnBins(bins: ReliabilityBin[]): ReliabilityBin[] {
  return bins.filter((b) => b.count > 0 && b.accuracy !== null && b.confidence !== null);
}

export function reliabilitySvg(opts: ReliabilityOptions): string {
  const color = opts.color ?? '#0072B2';
  const legend: LegendEntry[] = [
    { name: 'observed accuracy', color, mark: 'box' },
    { name: 'gap to mean confidence', color: GAP_COLOR, mark: 'box', opacity: 0.35 },
    { name: 'perfect calibration', color: DIAGONAL_COLOR, mark: 'line', dashed: true },
  ];
  const frame = chartFrame({ title: opts.title, width: opts.width ?? 440, height: opts.height ?? 360, legend });
  const { plot } = frame;
  const drawn = drawnBins(opts.bins);

  // A binary model's top-label confidence never falls below 0.5, so the empty lower half of the
  // usual [0, 1] axis would squeeze the bins that matter; start at the first tenth that has data.
  const lows = drawn.map((b) => b.lo);
  const x0 = lows.length ? Math.max(0, Math.floor(Math.min(...lows) * 10 + 1e-9) / 10) : 0;
  const x1 = 1;
  const sx = (x: number): number => plot.left + ((x - x0) / (x1 - x0)) * plot.width;
  const sy = (y: number): number => plot.top + plot.height - y * plot.height;
  const base = plot.top + plot.height;

  const out: string[] = [frame.open];
  out.push(yGridSvg(plot, niceTicks(0, 1, 5).map((t) => ({ at: r(sy(t)), label: String(t) }))));
  out.push(xTicksSvg(plot, niceTicks(x0, x1, 5).map((t) => ({ at: r(sx(t)), label: String(t) }))));
  if (drawn.length === 0) out.push(emptySvg(plot, 'no predictions'));

  for (const b of drawn) {
    const left = r(sx(Math.max(b.lo, x0)) + 0.5);
    const w = r(Math.max(1, sx(b.hi) - sx(Math.max(b.lo, x0)) - 1));
    const acc = b.accuracy!;
    const conf = b.confidence!;
    const tip = `confidence (${b.lo}, ${b.hi}]: ${b.count} predictions, mean confidence ${conf.toFixed(3)}, accuracy ${acc.toFixed(3)}`;
    out.push(`<g class="bin" data-count="${b.count}"><title>${escapeHtml(tip)}</title>`);
    out.push(`<rect class="bar" x="${left}" y="${r(sy(acc))}" width="${w}" height="${r(Math.max(0.5, base - sy(acc)))}" fill="${color}"/>`);
    const top = r(sy(Math.max(acc, conf)));
    out.push(
      `<rect class="gap" x="${left}" y="${top}" width="${w}" height="${r(Math.max(0.5, Math.abs(sy(acc) - sy(conf))))}" fill="${GAP_COLOR}" fill-opacity="0.35" stroke="${GAP_COLOR}" stroke-width="0.8"/>`,
    );
    out.push('</g>');
  }
  out.push(
    `<line class="diagonal" x1="${r(sx(x0))}" y1="${r(sy(x0))}" x2="${r(sx(x1))}" y2="${r(sy(x1))}" stroke="${DIAGONAL_COLOR}" stroke-width="1" stroke-dasharray="5 3"/>`,
  );
  out.push(axesSvg(plot, 'confidence (top label)', 'accuracy'));
  out.push(frame.legend, '</svg>');
  return out.join('\n');
}
