import type { BenchResult } from '../result.js';

/** What the runner hands every benchmark. */
export interface BenchOptions {
  /** Smaller sizes for a smoke run. */
  quick: boolean;
  /** `--soak-rounds N`: rounds of the soak benchmark instead of its default (200; 20 with --quick). */
  soakRounds?: number;
  /** Progress line on stderr. */
  log: (line: string) => void;
}

export type Bench = (opts: BenchOptions) => Promise<BenchResult>;
