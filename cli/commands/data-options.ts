import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import type { DataSpec } from '../../shared/data/index.js';

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
  const m = /^(\d+)\/(\d+)$/.exec(flags.shard);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) {
    throw new InvalidArgumentError(`--shard ${flags.shard}: use I/N with 1 <= I <= N (this site's share of the data, e.g. 2/3)`);
  }
  if (flags.partition !== 'iid' && flags.partition !== 'label-skew') {
    throw new InvalidArgumentError(`--partition ${flags.partition}: use iid or label-skew`);
  }
  return {
    source: flags.data,
    shard: { index: Number(m[1]) - 1, count: Number(m[2]) },
    partition: flags.partition,
    seed: flags.seed,
    syntheticCount: flags.count,
    size: flags.size,
  };
}
