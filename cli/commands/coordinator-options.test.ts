import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServeSettings, resolveServeOptions } from './coordinator-options.js';

async function configFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-serve-options-')), 'coordinator.yaml');
  await writeFile(path, text);
  return path;
}

describe('resolveServeOptions', () => {
  it('takes each value from the flag, else the environment, else the file, else the default', async () => {
    const path = await configFile('dir: state\nlisten: 0.0.0.0:7000\ndropGrace: 30\nstrategyMemory: 64\nhttp: 127.0.0.1:9000\n');
    const settings = await loadServeSettings(path, { MEDLEY_LISTEN: '0.0.0.0:7100', MEDLEY_DROP_GRACE: '40', MEDLEY_LOG_FORMAT: 'json' });
    expect(resolveServeOptions({ dropGrace: 50 }, settings)).toEqual({
      dir: join(path, '..', 'state'),
      listen: '0.0.0.0:7100',
      evalSeed: 0,
      dropGrace: 50,
      strategyMemory: 64,
      http: '127.0.0.1:9000',
      logFormat: 'json',
    });
  });

  it('merges NATS settings across sources and names each by where it came from', async () => {
    const path = await configFile('dir: /var/lib/medley\nnats:\n  url: nats://n:4222\n  passwordFile: nats.pw\n');
    const settings = await loadServeSettings(path, {});
    expect(() => resolveServeOptions({}, settings)).toThrow(`coordinator config ${path}: nats.passwordFile needs --nats-user: the password belongs to a NATS user`);
    expect(resolveServeOptions({ natsUser: 'coord' }, settings).nats).toEqual({ url: 'nats://n:4222', user: 'coord', passwordFile: join(path, '..', 'nats.pw') });
    const env = await loadServeSettings(path, { MEDLEY_NATS_CREDS_FILE: '/c.creds', MEDLEY_NATS_USER: 'coord' });
    expect(() => resolveServeOptions({}, env)).toThrow(
      `NATS credentials given in more than one form (environment variable MEDLEY_NATS_USER/coordinator config ${path}: nats.passwordFile and environment variable MEDLEY_NATS_CREDS_FILE); keep exactly one`,
    );
  });

  it('says where the state folder may come from when none is given, and names a missing held-out file by its key', async () => {
    expect(() => resolveServeOptions({}, undefined)).toThrow('missing --dir STATE (or MEDLEY_DIR): the state folder made by `medley coordinator init`');
    const path = await configFile('dir: state\nevalData: missing.npz\n');
    expect(() => resolveServeOptions({}, undefined)).toThrow(/MEDLEY_DIR/);
    const settings = await loadServeSettings(path, {});
    expect(() => resolveServeOptions({}, settings)).toThrow(`coordinator config ${path}: evalData ${join(path, '..', 'missing.npz')}: no such file`);
    expect(() => resolveServeOptions({ evalData: '/nope.npz' }, settings)).toThrow('--eval-data /nope.npz: no such file');
  });
});
