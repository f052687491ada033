/**
 * The zod schema of `RUN_DIR/evaluation.json`, kept equal to the EvaluationReport type of
 * evaluation.ts (the assertions at the end fail to compile when the two drift apart). The report
 * reads a file another program wrote, perhaps by hand or an older version: it checks every field
 * before drawing, so a bad file gives a message naming the field rather than a broken figure.
 * Fields beyond the type are allowed and dropped, so a newer study's extras do not stop an older report.
 */
import { z } from 'zod';
import type { Assert, SameShape } from './type-equality.js';
import type { EvaluationReport } from './evaluation.js';

/** Metrics are null where undefined (AUROC of a single-class split): JSON has no NaN. */
const metricTable = z.record(z.string(), z.number().nullable());
// Rates and precisions come from sums of histogram counts: allow the last bit of float rounding.
const unit = z.number().min(-1e-9, 'must be between 0 and 1').max(1 + 1e-9, 'must be between 0 and 1');
const curvePoints = z.array(z.tuple([unit, unit]));
const count = z.number().int('must be a whole number').min(0, 'must be at least 0');

const reliabilityBin = z.object({
  lo: unit,
  hi: unit,
  count,
  confidence: unit.nullable(),
  accuracy: unit.nullable(),
});

const evaluatedModel = z.object({
  source: z.string(),
  examples: count,
  metrics: metricTable,
  roc: curvePoints.optional(),
  pr: curvePoints.optional(),
  reliability: z.array(reliabilityBin).optional(),
  aurocResolution: z.number().nullable().optional(),
});

const calibrationState = z.object({
  ece: z.number().nullable(),
  brier: z.number().nullable(),
  reliability: z.array(reliabilityBin).optional(),
  nll: z.number().nullable().optional(),
});

export const evaluationReportSchema = z.object({
  kind: z.literal('evaluation'),
  task: z.literal('binary'),
  createdAt: z.string(),
  data: z.string(),
  sites: z.array(z.string()),
  pooled: evaluatedModel,
  perSite: z.array(evaluatedModel.extend({ site: z.string() })),
  subgroups: z.array(
    z.object({
      column: z.string(),
      groups: z.array(evaluatedModel.extend({ value: z.string() })),
      largestGap: z.array(z.object({ metric: z.string(), gap: z.number(), between: z.tuple([z.string(), z.string()]) })),
    }),
  ),
  calibration: z
    .object({
      temperature: z.number().positive('must be above 0'),
      fittedOn: z.string(),
      before: calibrationState,
      after: calibrationState,
      atGridEdge: z.boolean().optional(),
    })
    .nullable(),
  ood: z.array(
    z.object({
      heldOutSite: z.string(),
      trainedOn: z.array(z.string()),
      metrics: metricTable,
      inDistribution: metricTable.optional(),
      examples: count.optional(),
    }),
  ),
  dataEfficiency: z.array(
    z.object({
      fraction: z.number().gt(0, 'must be above 0').max(1, 'must be at most 1'),
      examples: count,
      metrics: metricTable,
    }),
  ),
  commands: z.record(z.string(), z.string()),
  runs: z.record(z.string(), z.string()).optional(),
});

// Fails to compile when evaluation.ts gains, loses or changes a field the schema does not, so a
// new field is never dropped silently on reading.
export type SchemaMatchesType = Assert<SameShape<z.infer<typeof evaluationReportSchema>, EvaluationReport>>;
