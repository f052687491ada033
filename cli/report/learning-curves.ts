/**
 * The learning-curves section, from summary.json: the global model's held-out metrics and loss
 * over rounds with one line per site (its local validation split), then cost per round, and the
 * same numbers as tables.
 */
import { escapeHtml } from './escape.js';
import { bytes, fmt, fmtNum } from './format.js';
import { note, section, table, type Cell } from './html-parts.js';
import type { Metrics, RunSummary } from './summary.js';
import { lineChartSvg, PALETTE, type Series } from './svg-chart.js';

export const LEARNING_METRICS: { key: keyof Metrics; title: string; bounded: boolean }[] = [
  { key: 'auroc', title: 'AUROC', bounded: true },
  { key: 'auprc', title: 'AUPRC (average precision)', bounded: true },
  { key: 'accuracy', title: 'Accuracy', bounded: true },
  { key: 'loss', title: 'Loss (cross-entropy)', bounded: false },
];

export const GLOBAL_COLOR = '#111111';

/** Beyond this many sites a line (and legend entry) per site hides the global line: charts show the global model only. */
export const MAX_SITE_LINES = 20;

export function learningCurvesSection(summary: RunSummary): string {
  const rounds = [...summary.rounds].sort((a, b) => a.round - b.round);
  const siteNames = siteOrder(summary);
  const lineSites = siteNames.length <= MAX_SITE_LINES ? siteNames : [];
  const siteLine = (site: string, i: number, pick: (r: (typeof rounds)[number]) => number): Series => ({
    name: `${site} (local val)`,
    color: PALETTE[i % PALETTE.length],
    dashed: i >= PALETTE.length,
    points: rounds.map((r) => ({ x: r.round, y: pick(r) })),
  });

  const charts: string[] = [];
  for (const m of LEARNING_METRICS) {
    const series: Series[] = [
      { name: 'global model (held-out)', emphasis: true, color: GLOBAL_COLOR, points: rounds.map((r) => ({ x: r.round, y: r.metrics[m.key] })) },
      ...lineSites.map((site, i) => siteLine(site, i, (r) => r.siteMetrics.find((s) => s.site === site)?.metrics[m.key] ?? NaN)),
    ];
    charts.push(lineChartSvg({ title: m.title, series, xLabel: 'round', yBounds: m.bounded ? [0, 1] : undefined }));
  }
  charts.push(
    lineChartSvg({
      title: 'Seconds per round',
      xLabel: 'round',
      yLabel: 'seconds',
      series: [{ name: 'wall-clock seconds', color: GLOBAL_COLOR, emphasis: true, points: rounds.map((r) => ({ x: r.round, y: r.seconds })) }],
    }),
    lineChartSvg({
      title: 'Examples per round',
      xLabel: 'round',
      yLabel: 'examples',
      series: [
        { name: 'all sites', color: GLOBAL_COLOR, emphasis: true, points: rounds.map((r) => ({ x: r.round, y: r.examples })) },
        ...lineSites.map((site, i) => ({ ...siteLine(site, i, (r) => r.siteMetrics.find((s) => s.site === site)?.examples ?? NaN), name: site })),
      ],
    }),
    lineChartSvg({
      title: 'Data transferred per round',
      xLabel: 'round',
      yLabel: 'bytes',
      formatY: bytes,
      series: [
        { name: 'to sites (down)', color: PALETTE[0], points: rounds.map((r) => ({ x: r.round, y: r.bytesDown })) },
        { name: 'from sites (up)', color: PALETTE[1], points: rounds.map((r) => ({ x: r.round, y: r.bytesUp })) },
      ],
    }),
  );

  const ids = ['lc-auroc', 'lc-auprc', 'lc-accuracy', 'lc-loss', 'lc-seconds', 'lc-examples', 'lc-bytes'];
  const body = [
    note(
      `Black: the global model on held-out data no site trains on. ${
        lineSites.length
          ? "Colours: each site's local validation split after its local training. Gaps mean the metric could not be computed (n/a) or the site did not take part that round."
          : `The ${siteNames.length} sites' own lines are left out (more than ${MAX_SITE_LINES}); their numbers are in the Sites table and summary.json.`
      }`,
    ),
    // The learning-curve numbers are the round and site tables below, shared by all seven charts.
    `<div class="charts">\n${charts.map((c, i) => `<figure id="${ids[i]}">${c}</figure>`).join('\n')}\n</div>`,
    '<h3>Sites</h3>',
    siteTable(summary, siteNames),
    `<details><summary>All rounds (global model, cost)</summary>${roundTable(summary)}</details>`,
    lineSites.length ? `<details><summary>Each site's local validation metrics by round</summary>${siteRoundTable(summary, lineSites)}</details>` : '',
  ];
  return section('learning-curves', 'Learning curves', body.join('\n'));
}

function siteTable(s: RunSummary, names: string[]): string {
  const examples = new Map(s.sites.map((x) => [x.name, x.examples]));
  const rows = names.map((name): Cell[] => {
    // The site's most recent round, which is not the final round if it missed that one.
    const lastRound = [...s.rounds].sort((a, b) => b.round - a.round).find((r) => r.siteMetrics.some((x) => x.site === name));
    const entry = lastRound?.siteMetrics.find((x) => x.site === name);
    const m = entry?.metrics;
    return [
      name,
      { count: examples.get(name) ?? NaN },
      { count: lastRound ? lastRound.round : NaN },
      { count: entry ? entry.epochs : NaN },
      ...LEARNING_METRICS.map(({ key }) => (m ? m[key] : null)),
    ];
  });
  return table(['Site', 'Training examples', 'Last round', 'Epochs', ...LEARNING_METRICS.map(({ title }) => title.split(' ')[0])], rows);
}

function roundTable(s: RunSummary): string {
  const rows = [...s.rounds]
    .sort((a, b) => a.round - b.round)
    .map(
      (r) =>
        `<tr><td class="num">${r.round}</td><td class="num">${r.modelVersion}</td><td class="num">${r.sites}</td><td class="num">${r.examples.toLocaleString('en-US')}</td><td class="num">${fmtNum(r.seconds, 1)}</td><td class="num">${bytes(r.bytesDown)}</td><td class="num">${bytes(r.bytesUp)}</td>${LEARNING_METRICS.map(({ key }) => `<td class="num">${fmt(r.metrics[key])}</td>`).join('')}</tr>`,
    );
  return `<table><thead><tr><th>Round</th><th>Model version</th><th>Sites</th><th>Examples</th><th>Seconds</th><th>Down</th><th>Up</th>${LEARNING_METRICS.map(({ title }) => `<th>${escapeHtml(title.split(' ')[0])}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function siteRoundTable(s: RunSummary, names: string[]): string {
  const rows: Cell[][] = [];
  for (const r of [...s.rounds].sort((a, b) => a.round - b.round)) {
    for (const name of names) {
      const entry = r.siteMetrics.find((x) => x.site === name);
      if (entry) rows.push([{ count: r.round }, name, { count: entry.examples }, ...LEARNING_METRICS.map(({ key }) => entry.metrics[key])]);
    }
  }
  return table(['Round', 'Site', 'Examples', ...LEARNING_METRICS.map(({ title }) => title.split(' ')[0])], rows);
}

/** Sites in the summary's order, then any that only appear in rounds (e.g. joined late). */
export function siteOrder(s: RunSummary): string[] {
  const names = s.sites.map((x) => x.name);
  for (const r of s.rounds) for (const m of r.siteMetrics) if (!names.includes(m.site)) names.push(m.site);
  return names;
}
