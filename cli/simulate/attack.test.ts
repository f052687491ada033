import { describe, expect, it } from 'vitest';
import { Random } from '../../shared/data/index.js';
import type { DownloadedModel, Trainer, TrainingOutcome } from '../../node-agent/index.js';
import type { Task } from '../../shared/wire/index.js';
import { AttackingTrainer, assignAttackers, craftDelta, parseAttack } from './attack.js';

describe('parseAttack', () => {
  it('reads KIND=COUNT lists in order', () => {
    expect(parseAttack('scale=2, sign-flip=1,random=3')).toEqual([
      { kind: 'scale', count: 2 },
      { kind: 'sign-flip', count: 1 },
      { kind: 'random', count: 3 },
    ]);
  });

  it('names the bad part and what is accepted', () => {
    expect(() => parseAttack('scale')).toThrow(/"scale" is not KIND=COUNT/);
    expect(() => parseAttack('flip=1')).toThrow(/unknown kind "flip"; use scale, sign-flip, random/);
    expect(() => parseAttack('scale=0')).toThrow(/count of scale must be a whole number of at least 1, got "0"/);
    expect(() => parseAttack('scale=1.5')).toThrow(/got "1.5"/);
    expect(() => parseAttack('scale=1,scale=2')).toThrow(/scale is named twice/);
    expect(() => parseAttack(' , ')).toThrow(/name at least one KIND=COUNT/);
  });
});

describe('assignAttackers', () => {
  it('takes the last sites, kinds in the order given', () => {
    const assigned = assignAttackers(10, parseAttack('scale=2,sign-flip=1'));
    expect([...assigned.entries()]).toEqual([
      [7, 'scale'],
      [8, 'scale'],
      [9, 'sign-flip'],
    ]);
  });

  it('refuses more attackers than sites', () => {
    expect(() => assignAttackers(3, parseAttack('scale=2,random=2'))).toThrow(/4 attacking sites but the federation has only 3/);
  });
});

describe('craftDelta', () => {
  const honest = Float32Array.from({ length: 20_000 }, (_, i) => Math.sin(i) * 0.01);

  it('scale and sign-flip multiply the honest delta by +/- factor', () => {
    const scaled = craftDelta('scale', honest, 10, new Random(1));
    const flipped = craftDelta('sign-flip', honest, 10, new Random(1));
    for (const i of [0, 1, 777, 19_999]) {
      expect(scaled[i]).toBeCloseTo(honest[i]! * 10, 6);
      expect(flipped[i]).toBeCloseTo(-honest[i]! * 10, 6);
    }
  });

  it('random is zero-mean noise with factor x the honest RMS, unrelated to the delta', () => {
    const noise = craftDelta('random', honest, 3, new Random(2));
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(rms(noise) / (3 * rms(honest))).toBeGreaterThan(0.97);
    expect(rms(noise) / (3 * rms(honest))).toBeLessThan(1.03);
    const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
    expect(Math.abs(mean)).toBeLessThan(0.05 * rms(noise));
    const dot = noise.reduce((s, v, i) => s + v * honest[i]!, 0) / (rms(noise) * rms(honest) * noise.length);
    expect(Math.abs(dot)).toBeLessThan(0.05);
  });
});

describe('AttackingTrainer', () => {
  it('trains with the inner trainer, keeps its report, and replaces only the delta', async () => {
    const delta = Float32Array.from([0.5, -1, 2]);
    let calls = 0;
    const inner: Trainer = {
      backend: 'test',
      trainExamples: 12,
      valExamples: 3,
      async train(): Promise<TrainingOutcome> {
        calls++;
        return { delta, numExamples: 12, metrics: { auroc: 0.7 }, trainLoss: 0.4, epochs: 1, seconds: 0.1 };
      },
    };
    const attacker = new AttackingTrainer(inner, 'sign-flip', 4, 9);
    expect([attacker.backend, attacker.trainExamples, attacker.valExamples]).toEqual(['test', 12, 3]);
    const out = await attacker.train({} as DownloadedModel, { round: 1 } as Task, () => {}, new AbortController().signal);
    expect(calls).toBe(1);
    expect([...out.delta]).toEqual([-2, 4, -8]);
    expect(out.numExamples).toBe(12);
    expect(out.metrics).toEqual({ auroc: 0.7 });
  });
});
