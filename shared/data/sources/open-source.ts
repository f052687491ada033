/**
 * From a parsed `--data` value to an opened image source. Adding a kind is a file that returns an
 * ImageSource and a case here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openDicomFolder } from './dicom.js';
import { dicomwebCacheDir, openDicomweb } from './dicomweb.js';
import { openImageFolder } from './folder.js';
import { DEFAULT_LABELS_FILE } from './folder-files.js';
import type { LabelTable } from './labels-csv.js';
import { openNiftiFolder } from './nifti.js';
import { formatSourceSpec, type SourceSpec } from './source-spec.js';
import type { ImageSource } from './types.js';

export interface OpenSourceOptions {
  /** The labels CSV in use: its path and rows (a PACS source selects what to fetch by them). */
  readonly labels?: { readonly file: string; readonly table: LabelTable };
  /** A folder this site keeps for the source's own cache (what a PACS source fetched). */
  readonly cacheDir?: string;
  /** One line per notable event. */
  readonly log?: (line: string) => void;
}

export type ImageSourceSpec = Extract<SourceSpec, { kind: 'folder' | 'dicom' | 'nifti' | 'dicomweb' }>;

const IMAGE_KINDS: readonly string[] = ['dicom', 'folder', 'nifti', 'dicomweb'] satisfies ImageSourceSpec['kind'][];

export function isImageSource(spec: SourceSpec): spec is ImageSourceSpec {
  return IMAGE_KINDS.includes(spec.kind);
}

export function openImageSource(spec: ImageSourceSpec, options: OpenSourceOptions = {}): ImageSource {
  const folder = { labels: options.labels?.file };
  switch (spec.kind) {
    case 'dicom':
      return openDicomFolder(spec.dir, folder);
    case 'folder':
      return openImageFolder(spec.dir, folder);
    case 'nifti':
      return openNiftiFolder(spec.dir, folder);
    case 'dicomweb':
      // The CSV selects what is fetched from the PACS, so it is needed even just to look.
      if (!options.labels) throw new Error(missingLabelsReason(spec));
      return openDicomweb(spec.url, { labels: options.labels.table, cacheDir: dicomwebCacheDir(options.cacheDir), log: options.log });
  }
}

/** The labels file a source uses: the one named, else `labels.csv` in its folder if there is one. */
export function labelsFileFor(spec: ImageSourceSpec, named: string | undefined): string | undefined {
  if (named !== undefined) return named;
  if (spec.kind === 'dicomweb') return undefined;
  const inFolder = join(spec.dir, DEFAULT_LABELS_FILE);
  return existsSync(inFolder) ? inFolder : undefined;
}

/** Why a source cannot train without a labels CSV, or undefined when it can (NIfTI masks label slices). */
export function missingLabelsReason(spec: ImageSourceSpec): string | undefined {
  if (spec.kind === 'nifti') return undefined;
  const where = spec.kind === 'dicomweb' ? '' : ` or put ${DEFAULT_LABELS_FILE} in ${spec.dir}`;
  return `${formatSourceSpec(spec)} needs labels: pass --labels CSV (columns: SOPInstanceUID, StudyInstanceUID or path; label; optional subgroups)${where}`;
}
