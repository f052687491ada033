/**
 * Reader for NumPy .npz archives (a zip of .npy files), both np.savez (stored) and
 * np.savez_compressed (deflate), which is how MedMNIST ships its datasets.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { unzipSync } from 'fflate';
import { parseNpy, type NpyArray } from './npy.js';

/** Reads every array in an .npz file, keyed by name without the ".npy" suffix. */
export function readNpz(path: string, only?: readonly string[]): Map<string, NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}. Check the path and that this process may read it`);
  }
  return parseNpz(bytes, path, only);
}

/**
 * Parses .npz bytes. `name` labels errors. `only` limits decompression to the named arrays,
 * which matters for large compressed archives when just one split is needed.
 */
export function parseNpz(bytes: Uint8Array, name: string, only?: readonly string[]): Map<string, NpyArray> {
  const label = basename(name);
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, only ? { filter: (f) => only.includes(arrayName(f.name)) } : undefined);
  } catch (err) {
    throw new Error(
      `${name}: not a readable .npz archive (${(err as Error).message}); the file is corrupt or truncated. ` +
        'Re-download it or re-create it with numpy.savez / numpy.savez_compressed',
    );
  }
  const arrays = new Map<string, NpyArray>();
  for (const [entry, data] of Object.entries(files)) {
    if (entry.endsWith('/')) continue;
    const key = arrayName(entry);
    arrays.set(key, parseNpy(data, `${label}: array '${key}'`));
  }
  if (arrays.size === 0 && !only) {
    throw new Error(`${name}: the archive contains no arrays. Re-create it with numpy.savez`);
  }
  return arrays;
}

/** The named array, or an error listing what the archive does contain. */
export function getArray(arrays: Map<string, NpyArray>, key: string, file: string): NpyArray {
  const arr = arrays.get(key);
  if (arr === undefined) {
    const have = [...arrays.keys()].sort().join(', ') || 'nothing';
    throw new Error(`${file}: missing array '${key}' (the file has: ${have}). Check that this is the right dataset file`);
  }
  return arr;
}

function arrayName(entry: string): string {
  return entry.endsWith('.npy') ? entry.slice(0, -4) : entry;
}
