import { describe, expect, it } from 'vitest';
import { methodUnavailable, type Trainer } from './trainer.js';

describe('an agent declines methods its trainer cannot run', () => {
  const plain = { backend: 'test', trainExamples: 1, valExamples: 1, train: () => Promise.reject(new Error('unused')) } satisfies Trainer;

  it('runs fedavg (and the empty method) by default, and nothing else', () => {
    expect(methodUnavailable(plain, 'fedavg')).toBeNull();
    expect(methodUnavailable(plain, '')).toBeNull();
    expect(methodUnavailable(plain, 'tgd')).toMatch(/cannot run method tgd: its trainer \(test\) runs fedavg; upgrade the agent/);
  });

  it('runs what a trainer declares', () => {
    const wider: Trainer = { ...plain, methods: ['fedavg', 'tgd'] };
    expect(methodUnavailable(wider, 'TGD')).toBeNull();
    expect(methodUnavailable(wider, 'distill')).toMatch(/runs fedavg, tgd/);
  });
});
