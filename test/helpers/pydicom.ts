import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseNpy } from '../../shared/data/npy.js';
import { SYSTEM_PYTHON } from './numpy.js';

const run = promisify(execFile);

/** pydicom's test files, shipped by Debian's python3-pydicom. */
export const PYDICOM_TEST_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';

export type PydicomReference =
  | { ok: true; shape: number[]; values: Float64Array; integer: boolean; photometric: string }
  | { ok: false; error: string };

/**
 * What pydicom makes of each file: `apply_modality_lut(ds.pixel_array, ds)` as float64 (with the
 * array's shape), or the error it raised. An independent reader to compare ours with.
 */
export async function pydicomModalityValues(paths: string[]): Promise<Map<string, PydicomReference>> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-pydicom-'));
  try {
    const script = `
import json, sys, warnings
import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut
warnings.simplefilter('ignore')
out = {}
for i, path in enumerate(json.load(open(sys.argv[1]))):
    try:
        ds = pydicom.dcmread(path, force=True)
        arr = apply_modality_lut(ds.pixel_array, ds)
        np.save(f'${dir}/{i}.npy', np.ascontiguousarray(arr, dtype='<f8'))
        out[path] = {'ok': True, 'npy': f'${dir}/{i}.npy', 'integer': bool(np.issubdtype(arr.dtype, np.integer)), 'photometric': str(ds.get('PhotometricInterpretation', ''))}
    except Exception as e:
        out[path] = {'ok': False, 'error': f'{type(e).__name__}: {e}'}
json.dump(out, open(sys.argv[2], 'w'))
`;
    await writeFile(join(dir, 'ref.py'), script);
    await writeFile(join(dir, 'in.json'), JSON.stringify(paths));
    await run(SYSTEM_PYTHON, [join(dir, 'ref.py'), join(dir, 'in.json'), join(dir, 'out.json')], { maxBuffer: 16 << 20 });
    const raw = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as Record<string, { ok: boolean; npy?: string; integer?: boolean; photometric?: string; error?: string }>;
    const result = new Map<string, PydicomReference>();
    for (const [path, r] of Object.entries(raw)) {
      if (!r.ok) {
        result.set(path, { ok: false, error: r.error ?? '' });
        continue;
      }
      const npy = parseNpy(new Uint8Array(await readFile(r.npy!)), r.npy!);
      result.set(path, { ok: true, shape: npy.shape, values: npy.data as Float64Array, integer: r.integer!, photometric: r.photometric! });
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Compares our float32 values with a float64 reference: integer data must equal it exactly once
 * rounded to float32 (what a float32 array can hold); rescaled values within 1e-6 relative.
 * Returns a description of the first mismatch, or undefined.
 */
export function firstMismatch(ours: Float32Array, ref: Float64Array, integer: boolean): string | undefined {
  if (ours.length !== ref.length) return `length ${ours.length} vs pydicom ${ref.length}`;
  for (let i = 0; i < ours.length; i++) {
    const want = ref[i]!;
    const ok = integer ? ours[i] === Math.fround(want) : Math.abs(ours[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want));
    if (!ok) return `element ${i}: ${ours[i]} vs pydicom ${want}`;
  }
  return undefined;
}
