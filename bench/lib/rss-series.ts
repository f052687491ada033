import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { lineChartSvg } from '../../cli/report/index.js';
import { repoFile } from './assets.js';

/** VmRSS (resident now) and VmHWM (peak so far) of a live process in MiB; null once it is gone. */
export function memoryOf(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return rss && hwm ? { rss: Number(rss[1]) / 1024, hwm: Number(hwm[1]) / 1024 } : null;
  } catch {
    return null;
  }
}

/**
 * Least-squares slope of y over x (units of y per unit of x). A slow steady leak shows here even
 * when it hides in the noise of a start/end ratio.
 */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/**
 * Where benchmarks leave files beside their JSON (plots, raw samples): REPO/.bench-out (ignored
 * by git), created on demand.
 */
export async function benchOutFile(name: string): Promise<string> {
  const path = join(dirname(repoFile('package.json')), '.bench-out', name);
  await mkdir(dirname(path), { recursive: true });
  return path;
}

/**
 * The report styles its charts from its own stylesheet; a chart opened on its own needs the
 * few rules that give its grid, axes and text a stroke and a font.
 */
const STANDALONE_STYLE =
  '.chart{font-family:sans-serif;background:#fff}.chart .chart-title{font-size:14px;font-weight:600;fill:#1b1b1b}' +
  '.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}';

/**
 * Writes an SVG line chart of RSS series (MiB) over rounds; returns its path. The y axis starts
 * at zero so that noise of a few MiB looks as small as it is next to the whole footprint.
 */
export async function writeRssPlot(name: string, title: string, series: { name: string; points: { x: number; y: number }[] }[], yLabel = 'RSS (MiB)'): Promise<string> {
  const path = await benchOutFile(name);
  const top = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.y)));
  const svg = lineChartSvg({
    title,
    series: series.map((s) => ({ ...s, markers: s.points.length <= 40 })),
    xLabel: 'round',
    yLabel,
    width: 760,
    height: 360,
    xTicks: 'auto',
    yRange: [0, Math.ceil((top * 1.15) / 50) * 50],
  });
  await writeFile(path, svg.replace(/^(<svg[^>]*>)/, `$1<style>${STANDALONE_STYLE}</style>`) + '\n');
  return path;
}
