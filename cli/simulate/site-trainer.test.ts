import { describe, expect, it } from 'vitest';
import { openSiteShards } from '../../shared/data/index.js';
import type { DownloadedModel } from '../../node-agent/index.js';
import type { Task } from '../../shared/wire/index.js';
import { AttackingTrainer } from './attack.js';
import { FIXED_STEP, siteTrainer } from './site-trainer.js';

describe('siteTrainer', () => {
  const shards = openSiteShards({ source: 'synthetic', partition: 'iid', seed: 1, syntheticCount: 24 }, 4);

  it('fixed-step reports the shard size and adds FIXED_STEP; an attacker wraps it', async () => {
    const honest = siteTrainer({ kind: 'fixed-step', shards, index: 2, backend: null, attack: null, attackFactor: 10, seed: 0 });
    expect(honest.trainExamples).toBe(24);
    const model = { weights: new Float32Array(5) } as DownloadedModel;
    const task = { round: 1, epochs: 1 } as Task;
    const out = await honest.train(model, task, () => {}, new AbortController().signal);
    expect([...out.delta]).toEqual(new Array(5).fill(Math.fround(FIXED_STEP)));
    const attacker = siteTrainer({ kind: 'fixed-step', shards, index: 3, backend: null, attack: 'scale', attackFactor: 10, seed: 0 });
    expect(attacker).toBeInstanceOf(AttackingTrainer);
    const crafted = await attacker.train(model, task, () => {}, new AbortController().signal);
    expect(crafted.delta[0]).toBeCloseTo(FIXED_STEP * 10, 9);
  });

  it('tfjs needs a backend', () => {
    expect(() => siteTrainer({ kind: 'tfjs', shards, index: 0, backend: null, attack: null, attackFactor: 10, seed: 0 })).toThrow(/needs a TF.js backend/);
  });
});
