import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readRunFolder, writeReportFile } from '../report/index.js';

/** Adds `medley report RUN_DIR [--out FILE]`: the run's HTML report from summary.json and, when present, evaluation.json. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the HTML report of a run folder: learning curves from summary.json, clinical evaluation from evaluation.json when present')
    .argument('<run-dir>', 'the folder a run wrote (medley demo, simulate or study --out DIR)')
    .option('--out <file>', 'where to write the report (default: RUN_DIR/report.html)')
    .action(async (runDir: string, opts: { out?: string }) => {
      // Reading validates both files first, so a bad input never leaves a half-written report.
      const run = await readRunFolder(runDir);
      const out = resolve(opts.out ?? `${runDir}/report.html`);
      await writeReportFile(out, run.summary, run.evaluation);
      process.stdout.write(`${out}\n`);
      if (!run.evaluation) process.stderr.write(`no evaluation.json in ${runDir}: the report has the learning curves only; its evaluation sections say so\n`);
    });
}
