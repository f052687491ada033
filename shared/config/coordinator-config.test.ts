import { describe, expect, it } from 'vitest';
import { COORDINATOR_SETTINGS } from './coordinator-config.js';
import { variablesOf, settingsFromText } from './settings.js';

const FILE = '/etc/medley/coordinator.yaml';

describe('coordinator configuration', () => {
  it('has a variable for every key, named from the key path', () => {
    expect(variablesOf(COORDINATOR_SETTINGS)).toEqual([
      'MEDLEY_DIR',
      'MEDLEY_LISTEN',
      'MEDLEY_EVAL_DATA',
      'MEDLEY_EVAL_SEED',
      'MEDLEY_MAX_NORM',
      'MEDLEY_DROP_GRACE',
      'MEDLEY_STRATEGY_MEMORY',
      'MEDLEY_NATS_URL',
      'MEDLEY_NATS_USER',
      'MEDLEY_NATS_PASSWORD_FILE',
      'MEDLEY_NATS_NKEY_FILE',
      'MEDLEY_NATS_CREDS_FILE',
      'MEDLEY_HTTP',
      'MEDLEY_LOG_FORMAT',
    ]);
  });

  it("reads every serve setting, with the state folder, held-out .npz and NATS files from the file's folder", () => {
    const text = [
      'dir: state',
      'listen: 0.0.0.0:7070',
      'evalData: data/heldout.npz',
      'evalSeed: 3',
      'maxNorm: 12.5',
      'dropGrace: 30',
      'strategyMemory: 1024',
      'nats:',
      '  url: tls://nats-1:4222,tls://nats-2:4222',
      '  credsFile: secrets/coordinator.creds',
      'http: 127.0.0.1:9090',
      'logFormat: json',
    ].join('\n');
    expect(settingsFromText(COORDINATOR_SETTINGS, text, { path: FILE }).values).toEqual({
      dir: '/etc/medley/state',
      listen: '0.0.0.0:7070',
      evalData: '/etc/medley/data/heldout.npz',
      evalSeed: 3,
      maxNorm: 12.5,
      dropGrace: 30,
      strategyMemory: 1024,
      nats: { url: 'tls://nats-1:4222,tls://nats-2:4222', credsFile: '/etc/medley/secrets/coordinator.creds' },
      http: '127.0.0.1:9090',
      logFormat: 'json',
    });
    expect(settingsFromText(COORDINATOR_SETTINGS, 'evalData: synthetic\n', { path: FILE }).values.evalData).toBe('synthetic');
  });

  it('names the file, the key, the value and the expected form', () => {
    const bad = (text: string) => () => settingsFromText(COORDINATOR_SETTINGS, text, { path: FILE });
    expect(bad('dropGrace: 1.5\n')).toThrow(`coordinator config ${FILE}: dropGrace is 1.5; expected a whole number of seconds, at least 1`);
    expect(bad('listne: 0.0.0.0:7070\n')).toThrow(
      `coordinator config ${FILE}: unknown key listne (did you mean listen?) (allowed: dir, listen, evalData, evalSeed, maxNorm, dropGrace, strategyMemory, nats, http, logFormat)`,
    );
    expect(bad('nats:\n  url: http://nats:4222\n')).toThrow(`coordinator config ${FILE}: nats.url is "http://nats:4222": "http://nats:4222" uses http://; expected nats://HOST:PORT`);
    expect(bad('nats:\n  passwordfile: p\n')).toThrow(/unknown key nats\.passwordfile \(did you mean nats\.passwordFile\?\) \(allowed in nats: url, user, passwordFile, nkeyFile, credsFile\)/);
    expect(bad('logFormat: xml\n')).toThrow(`coordinator config ${FILE}: logFormat is "xml"; expected text or json`);
    expect(bad('evalData: heldout.csv\n')).toThrow(/evalData is "heldout\.csv": data source 'heldout\.csv': not a known form/);
  });

  it('takes MEDLEY_NATS_PASSWORD_FILE and MEDLEY_MAX_NORM over the file', () => {
    const s = settingsFromText(COORDINATOR_SETTINGS, 'maxNorm: 5\nnats:\n  url: nats://n:4222\n  user: coord\n  passwordFile: a.pw\n', {
      path: FILE,
      env: { MEDLEY_NATS_PASSWORD_FILE: '/run/secrets/nats.pw', MEDLEY_MAX_NORM: '7.5' },
    });
    expect(s.values).toEqual({ maxNorm: 7.5, nats: { url: 'nats://n:4222', user: 'coord', passwordFile: '/run/secrets/nats.pw' } });
    expect(s.where('nats.passwordFile')).toBe('environment variable MEDLEY_NATS_PASSWORD_FILE');
  });
});

describe('deploy/coordinator.example.yaml', () => {
  it('is a valid coordinator configuration, and so is its commented NATS section once uncommented', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../deploy/coordinator.example.yaml', import.meta.url), 'utf8');
    expect(settingsFromText(COORDINATOR_SETTINGS, text, { path: FILE }).values).toEqual({
      dir: '/var/lib/medley/coordinator',
      listen: '0.0.0.0:7070',
      evalSeed: 0,
      dropGrace: 15,
      strategyMemory: 512,
      logFormat: 'text',
    });
    // Uncomment every optional key but the alternative NATS logins (one form at a time).
    const all = text
      .split('\n')
      .filter((l) => !/^#\s+# (user|passwordFile|nkeyFile):/.test(l))
      .map((l) => l.replace(/^# (evalData|maxNorm|http|nats):/, '$1:').replace(/^#   (url|credsFile):/, '  $1:'))
      .join('\n');
    expect(settingsFromText(COORDINATOR_SETTINGS, all, { path: FILE }).values).toMatchObject({
      evalData: '/etc/medley/data/heldout.npz',
      maxNorm: 50,
      http: '127.0.0.1:9090',
      nats: { url: 'tls://nats-1.consortium.example:4222,tls://nats-2.consortium.example:4222', credsFile: '/etc/medley/keys/coordinator.creds' },
    });
  });
});
