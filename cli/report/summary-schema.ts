/**
 * The zod schema of `RUN_DIR/summary.json` (the RunSummary of summary.ts) as `medley demo`,
 * `medley simulate` and `medley study` write it. JSON.stringify writes NaN as null, so a metric
 * that could not be computed comes back as null and is read as NaN again, which the renderer
 * draws as a gap and prints as n/a. Extra fields (a simulation's) are allowed and dropped.
 */
import { z } from 'zod';
import type { Assert, SameShape } from './type-equality.js';
import type { RunSummary } from './summary.js';

const num = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);

const metrics = z.object({ auroc: num, auprc: num, accuracy: num, loss: num });

export const runSummarySchema = z.object({
  federation: z.string(),
  backend: z.string(),
  modelVersion: z.number(),
  model: z.object({ arch: z.string(), parameters: num }),
  data: z.string(),
  startedAt: z.string(),
  seconds: num,
  rounds: z.array(
    z.object({
      round: z.number(),
      modelVersion: z.number(),
      sites: z.number(),
      examples: num,
      seconds: num,
      bytesDown: num,
      bytesUp: num,
      metrics,
      siteMetrics: z.array(z.object({ site: z.string(), examples: num, epochs: num, metrics })),
    }),
  ),
  sites: z.array(z.object({ name: z.string(), examples: num })),
});

// Fails to compile when summary.ts and this schema disagree on any field.
export type SchemaMatchesType = Assert<SameShape<z.output<typeof runSummarySchema>, RunSummary>>;
