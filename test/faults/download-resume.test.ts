import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { anyExited, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop } from '../helpers/processes.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import { faultTeardown } from '../helpers/fault-teardown.js';
import { checkStore } from '../helpers/store-checks.js';

const { procs, proxies } = faultTeardown();

/** 8 MB of weights: eight 1 MiB chunks on the wire, so "half" falls between chunks, mid-transfer. */
const ELEMENTS = 2_000_000;
const MODEL_BYTES = ELEMENTS * 4;

describe('a model download cut half way', () => {
  it('resumes from the byte where it stopped instead of starting over; the model verifies and the round completes', async () => {
    const state = await tinyState(['clinic'], ELEMENTS);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const link = await startStallProxy(address);
    proxies.push(link);
    // The connection is closed once half the model's bytes went down it (the handshake and the
    // task before the download are a few hundred bytes of that).
    link.cutDownAfter(MODEL_BYTES / 2);
    const agent = medley(['agent', 'run', '--coordinator', link.address, '--name', 'clinic', ...agentKeyArgs(state, 'clinic'), '--trainer', 'fixed-step', '--step', '0.5', '--examples', '10']);
    procs.push(agent);
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    try {
      await until('the site connected', async () => ((await admin.status()).sites[0]?.connected ? true : undefined), 90_000, anyExited(coordinator, agent));
      const run = await admin.startRounds({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 90, waitSeconds: 10, seed: 0 });
      await admin.watch(run.firstRound, () => undefined);
      const status = await admin.status();
      expect(status.rounds.map((r) => r.state)).toEqual(['closed']);
      expect(status.rounds[0]!.reports.map((r) => r.site)).toEqual(['clinic']);
      expect(status.modelVersion).toBe(2);
    } finally {
      admin.close();
    }

    // The link was cut once, and the second request asked for the rest only.
    expect(link.connections).toBeGreaterThanOrEqual(2);
    const resumed = /site clinic resumes its download of model version 1 at byte (\d+) of (\d+)/.exec(coordinator.output());
    expect(resumed, coordinator.output()).not.toBeNull();
    expect(Number(resumed![1])).toBeGreaterThan(0);
    expect(Number(resumed![2])).toBe(MODEL_BYTES);
    expect(agent.output()).toMatch(/download interrupted .*; resuming/);
    // Everything that went down the link, the cut attempt included, is well under a download and a half.
    expect(link.bytesDown).toBeLessThan(1.5 * MODEL_BYTES);
    expect(link.bytesDown).toBeGreaterThan(MODEL_BYTES);

    await stop(coordinator, agent);
    expect(await checkStore(state)).toEqual({ latest: 2, leftovers: [], rounds: ['closed'] });
  }, 180_000);
});
