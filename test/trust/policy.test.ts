/**
 * The hospital's site policy, enforced by a real agent against real rounds: a task without
 * differential privacy is declined, a DP task is taken while the privacy budget allows it, and
 * the next one that would overspend is declined. Every decision is in the agent's audit log.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RoundRecord, StatusReply } from '../../shared/wire/index.js';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, tinyState } from '../helpers/state.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

const NO_ENV_KEY = { MEDLEY_ADMIN_KEY: undefined };

interface AuditLine {
  seq: number;
  round: number;
  kind: string;
  dp: { epsilon: number; delta: number; noiseMultiplier: number } | null;
  detail?: string;
}

async function statusJson(address: string, state: string): Promise<StatusReply> {
  const r = await runMedley(['status', '--coordinator', address, ...adminArgs(state), '--json'], NO_ENV_KEY);
  if (r.code !== 0) throw new Error(`medley status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusReply;
}

async function roundStart(address: string, state: string, extra: string[]): Promise<{ code: number | null; stderr: string; result: { rounds: RoundRecord[]; modelVersion: number } }> {
  const r = await runMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), '--min-sites', '1', '--deadline', '30', '--wait', '10', '--json', ...extra], NO_ENV_KEY);
  if (!r.stdout.trim()) throw new Error(`medley round start printed no result (${r.code}): ${r.stderr}`);
  return { code: r.code, stderr: r.stderr, result: JSON.parse(r.stdout) as { rounds: RoundRecord[]; modelVersion: number } };
}

async function auditLines(path: string): Promise<AuditLine[]> {
  return (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditLine);
}

describe('a site policy that requires differential privacy', () => {
  it('declines a task without DP, takes a DP task within budget, declines the one that would exceed it', async () => {
    const state = await tinyState(['clinic']);
    const agentState = join(state, '..', 'agents', 'clinic');
    // One Gaussian release at noise multiplier 1 costs epsilon ~4.8 at delta 1e-5 (about 5.3 with
    // the classic RDP conversion); two cost ~7.1 (7.8). A budget of 6 allows exactly one.
    const policyPath = join(state, '..', 'policy.yaml');
    await writeFile(
      policyPath,
      ['methods: [fedavg]', 'differentialPrivacy:', '  minNoiseMultiplier: 0.5', '  maxClipNorm: 5', '  budget:', '    epsilon: 6', '    delta: 1.0e-5', ''].join('\n'),
    );
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const agent = medley(['agent', 'run', '--coordinator', address, '--name', 'clinic', ...agentKeyArgs(state, 'clinic'), '--policy', policyPath, '--trainer', 'fixed-step', '--step', '0.01', '--examples', '20']);
    procs.push(agent);
    await until('the agent to connect', async () => ((await statusJson(address, state)).sites[0]?.connected ? true : undefined), 30_000, anyExited(agent, coordinator));
    expect(agent.output()).toMatch(/policy: .*policy\.yaml/);

    // ---- a round without DP: declined ----
    const plain = await roundStart(address, state, []);
    expect(plain.code).toBe(2); // every round of the run failed
    expect(plain.result.modelVersion).toBe(1);
    expect(plain.result.rounds).toHaveLength(1);
    const r1 = plain.result.rounds[0]!;
    expect(r1.state).toBe('failed');
    expect(r1.refused).toEqual(['clinic']);
    expect(r1.reports).toEqual([]);
    expect(r1.message).toMatch(/got 0 of the 1 updates it needs/);
    // The round did not sit out its 30 s deadline: the refusal closed it.
    expect(r1.closedUnixMs - r1.startedUnixMs).toBeLessThan(10_000);
    const status = await statusJson(address, state);
    expect(status.rounds[0]!.refused).toContain('clinic');
    expect(status.rounds[0]!.state).toBe('failed');

    let audit = await auditLines(join(agentState, 'audit.jsonl'));
    expect(audit.map((a) => [a.seq, a.round, a.kind])).toEqual([[1, 1, 'refusal']]);
    expect(audit[0]!.detail).toMatch(/requires differential privacy/);
    expect(audit[0]!.dp).toBeNull();
    expect(agent.output()).toMatch(/round 1: declining the task: site policy requires differential privacy/);

    // ---- two DP rounds: the first fits the budget, the second would exceed it ----
    const dp = await roundStart(address, state, ['--rounds', '2', '--dp-clip', '1', '--dp-noise', '1.0']);
    expect(dp.code, dp.stderr).toBe(0); // not every round failed
    expect(dp.result.rounds.map((r) => [r.round, r.state, r.refused ?? [], r.reports.map((x) => x.site)])).toEqual([
      [2, 'closed', [], ['clinic']],
      [3, 'failed', ['clinic'], []],
    ]);
    expect(dp.result.modelVersion).toBe(2);

    audit = await auditLines(join(agentState, 'audit.jsonl'));
    expect(audit.map((a) => [a.seq, a.round, a.kind])).toEqual([
      [1, 1, 'refusal'],
      [2, 2, 'update'],
      [3, 3, 'refusal'],
    ]);
    const spent = audit[1]!.dp;
    expect(spent).not.toBeNull();
    expect(spent!.noiseMultiplier).toBe(1);
    expect(spent!.delta).toBe(1e-5);
    expect(spent!.epsilon).toBeGreaterThan(4);
    expect(spent!.epsilon).toBeLessThan(6);
    expect(audit[2]!.detail).toMatch(/budget of 6/);
    expect(audit[2]!.detail).toMatch(/privacy spend/);
    expect(agent.output()).toMatch(/round 3: declining the task: .*above its budget of 6/);

    // The ledger holds the one release, on disk, so a restart cannot forget it.
    const ledger = JSON.parse(await readFile(join(agentState, 'privacy-ledger.json'), 'utf8')) as { releases: { round: number; noiseMultiplier: number; clipNorm: number }[] };
    expect(ledger.releases.map((r) => [r.round, r.noiseMultiplier, r.clipNorm])).toEqual([[2, 1, 1]]);

    // The chain over all three decisions is intact.
    const verified = await runMedley(['agent', 'audit', '--log', join(agentState, 'audit.jsonl'), '--verify']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/3 entries, chain intact/);

    // ---- the budget survives a restart of the agent ----
    await stop(agent);
    const restarted = medley(['agent', 'run', '--coordinator', address, '--name', 'clinic', ...agentKeyArgs(state, 'clinic'), '--policy', policyPath, '--trainer', 'fixed-step', '--step', '0.01', '--examples', '20']);
    procs.push(restarted);
    await until('the restarted agent to connect', async () => ((await statusJson(address, state)).sites[0]?.connected ? true : undefined), 30_000, anyExited(restarted, coordinator));
    const after = await roundStart(address, state, ['--dp-clip', '1', '--dp-noise', '1.0']);
    expect(after.result.rounds.map((r) => [r.state, r.refused ?? []])).toEqual([['failed', ['clinic']]]);
    audit = await auditLines(join(agentState, 'audit.jsonl'));
    expect(audit.at(-1)).toMatchObject({ seq: 4, round: 4, kind: 'refusal' });
    expect(audit.at(-1)!.detail).toMatch(/budget of 6/);
  });

  it('declines DP that is weaker than the policy asks (noise below its minimum)', async () => {
    const state = await tinyState(['clinic']);
    const agentState = join(state, '..', 'agents', 'clinic');
    const policyPath = join(state, '..', 'policy.yaml');
    await writeFile(policyPath, ['methods: any', 'differentialPrivacy:', '  minNoiseMultiplier: 0.8', '  budget: { epsilon: 50, delta: 1.0e-5 }', ''].join('\n'));
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const agent = medley(['agent', 'run', '--coordinator', address, '--name', 'clinic', ...agentKeyArgs(state, 'clinic'), '--policy', policyPath, '--trainer', 'fixed-step']);
    procs.push(agent);
    await until('the agent to connect', async () => ((await statusJson(address, state)).sites[0]?.connected ? true : undefined), 30_000, anyExited(agent, coordinator));

    const weak = await roundStart(address, state, ['--dp-clip', '1', '--dp-noise', '0.5']);
    expect(weak.result.rounds.map((r) => [r.state, r.refused ?? []])).toEqual([['failed', ['clinic']]]);
    const strong = await roundStart(address, state, ['--dp-clip', '1', '--dp-noise', '0.8']);
    expect(strong.result.rounds.map((r) => [r.state, r.refused ?? []])).toEqual([['closed', []]]);

    const audit = await auditLines(join(agentState, 'audit.jsonl'));
    expect(audit.map((a) => [a.round, a.kind])).toEqual([
      [1, 'refusal'],
      [2, 'update'],
    ]);
    expect(audit[0]!.detail).toMatch(/noise multiplier 0\.5 is below the site's minimum 0\.8/);
    expect(audit[1]!.dp?.noiseMultiplier).toBe(0.8);
  });
});
