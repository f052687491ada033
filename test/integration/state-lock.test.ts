import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, tinyState } from '../helpers/state.js';

/*
 * One process per state folder, with the real CLI: a second `coordinator serve` (or `model prune`)
 * on a served folder is refused and the first keeps serving; a coordinator killed with SIGKILL
 * leaves its lock behind and a restart takes it over at once; a second agent on an agent's state
 * folder is refused.
 */

const running: Proc[] = [];
afterEach(async () => {
  await stop(...running.splice(0));
});

describe('state folder lock', () => {
  it('refuses a second coordinator on a served folder, and a restart after SIGKILL takes the lock over at once', async () => {
    const state = await tinyState(['ward-a']);
    const first = await serveCoordinator(state);
    running.push(first.proc);
    const lockFile = join(state, 'medley.lock');
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: first.proc.child.pid, role: 'coordinator serve' });

    const second = await runMedley(['coordinator', 'serve', '--dir', state, '--listen', '127.0.0.1:0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`${state} is in use by coordinator serve \\(pid ${first.proc.child.pid} on .*stop the other one first`));
    const prune = await runMedley(['model', 'prune', '--dir', state, '--data', 'synthetic', '--size', '16', '--count', '32']);
    expect(prune.code).toBe(1);
    expect(prune.stderr).toMatch(/is in use by coordinator serve/);

    // The first coordinator never noticed: it still answers the admin API.
    const status = await runMedley(['status', '--coordinator', first.address, ...adminArgs(state), '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ modelVersion: 1 });

    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    expect(existsSync(lockFile)).toBe(true);
    const restarted = await serveCoordinator(state);
    running.push(restarted.proc);
    expect(restarted.proc.output()).toMatch(new RegExp(`took over the lock on ${state}: process ${first.proc.child.pid} is no longer running`));

    // A clean stop (SIGTERM, exit 0; helpers' stop() would SIGKILL a slow one) gives the lock up.
    restarted.proc.child.kill('SIGTERM');
    const code = await restarted.proc.exited;
    expect({ code, signal: restarted.proc.child.signalCode }, restarted.proc.output()).toEqual({ code: 0, signal: null });
    expect(existsSync(lockFile)).toBe(false);
  });

  it('refuses a second agent on an agent state folder while the first runs', async () => {
    const state = await tinyState(['ward-a']);
    const coordinator = await serveCoordinator(state);
    running.push(coordinator.proc);
    const agentArgs = ['agent', 'run', '--coordinator', coordinator.address, '--name', 'ward-a', ...agentKeyArgs(state, 'ward-a'), '--trainer', 'fixed-step'];
    const agent = medley(agentArgs);
    running.push(agent);
    const agentState = join(dirname(state), 'agents', 'ward-a');
    await until('the first agent to take its lock', () => (existsSync(join(agentState, 'medley.lock')) ? true : undefined), 30_000, anyExited(agent));

    const second = await runMedley(agentArgs);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`${agentState} is in use by agent run \\(site ward-a\\) \\(pid ${agent.child.pid} `));
    expect(agent.child.exitCode).toBeNull();
  });
});
