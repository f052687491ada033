import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { parsePartition, parseShard, type DataSpec } from '../../shared/data/index.js';

export interface DataFlags {
  data: string;
  shard: string;
  partition: string;
  seed: number;
  count?: number;
  size?: number;
}

/** Turns the data flags shared by `agent run`, `coordinator serve` and `demo` into a DataSpec. */
export function dataSpecFrom(flags: DataFlags): DataSpec {
  if (flags.data !== 'synthetic' && !existsSync(flags.data)) {
    throw new InvalidArgumentError(`--data ${flags.data}: no such file; give "synthetic" or the path of a MedMNIST .npz file`);
  }
  return {
    source: flags.data,
    shard: asFlag('--shard', () => parseShard(flags.shard)),
    partition: asFlag('--partition', () => parsePartition(flags.partition)),
    seed: flags.seed,
    syntheticCount: flags.count,
    size: flags.size,
  };
}

/** Commander parser for `--partition`: refuses a bad scheme before anything starts. */
export function partitionFlag(value: string): string {
  return asFlag('--partition', () => parsePartition(value));
}

/** Reports a parser's error as commander does for a bad flag value. */
function asFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
  }
}
