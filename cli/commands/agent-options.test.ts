import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../node-agent/config/index.js';
import { loadAgentSettings, resolveAgentOptions, type AgentFlags } from './agent-options.js';

const KEY = `ed25519:${Buffer.alloc(32, 7).toString('base64')}`;
/** What commander hands over when only the flag-only options (with their defaults) are present. */
const NO_FLAGS: AgentFlags = { trainer: 'tfjs', step: 0.001, examples: 100 };

/** A site folder: agent.yaml next to keys/ and a dicom folder with its labels CSV. */
async function site(yaml: string): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'medley-agent-options-'));
  await mkdir(join(dir, 'keys'));
  await writeFile(join(dir, 'keys', 'coordinator.key.pub'), `${KEY}\n`);
  await mkdir(join(dir, 'images'));
  await writeFile(join(dir, 'images', 'labels.csv'), 'path,label\n');
  const path = join(dir, 'agent.yaml');
  await writeFile(path, yaml);
  return { dir, path };
}

const FULL = `
coordinator: 10.0.0.5:7070
name: st-mary
identity: keys/site.key
coordinatorKey: keys/coordinator.key.pub
state: state
policy: policy.yaml
maxAttempts: 5
data:
  source: dicom:images
  labels: images/labels.csv
  window: file
  size: 64
  shard: "2/3"
  partition: by-label
  seed: 11
`;

async function resolveWith(yaml: string, flags: Partial<AgentFlags> = {}) {
  const { dir, path } = await site(yaml);
  return { dir, path, resolve: async () => resolveAgentOptions({ ...NO_FLAGS, ...flags }, await loadAgentConfig(path)) };
}

