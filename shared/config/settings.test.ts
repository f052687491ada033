import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../wire/index.js';
import { settingVariables } from './environment.js';
import { parsedBy } from './schema-parts.js';
import { loadSettings, settingsFromText, type SettingsSchema } from './settings.js';
import { parseHostPort } from './values.js';

/** A small role: a few kinds of keys at two depths, enough to exercise the generic machinery. */
const schema = z.strictObject({
  listen: parsedBy(parseHostPort).optional(),
  dropGrace: z.number().int().min(1).optional(),
  verbose: z.boolean().optional(),
  keyFile: z.string().min(1).optional(),
  mode: z.enum(['text', 'json']).optional(),
  inner: z.strictObject({ passwordFile: z.string().min(1).optional(), seed: z.number().int().min(0).optional() }).optional(),
});
type Toy = z.infer<typeof schema>;
const TOY: SettingsSchema<Toy> = {
  schema,
  label: 'toy config',
  role: 'toy',
  described: {
    keys: { '': Object.keys(schema.shape), inner: ['passwordFile', 'seed'] },
    expected: { dropGrace: 'a whole number of seconds, at least 1', verbose: 'true or false', 'inner.seed': 'a whole number of at least 0', mode: 'text or json' },
  },
  resolvePaths: (v, dir) => ({ ...v, ...(v.keyFile ? { keyFile: resolve(dir, v.keyFile) } : {}) }),
};

function error(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('settingVariables', () => {
  it('derives MEDLEY_ + SCREAMING_SNAKE of every key path from the schema', () => {
    expect(settingVariables(schema).map((s) => s.variable)).toEqual([
      'MEDLEY_LISTEN',
      'MEDLEY_DROP_GRACE',
      'MEDLEY_VERBOSE',
      'MEDLEY_KEY_FILE',
      'MEDLEY_MODE',
      'MEDLEY_INNER_PASSWORD_FILE',
      'MEDLEY_INNER_SEED',
    ]);
  });

  it('refuses a schema where two keys would share a variable', () => {
    const clash = z.strictObject({ innerSeed: z.number().optional(), inner: z.strictObject({ seed: z.number().optional() }).optional() });
    expect(() => settingVariables(clash)).toThrow('configuration keys innerSeed and inner.seed would both be set by MEDLEY_INNER_SEED; rename one');
  });
});

describe('loadSettings', () => {
  const FILE = '/etc/medley/toy.yaml';

  it('lets the environment win over the file, key by key inside a mapping, and parses numbers and booleans as the file does', () => {
    const text = 'listen: 10.0.0.1:7070\ndropGrace: 30\ninner:\n  passwordFile: secrets/nats.pw\n  seed: 4\nkeyFile: keys/site.key\n';
    const s = settingsFromText(TOY, text, { path: FILE, env: { MEDLEY_DROP_GRACE: '45', MEDLEY_VERBOSE: 'true', MEDLEY_INNER_SEED: '1e1', MEDLEY_LISTEN: '' } });
    expect(s.values).toEqual({
      // An empty variable counts as unset.
      listen: '10.0.0.1:7070',
      dropGrace: 45,
      verbose: true,
      keyFile: '/etc/medley/keys/site.key',
      inner: { passwordFile: 'secrets/nats.pw', seed: 10 },
    });
    expect(s.where('dropGrace')).toBe('environment variable MEDLEY_DROP_GRACE');
    expect(s.where('listen')).toBe(`toy config ${FILE}: listen`);
    expect([...s.variables].sort()).toEqual(['MEDLEY_DROP_GRACE', 'MEDLEY_INNER_SEED', 'MEDLEY_VERBOSE']);
  });

  it("keeps an environment path as given (it starts where the process runs), a file's from the file's folder", () => {
    const s = settingsFromText(TOY, 'keyFile: site.key\n', { path: FILE, env: {} });
    expect(s.values.keyFile).toBe('/etc/medley/site.key');
    const e = settingsFromText(TOY, 'keyFile: site.key\n', { path: FILE, env: { MEDLEY_KEY_FILE: 'other.key' } });
    expect(e.values.keyFile).toBe('other.key');
  });

  it('keeps text keys as written: a number-looking value stays a string', () => {
    const s = settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_KEY_FILE: '0700', MEDLEY_MODE: 'json' } });
    expect(s.values).toEqual({ keyFile: '0700', mode: 'json' });
  });

  it('names the variable, the value and the expected form when the environment gives a bad value', () => {
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_DROP_GRACE: 'soon' } }))).toBe(
      'environment variable MEDLEY_DROP_GRACE is "soon"; expected a whole number of seconds, at least 1',
    );
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_DROP_GRACE: '0', MEDLEY_VERBOSE: 'maybe' } }))).toBe(
      'environment variable MEDLEY_DROP_GRACE is 0; expected a whole number of seconds, at least 1; environment variable MEDLEY_VERBOSE is "maybe"; expected true or false',
    );
    // A shared parser keeps its own words, as for the flag.
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_LISTEN: 'localhost' } }))).toBe(
      'environment variable MEDLEY_LISTEN is "localhost": "localhost" is not HOST:PORT (for example 127.0.0.1:7070)',
    );
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_MODE: 'xml' } }))).toBe('environment variable MEDLEY_MODE is "xml"; expected text or json');
  });

  it('names the file, the key and the expected form when the file gives a bad value, before looking at the environment', () => {
    expect(error(() => settingsFromText(TOY, 'inner:\n  seed: -2\n', { path: FILE, env: { MEDLEY_DROP_GRACE: 'soon' } }))).toBe(
      `toy config ${FILE}: inner.seed is -2; expected a whole number of at least 0`,
    );
    expect(error(() => settingsFromText(TOY, 'dropGrace: [\n', { path: FILE }))).toMatch(/^toy config \/etc\/medley\/toy\.yaml is not valid YAML at line \d+, column \d+: /);
  });

  it('refuses a MEDLEY_ variable one or two keystrokes from a setting, and leaves alone the other role, documented variables and unrelated ones', () => {
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_INNER_PASWORD_FILE: '/p' } }))).toBe(
      'environment variable MEDLEY_INNER_PASWORD_FILE is not a setting of the toy; did you mean MEDLEY_INNER_PASSWORD_FILE? (rename it, or unset it if it is meant for something else)',
    );
    expect(error(() => settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_DROPGRACE: '3' } }))).toMatch(/did you mean MEDLEY_DROP_GRACE\?/);
    const fine = settingsFromText(TOY, '', { path: FILE, env: { MEDLEY_LISTEM: 'x', MEDLEY_BACKEND: 'cpu', MEDLEY_SOMETHING_ELSE: '1', OTHER: '2' }, alsoKnown: ['MEDLEY_LISTEM'] });
    expect(fine.values).toEqual({});
  });

  it('works with no file: environment only, and reads a file from disk naming it when it is missing', async () => {
    const s = await loadSettings(TOY, { env: { MEDLEY_DROP_GRACE: '5' } });
    expect(s.path).toBeUndefined();
    expect(s.values).toEqual({ dropGrace: 5 });
    await expect(loadSettings(TOY, { path: '/nonexistent/toy.yaml' })).rejects.toThrow('toy config /nonexistent/toy.yaml does not exist; check the --config path');
    const path = join(await mkdtemp(join(tmpdir(), 'medley-settings-')), 'toy.yaml');
    await writeFile(path, 'keyFile: k\n');
    expect((await loadSettings(TOY, { path })).values.keyFile).toBe(join(path, '..', 'k'));
  });
});
