/// <reference lib="dom" />
/**
 * `medley report RUN_DIR` end to end, checked in a real browser: the built CLI writes the report
 * from a run folder, headless Chromium (Debian's `chromium` package) opens it from a file:// URL
 * with the network cut, and the test reads the rendered DOM (every figure drawn, with the right
 * number of curves, bars and points, legends naming the sites), checks that the page asked for
 * nothing but itself, and that screenshots of the figures are not blank.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECTIONS } from '../../cli/report/index.js';
import { drawnBins } from '../../cli/report/svg-reliability.js';
import { runMedley } from '../helpers/cli-run.js';
import { fullEvaluation, minimalEvaluation, runSummary, SITES, writeRunFolder } from './fixtures.js';

const CHROMIUM = process.env.MEDLEY_CHROMIUM ?? '/usr/bin/chromium';
const root = mkdtempSync(join(tmpdir(), 'medley-report-browser-'));
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`headless Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium), or set MEDLEY_CHROMIUM to a Chromium binary`);
  }
  // Running as root (CI, containers) Chromium refuses to start without --no-sandbox.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

afterAll(async () => {
  await browser?.close();
  rmSync(root, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  /** Every request the page made, the document included. */
  requests: string[];
  errors: string[];
  url: string;
}

/** Opens a report from disk with the network off; any request other than a file:// one is recorded and refused. */
async function open(path: string): Promise<Opened> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  await page.setOfflineMode(true);
  await page.setRequestInterception(true);
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (req) => {
    requests.push(req.url());
    if (req.url().startsWith('file:')) void req.continue();
    else void req.abort();
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  const url = pathToFileURL(path).href;
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, errors, url };
}

interface FigureInfo {
  id: string;
  svgs: number;
  width: number;
  height: number;
  series: { name: string; length: number; points: number; markers: number }[];
  references: number;
  bars: { series: string; value: number; height: number; width: number }[];
  gaps: number;
  legend: string[];
  categories: string[];
  tableRows: number;
}

/** What the browser drew for each <figure id=...>, measured from the rendered geometry. */
async function figures(page: Page): Promise<Map<string, FigureInfo>> {
  const list = await page.evaluate(() =>
    Array.from(document.querySelectorAll('figure[id]')).map((f) => {
      const svg = f.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      return {
        id: f.id,
        svgs: f.querySelectorAll('svg').length,
        width: box.width,
        height: box.height,
        series: Array.from(f.querySelectorAll('g.series:not(.reference)')).map((g) => {
          const lines = Array.from(g.querySelectorAll('polyline')) as SVGPolylineElement[];
          return {
            name: g.getAttribute('data-series') ?? '',
            length: lines.reduce((a, l) => a + l.getTotalLength(), 0),
            points: lines.reduce((a, l) => a + l.points.numberOfItems, 0),
            markers: g.querySelectorAll('circle').length,
          };
        }),
        references: f.querySelectorAll('g.series.reference').length,
        bars: (Array.from(f.querySelectorAll('rect.bar')) as SVGRectElement[]).map((r) => ({
          series: r.getAttribute('data-series') ?? '',
          value: Number(r.getAttribute('data-value')),
          height: r.getBBox().height,
          width: r.getBBox().width,
        })),
        gaps: f.querySelectorAll('rect.gap').length,
        legend: Array.from(f.querySelectorAll('text.legend')).map((t) => t.textContent ?? ''),
        categories: Array.from(f.querySelectorAll('g.bar-group')).map((g) => g.getAttribute('data-category') ?? ''),
        tableRows: f.querySelectorAll('table tbody tr').length,
      };
    }),
  );
  return new Map(list.map((f) => [f.id, f]));
}

/**
 * Share of non-white pixels and number of distinct colours of each screenshot, decoded by the
 * browser itself in a blank page (so the report page's request log stays its own). Called after
 * the screenshots are taken: a page in front of the report would stall its screenshots.
 */