describe('resolveAgentOptions', () => {
  it('turns a valid file into the options the agent starts with', async () => {
    const { dir, resolve } = await resolveWith(FULL);
    expect(await resolve()).toEqual({
      coordinator: '10.0.0.5:7070',
      name: 'st-mary',
      identity: join(dir, 'keys/site.key'),
      coordinatorKey: join(dir, 'keys/coordinator.key.pub'),
      policy: join(dir, 'policy.yaml'),
      state: join(dir, 'state'),
      maxAttempts: 5,
      logFormat: 'text',
      data: {
        source: `dicom:${join(dir, 'images')}`,
        labels: join(dir, 'images/labels.csv'),
        window: { kind: 'file' },
        size: 64,
        shard: { index: 1, count: 3 },
        partition: 'by-label',
        seed: 11,
        syntheticCount: undefined,
      },
      trainer: 'tfjs',
      step: 0.001,
      examples: 100,
    });
  });

  it('lets a flag override the file, value by value, and keeps the file for the rest', async () => {
    // 0 is a real value: a flag of 0 must win over the file's 5, not fall through to it.
    const { dir, resolve } = await resolveWith(FULL, { name: 'st-luke', seed: 3, maxAttempts: 0, shard: '1/3', window: '40,400' });
    const opts = await resolve();
    expect(opts).toMatchObject({ name: 'st-luke', maxAttempts: 0, coordinator: '10.0.0.5:7070', state: join(dir, 'state') });
    expect(opts.data).toMatchObject({
      source: `dicom:${join(dir, 'images')}`,
      seed: 3,
      shard: { index: 0, count: 3 },
      window: { kind: 'fixed', window: { center: 40, width: 400 } },
      partition: 'by-label',
      size: 64,
    });
  });

  it('refuses the file\'s labels when --data switches to a source that carries its own', async () => {
    const { path, resolve } = await resolveWith(FULL, { data: 'synthetic' });
    await expect(resolve()).rejects.toThrow(`agent config ${path}: data.labels is set, but the data source synthetic carries its own labels`);
    const noLabels = await resolveWith(FULL.replace('  labels: images/labels.csv\n', ''), { data: 'synthetic', count: 50 });
    expect((await noLabels.resolve()).data).toMatchObject({ source: 'synthetic', syntheticCount: 50, seed: 11 });
  });

  it('fills the defaults a plain `medley agent run` had', () => {
    const opts = resolveAgentOptions({ ...NO_FLAGS, coordinator: 'h:1', name: 's', identity: 'id.key', coordinatorKey: KEY });
    expect(opts).toMatchObject({ state: 'medley-agent', maxAttempts: 0, policy: undefined });
    expect(opts.data).toMatchObject({ source: 'synthetic', shard: { index: 0, count: 1 }, partition: 'iid', seed: 0 });
  });

  it('takes the required values from either place', async () => {
    const { resolve } = await resolveWith('name: st-mary\ncoordinatorKey: keys/coordinator.key.pub\n', { coordinator: 'h:7070', identity: '/k/site.key' });
    expect(await resolve()).toMatchObject({ coordinator: 'h:7070', name: 'st-mary', identity: '/k/site.key' });
  });

  it('names the file and every required key missing from both file and flags', async () => {
    const { path, resolve } = await resolveWith('name: st-mary\n', { identity: '/k/site.key' });
    await expect(resolve()).rejects.toThrow(
      `agent config ${path}: missing coordinator (or --coordinator HOST:PORT or MEDLEY_COORDINATOR), coordinatorKey (or --coordinator-key KEY|FILE or MEDLEY_COORDINATOR_KEY); put each in the file, the environment or on the command line`,
    );
    expect(() => resolveAgentOptions({ ...NO_FLAGS, name: 's', identity: 'i' })).toThrow(
      'missing --coordinator HOST:PORT (or MEDLEY_COORDINATOR), --coordinator-key KEY|FILE (or MEDLEY_COORDINATOR_KEY); give each on the command line, in the environment or in a configuration file named with --config',
    );
  });

  it('names the file and key when a path in the file does not exist or a key file is not a key', async () => {
    const folder = await resolveWith(FULL.replace('source: dicom:images', 'source: dicom:scans'));
    await expect(folder.resolve()).rejects.toThrow(`agent config ${folder.path}: data.source dicom:${join(folder.dir, 'scans')}: ${join(folder.dir, 'scans')} is not a folder this process can read`);
    const labels = await resolveWith(FULL.replace('labels: images/labels.csv', 'labels: labels.csv'));
    await expect(labels.resolve()).rejects.toThrow(`agent config ${labels.path}: data.labels is "${join(labels.dir, 'labels.csv')}": no such file; expected the path of the labels CSV`);
    const key = await resolveWith(FULL.replace('coordinatorKey: keys/coordinator.key.pub', 'coordinatorKey: agent.yaml'));
    await expect(key.resolve()).rejects.toThrow(`agent config ${key.path}: coordinatorKey "${join(key.dir, 'agent.yaml')}" is not an Ed25519 public key`);
  });

  it('takes the environment over the file and a flag over the environment, and names the variable a bad value came from', async () => {
    const { dir, path } = await site(FULL.replace('  labels: images/labels.csv\n', ''));
    const env = { MEDLEY_NAME: 'st-env', MEDLEY_MAX_ATTEMPTS: '7', MEDLEY_DATA_SOURCE: 'synthetic', MEDLEY_NATS_URL: 'nats://bus:4222', MEDLEY_NATS_CREDS_FILE: '/etc/medley/site.creds' };
    const settings = await loadAgentSettings(path, env);
    expect(resolveAgentOptions(NO_FLAGS, settings)).toMatchObject({
      name: 'st-env',
      maxAttempts: 7,
      coordinator: '10.0.0.5:7070',
      nats: { url: 'nats://bus:4222', credsFile: '/etc/medley/site.creds' },
      data: { source: 'synthetic', seed: 11 },
    });
    expect(resolveAgentOptions({ ...NO_FLAGS, name: 'st-flag', maxAttempts: 0 }, settings)).toMatchObject({ name: 'st-flag', maxAttempts: 0 });
    const badKey = await loadAgentSettings(path, { MEDLEY_COORDINATOR_KEY: join(dir, 'agent.yaml') });
    expect(() => resolveAgentOptions(NO_FLAGS, badKey)).toThrow(`environment variable MEDLEY_COORDINATOR_KEY "${join(dir, 'agent.yaml')}" is not an Ed25519 public key`);
    const badSource = await loadAgentSettings(path, { MEDLEY_DATA_SOURCE: 'dicom:/nonexistent-scans' });
    expect(() => resolveAgentOptions(NO_FLAGS, badSource)).toThrow(/^environment variable MEDLEY_DATA_SOURCE dicom:\/nonexistent-scans: \/nonexistent-scans is not a folder/);
    const envOnly = await loadAgentSettings(undefined, { MEDLEY_COORDINATOR: 'h:7070', MEDLEY_NAME: 's', MEDLEY_IDENTITY: 'id.key', MEDLEY_COORDINATOR_KEY: KEY });
    expect(resolveAgentOptions(NO_FLAGS, envOnly)).toMatchObject({ coordinator: 'h:7070', name: 's', identity: 'id.key' });
  });

  it('names the flag, not the file, when the bad value came from the command line', async () => {
    const { resolve } = await resolveWith(FULL, { data: 'dicom:/nonexistent-scans' });
    await expect(resolve()).rejects.toThrow(/^--data dicom:\/nonexistent-scans: \/nonexistent-scans is not a folder/);
  });
});
