import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('links that drop', () => {
  it('an agent started before its coordinator, and one whose coordinator restarts, reconnect with backoff; state survives the restart', async () => {
    const state = await tinyState(['clinic'], 2000);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const agent = medley(['agent', 'run', '--coordinator', address, '--name', 'clinic', ...agentKeyArgs(state, 'clinic'), '--trainer', 'fixed-step', '--step', '0.5', '--examples', '10']);
    procs.push(agent);
    await until('a failed connection attempt', async () => (/retrying in/.test(agent.output()) ? true : undefined));

    const { proc: coordinator } = await serveCoordinator(state, [], address);
    procs.push(coordinator);

    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    try {
      await until('the agent to connect', async () => ((await admin.status()).sites[0]?.connected ? true : undefined));
      const run = await admin.startRounds({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 30, waitSeconds: 10, seed: 0 });
      await admin.watch(run.firstRound, () => undefined);
      expect((await admin.status()).modelVersion).toBe(2);
    } finally {
      admin.close();
    }

    // The coordinator goes away and comes back: the agent finds it again, and the model version held.
    await stop(coordinator);
    const { proc: again } = await serveCoordinator(state, [], address);
    procs.push(again);
    const admin2 = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    try {
      await until('the agent to reconnect', async () => ((await admin2.status()).sites[0]?.connected ? true : undefined));
      const status = await admin2.status();
      expect(status.modelVersion).toBe(2);
      expect(status.rounds.map((r) => r.state)).toEqual(['closed']);
      const run = await admin2.startRounds({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 30, waitSeconds: 10, seed: 0 });
      expect(run.firstRound).toBe(2);
      await admin2.watch(run.firstRound, () => undefined);
      expect((await admin2.status()).modelVersion).toBe(3);
    } finally {
      admin2.close();
    }
    expect(agent.output()).toMatch(/retrying in \d+\.\ds/);
  });
});
