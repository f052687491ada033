import { writeFile } from 'node:fs/promises';
import { benchOutFile } from './rss-series.js';

/** The few rules a report chart opened on its own needs (the report styles them from its stylesheet). */
const STANDALONE_STYLE =
  '.chart{font-family:sans-serif;background:#fff}.chart .chart-title{font-size:14px;font-weight:600;fill:#1b1b1b}' +
  '.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}';

/** Writes a report chart (SVG text) as a standalone file in .bench-out; returns its path. */
export async function writeChart(name: string, svg: string): Promise<string> {
  const path = await benchOutFile(name);
  await writeFile(path, svg.replace(/^(<svg[^>]*>)/, `$1<style>${STANDALONE_STYLE}</style>`) + '\n');
  return path;
}
