import type { Command } from 'commander';
import { basename } from 'node:path';
import { loadMedmnist, loadSiteData } from '../../shared/data/index.js';
import { DEFAULT_INPUT_SIZE } from '../../shared/data/index.js';
import { DEFAULT_WINDOW, inspectArrays, inspectSource, isImageSource, type InspectReport } from '../../shared/data/sources/index.js';
import { checkSource, DATA_HELP, dataSpecFrom, decodedSourceOptions } from './data-options.js';
import { nonNegativeInt } from './parse.js';

interface InspectFlags {
  data: string;
  labels?: string;
  window?: string;
  size?: number;
  seed: number;
  json?: boolean;
  dump?: string;
  preview?: string;
}

export function registerData(program: Command): void {
  const data = program.command('data').description("look at a site's data on this machine (nothing is sent anywhere)");
  decodedSourceOptions(
    data
      .command('inspect')
      .description('what the site has: images read and skipped (and why), sizes, counts per label, split and subgroup')
      .requiredOption('--data <source>', DATA_HELP)
      .option('--json', 'print the report as JSON: {readable, skipped: [{path, reason}], images: [{path, rows, columns, frames}], ...}')
      .option('--dump <dir>', 'write each decoded image as float32 .npy (modality values: after rescale slope/intercept, before windowing and resizing) and DIR/index.json (source path -> .npy)')
      .option('--preview <dir>', "write PNGs of the model's input (after windowing and resizing) and DIR/index.json (source path -> PNGs)")
      .option('--seed <s>', 'seed of synthetic data', nonNegativeInt, 0),
  ).action(async (flags: InspectFlags) => {
    const report = await inspect(flags);
    process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  });
}

async function inspect(flags: InspectFlags): Promise<InspectReport> {
  const source = checkSource(flags.data);
  const spec = dataSpecFrom({ data: flags.data, shard: '1/1', partition: 'iid', seed: flags.seed, labels: flags.labels, window: flags.window, size: flags.size });
  if (isImageSource(source)) {
    const side = spec.size ?? DEFAULT_INPUT_SIZE;
    return inspectSource(source, {
      labels: spec.labels,
      input: { height: side, width: side, channels: 1 },
      window: spec.window ?? DEFAULT_WINDOW,
      dump: flags.dump,
      preview: flags.preview,
    });
  }
  if (flags.dump || flags.preview || flags.window || flags.size) {
    throw new Error(`--dump, --preview, --window and --size apply to decoded images (dicom:, nifti:, folder:, dicomweb:); ${flags.data} is arrays already`);
  }
  if (source.kind === 'npz') {
    const { train, val, test, name } = loadMedmnist(source.path);
    return inspectArrays(`${name} (${basename(source.path)})`, { train, val, test });
  }
  const { train, val } = loadSiteData({ ...spec, shard: { index: 0, count: 1 } });
  return inspectArrays(`synthetic (seed ${flags.seed})`, { train, val });
}

function formatReport(r: InspectReport): string {
  const lines = [`${r.source}: ${r.readable} image(s) read, ${r.skipped.length} skipped, ${r.examples} labelled example(s)`];
  lines.push(`  image sizes (rows x columns): ${counts(r.sizes)}`);
  const frames: Record<string, number> = {};
  for (const i of r.images) frames[i.frames] = (frames[i.frames] ?? 0) + 1;
  if (Object.keys(frames).some((f) => f !== '1')) lines.push(`  frames per image: ${counts(frames)}`);
  const l = r.labels;
  if (l.file) lines.push(`  labels from ${l.file} (by ${l.idColumn}): ${l.unlabelled.length} image(s) without a row, ${l.unmatchedRows} row(s) naming no image read`);
  else if (r.examples === 0 && r.readable > 0) lines.push('  no labels: give --labels CSV (or put labels.csv in the folder) to train on these images');
  if (Object.keys(l.counts).length > 0) lines.push(`  per label: ${counts(l.counts)}`);
  if (Object.keys(l.splits).length > 0) lines.push(`  per split: ${counts(l.splits)}`);
  for (const [column, values] of Object.entries(r.subgroups)) lines.push(`  per ${column}: ${counts(values)}`);
  lines.push(`  model input: ${r.input.height}x${r.input.width}x${r.input.channels}, scaling ${r.input.window}`);
  if (r.dump) lines.push(`  dumped ${r.dump.files} image(s) to ${r.dump.dir} (index.json maps source paths to .npy files)`);
  if (r.preview) lines.push(`  previews: ${r.preview.files} PNG(s) in ${r.preview.dir}`);
  if (l.file && l.unlabelled.length > 0) lines.push('unlabelled:', ...l.unlabelled.map((p) => `  ${p}`));
  if (r.skipped.length > 0) lines.push('skipped:', ...r.skipped.map((s) => `  ${s.path}: ${s.reason}`));
  return lines.join('\n') + '\n';
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? '(none)' : entries.map(([k, n]) => `${k}: ${n}`).join(', ');
}
