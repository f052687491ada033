import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeNpy, parseNpy } from '../../shared/data/npy.js';

const run = promisify(execFile);

/** Debian's interpreter, where python3-numpy is installed (the pyenv python3 on PATH lacks it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * Runs an independent NumPy reference: each input is saved as `NAME.npy` (float64) in a fresh
 * folder that the script finds in `IN`, a dict of arrays loaded before it runs; the script puts
 * its results in the dict `OUT`, which comes back as float64 arrays (flattened, C order).
 */
export async function runNumpy(
  script: string,
  inputs: Record<string, { shape: number[]; data: ArrayLike<number> }>,
): Promise<Record<string, { shape: number[]; data: Float64Array }>> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-numpy-'));
  try {
    for (const [name, array] of Object.entries(inputs)) {
      const values = Float64Array.from(array.data);
      await writeFile(join(dir, `in-${name}.npy`), encodeNpy('<f8', array.shape, new Uint8Array(values.buffer)));
    }
    const program = [
      'import glob, os, sys',
      'import numpy as np',
      `D = ${JSON.stringify(dir)}`,
      "IN = {os.path.basename(p)[3:-4]: np.load(p) for p in glob.glob(os.path.join(D, 'in-*.npy'))}",
      'OUT = {}',
      script,
      "for k, v in OUT.items(): np.save(os.path.join(D, 'out-' + k + '.npy'), np.asarray(v, dtype=np.float64))",
    ].join('\n');
    await writeFile(join(dir, 'reference.py'), program);
    await run(SYSTEM_PYTHON, [join(dir, 'reference.py')], { maxBuffer: 16 << 20 });
    const out: Record<string, { shape: number[]; data: Float64Array }> = {};
    for (const file of await readdir(dir)) {
      if (!file.startsWith('out-')) continue;
      const parsed = parseNpy(new Uint8Array(await readFile(join(dir, file))), file);
      out[file.slice(4, -4)] = { shape: parsed.shape, data: parsed.data as Float64Array };
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
