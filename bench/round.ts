import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
export async function benchRound(_o: BenchOptions): Promise<BenchResult> { throw new Error('todo'); }
