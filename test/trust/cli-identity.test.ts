/**
 * Site identities, the handshake, admin keys, removal and the audit log, through the `medley`
 * CLI as an operator would use it: real processes, real gRPC, real files.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { CHANNEL_OPTIONS, medleyPackage, type StatusReply } from '../../shared/wire/index.js';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, siteKeyPath, tinyState } from '../helpers/state.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

/** The admin key must come from the flags each test gives, never from the environment. */
const NO_ENV_KEY = { MEDLEY_ADMIN_KEY: undefined };

async function statusJson(address: string, state: string): Promise<StatusReply> {
  const r = await runMedley(['status', '--coordinator', address, ...adminArgs(state), '--json'], NO_ENV_KEY);
  if (r.code !== 0) throw new Error(`medley status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusReply;
}

function fixedStepAgent(address: string, state: string, site: string, extra: string[] = []): Proc {
  return medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', '0.25', '--examples', '10', ...extra]);
}

async function exitWithin(p: Proc, ms: number): Promise<number | null> {
  return Promise.race([p.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`process still running after ${ms / 1000}s:\n${p.output()}`)), ms))]);
}

describe('medley keys generate', () => {
  it('writes an owner-only private key and a .pub, prints only the public key, and never overwrites', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-trust-keys-'));
    const out = join(dir, 'site.key');
    const first = await runMedley(['keys', 'generate', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(existsSync(`${out}.pub`)).toBe(true);

    // stdout is exactly the public key, as `site add --public-key` takes it; the .pub file agrees.
    expect(first.stdout).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=\n$/);
    const publicKey = first.stdout.trim();
    expect((await readFile(`${out}.pub`, 'utf8')).trim()).toBe(publicKey);

    // The secret (Ed25519 seed + public key) appears in no output, in any common encoding.
    const identity = JSON.parse(await readFile(out, 'utf8')) as { publicKey: string; secretKey: string };
    expect(identity.publicKey).toBe(publicKey);
    const secret = Buffer.from(identity.secretKey, 'base64');
    expect(secret.byteLength).toBe(64);
    const seed = secret.subarray(0, 32);
    const secretForms = [identity.secretKey, seed.toString('base64'), seed.toString('base64').slice(0, 20), seed.toString('hex'), seed.toString('base64url').slice(0, 20)];
    for (const form of secretForms) {
      expect(first.stdout).not.toContain(form);
      expect(first.stderr).not.toContain(form);
    }

    // A second run on the same path fails, says why, and leaves the identity as it was.
    const before = await readFile(out);
    const second = await runMedley(['keys', 'generate', '--out', out]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/never overwritten/);
    expect(second.stdout).toBe('');
    expect((await readFile(out)).equals(before)).toBe(true);
    expect((await readFile(`${out}.pub`, 'utf8')).trim()).toBe(publicKey);
    for (const form of secretForms) expect(second.stdout + second.stderr).not.toContain(form);
  });
});

describe('the handshake, through real agents', () => {
  it('refuses an agent holding a key other than the enrolled one (exit 3, failed challenge); the coordinator keeps serving', async () => {
    const state = await tinyState(['clinic']);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);

    const impostorKey = join(state, '..', 'keys', 'impostor.key');
    expect((await runMedley(['keys', 'generate', '--out', impostorKey])).code).toBe(0);
    const impostor = medley([
      'agent', 'run', '--coordinator', address, '--name', 'clinic', '--identity', impostorKey,
      '--coordinator-key', `${coordinatorKeyPath(state)}.pub`, '--state', join(state, '..', 'agents', 'impostor'), '--trainer', 'fixed-step',
    ]);
    procs.push(impostor);
    expect(await exitWithin(impostor, 20_000)).toBe(3);
    expect(impostor.output()).toMatch(/failed the challenge/);
    expect(impostor.output()).not.toMatch(/connected to federation/);

    // The coordinator is still up, answers status, and never counted the impostor as connected.
    expect(coordinator.child.exitCode).toBeNull();
    const status = await statusJson(address, state);
    expect(status.sites).toEqual([expect.objectContaining({ name: 'clinic', connected: false })]);
    expect(coordinator.output()).toMatch(/clinic failed the challenge/);

    // Control: the holder of the enrolled key gets in (so the refusal was about the key).
    const genuine = fixedStepAgent(address, state, 'clinic');
    procs.push(genuine);
    await until('the genuine agent to connect', async () => ((await statusJson(address, state)).sites[0]?.connected ? true : undefined), 30_000, anyExited(genuine, coordinator));
    expect(genuine.child.exitCode).toBeNull();
  });

  it('an agent pinned to another coordinator key will not talk to this coordinator (exit 3)', async () => {
    const state = await tinyState(['clinic']);
    const other = await tinyState(['clinic']);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);

    const agent = medley([
      'agent', 'run', '--coordinator', address, '--name', 'clinic', '--identity', siteKeyPath(state, 'clinic'),
      '--coordinator-key', `${coordinatorKeyPath(other)}.pub`, '--state', join(state, '..', 'agents', 'clinic'), '--trainer', 'fixed-step',
    ]);
    procs.push(agent);
    expect(await exitWithin(agent, 20_000)).toBe(3);
    expect(agent.output()).toMatch(/is not the coordinator this site trusts/);
    expect(agent.output()).not.toMatch(/connected to federation/);
    expect(coordinator.child.exitCode).toBeNull();
    // The agent never proved itself, so the coordinator has no session for it.
    expect((await statusJson(address, state)).sites[0]).toMatchObject({ name: 'clinic', connected: false });
    expect(coordinator.output()).not.toMatch(/site clinic connected/);
  });
});

describe('admin calls need the admin key', () => {
  it('status fails without it, works with --admin-key / --dir / MEDLEY_ADMIN_KEY, fails with another coordinator\'s key; the server refuses keyless calls', async () => {
    const state = await tinyState(['clinic']);
    const other = await tinyState(['clinic']);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);

    const without = await runMedley(['status', '--coordinator', address], NO_ENV_KEY);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/admin key/);
    expect(without.stdout).toBe('');

    const withKey = await runMedley(['status', '--coordinator', address, '--admin-key', adminKeyPath(state)], NO_ENV_KEY);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(withKey.stdout).toMatch(/^federation test: model version 1/);
    expect(withKey.stdout).toMatch(/clinic/);

    const withDir = await runMedley(['status', '--coordinator', address, '--dir', state, '--json'], NO_ENV_KEY);
    expect(withDir.code, withDir.stderr).toBe(0);
    expect((JSON.parse(withDir.stdout) as StatusReply).modelVersion).toBe(1);

    const withEnv = await runMedley(['status', '--coordinator', address], { MEDLEY_ADMIN_KEY: adminKeyPath(state) });
    expect(withEnv.code, withEnv.stderr).toBe(0);

    const wrong = await runMedley(['status', '--coordinator', address, '--admin-key', adminKeyPath(other)], NO_ENV_KEY);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/refused the admin call/);
    expect(wrong.stderr).toMatch(/different admin key/);
    expect(wrong.stdout).toBe('');

    // round start is an admin call too.
    const start = await runMedley(['round', 'start', '--coordinator', address, '--admin-key', adminKeyPath(other), '--wait', '1'], NO_ENV_KEY);
    expect(start.code).not.toBe(0);
    expect(start.stderr).toMatch(/different admin key/);

    // The check is the server's, not only the CLI's: a bare gRPC call without a token is refused.
    const Admin = medleyPackage().Admin;
    const raw = new Admin(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        raw.status!({}, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null) => resolve(e));
      });
      expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(err?.details).toMatch(/admin key/);
    } finally {
      raw.close();
    }
    expect(coordinator.child.exitCode).toBeNull();
  });
});

describe('medley site remove', () => {
  it('drops a connected site within seconds: its agent exits 3 (PERMISSION_DENIED), status no longer shows it, and it cannot come back', async () => {
    const state = await tinyState(['north', 'south']);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const north = fixedStepAgent(address, state, 'north');
    const south = fixedStepAgent(address, state, 'south');
    procs.push(north, south);
    await until('both agents to connect', async () => ((await statusJson(address, state)).sites.filter((s) => s.connected).length === 2 ? true : undefined), 30_000, anyExited(north, south, coordinator));

    const removed = await runMedley(['site', 'remove', '--dir', state, '--name', 'south']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toMatch(/site south removed/);
    const t0 = Date.now();
    expect(await exitWithin(south, 5_000)).toBe(3);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(5_000);
    expect(south.output()).toMatch(/refused site south: site south was removed from the federation's site list/);

    const status = await statusJson(address, state);
    expect(status.sites.map((s) => [s.name, s.connected])).toEqual([['north', true]]);
    expect(north.child.exitCode).toBeNull();
    expect(coordinator.output()).toMatch(/closing session of south: site south was removed/);

    // Starting the removed site again is refused at once (not retried forever).
    const again = fixedStepAgent(address, state, 'south');
    procs.push(again);
    expect(await exitWithin(again, 20_000)).toBe(3);
    expect(again.output()).toMatch(/not on this federation's site list/);

    // The remaining site still trains: a round selects only north.
    const round = await runMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), '--min-sites', '1', '--deadline', '30', '--wait', '10', '--json'], NO_ENV_KEY);
    expect(round.code, round.stderr).toBe(0);
    const result = JSON.parse(round.stdout) as { rounds: { state: string; selected: string[]; reports: { site: string }[] }[] };
    expect(result.rounds.map((r) => [r.state, r.selected, r.reports.map((x) => x.site)])).toEqual([['closed', ['north'], ['north']]]);
  });
});

describe('the agent audit log', () => {
  it('verifies after a real round (1 update entry) and names the line after a one-byte edit', async () => {
    const state = await tinyState(['clinic']);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const agent = fixedStepAgent(address, state, 'clinic');
    procs.push(agent);
    await until('the agent to connect', async () => ((await statusJson(address, state)).sites[0]?.connected ? true : undefined), 30_000, anyExited(agent, coordinator));
    const round = await runMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), '--min-sites', '1', '--deadline', '30', '--wait', '10', '--json'], NO_ENV_KEY);
    expect(round.code, round.stderr).toBe(0);
    expect((JSON.parse(round.stdout) as { modelVersion: number }).modelVersion).toBe(2);
    await stop(agent);

    const log = join(state, '..', 'agents', 'clinic', 'audit.jsonl');
    expect((await stat(log)).mode & 0o777).toBe(0o600);
    const verified = await runMedley(['agent', 'audit', '--log', log, '--verify']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/1 entries, chain intact/);
    const listed = await runMedley(['agent', 'audit', '--log', log, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const records = JSON.parse(listed.stdout) as { seq: number; kind: string; round: number; federation: string; bytes: number; dp: unknown }[];
    expect(records.map((r) => [r.seq, r.kind, r.round, r.federation, r.dp])).toEqual([[1, 'update', 1, 'test', null]]);
    // The sealed payload: the model's bytes plus one 16-byte tag per chunk and for the sealed report.
    expect(records[0]!.bytes).toBeGreaterThan(1000 * 4);

    // One byte changed (a digit of the payload's digest): the chain check names line 1.
    const text = await readFile(log, 'utf8');
    const at = text.indexOf('"sha256":"') + '"sha256":"'.length;
    const edited = text.slice(0, at) + (text[at] === 'a' ? 'b' : 'a') + text.slice(at + 1);
    expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(text));
    expect([...Buffer.from(edited)].filter((b, i) => b !== Buffer.from(text)[i])).toHaveLength(1);
    await writeFile(log, edited);
    const broken = await runMedley(['agent', 'audit', '--log', log, '--verify']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/line 1\b.*edited/);
    expect(broken.stdout).not.toMatch(/chain intact/);

    // An agent will not append to the broken chain.
    const restarted = fixedStepAgent(address, state, 'clinic');
    procs.push(restarted);
    expect(await exitWithin(restarted, 20_000)).not.toBe(0);
    expect(restarted.output()).toMatch(/audit log .* is damaged/);
  });
});