async function inkOf(pngs: Uint8Array[]): Promise<{ ink: number; colours: number }[]> {
  const scratch = await browser.newPage();
  try {
    return await scratch.evaluate(async (images: string[]) => {
      const out: { ink: number; colours: number }[] = [];
      for (const b64 of images) {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bitmap, 0, 0);
        const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        let ink = 0;
        const colours = new Set<number>();
        for (let i = 0; i < data.length; i += 4) {
          if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) ink++;
          colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        }
        out.push({ ink: ink / (data.length / 4), colours: colours.size });
      }
      return out;
    }, pngs.map((png) => Buffer.from(png).toString('base64')));
  } finally {
    await scratch.close();
  }
}

/** The drawn series' names (in drawing order: the emphasised one last, on top). */
function names(f: FigureInfo): string[] {
  return f.series.map((s) => s.name);
}

function series(f: FigureInfo, name: string): FigureInfo['series'][number] {
  const found = f.series.find((s) => s.name === name);
  expect(found, `${f.id}: series ${name}`).toBeDefined();
  return found!;
}

/** Bars encode values: every bar's rendered height is the same multiple of its value (the y axis starts at 0). */
function expectHeightsProportional(info: FigureInfo): void {
  const scale = info.bars[0].height / info.bars[0].value;
  expect(scale, info.id).toBeGreaterThan(50);
  for (const b of info.bars) expect(Math.abs(b.height - b.value * scale), `${info.id} bar ${b.series}=${b.value}`).toBeLessThan(1.5);
}

