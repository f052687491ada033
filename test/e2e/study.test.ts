import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvaluationReport } from '../../cli/report/evaluation.js';
import type { SimulationSummary } from '../../cli/simulate/summary.js';
import { EVALUATION_METRICS } from '../../shared/evaluation/index.js';
import { runMedley } from '../helpers/cli-run.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medley-study-'));
});

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

describe('medley study', () => {
  it('runs the main, leave-one-site-out and data-efficiency federations on synthetic data and writes evaluation.json with every section', async () => {
    const out = join(root, 'study');
    // 3 sites x 40 training and 50 validation images each, one round of one epoch per federation.
    const run = await runMedley(['study', '--sites', '3', '--rounds', '1', '--count', '40', '--epochs', '1', '--fractions', '0.5,1', '--out', out, '--seed', '3'], {}, 300_000);
    expect(run.code, run.stderr).toBe(0);
    // Progress names the part and the run, and the rounds within it.
    for (const line of [/\[1\/5 main\] main federation/, /\[2\/5 ood-site-1\] leave-one-site-out 1\/3: without site-1/, /\[5\/5 fraction-0.5\] data efficiency: 50% of each site's training data/, /\[3\/5 ood-site-2\] round 1 \(1\/1\) started: 2 sites/]) {
      expect(run.stderr).toMatch(line);
    }
    const report = await readJson<EvaluationReport>(join(out, 'evaluation.json'));
    const sites = ['site-1', 'site-2', 'site-3'];
    expect([report.kind, report.task, report.data, report.sites]).toEqual(['evaluation', 'binary', 'synthetic', sites]);

    // Per site and pooled: every metric, curves and reliability bins over the 150 validation images.
    expect(report.perSite.map((s) => [s.site, s.examples])).toEqual(sites.map((s) => [s, 50]));
    expect(report.pooled.examples).toBe(150);
    for (const figures of [report.pooled, ...report.perSite]) {
      expect(Object.keys(figures.metrics).sort()).toEqual([...EVALUATION_METRICS].sort());
      expect(figures.roc![0]).toEqual([0, 0]);
      expect(figures.roc!.at(-1)).toEqual([1, 1]);
      expect(figures.reliability!.reduce((n, b) => n + b.count, 0)).toBe(figures.examples);
      expect(figures.metrics.auroc).toBeGreaterThanOrEqual(0);
    }
    expect(report.pooled.aurocResolution).toBeGreaterThanOrEqual(0);

    // Subgroups: the synthetic sites declare scanner and sex; the groups cover every image.
    expect(report.subgroups.map((g) => g.column)).toEqual(['scanner', 'sex']);
    const sex = report.subgroups[1]!;
    expect(sex.groups.map((g) => g.value)).toEqual(['F', 'M']);
    expect(sex.groups.reduce((n, g) => n + g.examples, 0)).toBe(150);
    const gap = sex.largestGap.find((g) => g.metric === 'auroc')!;
    expect(gap.gap).toBeCloseTo(Math.abs(sex.groups[0]!.metrics.auroc! - sex.groups[1]!.metrics.auroc!), 12);

    // Calibration on the pooled evaluation: "before" is the pooled figure, the fit does not raise the NLL.
    const c = report.calibration!;
    expect(c.temperature).toBeGreaterThan(0);
    expect(c.before.ece).toBeCloseTo(report.pooled.metrics.ece!, 12);
    expect(c.before.brier).toBeCloseTo(report.pooled.metrics.brier!, 12);
    expect(c.after.nll!).toBeLessThanOrEqual(c.before.nll! + 1e-12);

    // Leave-one-site-out: each site scored by a federation that never trained on it, beside its in-distribution figures.
    expect(report.ood.map((o) => [o.heldOutSite, o.trainedOn, o.examples])).toEqual(sites.map((s) => [s, sites.filter((x) => x !== s), 50]));
    for (const o of report.ood) {
      expect(o.inDistribution).toEqual(report.perSite.find((s) => s.site === o.heldOutSite)!.metrics);
      expect(typeof o.metrics.auroc).toBe('number');
    }
    const withoutSite2 = await readJson<SimulationSummary>(join(out, report.runs!['ood-site-2']!, 'summary.json'));
    expect(withoutSite2.rounds.map((r) => r.siteMetrics.map((s) => s.site).sort())).toEqual([['site-1', 'site-3']]);

    // Data efficiency: half of each site's 40 training images (per class), and the whole (the main run).
    expect(report.dataEfficiency.map((d) => [d.fraction, d.examples])).toEqual([[0.5, 60], [1, 120]]);
    expect(report.dataEfficiency[1]!.metrics).toEqual(report.pooled.metrics);
    const half = await readJson<SimulationSummary>(join(out, report.runs!['fraction-0.5']!, 'summary.json'));
    expect(half.sites.map((s) => s.examples)).toEqual([20, 20, 20]);

    // The main run's summary at the top, each sub-run in its own folder; commands to re-run each part.
    expect(await readJson(join(out, 'summary.json'))).toEqual(await readJson(join(out, 'runs', 'main', 'summary.json')));
    expect(Object.keys(report.runs!).sort()).toEqual(['fraction-0.5', 'main', 'ood-site-1', 'ood-site-2', 'ood-site-3']);
    expect(report.commands.ood).toMatch(/^medley study .*--no-efficiency$/);
    expect(report.commands.ood).not.toMatch(/--out/);
    expect(existsSync(join(out, 'runs', 'ood-site-3', 'state', 'journal.jsonl'))).toBe(true);
    // The report of the whole study, rendered as `medley report` would, with its evaluation sections.
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(run.stderr).toContain(`report: ${join(out, 'report.html')}`);
    for (const id of ['discrimination', 'calibration', 'per-site', 'subgroups', 'ood', 'data-efficiency', 'fig-roc', 'fig-per-site', 'fig-subgroup-1', 'fig-data-efficiency']) expect(html).toContain(`id="${id}"`);
    expect(html).not.toMatch(/no leave-one-site-out runs in this study|no data-efficiency runs in this study|has no calibration/);
  });

  it('refuses bad fractions, a leave-one-site-out study of one site, and a folder that is not empty, before running anything', async () => {
    const bad = await runMedley(['study', '--fractions', '0.5,0', '--out', join(root, 'bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/"0": training fraction 0 must be a number in \(0, 1\]/);
    const one = await runMedley(['study', '--sites', '1', '--out', join(root, 'one')]);
    expect(one.stderr).toMatch(/leave-one-site-out needs at least 2 sites \(use --no-ood with one site\)/);
    expect(existsSync(join(root, 'one'))).toBe(false);
    const again = await runMedley(['study', '--sites', '2', '--out', root]);
    expect(again.stderr).toMatch(/is not empty; a study writes a new folder/);
  });
});
