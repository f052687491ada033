import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/wire/index.js';
import { variablesOf } from '../../shared/config/index.js';
import { AGENT_SETTINGS, loadAgentConfig, parseAgentConfig } from './agent-config.js';

async function configFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-agent-config-')), 'agent.yaml');
  await writeFile(path, text);
  return path;
}

async function loadError(text: string): Promise<{ path: string; message: string }> {
  const path = await configFile(text);
  const err = await loadAgentConfig(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return { path, message: (err as Error).message };
}

const VALID = `
coordinator: 127.0.0.1:7070
name: st-mary
identity: keys/site.key
coordinatorKey: keys/coordinator.key.pub
state: /var/lib/medley/agent
policy: ../policy.yaml
maxAttempts: 3
data:
  source: dicom:images
  labels: images/labels.csv
  window: "40,400"
  size: 64
  shard: "2/3"
  partition: dirichlet:0.5
  seed: 7
`;

describe('loadAgentConfig', () => {
  it('reads every key and resolves relative paths against the file\'s folder', async () => {
    const path = await configFile(VALID);
    const dir = join(path, '..');
    const loaded = await loadAgentConfig(path);
    expect(loaded.path).toBe(path);
    expect(loaded).toMatchObject({
      values: {
        coordinator: '127.0.0.1:7070',
        name: 'st-mary',
        identity: join(dir, 'keys/site.key'),
        coordinatorKey: join(dir, 'keys/coordinator.key.pub'),
        state: '/var/lib/medley/agent',
        policy: join(dir, '../policy.yaml'),
        maxAttempts: 3,
        data: {
          source: `dicom:${join(dir, 'images')}`,
          labels: join(dir, 'images/labels.csv'),
          window: '40,400',
          size: 64,
          shard: '2/3',
          partition: 'dirichlet:0.5',
          seed: 7,
        },
      },
    });
  });

  it('leaves a key written out, a URL and synthetic alone, and resolves a relative .npz path', () => {
    const key = `ed25519:${Buffer.alloc(32, 1).toString('base64')}`;
    expect(parseAgentConfig(`coordinatorKey: "${key}"\ndata: { source: "dicomweb:http://pacs:8042/dicom-web" }\n`, '/etc/medley/agent.yaml').values).toEqual({
      coordinatorKey: key,
      data: { source: 'dicomweb:http://pacs:8042/dicom-web' },
    });
    expect(parseAgentConfig('data: { source: synthetic }\n', '/etc/medley/agent.yaml').values.data?.source).toBe('synthetic');
    expect(parseAgentConfig('data: { source: data/pneumonia.npz }\n', '/etc/medley/agent.yaml').values.data?.source).toBe('/etc/medley/data/pneumonia.npz');
  });

  it('accepts an empty file: every value may come from the flags', () => {
    expect(parseAgentConfig('', '/x/agent.yaml').values).toEqual({});
    expect(parseAgentConfig('# nothing yet\n', '/x/agent.yaml').values).toEqual({});
  });

  it('reads the documented example in deploy/', async () => {
    const path = new URL('../../deploy/agent.example.yaml', import.meta.url).pathname;
    const values = parseAgentConfig(await readFile(path, 'utf8'), path).values;
    expect(values).toMatchObject({ coordinator: 'coordinator.consortium.example:7070', name: 'st-mary', data: { source: 'dicom:/var/lib/medley/data/chest-xr', shard: '1/1' } });
  });

  it('names the file, line and column of a YAML syntax error', async () => {
    const { path, message } = await loadError('name: st-mary\ndata:\n  source: [synthetic\n');
    expect(message).toMatch(new RegExp(`^agent config ${path} is not valid YAML at line \\d+, column \\d+: `));
    const dup = await loadError('name: a\nname: b\n');
    expect(dup.message).toMatch(/is not valid YAML at line 2, column 1: .*unique/i);
  });

  it('names an unknown key with a suggestion and the allowed keys, at the top level and under data', async () => {
    const top = await loadError('coordinater: 127.0.0.1:7070\n');
    expect(top.message).toBe(
      `agent config ${top.path}: unknown key coordinater (did you mean coordinator?) (allowed: coordinator, name, identity, coordinatorKey, state, policy, localModel, maxAttempts, logFormat, nats, data)`,
    );
    const nested = await loadError('data:\n  source: synthetic\n  lables: labels.csv\n');
    expect(nested.message).toMatch(/: unknown key data\.lables \(did you mean data\.labels\?\) \(allowed in data: source, labels, window, size, shard, partition, seed, count\)$/);
    // A data key written at the top level is pointed to its section.
    expect((await loadError('source: synthetic\n')).message).toMatch(/unknown key source \(did you mean data\.source\?\)/);
    // Nothing close: no guess.
    expect((await loadError('colour: blue\n')).message).toMatch(/unknown key colour \(allowed: /);
  });

  it('names the key, the value and the expected form for a value of the wrong type', async () => {
    const seed = await loadError('data:\n  seed: "7"\n');
    expect(seed.message).toBe(`agent config ${seed.path}: data.seed is "7"; expected a whole number of at least 0`);
    expect((await loadError('maxAttempts: -1\n')).message).toMatch(/: maxAttempts is -1; expected a whole number of at least 0/);
    expect((await loadError('data:\n  size: 28.5\n')).message).toMatch(/: data\.size is 28\.5; expected a whole number from 1 to 4096/);
    expect((await loadError('name: [a, b]\n')).message).toMatch(/: name is \["a","b"\]; expected this site's name/);
    expect((await loadError('data: synthetic\n')).message).toMatch(/: data is "synthetic"; expected a mapping with source/);
    // Unquoted, YAML reads 40 as a number: the message shows the quoted form.
    expect((await loadError('data:\n  window: 40\n')).message).toMatch(/: data\.window is 40; expected min-max, file or CENTER,WIDTH in quotes/);
  });

  it('refuses a bad data source, shard, partition, window and coordinator with the same words as the flags', async () => {
    const source = await loadError('data:\n  source: /data/images\n');
    expect(source.message).toBe(
      `agent config ${source.path}: data.source is "/data/images": data source '/data/images': not a known form; use synthetic, PATH.npz, folder:DIR, dicom:DIR, nifti:DIR or dicomweb:URL (a folder needs its kind in front, for example dicom:/data/images)`,
    );
    expect((await loadError('data:\n  source: "dicomweb:ftp://pacs"\n')).message).toMatch(/data\.source is "dicomweb:ftp:\/\/pacs": .*not ftp/);
    expect((await loadError('data:\n  shard: "4/3"\n')).message).toMatch(/data\.shard is "4\/3": shard '4\/3': site number must be between 1 and 3/);
    expect((await loadError('data:\n  partition: dirichlet:0\n')).message).toMatch(/data\.partition is "dirichlet:0": .*must be a number above 0/);
    expect((await loadError('data:\n  window: "40,0"\n')).message).toMatch(/data\.window is "40,0": window '40,0': use min-max, file/);
    expect((await loadError('coordinator: localhost\n')).message).toMatch(/coordinator is "localhost": "localhost" is not HOST:PORT/);
  });

  it('reports every problem at once', async () => {
    const { message } = await loadError('nmae: x\ndata:\n  seed: -1\n  count: 0\n');
    expect(message).toMatch(/unknown key nmae \(did you mean name\?\)/);
    expect(message).toMatch(/data\.seed is -1/);
    expect(message).toMatch(/data\.count is 0/);
  });

  it('says when the file is not there', async () => {
    await expect(loadAgentConfig('/nonexistent/agent.yaml')).rejects.toThrow('agent config /nonexistent/agent.yaml does not exist; check the --config path');
  });
});

describe('agent settings from the environment', () => {
  it('has one MEDLEY_ variable per key, data and nats keys included', () => {
    expect(variablesOf(AGENT_SETTINGS)).toEqual([
      'MEDLEY_COORDINATOR',
      'MEDLEY_NAME',
      'MEDLEY_IDENTITY',
      'MEDLEY_COORDINATOR_KEY',
      'MEDLEY_STATE',
      'MEDLEY_POLICY',
      'MEDLEY_LOCAL_MODEL',
      'MEDLEY_MAX_ATTEMPTS',
      'MEDLEY_LOG_FORMAT',
      'MEDLEY_NATS_URL',
      'MEDLEY_NATS_USER',
      'MEDLEY_NATS_PASSWORD_FILE',
      'MEDLEY_NATS_NKEY_FILE',
      'MEDLEY_NATS_CREDS_FILE',
      'MEDLEY_DATA_SOURCE',
      'MEDLEY_DATA_LABELS',
      'MEDLEY_DATA_WINDOW',
      'MEDLEY_DATA_SIZE',
      'MEDLEY_DATA_SHARD',
      'MEDLEY_DATA_PARTITION',
      'MEDLEY_DATA_SEED',
      'MEDLEY_DATA_COUNT',
    ]);
  });

  it('overrides the file and checks values with the same parsers, naming the variable', () => {
    const env = { MEDLEY_DATA_SOURCE: 'synthetic', MEDLEY_DATA_SHARD: '1/3', MEDLEY_MAX_ATTEMPTS: '9', MEDLEY_NATS_URL: 'nats://bus:4222' };
    const s = parseAgentConfig(VALID, '/etc/medley/agent.yaml', { env });
    expect(s.values).toMatchObject({ maxAttempts: 9, nats: { url: 'nats://bus:4222' }, data: { source: 'synthetic', shard: '1/3', seed: 7, labels: '/etc/medley/images/labels.csv' } });
    expect(s.where('data.source')).toBe('environment variable MEDLEY_DATA_SOURCE');
    expect(s.where('data.seed')).toBe('agent config /etc/medley/agent.yaml: data.seed');
    expect(() => parseAgentConfig('', '/etc/medley/agent.yaml', { env: { MEDLEY_DATA_SHARD: '4/3' } })).toThrow(
      "environment variable MEDLEY_DATA_SHARD is \"4/3\": shard '4/3': site number must be between 1 and 3",
    );
    expect(() => parseAgentConfig('', '/etc/medley/agent.yaml', { env: { MEDLEY_MAX_ATTEMPTS: 'lots' } })).toThrow(
      'environment variable MEDLEY_MAX_ATTEMPTS is "lots"; expected a whole number of at least 0 (0 = never give up)',
    );
    expect(() => parseAgentConfig('', '/etc/medley/agent.yaml', { env: { MEDLEY_DATA_SORCE: 'synthetic' } })).toThrow(/MEDLEY_DATA_SORCE is not a setting of the agent; did you mean MEDLEY_DATA_SOURCE\?/);
  });
});
