import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/wire/index.js';
import { describeLrSchedule, parseLrSchedule, scheduledLearningRate } from './lr-schedule.js';

const rates = (spec: string, lr: number, rounds: number) => Array.from({ length: rounds }, (_, k) => scheduledLearningRate(lr, parseLrSchedule(spec), k, rounds));

describe('learning-rate schedule over a run\'s rounds', () => {
  it('constant (and the empty spec an older client sends) keeps the run\'s rate every round', () => {
    expect(rates('constant', 0.003, 4)).toEqual([0.003, 0.003, 0.003, 0.003]);
    expect(rates('', 0.003, 3)).toEqual([0.003, 0.003, 0.003]);
  });

  it('exp:GAMMA multiplies the rate by GAMMA once per round after the first', () => {
    const got = rates('exp:0.5', 0.01, 4);
    [0.01, 0.005, 0.0025, 0.00125].forEach((want, k) => expect(got[k]).toBeCloseTo(want, 12));
  });

  it('cosine:FLOOR goes from the full rate in the first round to FLOOR x rate in the last, along half a cosine', () => {
    const got = rates('cosine:0.1', 0.01, 5);
    // progress k / 4; rate = lr (0.1 + 0.9 (1 + cos(pi k / 4)) / 2)
    const want = [1, 0.1 + 0.9 * (1 + Math.SQRT1_2) / 2, 0.55, 0.1 + 0.9 * (1 - Math.SQRT1_2) / 2, 0.1].map((x) => 0.01 * x);
    want.forEach((w, k) => expect(got[k]).toBeCloseTo(w, 12));
    // Never below the floor, falling every round.
    for (let k = 1; k < 5; k++) expect(got[k]!).toBeLessThan(got[k - 1]!);
  });

  it('a one-round cosine run trains at the full rate', () => {
    expect(rates('cosine:0.02', 0.01, 1)).toEqual([0.01]);
  });

  it('describes a schedule the way it is written', () => {
    expect(describeLrSchedule(parseLrSchedule('cosine:0.02'))).toBe('cosine:0.02');
    expect(describeLrSchedule(parseLrSchedule(' exp:0.8 '))).toBe('exp:0.8');
    expect(describeLrSchedule(parseLrSchedule('constant'))).toBe('constant');
  });

  it.each([
    ['linear', /"linear" is not one of constant, exp:GAMMA/],
    ['exp', /GAMMA must be a number above 0 and at most 1 \(for example exp:0\.8\)/],
    ['exp:1.5', /GAMMA must be a number above 0 and at most 1/],
    ['exp:0', /GAMMA must be a number above 0/],
    ['cosine:', /FLOOR must be a number above 0 and at most 1 \(for example cosine:0\.02\)/],
    ['cosine:-0.1', /FLOOR must be a number above 0/],
    ['cosine:abc', /FLOOR must be a number/],
  ])('refuses %s with a ConfigError naming the form to use', (spec, message) => {
    expect(() => parseLrSchedule(spec)).toThrow(ConfigError);
    expect(() => parseLrSchedule(spec)).toThrow(message);
  });
});
