import { InvalidArgumentError, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { parsePartition, parseShard, type DataSpec } from '../../shared/data/index.js';
import { formatSourceSpec, parseSourceSpec, parseWindow, SOURCE_FORMS, TASK_SOURCE_FORMS, type SourceKind, type SourceSpec } from '../../shared/data/sources/index.js';

export interface DataFlags {
  data: string;
  shard: string;
  partition: string;
  seed: number;
  count?: number;
  size?: number;
  /** Decoded sources: the labels CSV. */
  labels?: string;
  /** Decoded sources: min-max, file or CENTER,WIDTH. */
  window?: string;
}

/** What a command accepts after --data, and the name it gives in messages. */
export interface DataFlagRules {
  flag?: string;
  kinds?: readonly SourceKind[];
  /** Why the other kinds are refused, said to the user. */
  refusal?: string;
}

/** Kinds a command that splits one source across many sites in one run can take. */
export const SPLITTABLE_KINDS: readonly SourceKind[] = ['synthetic', 'npz'];

export const DATA_HELP = `where the images are: ${SOURCE_FORMS} (labels in a CSV for folders and PACS: --labels); generated data for the other task types: ${TASK_SOURCE_FORMS}`;

/** Turns the data flags shared by `agent run`, `coordinator serve`, `demo`, `simulate` and `data inspect` into a DataSpec. */
export function dataSpecFrom(flags: DataFlags, rules: DataFlagRules = {}): DataSpec {
  const flag = rules.flag ?? '--data';
  const source = checkSource(flags.data, rules);
  return {
    source: flags.data,
    shard: asFlag('--shard', () => parseShard(flags.shard)),
    partition: asFlag('--partition', () => parsePartition(flags.partition)),
    seed: flags.seed,
    syntheticCount: flags.count,
    size: flags.size,
    labels: checkLabels(flags.labels, source, flag),
    window: flags.window === undefined ? undefined : asFlag('--window', () => parseWindow(flags.window!)),
  };
}

/** Checks a --data value: a form this command takes, naming something that exists. */
export function checkSource(text: string, rules: DataFlagRules = {}): SourceSpec {
  const flag = rules.flag ?? '--data';
  const source = asFlag(flag, () => parseSourceSpec(text));
  if (rules.kinds && !rules.kinds.includes(source.kind)) {
    throw new InvalidArgumentError(`${flag} ${text}: ${rules.refusal ?? `use ${rules.kinds.join(' or ')}`}`);
  }
  if (source.kind === 'npz' && !existsSync(source.path)) {
    throw new InvalidArgumentError(`${flag} ${text}: no such file; give "synthetic" or the path of a MedMNIST .npz file`);
  }
  if ((source.kind === 'dicom' || source.kind === 'nifti' || source.kind === 'folder') && !isDirectory(source.dir)) {
    throw new InvalidArgumentError(`${flag} ${formatSourceSpec(source)}: ${source.dir} is not a folder this process can read; check the path`);
  }
  return source;
}

/** Commander parser for `--partition`: refuses a bad scheme before anything starts. */
export function partitionFlag(value: string): string {
  return asFlag('--partition', () => parsePartition(value));
}

/** Commander parser for `--window`. */
export function windowFlag(value: string): string {
  asFlag('--window', () => parseWindow(value));
  return value;
}

/** The flags that say how decoded images (DICOM, NIfTI, PNG/JPEG, PACS) become the model's input. */
export function decodedSourceOptions(command: Command): Command {
  return command
    .option('--labels <csv>', 'labels for dicom:, folder: and dicomweb: sources: a CSV with SOPInstanceUID, StudyInstanceUID or path, a label column (0, 1, ...), optional split (train/val/test) and subgroup columns (default: labels.csv in the folder)')
    .option('--window <min-max|file|C,W>', "how decoded images are scaled to [0, 1]: each image's own min-max (default), each file's DICOM window (file), or one window CENTER,WIDTH for all (e.g. 40,400)", windowFlag)
    .option('--size <n>', "side in pixels decoded images are resized to: the model's input (default 28)", sizeFlag);
}

function sizeFlag(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new InvalidArgumentError(`--size ${value}: give the model's input side in pixels, a whole number from 1 to 4096`);
  return n;
}

function checkLabels(labels: string | undefined, source: SourceSpec, flag: string): string | undefined {
  if (labels === undefined) return undefined;
  if (source.kind === 'synthetic' || source.kind === 'npz') {
    throw new InvalidArgumentError(`--labels ${labels}: ${flag} ${formatSourceSpec(source)} carries its own labels; --labels is for dicom:, folder:, nifti: and dicomweb: sources`);
  }
  if (!existsSync(labels) || isDirectory(labels)) throw new InvalidArgumentError(`--labels ${labels}: no such file; give the labels CSV`);
  return labels;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Reports a parser's error as commander does for a bad flag value. */
function asFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
  }
}
