import { describe, expect, it } from 'vitest';
import { Coordinator, RoundJournal } from '../../coordinator/index.js';
import { tinyState } from '../helpers/state.js';

describe('a coordinator that stopped mid-round', () => {
  it('closes the round it left open as aborted on restart, keeps the model, and numbers the next round after it', async () => {
    const state = await tinyState(['a'], 100);
    const journal = await RoundJournal.open(state);
    await journal.append('open', {
      round: 1, state: 'open', baseVersion: 1, modelVersion: 0, selected: ['a'], reports: [], examples: 0,
      startedUnixMs: Date.now(), closedUnixMs: 0, bytesDown: 0, bytesUp: 0, metrics: {}, message: '',
    });
    const messages: string[] = [];
    const coordinator = await Coordinator.open({ stateDir: state, log: (m) => messages.push(m) });
    try {
      const rounds = (await RoundJournal.open(state)).all();
      expect(rounds.map((r) => r.state)).toEqual(['aborted']);
      expect(rounds[0]!.message).toMatch(/stopped while round 1 was open.*stays at version 1/);
      expect(messages.some((m) => /round 1/.test(m))).toBe(true);
      expect(coordinator.store.latest).toBe(1);
      await coordinator.listen('127.0.0.1:0');
      const reply = coordinator.controller.start({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 5, waitSeconds: 1, seed: 0 });
      expect(reply.firstRound).toBe(2);
    } finally {
      await coordinator.close();
    }
  });
});
