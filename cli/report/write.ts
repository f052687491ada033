import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderRunReport } from './html.js';
import type { RunSummary } from './summary.js';

/** Writes `<dir>/report.html` (creating `dir`) and returns its path. */
export async function writeRunReport(dir: string, summary: RunSummary): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'report.html');
  await writeFile(path, renderRunReport(summary), 'utf8');
  return path;
}