describe('medley report in headless Chromium', () => {
  const ev = fullEvaluation();
  let report: Opened;
  let figs: Map<string, FigureInfo>;

  beforeAll(async () => {
    const dir = join(root, 'full');
    await writeRunFolder(dir, runSummary(), ev);
    const cli = await runMedley(['report', dir]);
    expect(cli.code, cli.stderr).toBe(0);
    const path = join(dir, 'report.html');
    expect(cli.stdout.trim()).toBe(path);
    report = await open(path);
    figs = await figures(report.page);
  });

  it('loads from file:// with the network off and asks for nothing but the file itself', () => {
    expect(report.requests).toEqual([report.url]);
    expect(report.errors).toEqual([]);
  });

  it('would see a page that reaches out, so the empty request log above means something', async () => {
    const path = join(root, 'reaches-out.html');
    writeFileSync(path, '<!DOCTYPE html><img src="http://203.0.113.1/x.png" alt=""><link rel="stylesheet" href="https://cdn.invalid/a.css">');
    const opened = await open(path);
    expect(opened.requests).toEqual([opened.url, 'http://203.0.113.1/x.png', 'https://cdn.invalid/a.css']);
    await opened.page.close();
  });

  it('has every section with its heading', async () => {
    const headings = await report.page.evaluate(() => Array.from(document.querySelectorAll('section[id]')).map((s) => [s.id, s.querySelector('h2')?.textContent ?? '']));
    expect(headings).toEqual([...SECTIONS.map(({ id, title }) => [id, title]), ['reproduce', 'How to reproduce']]);
  });

  it('draws the learning curves: the global line and one line per site in each metric chart', () => {
    for (const id of ['lc-auroc', 'lc-auprc', 'lc-accuracy', 'lc-loss']) {
      const f = figs.get(id)!;
      const expected = ['global model (held-out)', ...SITES.map((s) => `${s} (local val)`)];
      expect(names(f).sort()).toEqual([...expected].sort());
      expect(f.legend).toEqual(expected);
      for (const s of f.series) expect(s.length, `${id} ${s.name}`).toBeGreaterThan(50);
      // Five rounds; one site missed round 3 and one has a NaN AUROC in round 1, which are gaps, not points.
      expect(series(f, 'global model (held-out)').markers).toBe(5);
      expect(series(f, 'site-4 (local val)').markers).toBe(4);
    }
    expect(series(figs.get('lc-auroc')!, 'clinic "B" (local val)').markers).toBe(4);
    expect(series(figs.get('lc-auprc')!, 'clinic "B" (local val)').markers).toBe(5);
  });

  it('draws ROC and PR curves for the pooled model and each site, AUROC and AUPRC in the legend', () => {
    const roc = figs.get('fig-roc')!;
    const pr = figs.get('fig-pr')!;
    const sources = [{ label: 'pooled', model: ev.pooled }, ...ev.perSite.map((s) => ({ label: s.site, model: s }))];
    const rocNames = sources.map((s) => `${s.label} (AUROC ${s.model.metrics.auroc!.toFixed(3)})`);
    const prNames = sources.map((s) => `${s.label} (AUPRC ${s.model.metrics.auprc!.toFixed(3)})`);
    expect(names(roc).sort()).toEqual([...rocNames].sort());
    expect(names(pr).sort()).toEqual([...prNames].sort());
    expect(roc.legend).toEqual([...rocNames, 'chance (AUROC 0.5)']);
    sources.forEach((s, i) => {
      expect(series(roc, rocNames[i]).points).toBe(s.model.roc!.length);
      expect(series(pr, prNames[i]).points).toBe(s.model.pr!.length);
      // A ROC curve runs from (0, 0) to (1, 1): at least the plot's diagonal long.
      expect(series(roc, rocNames[i]).length).toBeGreaterThan(400);
      expect(series(pr, prNames[i]).length).toBeGreaterThan(300);
    });
    expect(roc.references).toBe(1);
    expect(pr.references).toBe(1);
    for (const site of SITES) expect(roc.legend.some((l) => l.startsWith(`${site} (AUROC `))).toBe(true);
    expect(roc.tableRows).toBe(sources.reduce((a, s) => a + s.model.roc!.length, 0));
  });

  it('draws the reliability diagram before and after temperature scaling, one bar per bin with predictions', () => {
    for (const [id, bins] of [
      ['fig-reliability-before', ev.calibration!.before.reliability!],
      ['fig-reliability-after', ev.calibration!.after.reliability!],
    ] as const) {
      const f = figs.get(id)!;
      const drawn = drawnBins(bins);
      expect(drawn.length).toBeGreaterThan(3);
      expect(f.bars).toHaveLength(drawn.length);
      expect(f.gaps).toBe(drawn.length);
      for (const b of f.bars) expect(b.height).toBeGreaterThan(1);
      expect(f.tableRows).toBe(bins.length);
    }
  });

  it('draws per-site bars: each metric at each site, heights proportional to the values', () => {
    const f = figs.get('fig-per-site')!;
    const metrics = ['AUROC', 'AUPRC', 'Balanced accuracy', 'Sensitivity', 'Specificity', 'F1'];
    expect(f.categories).toEqual(SITES);
    expect(f.bars).toHaveLength(SITES.length * metrics.length);
    expect(f.bars.filter((b) => b.series === 'AUROC').map((b) => b.value)).toEqual(ev.perSite.map((s) => s.metrics.auroc));
    expect(f.legend).toEqual([...metrics, 'pooled AUROC']);
    expectHeightsProportional(f);
  });

  it('draws subgroup bars for each declared column and ood bars for each held-out site', () => {
    ev.subgroups.forEach((col, i) => {
      const f = figs.get(`fig-subgroup-${i + 1}`)!;
      expect(f.categories).toEqual(col.groups.map((g) => g.value));
      expect(f.bars).toHaveLength(col.groups.length * 6);
      expectHeightsProportional(f);
    });
    for (const id of ['fig-ood-auroc', 'fig-ood-auprc']) {
      const f = figs.get(id)!;
      expect(f.categories).toEqual(SITES);
      expect(f.bars.filter((b) => b.series === 'left out of training')).toHaveLength(SITES.length);
      expect(f.bars.filter((b) => b.series === 'trained with it (in distribution)')).toHaveLength(SITES.length);
      expectHeightsProportional(f);
    }
  });

  it('draws the data-efficiency lines with a point per fraction', () => {
    const f = figs.get('fig-data-efficiency')!;
    expect(f.legend).toEqual(['AUROC', 'AUPRC', 'Balanced accuracy', 'Sensitivity', 'Specificity', 'F1', 'Accuracy']);
    expect(names(f).sort()).toEqual([...f.legend].sort());
    for (const s of f.series) {
      expect(s.markers).toBe(ev.dataEfficiency.length);
      expect(s.length).toBeGreaterThan(100);
    }
    expect(f.tableRows).toBe(ev.dataEfficiency.length);
  });

  it('renders every figure visibly: a sized SVG whose screenshot is not blank', async () => {
    expect(figs.size).toBe(17);
    const shots: Uint8Array[] = [];
    for (const [id, f] of figs) {
      expect(f.svgs, id).toBe(1);
      expect(f.width, id).toBeGreaterThan(300);
      expect(f.height, id).toBeGreaterThan(250);
      const el = await report.page.$(`#${id} svg`);
      shots.push(await el!.screenshot({ type: 'png' }));
    }
    shots.push(await report.page.screenshot({ type: 'png', fullPage: true }));
    const ink = await inkOf(shots);
    [...figs.keys(), 'whole page'].forEach((id, i) => {
      expect(ink[i].ink, `${id}: share of non-white pixels`).toBeGreaterThan(0.02);
      expect(ink[i].colours, `${id}: distinct colours`).toBeGreaterThan(8);
    });
  });
});

