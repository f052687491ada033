import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelStore, RoundJournal } from '../../coordinator/index.js';
import { AdminClient } from '../../cli/admin-client.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, tinyModel, tinyState } from '../helpers/state.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

describe('a federation of separate processes over real gRPC (fixed-step trainer)', () => {
  it('stores exactly the example-weighted mean of the accepted updates, round after round', async () => {
    const sites = ['north', 'south', 'east'];
    const steps = [1, 2, 4];
    const examples = [100, 200, 300];
    const state = await tinyState(sites, 5000);
    const { proc, address } = await serveCoordinator(state);
    procs.push(proc);
    sites.forEach((site, i) => {
      procs.push(medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', String(steps[i]), '--examples', String(examples[i])]));
    });

    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    try {
      for (;;) {
        const status = await admin.status();
        if (status.sites.filter((s) => s.connected).length === 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const started = await admin.startRounds({ rounds: 2, minSites: 3, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 30, seed: 1 });
      const kinds: string[] = [];
      await admin.watch(started.firstRound, (e) => kinds.push(e.kind));
      expect(kinds.filter((k) => k === 'round-closed')).toHaveLength(2);
      expect(kinds.at(-1)).toBe('run-finished');
      const status = await admin.status();
      expect(status.modelVersion).toBe(3);
      expect(status.rounds.map((r) => [r.round, r.state, r.reports.length, r.examples])).toEqual([
        [1, 'closed', 3, 600],
        [2, 'closed', 3, 600],
      ]);
    } finally {
      admin.close();
    }

    // Expected: w_{r+1} = fround(w_r + (sum_i n_i * step_i) / sum_i n_i), computed as the
    // coordinator does (float32 running sum, then base + sum / total rounded to float32).
    const weightedSum = Math.fround(Math.fround(Math.fround(100 * 1) + Math.fround(200 * 2)) + Math.fround(300 * 4));
    const store = await ModelStore.open(state);
    const initial = tinyModel(5000).tensors.flatMap((t) => [...t.data]);
    let expected = Float32Array.from(initial);
    for (let version = 2; version <= 3; version++) {
      expected = expected.map((w) => Math.fround(w + weightedSum / 600));
      const bytes = await readFile(store.weightsPath(version));
      const stored = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(stored.length).toBe(expected.length);
      let mismatches = 0;
      for (let i = 0; i < stored.length; i++) if (stored[i] !== expected[i]) mismatches++;
      expect(mismatches).toBe(0);
      await store.verify(version);
    }
    const journal = await RoundJournal.open(state);
    expect(journal.recent().map((r) => r.modelVersion)).toEqual([2, 3]);
  });
});
