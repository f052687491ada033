import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import type { RoundEvent } from '../../shared/wire/index.js';
import { anyExited, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import { faultTeardown } from '../helpers/fault-teardown.js';
import { checkStore } from '../helpers/store-checks.js';

const { procs, proxies, admins } = faultTeardown();

/** 8 MB of weights: over a 1 MB/s uplink the upload takes seconds, long enough to be caught in it. */
const ELEMENTS = 2_000_000;

function agent(coordinator: string, state: string, site: string): Proc {
  const proc = medley(['agent', 'run', '--coordinator', coordinator, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', '0.5', '--examples', '10']);
  procs.push(proc);
  return proc;
}

const round = { maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 120, waitSeconds: 30, seed: 0 };

describe('an agent killed in the middle of its upload', () => {
  it('the round closes with the others (minimum met), and the agent, restarted, takes part in the next round', async () => {
    const state = await tinyState(['a', 'b', 'c'], ELEMENTS);
    // A short drop grace: a site gone for 2 s no longer holds the round.
    const { proc: coordinator, address } = await serveCoordinator(state, ['--drop-grace', '2']);
    procs.push(coordinator);
    const uplink = await startStallProxy(address);
    proxies.push(uplink);
    uplink.throttleUp(1_000_000);
    const a = agent(address, state, 'a');
    const b = agent(address, state, 'b');
    let c = agent(uplink.address, state, 'c');
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    admins.push(admin);
    const connected = async (n: number) =>
      until(`${n} sites connected`, async () => ((await admin.status()).sites.filter((s) => s.connected).length === n ? true : undefined), 90_000, anyExited(coordinator, a, b));
    await connected(3);

    const events: RoundEvent[] = [];
    const run = await admin.startRounds({ ...round, rounds: 1, minSites: 2 });
    const finished = admin.watch(run.firstRound, (e) => events.push(e));
    await until('site c uploading', () => (events.some((e) => e.kind === 'progress' && e.site === 'c' && e.progress?.phase === 'uploading') ? true : undefined), 60_000, anyExited(coordinator, c));
    c.child.kill('SIGKILL');
    await c.exited;
    expect((await admin.status()).rounds.at(-1)!.reports.map((r) => r.site)).not.toContain('c');

    await finished;
    const first = (await admin.status()).rounds.at(-1)!;
    expect(first.state).toBe('closed');
    expect(first.reports.map((r) => r.site).sort()).toEqual(['a', 'b']);
    expect(first.message).toMatch(/without an update from c, which disconnected/);
    // The coordinator saw the upload begin and break off; it kept nothing of it.
    expect(coordinator.output()).toMatch(/update refused: the agent cancelled the upload; it was discarded/);

    // c comes back (a normal uplink now) and is part of the next round.
    uplink.throttleUp(null);
    c = agent(uplink.address, state, 'c');
    await connected(3);
    const next = await admin.startRounds({ ...round, rounds: 1, minSites: 3 });
    await admin.watch(next.firstRound, () => undefined);
    const second = (await admin.status()).rounds.at(-1)!;
    expect(second.state).toBe('closed');
    expect(second.reports.map((r) => r.site).sort()).toEqual(['a', 'b', 'c']);

    await stop(coordinator, a, b, c);
    expect(await checkStore(state)).toEqual({ latest: 3, leftovers: [], rounds: ['closed', 'closed'] });
  }, 240_000);
});
