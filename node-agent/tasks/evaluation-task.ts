import * as grpc from '@grpc/grpc-js';
import { summarizeSiteEvaluation } from '../../shared/evaluation/index.js';
import { isRetryable, type Progress, type Task } from '../../shared/wire/index.js';
import { Backoff, sleep } from '../connection/backoff.js';
import type { CoordinatorClient, DownloadedModel } from '../connection/coordinator-client.js';
import type { Safeguards } from '../safeguards.js';
import type { Trainer } from '../trainer/trainer.js';

/** The task method of an evaluation round. */
export const EVALUATE_METHOD = 'evaluate';

export interface EvaluationTaskContext {
  site: string;
  sessionId: string;
  trainer: Trainer;
  client: CoordinatorClient;
  safeguards: Safeguards;
  fetchModel: (task: Task, signal: AbortSignal) => Promise<DownloadedModel>;
  progress: (phase: string, fields?: Partial<Progress>) => void;
  log: (message: string) => void;
  random: () => number;
}

/** Why this site cannot take an evaluation task at all, or null. */
export function evaluationUnavailable(trainer: Trainer): string | null {
  return trainer.evaluate ? null : `this site cannot run evaluation tasks: its trainer (${trainer.backend}) scores no validation data`;
}

/**
 * An evaluation task at the site: score the task's model on the site's validation split, reduce
 * the scores to aggregate statistics here (shared/evaluation), log what leaves in the audit log,
 * then send it sealed and signed. Per-image scores and labels stay in this function.
 */
export async function runEvaluationTask(task: Task, signal: AbortSignal, ctx: EvaluationTaskContext): Promise<void> {
  const evaluate = ctx.trainer.evaluate?.bind(ctx.trainer);
  if (!evaluate) throw new Error(evaluationUnavailable(ctx.trainer)!);
  const started = performance.now();
  const model = await ctx.fetchModel(task, signal);
  ctx.progress('evaluating', { message: `scoring model version ${model.version} on ${ctx.trainer.valExamples} validation images` });
  const scores = await evaluate(model, signal);
  if (scores.classes !== 2) throw new Error(`federated evaluation covers binary tasks; this model predicts ${scores.classes} classes`);
  const summary = summarizeSiteEvaluation({
    labels: scores.labels,
    probabilities: scores.probabilities,
    subgroups: scores.subgroups,
    modelVersion: model.version,
    seconds: (performance.now() - started) / 1000,
  });
  if (summary.suppressedGroups > 0) ctx.log(`round ${task.round}: ${summary.suppressedGroups} subgroup(s) with fewer than 5 validation images are not reported`);
  const body = Buffer.from(JSON.stringify(summary), 'utf8');
  const columns = Object.keys(summary.subgroups);
  const detail = `evaluation of model version ${model.version}: aggregate statistics of ${summary.examples} validation images${columns.length ? `, subgroups ${columns.join(', ')}` : ''}; no per-image scores`;
  const binding = { federation: task.federation, round: task.round, taskId: task.taskId, site: ctx.site, sessionId: ctx.sessionId, modelVersion: model.version, examples: summary.examples };
  const backoff = new Backoff(ctx.random, 200, 5_000);
  for (;;) {
    signal.throwIfAborted();
    try {
      ctx.progress('uploading', { totalBytes: body.byteLength });
      const sent = await ctx.client.submitEvaluation(binding, body, (sealed) =>
        ctx.safeguards.audit({ federation: task.federation, round: task.round, kind: 'evaluation', bytes: sealed.bytes, sha256: sealed.sha256, dp: null, detail }),
      );
      ctx.log(sent.receipt.message);
      ctx.progress('done', { message: 'evaluation sent' });
      return;
    } catch (err) {
      if (!isRetryable(err) || Date.now() > task.deadlineUnixMs) throw err;
      ctx.log(`sending the evaluation failed (${(err as grpc.ServiceError).details || (err as Error).message}); retrying`);
      await sleep(backoff.nextDelayMs(), signal);
    }
  }
}
