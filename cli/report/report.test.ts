import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderRunReport, writeRunReport } from './index.js';
import type { Metrics, RunSummary } from './summary.js';
import { lineChartSvg, niceTicks, segments } from './svg-chart.js';

const dir = mkdtempSync(join(tmpdir(), 'medley-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SITES = ['St. Mary & Co', '<script>alert(1)</script>', 'north"clinic'];

function metrics(round: number, offset: number): Metrics {
  return { auroc: 0.6 + 0.05 * round + offset, auprc: 0.55 + 0.05 * round, accuracy: 0.5 + 0.04 * round, loss: 0.7 - 0.05 * round };
}

function summary(withNaN: boolean): RunSummary {
  const rounds = [1, 2, 3, 4, 5].map((round) => ({
    round,
    modelVersion: round,
    sites: 3,
    examples: 1200,
    seconds: 10 + round,
    bytesDown: 3 * 98_000,
    bytesUp: 3 * 98_000,
    metrics: withNaN && round === 3 ? { ...metrics(round, 0), auroc: NaN, auprc: NaN } : metrics(round, 0),
    siteMetrics: SITES.map((site, i) => ({
      site,
      examples: 400,
      epochs: 1,
      metrics: withNaN && i === 1 ? { ...metrics(round, -0.1), auroc: NaN } : metrics(round, -0.05 * i),
    })),
  }));
  return {
    federation: 'demo <fed>',
    backend: 'tfjs-wasm',
    modelVersion: 5,
    model: { arch: 'cnn-small', parameters: 24_000 },
    data: 'synthetic',
    startedAt: '2025-01-01T00:00:00Z',
    seconds: 75.5,
    rounds,
    sites: SITES.map((name) => ({ name, examples: 400 })),
  };
}

/** The SVG charts in document order. */
function charts(html: string): string[] {
  return html.split('<svg').slice(1).map((c) => c.slice(0, c.indexOf('</svg>')));
}

describe('writeRunReport', () => {
  it('writes a self-contained report.html with one chart per metric and one line per series', async () => {
    const path = await writeRunReport(join(dir, 'run1'), summary(false));
    expect(path).toBe(join(dir, 'run1', 'report.html'));
    expect(existsSync(path)).toBe(true);
    const html = readFileSync(path, 'utf8');
    const svgs = charts(html);
    // AUROC, AUPRC, accuracy, loss, seconds, examples, bytes.
    expect(svgs).toHaveLength(7);
    const polylines = svgs.map((c) => c.split('<polyline').length - 1);
    expect(polylines).toEqual([4, 4, 4, 4, 1, 4, 2]);
    expect(html).toContain('AUROC');
    expect(html).toContain('cnn-small');
    expect(html).toContain('1 min 16 s');
    // Self-contained: nothing fetched from elsewhere.
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(/i);
  });

  it('escapes every name put into HTML and SVG', () => {
    const html = renderRunReport(summary(false));
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('St. Mary &amp; Co');
    expect(html).toContain('north&quot;clinic');
    expect(html).toContain('demo &lt;fed&gt;');
  });

  it('renders NaN metrics as gaps and n/a', () => {
    const html = renderRunReport(summary(true));
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
    expect(html).toContain('n/a');
    const [aurocChart, , accuracyChart] = charts(html);
    // Global AUROC has a hole at round 3 (two segments); the NaN site draws markers only... no line at all.
    expect(aurocChart.split('<polyline').length - 1).toBe(2 + 2);
    expect(accuracyChart.split('<polyline').length - 1).toBe(4);
  });

  it('leaves the per-site lines out of the charts for big federations, keeping every site in the table', () => {
    const base = summary(false);
    const names = Array.from({ length: 25 }, (_, i) => `site-${i + 1}`);
    const many: RunSummary = {
      ...base,
      rounds: base.rounds.map((r) => ({ ...r, siteMetrics: names.map((site) => ({ site, examples: 10, epochs: 1, metrics: metrics(r.round, 0) })) })),
      sites: names.map((name) => ({ name, examples: 10 })),
    };
    const html = renderRunReport(many);
    expect(charts(html).map((c) => c.split('<polyline').length - 1)).toEqual([1, 1, 1, 1, 1, 1, 2]);
    expect(html).toContain('The 25 sites&#39; own lines are left out');
    for (const name of names) expect(html).toContain(`<td>${name}</td>`);
  });

  it('copes with an empty run', () => {
    const html = renderRunReport({ ...summary(false), rounds: [], sites: [] });
    expect(charts(html)).toHaveLength(7);
    expect(html).toContain('No rounds completed');
    expect(html).not.toMatch(/NaN|Infinity/);
  });
});

describe('svg chart helpers', () => {
  it('splits series at NaN', () => {
    const pts = [1, NaN, 3, 4, NaN, NaN, 7].map((y, x) => ({ x, y }));
    expect(segments(pts).map((s) => s.map((p) => p.y))).toEqual([[1], [3, 4], [7]]);
  });

  it('chooses round tick values', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 10, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(niceTicks(0.83, 0.97, 5)).toEqual([0.85, 0.9, 0.95]);
  });

  it('draws a single point and an all-NaN series without invalid coordinates', () => {
    const svg = lineChartSvg({ title: 't', series: [{ name: 'a', points: [{ x: 1, y: 0.5 }] }, { name: 'b', points: [{ x: 1, y: NaN }] }] });
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg.match(/<circle/g)).toHaveLength(1);
  });
});
