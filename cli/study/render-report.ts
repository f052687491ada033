import { join } from 'node:path';
import { readRunFolder, writeReportFile } from '../report/index.js';

/**
 * The study's report.html, as `medley report STUDY_DIR` writes it. The folder is read back
 * through the report's own validation, so a study whose files the report would refuse fails here,
 * naming the field, rather than leaving a folder that cannot be rendered.
 */
export async function renderStudyReport(out: string): Promise<{ path: string }> {
  const run = await readRunFolder(out);
  const path = join(out, 'report.html');
  await writeReportFile(path, run.summary, run.evaluation);
  return { path };
}
