import type { BenchResult } from '../result.js';

/** What the runner hands every benchmark. */
export interface BenchOptions {
  /** Smaller sizes for a smoke run. */
  quick: boolean;
  /** Progress line on stderr. */
  log: (line: string) => void;
}

export type Bench = (opts: BenchOptions) => Promise<BenchResult>;
