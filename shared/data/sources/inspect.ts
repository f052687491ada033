/**
 * What `medley data inspect` reports about a site's source: what could be read and what not
 * (and why), image sizes, counts per label, split and subgroup. Optionally it writes what was
 * decoded (`dump`: float32 .npy of modality values, before windowing and resizing) and what the
 * model will see (`preview`: PNGs after windowing and resizing), each folder with an index.json
 * mapping source paths to its files. It reads only; nothing is sent anywhere.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PNG } from 'pngjs';
import { encodeNpy } from '../npy.js';
import type { ImageSet } from '../types.js';
import { readLabelledExamples } from './labelled-examples.js';
import type { InputShape, WindowChoice } from './model-input.js';
import type { ImageSourceSpec } from './open-source.js';
import type { DecodedImage, SkippedInput } from './types.js';

export interface InspectOptions {
  readonly labels?: string;
  readonly input: InputShape;
  readonly window: WindowChoice;
  readonly dump?: string;
  readonly preview?: string;
  readonly cacheDir?: string;
  readonly signal?: AbortSignal;
}

export interface InspectedImage {
  readonly path: string;
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  readonly samples: number;
  readonly photometric: string;
}

export interface InspectReport {
  readonly source: string;
  readonly readable: number;
  readonly skipped: readonly SkippedInput[];
  readonly images: readonly InspectedImage[];
  /** "ROWSxCOLUMNS" -> images of that size. */
  readonly sizes: Record<string, number>;
  /** Labelled examples (one per image, or one per slice for NIfTI). */
  readonly examples: number;
  readonly labels: {
    readonly file: string | null;
    readonly idColumn: string | null;
    /** Class -> examples. */
    readonly counts: Record<string, number>;
    /** Split (train, val, test, or "unassigned") -> examples. */
    readonly splits: Record<string, number>;
    readonly unlabelled: readonly string[];
    readonly unmatchedRows: number;
  };
  /** Subgroup column -> value -> examples. */
  readonly subgroups: Record<string, Record<string, number>>;
  readonly input: InputShape & { readonly window: string };
  readonly dump?: { readonly dir: string; readonly files: number };
  readonly preview?: { readonly dir: string; readonly files: number };
}

export async function inspectSource(spec: ImageSourceSpec, options: InspectOptions): Promise<InspectReport> {
  const images: InspectedImage[] = [];
  const sizes: Record<string, number> = {};
  const dumpIndex: Record<string, string> = {};
  const previewIndex: Record<string, string[]> = {};
  for (const dir of [options.dump, options.preview]) if (dir) await mkdir(dir, { recursive: true });

  const examples = await readLabelledExamples(spec, {
    labels: options.labels,
    input: options.input,
    window: options.window,
    requireLabels: false,
    cacheDir: options.cacheDir,
    signal: options.signal,
    onImage: async (image, inputs) => {
      const n = images.length + 1;
      images.push({ path: image.path, rows: image.rows, columns: image.columns, frames: image.frames, samples: image.samples, photometric: image.photometric });
      const size = `${image.rows}x${image.columns}`;
      sizes[size] = (sizes[size] ?? 0) + 1;
      const stem = `${String(n).padStart(5, '0')}-${safeName(image.path)}`;
      if (options.dump) {
        await writeFile(join(options.dump, `${stem}.npy`), npyOf(image));
        dumpIndex[image.path] = `${stem}.npy`;
      }
      if (options.preview) {
        previewIndex[image.path] = [];
        for (const { frame, input } of inputs) {
          const name = inputs.length > 1 ? `${stem}-frame${frame}.png` : `${stem}.png`;
          await writeFile(join(options.preview, name), pngOf(input, options.input));
          previewIndex[image.path]!.push(name);
        }
      }
    },
  });
  if (options.dump) await writeFile(join(options.dump, 'index.json'), JSON.stringify(dumpIndex, null, 2) + '\n');
  if (options.preview) await writeFile(join(options.preview, 'index.json'), JSON.stringify(previewIndex, null, 2) + '\n');

  const { set, splits } = examples;
  const counts: Record<string, number> = {};
  for (const l of set.labels) counts[l] = (counts[l] ?? 0) + 1;
  const splitCounts: Record<string, number> = {};
  for (const s of splits) splitCounts[s ?? 'unassigned'] = (splitCounts[s ?? 'unassigned'] ?? 0) + 1;
  const subgroups: Record<string, Record<string, number>> = {};
  for (const [column, values] of Object.entries(set.subgroups ?? {})) {
    subgroups[column] = {};
    for (const v of values) subgroups[column]![v] = (subgroups[column]![v] ?? 0) + 1;
  }
  return {
    source: examples.description,
    readable: examples.readable,
    skipped: examples.skipped,
    images,
    sizes,
    examples: set.count,
    labels: {
      file: examples.labels?.file ?? null,
      idColumn: examples.labels?.idColumn ?? null,
      counts,
      splits: splitCounts,
      unlabelled: examples.unlabelled,
      unmatchedRows: examples.unmatchedRows,
    },
    subgroups,
    input: { ...options.input, window: describeWindow(options.window) },
    ...(options.dump ? { dump: { dir: options.dump, files: Object.keys(dumpIndex).length } } : {}),
    ...(options.preview ? { preview: { dir: options.preview, files: Object.values(previewIndex).reduce((a, f) => a + f.length, 0) } } : {}),
  };
}

