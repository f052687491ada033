import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluationReportSchema, readRunFolder, runSummarySchema } from '../../cli/report/index.js';
import { fullEvaluation, minimalEvaluation, runSummary, writeRunFolder } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'medley-report-read-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = (): string => join(root, `run-${++n}`);

/** The evaluation fixture as JSON, with one change made to the parsed object. */
function corrupt(change: (ev: Record<string, any>) => void): string {
  const ev = JSON.parse(JSON.stringify(fullEvaluation()));
  change(ev);
  return JSON.stringify(ev);
}

async function errorOf(dir: string): Promise<string> {
  const err = await readRunFolder(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'reading the folder should have failed').toBeInstanceOf(Error);
  return (err as Error).message;
}

describe('evaluation.json schema', () => {
  it('accepts the full and the minimal fixture and returns them unchanged', () => {
    for (const ev of [fullEvaluation(), minimalEvaluation()]) {
      const roundTrip = JSON.parse(JSON.stringify(ev));
      expect(evaluationReportSchema.parse(roundTrip)).toEqual(roundTrip);
    }
  });

  it('drops fields it does not know rather than refusing a newer study', () => {
    const parsed = evaluationReportSchema.parse({ ...JSON.parse(JSON.stringify(fullEvaluation())), futureField: 1 });
    expect(parsed).not.toHaveProperty('futureField');
  });
});

describe('readRunFolder', () => {
  it('reads summary.json with null metrics as NaN, and evaluation.json when present', async () => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), fullEvaluation());
    const run = await readRunFolder(dir);
    // The fixture's NaN AUROC (site 3, round 1) was written as null by JSON.stringify.
    expect(run.summary.rounds[0].siteMetrics[2].metrics.auroc).toBeNaN();
    expect(run.summary.rounds).toHaveLength(5);
    expect(run.evaluation?.perSite).toHaveLength(4);
    expect(runSummarySchema.parse(JSON.parse(JSON.stringify(runSummary()))).rounds[4].metrics.auroc).toBeCloseTo(0.9);
  });

  it('gives null evaluation when the folder has no evaluation.json', async () => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    expect((await readRunFolder(dir)).evaluation).toBeNull();
  });

  it('names a missing run folder and a missing summary.json', async () => {
    expect(await errorOf(join(root, 'no-such-run'))).toMatch(/run folder .*no-such-run does not exist/);
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    rmSync(join(dir, 'summary.json'));
    expect(await errorOf(dir)).toBe(`${join(dir, 'summary.json')} does not exist: ${dir} is not a run folder (medley demo, simulate and study write summary.json into theirs)`);
  });

  it('names a summary.json that is not JSON, or empty', async () => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    await writeFile(join(dir, 'summary.json'), '{"federation": "x", "rounds": [');
    expect(await errorOf(dir)).toMatch(new RegExp(`^${escape(join(dir, 'summary.json'))} is not valid JSON \\(.+\\); the run that wrote it may have been interrupted`));
    await writeFile(join(dir, 'summary.json'), '');
    expect(await errorOf(dir)).toContain('summary.json is not valid JSON (it is empty)');
  });

  it('names the field of summary.json that is wrong', async () => {
    const dir = folder();
    const s = JSON.parse(JSON.stringify(runSummary()));
    s.rounds[2].metrics.auroc = 'good';
    delete s.sites;
    await writeRunFolder(dir, runSummary(), null);
    await writeFile(join(dir, 'summary.json'), JSON.stringify(s));
    const message = await errorOf(dir);
    expect(message).toContain(`${join(dir, 'summary.json')} is not a run summary: `);
    expect(message).toContain('rounds[2].metrics.auroc is "good" (Invalid input: expected number, received string)');
    expect(message).toContain('sites is missing');
  });

  it.each([
    ['a metric of the wrong type', (ev: any) => (ev.perSite[1].metrics.auroc = 'high'), 'perSite[1].metrics.auroc is "high"'],
    ['a missing required part', (ev: any) => delete ev.pooled, 'pooled is missing'],
    ['a ROC point outside [0, 1]', (ev: any) => (ev.pooled.roc[3] = [1.5, 0.2]), 'pooled.roc[3][0] is 1.5 (must be between 0 and 1)'],
    ['a temperature of zero', (ev: any) => (ev.calibration.temperature = 0), 'calibration.temperature is 0 (must be above 0)'],
    ['a fraction above 1', (ev: any) => (ev.dataEfficiency[0].fraction = 10), 'dataEfficiency[0].fraction is 10 (must be at most 1)'],
    ['a wrong kind', (ev: any) => (ev.kind = 'summary'), 'kind is "summary"'],
    ['a gap between three groups', (ev: any) => (ev.subgroups[0].largestGap[0].between = ['F', 'M', 'X']), 'subgroups[0].largestGap[0].between is ["F","M","X"]'],
  ])('names the file and the field for %s in evaluation.json', async (_what, change, expected) => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    await writeFile(join(dir, 'evaluation.json'), corrupt(change));
    const message = await errorOf(dir);
    expect(message).toMatch(new RegExp(`^${escape(join(dir, 'evaluation.json'))} is not an evaluation report: `));
    expect(message).toContain(expected);
    expect(message).not.toMatch(/\n\s+at /);
  });

  it('lists the first five problems of a badly broken evaluation.json and counts the rest', async () => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    await writeFile(join(dir, 'evaluation.json'), corrupt((ev) => ev.perSite.forEach((s: any) => (s.metrics = { auroc: 'x', auprc: 'y' }))));
    const message = await errorOf(dir);
    expect(message.split('; ')).toHaveLength(6);
    expect(message).toMatch(/and 3 more$/);
  });

  it('names an evaluation.json that is not JSON', async () => {
    const dir = folder();
    await writeRunFolder(dir, runSummary(), null);
    await writeFile(join(dir, 'evaluation.json'), '<html>not json</html>');
    expect(await errorOf(dir)).toMatch(new RegExp(`^${escape(join(dir, 'evaluation.json'))} is not valid JSON`));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
