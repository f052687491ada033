/**
 * Reads what `medley report` renders from a run folder: summary.json (required) and
 * evaluation.json (when the run had a study). Every problem becomes one ConfigError naming the
 * file, what is wrong with it and what to do, which the CLI prints as one line: the person
 * running the report sees their input's fault, not a stack trace.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../../shared/wire/index.js';
import type { EvaluationReport } from './evaluation.js';
import { evaluationReportSchema } from './evaluation-schema.js';
import { describeIssues } from './json-issues.js';
import type { RunSummary } from './summary.js';
import { runSummarySchema } from './summary-schema.js';

export interface RunFolder {
  dir: string;
  summary: RunSummary;
  /** null when the folder has no evaluation.json (a demo or simulation without a study). */
  evaluation: EvaluationReport | null;
}

export async function readRunFolder(dir: string): Promise<RunFolder> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new ConfigError(`run folder ${dir} does not exist; give the folder a run wrote (medley demo, simulate or study --out DIR)`);
  if (!info.isDirectory()) throw new ConfigError(`${dir} is not a folder; give the run folder that holds summary.json`);

  const summaryPath = join(dir, 'summary.json');
  const summaryText = await readText(summaryPath);
  if (summaryText === null) {
    throw new ConfigError(`${summaryPath} does not exist: ${dir} is not a run folder (medley demo, simulate and study write summary.json into theirs)`);
  }
  const summary = parseFile(summaryPath, summaryText, runSummarySchema, 'a run summary');

  const evaluationPath = join(dir, 'evaluation.json');
  const evaluationText = await readText(evaluationPath);
  const evaluation = evaluationText === null ? null : parseFile(evaluationPath, evaluationText, evaluationReportSchema, 'an evaluation report');
  return { dir, summary, evaluation };
}

/** The file's text, or null when it does not exist; other failures (permissions) say which file. */
async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigError(`cannot read ${path} (${code ?? (err as Error).message}); check its permissions`);
  }
}

/** Parses and validates one JSON file; the error names the file and each field that is wrong. */
export function parseFile<S extends z.ZodType>(path: string, text: string, schema: S, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const detail = text.trim() === '' ? 'it is empty' : (err as Error).message;
    throw new ConfigError(`${path} is not valid JSON (${detail}); the run that wrote it may have been interrupted: run it again`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, raw);
    throw new ConfigError(`${path} is not ${what}: ${problems.join('; ')}`);
  }
  return parsed.data;
}