describe('medley report in headless Chromium, evaluation parts missing', () => {
  it('shows each missing part with its reason and no empty figure', async () => {
    const dir = join(root, 'minimal');
    await writeRunFolder(dir, runSummary(), minimalEvaluation());
    const cli = await runMedley(['report', dir, '--out', join(dir, 'out', 'minimal.html')]);
    expect(cli.code, cli.stderr).toBe(0);
    const opened = await open(join(dir, 'out', 'minimal.html'));
    expect(opened.requests).toEqual([opened.url]);
    const missing = await opened.page.evaluate(() =>
      Object.fromEntries(Array.from(document.querySelectorAll('section[id]')).map((s) => [s.id, { missing: s.querySelector('.missing')?.textContent ?? null, svgs: s.querySelectorAll('svg').length }])),
    );
    expect(missing['learning-curves']).toEqual({ missing: null, svgs: 7 });
    expect(missing['discrimination'].missing).toContain('no ROC or PR points');
    expect(missing['calibration'].missing).toContain('calibration is null');
    expect(missing['subgroups'].missing).toContain('no subgroup columns were declared by any site');
    expect(missing['ood'].missing).toContain('no leave-one-site-out runs');
    expect(missing['data-efficiency'].missing).toContain('no data-efficiency runs');
    for (const id of ['discrimination', 'calibration', 'subgroups', 'ood', 'data-efficiency']) expect(missing[id].svgs, id).toBe(0);
    expect(missing['per-site'].svgs).toBe(1);
    await opened.page.close();
  });
});

describe('medley report errors', () => {
  it('names the file and the field of a corrupt evaluation.json, with no stack trace, and writes no report', async () => {
    const dir = join(root, 'corrupt');
    const ev = JSON.parse(JSON.stringify(fullEvaluation()));
    ev.ood[2].metrics.auroc = 'n/a';
    await writeRunFolder(dir, runSummary(), ev);
    const cli = await runMedley(['report', dir]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`medley: ${join(dir, 'evaluation.json')} is not an evaluation report: ood[2].metrics.auroc is "n/a" (Invalid input: expected number, received string)\n`);
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
  });

  it('names a missing summary.json', async () => {
    const dir = join(root, 'empty');
    await writeRunFolder(dir, runSummary(), null);
    rmSync(join(dir, 'summary.json'));
    const cli = await runMedley(['report', dir]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^medley: .*empty\/summary\.json does not exist: .* is not a run folder/);
    expect(cli.stderr.split('\n')).toHaveLength(2);
  });
});
