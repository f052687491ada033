import { ConfigError } from '../../shared/wire/index.js';

/**
 * How the local learning rate a run's Tasks carry changes over the run's rounds. A strategy whose
 * global step is one site's update (Krum) moves the model by a whole noisy local step every round;
 * decaying the rate makes the late rounds move it little, so the final model reflects the whole
 * run rather than wherever the last pick landed (the usual cure for a noisy step in SGD theory).
 *
 * - constant: every round gets the run's learning rate.
 * - exp:GAMMA: round k of the run (k = 0 for its first) gets lr * GAMMA^k; 0 < GAMMA <= 1.
 * - cosine:FLOOR: half a cosine from lr in the first round to FLOOR * lr in the last; 0 < FLOOR <= 1
 *   (the trainers refuse a rate of 0, and a round at 0 would train nothing).
 */
export type LrSchedule = { kind: 'constant' } | { kind: 'exp'; gamma: number } | { kind: 'cosine'; floor: number };

export const LR_SCHEDULE_FORMS = 'constant, exp:GAMMA (0 < GAMMA <= 1) or cosine:FLOOR (0 < FLOOR <= 1)';

/** Parses `constant`, `exp:GAMMA` or `cosine:FLOOR` ("" means constant); throws ConfigError naming what to write. */
export function parseLrSchedule(spec: string): LrSchedule {
  const text = spec.trim();
  if (text === '' || text === 'constant') return { kind: 'constant' };
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const valueText = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (kind !== 'exp' && kind !== 'cosine') {
    throw new ConfigError(`learning-rate schedule "${spec}" is not one of ${LR_SCHEDULE_FORMS}`);
  }
  const value = valueText === '' ? Number.NaN : Number(valueText);
  const name = kind === 'exp' ? 'GAMMA' : 'FLOOR';
  if (!(Number.isFinite(value) && value > 0 && value <= 1)) {
    throw new ConfigError(`learning-rate schedule "${spec}": ${name} must be a number above 0 and at most 1 (for example ${kind === 'exp' ? 'exp:0.8' : 'cosine:0.02'})`);
  }
  return kind === 'exp' ? { kind, gamma: value } : { kind, floor: value };
}

/** The learning rate of round `index` (0 = the run's first) of a run of `rounds` rounds. */
export function scheduledLearningRate(lr: number, schedule: LrSchedule, index: number, rounds: number): number {
  switch (schedule.kind) {
    case 'constant':
      return lr;
    case 'exp':
      return lr * schedule.gamma ** index;
    case 'cosine': {
      // A one-round run has no "last round" to decay to: it trains at the full rate.
      const progress = rounds > 1 ? Math.min(1, index / (rounds - 1)) : 0;
      return lr * (schedule.floor + ((1 - schedule.floor) * (1 + Math.cos(Math.PI * progress))) / 2);
    }
  }
}

/** For logs and summaries: `constant`, `exp:0.8`, `cosine:0.02`. */
export function describeLrSchedule(schedule: LrSchedule): string {
  return schedule.kind === 'constant' ? 'constant' : schedule.kind === 'exp' ? `exp:${schedule.gamma}` : `cosine:${schedule.floor}`;
}
