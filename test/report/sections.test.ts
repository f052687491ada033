import { describe, expect, it } from 'vitest';
import { barChartSvg, renderRunReport, SECTIONS } from '../../cli/report/index.js';
import { drawnBins, reliabilitySvg } from '../../cli/report/svg-reliability.js';
import { lineChartSvg } from '../../cli/report/svg-chart.js';
import { fullEvaluation, minimalEvaluation, runSummary } from './fixtures.js';

const NOW = new Date('2026-11-22T09:00:00Z');
const full = renderRunReport(runSummary(), fullEvaluation(), NOW);
const minimal = renderRunReport(runSummary(), minimalEvaluation(), NOW);
const none = renderRunReport(runSummary(), null, NOW);

/** The HTML of one <section id=...>. */
function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}">`);
  expect(start, `section ${id}`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</section>', start));
}

/** Each <figure id="fig-..."> of the page with its content. */
function figures(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<figure id="(fig-[^"]+)">([\s\S]*?)<\/figure>/g)) out.set(m[1], m[2]);
  return out;
}

describe('report sections from evaluation.json', () => {
  it('has every section, in order, each with its heading', () => {
    for (const html of [full, minimal, none]) {
      const positions = SECTIONS.map(({ id, title }) => {
        expect(sectionOf(html, id)).toContain(`<h2>${title}</h2>`);
        return html.indexOf(`<section id="${id}">`);
      });
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it('draws every figure of a full evaluation, each with its numbers as a table', () => {
    const figs = figures(full);
    expect([...figs.keys()].sort()).toEqual(
      [
        'fig-roc',
        'fig-pr',
        'fig-reliability-before',
        'fig-reliability-after',
        'fig-per-site',
        'fig-subgroup-1',
        'fig-subgroup-2',
        'fig-ood-auroc',
        'fig-ood-auprc',
        'fig-data-efficiency',
      ].sort(),
    );
    for (const [id, content] of figs) {
      expect(content, id).toMatch(/^<svg /);
      expect(content, id).toContain('<table>');
      expect(content, id).toContain('<figcaption>');
    }
    // Nothing undefined leaks into the page, and nothing is fetched from elsewhere.
    expect(full).not.toMatch(/NaN|Infinity|undefined|\[object/);
    expect(full).not.toMatch(/<script|<link|src=|@import|url\(/i);
  });

  it('escapes site and group names in legends, labels, tooltips and tables', () => {
    expect(full).not.toContain("St. Mary's & <North>");
    expect(full).toContain('St. Mary&#39;s &amp; &lt;North&gt;');
    expect(full).toContain('clinic &quot;B&quot;');
    expect(full).toContain('&lt;40');
    expect(full).not.toMatch(/<North>|<40/);
  });

  it('puts AUROC and AUPRC in the curve legends and the temperature in the calibration section', () => {
    const ev = fullEvaluation();
    const roc = figures(full).get('fig-roc')!;
    expect(roc).toContain(`pooled (AUROC ${ev.pooled.metrics.auroc!.toFixed(3)})`);
    expect(roc).toContain(`site-4 (AUROC ${ev.perSite[3].metrics.auroc!.toFixed(3)})`);
    expect(figures(full).get('fig-pr')!).toContain(`chance (prevalence ${ev.pooled.metrics.prevalence!.toFixed(3)})`);
    const cal = sectionOf(full, 'calibration');
    expect(cal).toContain(`Temperature T = ${ev.calibration!.temperature.toFixed(3)},`);
    // The fixture's model is over-confident, so the fitted temperature softens it and lowers ECE.
    expect(ev.calibration!.temperature).toBeGreaterThan(1);
    expect(ev.calibration!.after.ece!).toBeLessThan(ev.calibration!.before.ece!);
    expect(cal).toContain(`<td class="num">${ev.calibration!.before.ece!.toFixed(3)}</td><td class="num">${ev.calibration!.after.ece!.toFixed(3)}</td>`);
  });

  it('shows what the study adds about its own numbers: AUROC resolution, NLL, a temperature at the grid edge', () => {
    const ev = fullEvaluation();
    expect(sectionOf(full, 'discrimination')).toContain('its AUROC is within 0.004 of the AUROC over every image scored together');
    const cal = sectionOf(full, 'calibration');
    expect(cal).toContain(`<td>Negative log-likelihood (per example)</td><td class="num">${ev.calibration!.before.nll!.toFixed(3)}</td>`);
    expect(cal).not.toContain('edge of the grid');
    const edge = renderRunReport(runSummary(), { ...ev, calibration: { ...ev.calibration!, atGridEdge: true } }, NOW);
    expect(sectionOf(edge, 'calibration')).toContain('is at the edge of the grid it was fitted on');
  });

  it('calls out the largest subgroup gap with both groups and their values', () => {
    const ev = fullEvaluation();
    const sex = ev.subgroups[0];
    const gap = sex.largestGap.find((g) => g.metric === 'auroc')!;
    const value = (name: string): string => sex.groups.find((g) => g.value === name)!.metrics.auroc!.toFixed(3);
    expect(sectionOf(full, 'subgroups')).toContain(
      `<p class="callout gap">Largest AUROC gap: ${gap.gap.toFixed(3)} between ${gap.between[0]} (${value(gap.between[0])}) and ${gap.between[1]} (${value(gap.between[1])}).`,
    );
  });

  it('takes the in-distribution figure from perSite when an OOD entry leaves it out', () => {
    const ev = fullEvaluation();
    const last = ev.ood[3];
    expect(last.inDistribution).toBeUndefined();
    const row = `<tr><td>site-4</td><td>AUROC</td><td class="num">${last.metrics.auroc!.toFixed(3)}</td><td class="num">${ev.perSite[3].metrics.auroc!.toFixed(3)}</td>`;
    expect(figures(full).get('fig-ood-auroc')!).toContain(row);
  });

  it('says why each part of a minimal evaluation is missing', () => {
    expect(Object.keys(Object.fromEntries(figures(minimal)))).toEqual(['fig-per-site']);
    expect(sectionOf(minimal, 'discrimination')).toContain('evaluation.json has no ROC or PR points');
    expect(sectionOf(minimal, 'calibration')).toContain('evaluation.json has no calibration (calibration is null)');
    expect(sectionOf(minimal, 'subgroups')).toContain('no subgroup columns were declared by any site');
    expect(sectionOf(minimal, 'ood')).toContain('no leave-one-site-out runs in this study');
    expect(sectionOf(minimal, 'data-efficiency')).toContain('no data-efficiency runs in this study');
    // The areas are still in a table even without curves.
    expect(sectionOf(minimal, 'discrimination')).toContain('<td>pooled</td>');
    expect(minimal).not.toContain('id="reproduce"');
  });

  it('says so in every evaluation section when the run has no evaluation.json', () => {
    for (const { id } of SECTIONS.slice(1)) expect(sectionOf(none, id)).toContain('This run folder has no evaluation.json');
    expect(figures(none).size).toBe(0);
  });

  it('lists the commands that reproduce the study', () => {
    const reproduce = sectionOf(full, 'reproduce');
    expect(reproduce).toContain('<code>medley study --data synthetic --sites 4 --ood --out runs/study</code>');
    expect(reproduce).toContain('<tr><td>ood-site-2</td><td>runs/ood-2</td></tr>');
  });
});

describe('chart kinds beside the line chart', () => {
  it('draws one bar per finite value and marks NaN slots n/a', () => {
    const svg = barChartSvg({
      title: 'b',
      categories: ['a', 'b', 'c'],
      series: [
        { name: 'x', values: [0.2, NaN, 0.9] },
        { name: 'y', values: [0.5, 0.6, 0.7] },
      ],
      yRange: [0, 1],
    });
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(5);
    expect(svg.match(/class="na">n\/a/g)).toHaveLength(1);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('widens a bar chart with many categories so bars stay readable', () => {
    const categories = Array.from({ length: 40 }, (_, i) => `hospital-${i}`);
    const svg = barChartSvg({ title: 'b', categories, series: [0, 1, 2].map((k) => ({ name: `m${k}`, values: categories.map(() => 0.5) })) });
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(width).toBeGreaterThanOrEqual(40 * 4 * 10);
  });

  it('draws a reliability bar and gap only for bins with predictions', () => {
    const bins = [
      { lo: 0.5, hi: 0.6, count: 10, confidence: 0.55, accuracy: 0.4 },
      { lo: 0.6, hi: 0.7, count: 0, confidence: null, accuracy: null },
      { lo: 0.7, hi: 0.8, count: 5, confidence: 0.75, accuracy: 0.8 },
    ];
    expect(drawnBins(bins)).toHaveLength(2);
    const svg = reliabilitySvg({ title: 'r', bins });
    expect(svg.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(svg.match(/<rect class="gap"/g)).toHaveLength(2);
    expect(svg).toContain('class="diagonal"');
  });

  it('places log-scale x ticks at the given fractions, evenly for doublings', () => {
    const svg = lineChartSvg({ title: 'l', xLog: true, xTicks: [0.125, 0.25, 0.5, 1], formatX: (v) => `${v * 100}%`, series: [{ name: 's', points: [0.125, 0.25, 0.5, 1].map((x) => ({ x, y: x })) }] });
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    const steps = xs.slice(1).map((x, i) => x - xs[i]);
    for (const s of steps) expect(s).toBeCloseTo(steps[0], 0);
    expect(svg).toContain('>12.5%</text>');
  });
});
