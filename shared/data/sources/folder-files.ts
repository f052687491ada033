/**
 * The files under a source's folder, in a fixed order (sorted relative paths), so that every run
 * and every process sees the same examples in the same order and a seeded split is reproducible.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { DecodedImage, ImageSource, SourceItem } from './types.js';

export class SourceFolderError extends Error {
  override readonly name = 'SourceFolderError';
}

/**
 * Relative paths (forward slashes) of the regular files under `dir`, hidden ones (dot files and
 * dot folders, such as .DS_Store or .git) left out, `exclude` (absolute paths) left out too.
 */
export async function listFiles(dir: string, exclude: readonly string[] = []): Promise<string[]> {
  const root = resolve(dir);
  try {
    if (!(await stat(root)).isDirectory()) throw new SourceFolderError(`${dir} is a file, not a folder; give the folder that holds the images`);
  } catch (err) {
    if (err instanceof SourceFolderError) throw err;
    throw new SourceFolderError(`folder ${dir} cannot be read (${(err as Error).message}); check the path and that this process may read it`);
  }
  const skip = new Set(exclude.map((p) => resolve(p)));
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    const rel = relative(root, full);
    if (rel.split(sep).some((part) => part.startsWith('.'))) continue;
    if (skip.has(full)) continue;
    // Links are followed to what they name; anything that is not a file in the end is left out.
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full).then((s) => s.isFile(), () => false)))) {
      files.push(rel.split(sep).join('/'));
    }
  }
  return files.sort();
}

/** Where a folder source looks for its labels when no --labels is given. */
export const DEFAULT_LABELS_FILE = 'labels.csv';

export interface FolderSourceOptions {
  /** The labels CSV in use, left out of the files to decode when it sits in the folder. */
  labels?: string;
}

type Decode = (bytes: Uint8Array, path: string) => { ok: true; image: DecodedImage } | { ok: false; reason: string };

/** A source that decodes each file of a folder tree on its own, one at a time, in listFiles order. */
export function openFileFolder(dir: string, description: string, decode: Decode, options: FolderSourceOptions): ImageSource {
  const defaultLabels = join(dir, DEFAULT_LABELS_FILE);
  return {
    description,
    frames: 'middle',
    async *items(signal?: AbortSignal): AsyncIterable<SourceItem> {
      for (const path of await listFiles(dir, [defaultLabels, ...(options.labels ? [options.labels] : [])])) {
        signal?.throwIfAborted();
        let bytes: Uint8Array;
        try {
          bytes = await readFile(join(dir, path));
        } catch (err) {
          yield { skipped: { path, reason: `cannot be read (${(err as Error).message})` } };
          continue;
        }
        const result = decode(bytes, path);
        yield result.ok ? { image: result.image } : { skipped: { path, reason: result.reason } };
      }
    },
  };
}
