import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { removeTempSiblings, writeFileAtomic } from '../../shared/storage/index.js';

/**
 * What a strategy carries from one round to the next (a server optimiser's momentum and second
 * moment), as the coordinator keeps it on disk next to the model versions: STATE/strategy-state.bin.
 *
 * Why on disk: a run resumed after a crash would otherwise restart FedAdam or FedAvgM from m = 0,
 * v = tau^2 at whatever version the model reached, which is a different optimiser from the one the
 * admin started. The state is tied to the model version it produced and to the run (its start
 * time): it is only taken back when the model is still at that version and the same run resumes,
 * so a crash between writing the version and writing the state, or a state left by an older run,
 * starts the optimiser afresh, and says so.
 *
 * Layout: a 4-byte little-endian header length, the JSON header, then the arrays' float32 values
 * back to back. The header holds the SHA-256 of the values, so a torn or altered file is noticed.
 */
export interface StrategyState {
  /** The run that produced it (ActiveRun.startedAt). */
  run: string;
  strategy: string;
  parameters: Readonly<Record<string, number>>;
  /** The model version the state belongs to: the one the round that last advanced it wrote. */
  modelVersion: number;
  arrays: Float32Array[];
}

const headerSchema = z.object({
  format: z.literal('medley-strategy-state-1'),
  run: z.string(),
  strategy: z.string(),
  parameters: z.record(z.string(), z.number()),
  modelVersion: z.number().int().positive(),
  lengths: z.array(z.number().int().nonnegative()),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const FILE = 'strategy-state.bin';

export class StrategyStateFile {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, FILE);
  }

  async write(state: StrategyState): Promise<void> {
    const values = Buffer.concat(state.arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
    const header = Buffer.from(JSON.stringify({
      format: 'medley-strategy-state-1',
      run: state.run,
      strategy: state.strategy,
      parameters: state.parameters,
      modelVersion: state.modelVersion,
      lengths: state.arrays.map((a) => a.length),
      sha256: createHash('sha256').update(values).digest('hex'),
    } satisfies z.infer<typeof headerSchema>));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    await writeFileAtomic(this.path, Buffer.concat([length, header, values]));
  }

  /**
   * The saved state, or null when there is none; a file that does not hold what it claims throws
   * an Error naming it (the caller starts the optimiser afresh and logs why, nothing else depends
   * on this file). Also sweeps temporary siblings a crash in the middle of a write left behind.
   */
  async read(): Promise<StrategyState | null> {
    await removeTempSiblings(this.path);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const fail = (why: string) => new Error(`${this.path} (the strategy's saved state) is unusable: ${why}`);
    if (bytes.length < 4) throw fail(`it has ${bytes.length} bytes, not even a header length`);
    const headerLength = bytes.readUInt32LE(0);
    if (4 + headerLength > bytes.length) throw fail(`its header claims ${headerLength} bytes but the file has ${bytes.length}`);
    let header: z.infer<typeof headerSchema>;
    try {
      const parsed = headerSchema.safeParse(JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8')));
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || 'header'}: ${i.message}`).join('; '));
      header = parsed.data;
    } catch (err) {
      throw fail(`its header is not valid (${(err as Error).message})`);
    }
    const values = bytes.subarray(4 + headerLength);
    const expected = header.lengths.reduce((n, l) => n + l * 4, 0);
    if (values.length !== expected) throw fail(`it holds ${values.length} bytes of values, its header says ${expected}`);
    if (createHash('sha256').update(values).digest('hex') !== header.sha256) throw fail('its values do not match their SHA-256');
    // Copied out: the arrays must be 4-byte aligned and must not keep the whole file alive.
    const copy = new Float32Array(values.length / 4);
    new Uint8Array(copy.buffer).set(values);
    const arrays: Float32Array[] = [];
    let offset = 0;
    for (const length of header.lengths) {
      arrays.push(copy.subarray(offset, offset + length));
      offset += length;
    }
    return { run: header.run, strategy: header.strategy, parameters: header.parameters, modelVersion: header.modelVersion, arrays };
  }
}
