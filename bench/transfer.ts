import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
export async function benchTransfer(_o: BenchOptions): Promise<BenchResult> { throw new Error('todo'); }