export function describeWindow(window: WindowChoice): string {
  if (window.kind === 'fixed') return `${window.window.center},${window.window.width}`;
  return window.kind;
}

/** The decoded values as NumPy would hold them: float32, shaped like pydicom's pixel_array. */
function npyOf(image: DecodedImage): Uint8Array {
  const bytes = new Uint8Array(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
  return encodeNpy('<f4', [...image.arrayShape], bytes);
}

/** 8-bit PNG of a model input in [0, 1] (grey, or RGB for three channels). */
function pngOf(input: Float32Array, shape: InputShape): Buffer {
  const png = new PNG({ width: shape.width, height: shape.height });
  for (let p = 0; p < shape.height * shape.width; p++) {
    for (let c = 0; c < 3; c++) png.data[p * 4 + c] = Math.round(255 * input[p * shape.channels + (shape.channels === 3 ? c : 0)]!);
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: shape.channels === 3 ? 2 : 0 });
}

function safeName(path: string): string {
  return basename(path).replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * The same report for sources that are arrays already (synthetic, .npz): each split's examples
 * are listed as `SPLIT[i]`; there is nothing to skip, dump or window.
 */
export function inspectArrays(description: string, splits: Readonly<Record<string, ImageSet>>): InspectReport {
  const images: InspectedImage[] = [];
  const sizes: Record<string, number> = {};
  const counts: Record<string, number> = {};
  const splitCounts: Record<string, number> = {};
  let shape: InputShape = { height: 0, width: 0, channels: 1 };
  for (const [split, set] of Object.entries(splits)) {
    shape = { height: set.height, width: set.width, channels: set.channels === 3 ? 3 : 1 };
    splitCounts[split] = set.count;
    sizes[`${set.height}x${set.width}`] = (sizes[`${set.height}x${set.width}`] ?? 0) + set.count;
    for (let i = 0; i < set.count; i++) {
      images.push({ path: `${split}[${i}]`, rows: set.height, columns: set.width, frames: 1, samples: set.channels, photometric: set.channels === 3 ? 'RGB' : 'MONOCHROME2' });
      counts[set.labels[i]!] = (counts[set.labels[i]!] ?? 0) + 1;
    }
  }
  return {
    source: description,
    readable: images.length,
    skipped: [],
    images,
    sizes,
    examples: images.length,
    labels: { file: null, idColumn: null, counts, splits: splitCounts, unlabelled: [], unmatchedRows: 0 },
    subgroups: {},
    input: { ...shape, window: 'none (values as stored)' },
  };
}
