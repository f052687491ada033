import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EvaluationReport } from './evaluation.js';
import { renderRunReport } from './html.js';
import type { RunSummary } from './summary.js';

/** Writes `<dir>/report.html` (creating `dir`) and returns its path. */
export async function writeRunReport(dir: string, summary: RunSummary, evaluation: EvaluationReport | null = null): Promise<string> {
  const path = join(dir, 'report.html');
  await writeReportFile(path, summary, evaluation);
  return path;
}

/** Writes the report to `path`, creating its folder. */
export async function writeReportFile(path: string, summary: RunSummary, evaluation: EvaluationReport | null): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderRunReport(summary, evaluation), 'utf8');
}
