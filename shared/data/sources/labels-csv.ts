/**
 * The labels CSV a site keeps beside its images (parsed with csv-parse, so quoting, BOMs and CRLF
 * line ends are handled the way spreadsheets write them). The first row names the columns:
 *
 * - one identifier column: `SOPInstanceUID` (one image), `path` (a file, relative to the source's
 *   folder) or `StudyInstanceUID` (every image of a study); when several are present the most
 *   specific wins, in that order;
 * - `label`: the class index, a whole number from 0;
 * - optional `split`: `train`, `val` or `test` (blank = let the site split it);
 * - every other column is a subgroup (sex, age band, scanner, ...) reported for fairness.
 *
 * A CSV that breaks these rules is an error naming the file, the line and the fix: it is the
 * site's configuration, and training on a silently misread one would be worse than not starting.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

export const ID_COLUMNS = ['SOPInstanceUID', 'path', 'StudyInstanceUID'] as const;
export type IdColumn = (typeof ID_COLUMNS)[number];
export type Split = 'train' | 'val' | 'test';

export interface LabelRow {
  readonly label: number;
  readonly split?: Split;
  /** Subgroup column -> value (blank stays ''). */
  readonly subgroups: Readonly<Record<string, string>>;
  /** Line in the file, for messages. */
  readonly line: number;
}

export interface LabelTable {
  readonly file: string;
  readonly idColumn: IdColumn;
  readonly subgroupColumns: readonly string[];
  /** Identifier -> row; `path` identifiers are normalised (forward slashes, no leading ./). */
  readonly rows: ReadonlyMap<string, LabelRow>;
}

export class LabelsCsvError extends Error {
  override readonly name = 'LabelsCsvError';
  constructor(readonly file: string, message: string) {
    super(`labels ${file}: ${message}`);
  }
}

export function readLabelTable(file: string): LabelTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LabelsCsvError(file, `cannot be read (${(err as Error).message}); check the --labels path`);
  }
  return parseLabelTable(text, file);
}

export function parseLabelTable(text: string, file: string): LabelTable {
  const fail = (message: string): never => {
    throw new LabelsCsvError(file, message);
  };
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
  } catch (err) {
    return fail(`is not valid CSV (${(err as Error).message})`);
  }
  if (records.length === 0) return fail('is empty; the first row must name the columns, for example: SOPInstanceUID,label,sex');
  const header = records[0]!.record;
  const find = (name: string) => header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  const idColumn = ID_COLUMNS.find((c) => find(c) >= 0);
  if (idColumn === undefined) {
    return fail(`its header (${header.join(', ')}) has no identifier column; name one SOPInstanceUID, path or StudyInstanceUID`);
  }
  const idAt = find(idColumn);
  const labelAt = find('label');
  if (labelAt < 0) return fail(`its header (${header.join(', ')}) has no 'label' column holding each image's class (0, 1, ...)`);
  const splitAt = find('split');
  const taken = new Set([labelAt, splitAt, ...ID_COLUMNS.map(find)]);
  const subgroupAt = header.map((_, i) => i).filter((i) => !taken.has(i));
  const subgroupColumns = subgroupAt.map((i) => header[i]!);
  if (new Set(header.map((h) => h.toLowerCase())).size !== header.length) return fail(`its header (${header.join(', ')}) names a column twice`);

  const rows = new Map<string, LabelRow>();
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    const at = (msg: string) => fail(`line ${line}: ${msg}`);
    if (record.length !== header.length) at(`has ${record.length} fields but the header has ${header.length}`);
    const rawId = record[idAt]!;
    if (rawId === '') at(`the ${idColumn} is blank`);
    const id = idColumn === 'path' ? normalisePath(rawId) : rawId;
    const labelText = record[labelAt]!;
    if (!/^\d+$/.test(labelText) || Number(labelText) > 1000) at(`label '${labelText}' is not a class number (a whole number from 0 to 1000)`);
    let split: Split | undefined;
    if (splitAt >= 0 && record[splitAt] !== '') {
      const s = record[splitAt]!.toLowerCase();
      if (s !== 'train' && s !== 'val' && s !== 'test') at(`split '${record[splitAt]}' is not train, val, test or blank`);
      split = s as Split;
    }
    const previous = rows.get(id);
    if (previous) at(`${idColumn} ${rawId} already appears on line ${previous.line}; give each one label`);
    const subgroups: Record<string, string> = {};
    subgroupAt.forEach((i) => (subgroups[header[i]!] = record[i]!));
    rows.set(id, { label: Number(labelText), split, subgroups, line });
  }
  if (rows.size === 0) fail('has a header but no rows');
  return { file, idColumn, subgroupColumns, rows };
}

/** Paths compare with forward slashes and without a leading "./", however the CSV wrote them. */
export function normalisePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}
