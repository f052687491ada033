/**
 * An evaluation round's result as the coordinator records it (round journal, status), and its
 * form on the wire: proto's RoundRecord carries it as one JSON string (evaluation_json), written
 * by the coordinator from a summary it validated, so it is not modelled field by field in proto.
 */
import type { PooledEvaluation } from './pool.js';
import type { SiteEvaluationSummary } from './types.js';

/** A site's summary as recorded: everything but its per-temperature sweep, which the pooled fit used. */
export type RecordedSiteEvaluation = { site: string } & Omit<SiteEvaluationSummary, 'calibration'>;

export interface RoundEvaluation {
  /** The model version every site evaluated (the round leaves the model unchanged). */
  modelVersion: number;
  sites: RecordedSiteEvaluation[];
  /** Null when no site answered. */
  pooled: PooledEvaluation | null;
}

/** The record as proto carries it: the evaluation as JSON. */
export function encodeEvaluation<R extends { evaluation?: RoundEvaluation | null }>(record: R): R & { evaluationJson: string } {
  return { ...record, evaluationJson: record.evaluation ? JSON.stringify(record.evaluation) : '' };
}

/** The record as the coordinator sent it: evaluation_json parsed back, and dropped from the record. */
export function decodeEvaluation<R extends { evaluationJson?: string; evaluation?: RoundEvaluation | null }>(record: R): Omit<R, 'evaluationJson'> {
  const { evaluationJson, ...rest } = record;
  if (!evaluationJson) return rest;
  try {
    return { ...rest, evaluation: JSON.parse(evaluationJson) as RoundEvaluation };
  } catch (err) {
    throw new Error(`the coordinator sent round ${(record as { round?: number }).round ?? '?'} with an evaluation that is not JSON (${(err as Error).message})`);
  }
}
