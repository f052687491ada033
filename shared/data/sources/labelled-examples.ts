/**
 * Reads an image source to the end and keeps, for each labelled example, only the model's input
 * (full-resolution pixels live one image at a time). Skipped inputs and images without a label
 * row get one log line each and a summary line, and are counted; none of them stops the read.
 */
import type { ImageSet } from '../types.js';
import { normalisePath, readLabelTable, type LabelRow, type LabelTable, type Split } from './labels-csv.js';
import { middleFrame, modelInput, type InputShape, type WindowChoice } from './model-input.js';
import { labelsFileFor, missingLabelsReason, openImageSource, type ImageSourceSpec } from './open-source.js';
import type { DecodedImage, SkippedInput } from './types.js';

export interface ReadExamplesOptions {
  /** The labels CSV named by the user (`--labels`); else the source's default, if any. */
  readonly labels?: string;
  readonly input: InputShape;
  readonly window: WindowChoice;
  /** Fail when there are no labels (training); `false` reads images anyway (inspection). */
  readonly requireLabels: boolean;
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** Sees every decoded image with its model inputs (one per frame used) and label rows. */
  readonly onImage?: (image: DecodedImage, inputs: readonly ModelInputFrame[]) => Promise<void> | void;
}

export interface ModelInputFrame {
  readonly frame: number;
  readonly input: Float32Array;
  /** Class of this example, or undefined when it has none. */
  readonly label: number | undefined;
}

export interface LabelledExamples {
  readonly description: string;
  /** The labelled examples, in source order, with subgroup columns when the CSV has any. */
  readonly set: ImageSet;
  /** Per example: the image it came from, the group it must stay with, and the split the CSV gave it. */
  readonly paths: readonly string[];
  readonly groups: readonly string[];
  readonly splits: readonly (Split | undefined)[];
  /** Images decoded (labelled or not). */
  readonly readable: number;
  readonly skipped: readonly SkippedInput[];
  /** Decoded images that no labels row names (left out of `set`). */
  readonly unlabelled: readonly string[];
  /** Label rows that named no decoded image. */
  readonly unmatchedRows: number;
  readonly labels?: LabelTable;
}

export async function readLabelledExamples(spec: ImageSourceSpec, options: ReadExamplesOptions): Promise<LabelledExamples> {
  const log = options.log ?? (() => undefined);
  const labelsFile = labelsFileFor(spec, options.labels);
  const table = labelsFile !== undefined ? readLabelTable(labelsFile) : undefined;
  const needsCsv = missingLabelsReason(spec);
  if (!table && needsCsv && options.requireLabels) throw new Error(needsCsv);
  const source = openImageSource(spec, { labels: table && { file: labelsFile!, table }, cacheDir: options.cacheDir, log });

  const { height, width, channels } = options.input;
  const stride = height * width * channels;
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  const groups: string[] = [];
  const splits: (Split | undefined)[] = [];
  const rowsUsed: LabelRow[] = [];
  const skipped: SkippedInput[] = [];
  const unlabelled: string[] = [];
  const matched = new Set<string>();
  let readable = 0;

  for await (const item of source.items(options.signal)) {
    if ('skipped' in item) {
      skipped.push(item.skipped);
      log(`skipped ${item.skipped.path}: ${item.skipped.reason}`);
      continue;
    }
    const image = item.image;
    readable++;
    const row = table ? lookUp(table, image, matched) : undefined;
    if (table ? !row : !image.mask) {
      unlabelled.push(image.path);
      const why = table ? `no row for its ${table.idColumn} ${idOf(table, image) ?? '(absent)'} in ${table.file}` : 'no labels CSV and no mask to label it';
      log(`unlabelled ${image.path}: ${why}; left out`);
    }
    const frames = source.frames === 'each' ? range(image.frames) : [middleFrame(image)];
    const inputs = frames.map((frame) => ({
      frame,
      input: modelInput(image, frame, options.input, options.window),
      label: row ? row.label : table ? undefined : maskLabel(image, frame),
    }));
    for (const x of inputs) {
      if (x.label === undefined) continue;
      chunks.push(x.input);
      labels.push(x.label);
      paths.push(image.path);
      groups.push(image.group);
      splits.push(row?.split);
      if (row) rowsUsed.push(row);
    }
    await options.onImage?.(image, inputs);
  }

  const unmatchedRows = table ? table.rows.size - matched.size : 0;
  log(summary(source.description, readable, skipped, unlabelled.length, unmatchedRows, labels.length, table));
  const images = new Float32Array(labels.length * stride);
  chunks.forEach((c, i) => images.set(c, i * stride));
  const subgroups = table && table.subgroupColumns.length > 0 ? Object.fromEntries(table.subgroupColumns.map((c) => [c, rowsUsed.map((r) => r.subgroups[c]!)])) : undefined;
  const set: ImageSet = {
    images,
    labels: Int32Array.from(labels),
    count: labels.length,
    height,
    width,
    channels,
    classes: labels.reduce((most, l) => Math.max(most, l + 1), 2),
    ...(subgroups ? { subgroups } : {}),
  };
  return { description: source.description, set, paths, groups, splits, readable, skipped, unlabelled, unmatchedRows, labels: table };
}

function idOf(table: LabelTable, image: DecodedImage): string | undefined {
  const id = image.ids[table.idColumn];
  return id === undefined ? undefined : table.idColumn === 'path' ? normalisePath(id) : id;
}

function lookUp(table: LabelTable, image: DecodedImage, matched: Set<string>): LabelRow | undefined {
  const id = idOf(table, image);
  const row = id === undefined ? undefined : table.rows.get(id);
  if (row) matched.add(id!);
  return row;
}

/** A slice is positive when its mask marks any voxel; without a mask the image has no label. */
function maskLabel(image: DecodedImage, frame: number): number | undefined {
  if (!image.mask) return undefined;
  const n = image.rows * image.columns;
  for (let i = frame * n; i < (frame + 1) * n; i++) if (image.mask[i]! > 0) return 1;
  return 0;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** One line: what was read, and what was left out grouped by the first words of its reason. */
function summary(description: string, readable: number, skipped: readonly SkippedInput[], unlabelled: number, unmatched: number, examples: number, table: LabelTable | undefined): string {
  const kinds = new Map<string, number>();
  for (const s of skipped) {
    const kind = s.reason.split(/[;:(]/)[0]!.trim();
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const parts = [`${description}: ${readable} image(s) read, ${skipped.length} skipped`];
  if (kinds.size > 0) parts[0] += ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})`;
  if (table) parts.push(`${unlabelled} without a row in ${table.file}`, `${unmatched} row(s) naming no image read`);
  parts.push(`${examples} labelled example(s)`);
  return parts.join('; ');
}
