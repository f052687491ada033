/**
 * What a finished (or interrupted) federated run reports: written by the coordinator, read by
 * the report generator. Metrics may be NaN when undefined (e.g. AUROC on a validation split
 * with a single class).
 */
export interface Metrics { auroc: number; auprc: number; accuracy: number; loss: number }
export interface RoundSummary { round: number; modelVersion: number; sites: number; examples: number; seconds: number; bytesDown: number; bytesUp: number; metrics: Metrics; siteMetrics: { site: string; examples: number; epochs: number; metrics: Metrics }[] }
export interface RunSummary { federation: string; backend: string; modelVersion: number; model: { arch: string; parameters: number }; data: string; startedAt: string; seconds: number; rounds: RoundSummary[]; sites: { name: string; examples: number }[] }
