import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { anyExited, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import { faultTeardown } from '../helpers/fault-teardown.js';
import { checkStore } from '../helpers/store-checks.js';

const { procs, proxies, admins } = faultTeardown();

/** 8 MB of weights, so the link can stall with the upload under way. */
const ELEMENTS = 2_000_000;
const round = { maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, waitSeconds: 30, seed: 0 };

function agent(coordinator: string, state: string, site: string): Proc {
  const proc = medley(['agent', 'run', '--coordinator', coordinator, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', '0.5', '--examples', '10']);
  procs.push(proc);
  return proc;
}

describe('a link that stalls (no close, no bytes) in the middle of an upload', () => {
  it('the agent notices, retries with backoff, the round closes at its deadline with the other site; after the link comes back both sites finish the next round', async () => {
    const state = await tinyState(['far', 'near'], ELEMENTS);
    // A long drop grace: the round must close because of its deadline, not because a site left.
    const { proc: coordinator, address } = await serveCoordinator(state, ['--drop-grace', '600']);
    procs.push(coordinator);
    const link = await startStallProxy(address);
    proxies.push(link);
    const far = agent(link.address, state, 'far');
    const near = agent(address, state, 'near');
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    admins.push(admin);
    const bothConnected = () =>
      until('both sites connected', async () => ((await admin.status()).sites.every((s) => s.connected) ? true : undefined), 90_000, anyExited(coordinator, far, near));
    await bothConnected();

    // Before the upload only a few kilobytes go up the link: it stalls 2 MiB into the 8 MB upload.
    // The deadline leaves the agent time to notice within the round (keepalive: 20 s + 10 s).
    link.stallUpAfter(2 << 20);
    const run = await admin.startRounds({ ...round, rounds: 1, minSites: 1, deadlineSeconds: 40 });
    const finished = admin.watch(run.firstRound, () => undefined);

    // The agent finds out by itself (its keepalive pings go unanswered) and retries the upload,
    // which waits for a new session; reconnecting through the stalled link is cut short by the
    // handshake timeout, and retried with backoff.
    await until('the far site to notice the dead link', () => (/upload failed \(.+\); retrying/.test(far.output()) ? true : undefined), 90_000, anyExited(far));
    expect(far.output()).toMatch(/connection to .* failed/);
    await finished;
    expect(link.stalled).toBe(true);
    const first = (await admin.status()).rounds.at(-1)!;
    expect(first.state).toBe('closed');
    expect(first.reports.map((r) => r.site)).toEqual(['near']);
    expect(first.message).toMatch(/closed at its deadline without an update from far/);
    await until('the far site to give the task up', () => (/round 1 task failed: .*deadline/.test(far.output()) ? true : undefined), 30_000, anyExited(far));
    await until('the far site to dial again', () => (/not welcomed within \d+s; dialling again/.test(far.output()) ? true : undefined), 90_000, anyExited(far));
    // Backoff between attempts: at least two of them. Waited for rather than counted at once: on a
    // starved machine (a fresh-clone CI run with most of a core stolen) the second came after the
    // first redial's line.
    const retries = () => (far.output().match(/retrying in \d+\.\ds/g) ?? []).length;
    await until('a second reconnection attempt after a backoff', () => (retries() >= 2 ? true : undefined), 90_000, anyExited(far));
    expect(retries()).toBeGreaterThanOrEqual(2);

    // The link comes back (the stalled connections are reset, as a NAT that forgot them would).
    link.cutAll();
    link.resume();
    await bothConnected();
    const next = await admin.startRounds({ ...round, rounds: 1, minSites: 2, deadlineSeconds: 60 });
    await admin.watch(next.firstRound, () => undefined);
    const second = (await admin.status()).rounds.at(-1)!;
    expect(second.state).toBe('closed');
    expect(second.reports.map((r) => r.site).sort()).toEqual(['far', 'near']);

    await stop(coordinator, far, near);
    expect(await checkStore(state)).toEqual({ latest: 3, leftovers: [], rounds: ['closed', 'closed'] });
  }, 240_000);
});
