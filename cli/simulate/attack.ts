/**
 * Crafted updates for robustness experiments: a site that trains honestly, then sends something
 * derived from its honest delta instead. Research option only (`medley simulate --attack`); a real
 * agent never wraps its trainer this way.
 */
import { hashSeed, Random } from '../../shared/data/index.js';
import type { Trainer, TrainingOutcome, TrainingProgress } from '../../node-agent/index.js';
import type { DownloadedModel } from '../../node-agent/index.js';
import type { Task } from '../../shared/wire/index.js';

export const ATTACK_KINDS = ['scale', 'sign-flip', 'random'] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export interface AttackCount {
  kind: AttackKind;
  count: number;
}

/** Parses `KIND=COUNT[,KIND=COUNT]` (e.g. `scale=2,sign-flip=1`). */
export function parseAttack(text: string): AttackCount[] {
  const seen = new Set<string>();
  const out: AttackCount[] = [];
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const kind = entry.slice(0, eq).trim();
    const countText = entry.slice(eq + 1).trim();
    if (eq <= 0) throw new Error(`--attack ${text}: "${entry}" is not KIND=COUNT (for example scale=2,sign-flip=1)`);
    if (!(ATTACK_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`--attack ${text}: unknown kind "${kind}"; use ${ATTACK_KINDS.join(', ')}`);
    }
    const count = Number(countText);
    if (countText === '' || !Number.isInteger(count) || count < 1) {
      throw new Error(`--attack ${text}: the count of ${kind} must be a whole number of at least 1, got "${countText}"`);
    }
    if (seen.has(kind)) throw new Error(`--attack ${text}: ${kind} is named twice; give each kind once`);
    seen.add(kind);
    out.push({ kind: kind as AttackKind, count });
  }
  if (out.length === 0) throw new Error(`--attack "${text}": name at least one KIND=COUNT (kinds: ${ATTACK_KINDS.join(', ')})`);
  return out;
}

/**
 * Which sites attack: the last sites of the federation, the kinds taking their turns in the order
 * given (with 10 sites, `scale=2,sign-flip=1` makes sites 8 and 9 scale and site 10 sign-flip).
 * Returned per 0-based site index.
 */
export function assignAttackers(sites: number, attacks: readonly AttackCount[]): Map<number, AttackKind> {
  const total = attacks.reduce((a, x) => a + x.count, 0);
  if (total > sites) {
    throw new Error(`--attack asks for ${total} attacking sites but the federation has only ${sites}; lower the counts or raise --sites`);
  }
  const assigned = new Map<number, AttackKind>();
  let next = sites - total;
  for (const { kind, count } of attacks) for (let k = 0; k < count; k++) assigned.set(next++, kind);
  return assigned;
}

/** The crafted update: scale = delta x factor, sign-flip = -delta x factor, random = noise with the delta's RMS x factor. */
export function craftDelta(kind: AttackKind, honest: Float32Array, factor: number, random: Random): Float32Array {
  const out = new Float32Array(honest.length);
  if (kind === 'scale' || kind === 'sign-flip') {
    const k = kind === 'scale' ? factor : -factor;
    for (let i = 0; i < honest.length; i++) out[i] = honest[i]! * k;
    return out;
  }
  let squares = 0;
  for (let i = 0; i < honest.length; i++) squares += honest[i]! * honest[i]!;
  const sigma = Math.sqrt(squares / Math.max(1, honest.length)) * factor;
  for (let i = 0; i < out.length; i++) out[i] = random.normal() * sigma;
  return out;
}

/** Trains honestly with the inner trainer, then replaces the delta with a crafted one. */
export class AttackingTrainer implements Trainer {
  constructor(
    private readonly inner: Trainer,
    readonly kind: AttackKind,
    private readonly factor: number,
    private readonly seed: number,
  ) {
    if (!Number.isFinite(factor)) throw new RangeError(`--attack-factor must be a finite number, got ${factor}`);
  }

  get backend(): string {
    return this.inner.backend;
  }

  get trainExamples(): number {
    return this.inner.trainExamples;
  }

  get valExamples(): number {
    return this.inner.valExamples;
  }

  async train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome> {
    const honest = await this.inner.train(model, task, onProgress, signal);
    const random = new Random(hashSeed(this.seed, task.round, 0xa77ac));
    return { ...honest, delta: craftDelta(this.kind, honest.delta, this.factor, random) };
  }
}
