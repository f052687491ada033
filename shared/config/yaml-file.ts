import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError } from '../wire/index.js';

/**
 * Reads a configuration file as plain data. `label` names the kind of file in every message
 * ("agent config", "coordinator config"), so an administrator with several files knows which one.
 */
export async function readYamlFile(path: string, label: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${label} ${path} does not exist; check the --config path`);
    throw new ConfigError(`${label} ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseYamlText(text, path, label);
}

/** Parses YAML text; a syntax error is reported by line and column. An empty file is `undefined`. */
export function parseYamlText(text: string, path: string, label: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const at = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${label} ${path} is not valid YAML${at}: ${what}`, { cause: err });
  }
  const raw: unknown = doc.toJS();
  return raw === null ? undefined : raw;
}
