import type { ModelManifest } from '../../coordinator/index.js';
import type { RoundRecord, StatusReply } from '../../shared/wire/index.js';
import type { Metrics, RunSummary } from '../report/index.js';

function metricsOf(values: Record<string, number>): Metrics {
  const pick = (k: string) => (typeof values[k] === 'number' ? values[k]! : Number.NaN);
  return { auroc: pick('auroc'), auprc: pick('auprc'), accuracy: pick('accuracy'), loss: pick('loss') };
}

export function buildSummary(input: {
  status: StatusReply;
  rounds: RoundRecord[];
  startedAt: Date;
  model: ModelManifest;
  data: string;
  modelName: string;
}): RunSummary {
  const { status, rounds, startedAt, model } = input;
  const siteBackends = [...new Set(status.sites.map((s) => s.backend).filter(Boolean))];
  return {
    federation: status.federation,
    backend: siteBackends.join(', ') || status.backend || 'unknown',
    modelVersion: status.modelVersion,
    model: { arch: String(model.spec.arch ?? input.modelName), parameters: model.totalBytes / 4 },
    data: input.data,
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    rounds: rounds.map((r) => ({
      round: r.round,
      state: r.state,
      modelVersion: r.modelVersion,
      sites: r.reports.length,
      examples: r.examples,
      seconds: r.closedUnixMs ? (r.closedUnixMs - r.startedUnixMs) / 1000 : 0,
      bytesDown: r.bytesDown,
      bytesUp: r.bytesUp,
      metrics: metricsOf(r.metrics),
      siteMetrics: r.reports.map((s) => ({ site: s.site, examples: s.examples, epochs: s.epochs, metrics: metricsOf(s.metrics) })),
    })),
    sites: status.sites.map((s) => ({ name: s.name, examples: s.trainExamples })),
  };
}
