import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../wire/errors.js';
import {
  boxPublicKey,
  boxSecretKey,
  fingerprint,
  formatPublicKey,
  generateIdentity,
  parsePublicKey,
  readIdentityFile,
  sign,
  verify,
  writeIdentityFile,
} from './keys.js';
import { loadSodium, type Sodium } from './sodium.js';

let sodium: Sodium;
let dir: string;

beforeAll(async () => {
  sodium = await loadSodium();
  dir = mkdtempSync(join(tmpdir(), 'medley-keys-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, but it succeeded');
}

function refusalSync(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, but it succeeded');
}

describe('identity files', () => {
  it('round-trips generate → write → read, with the key 0600 and its .pub beside it', async () => {
    const identity = await generateIdentity('site-a');
    expect(identity.signPublicKey.byteLength).toBe(32);
    expect(identity.signSecretKey.byteLength).toBe(64);
    const path = join(dir, 'nested', 'deeper', 'site-a.key');
    const pubPath = await writeIdentityFile(path, identity);

    expect(pubPath).toBe(`${path}.pub`);
    expect(mode(path)).toBe(0o600);
    expect(existsSync(pubPath)).toBe(true);
    expect(mode(pubPath) & 0o022).toBe(0); // nobody else can replace the public key
    expect(readFileSync(pubPath, 'utf8')).toBe(formatPublicKey(identity.signPublicKey) + '\n');
    // No temporary file left behind.
    expect(readdirSync(join(dir, 'nested', 'deeper')).sort()).toEqual(['site-a.key', 'site-a.key.pub']);

    const back = await readIdentityFile(path);
    expect(back.name).toBe('site-a');
    expect(Buffer.from(back.signPublicKey).equals(Buffer.from(identity.signPublicKey))).toBe(true);
    expect(Buffer.from(back.signSecretKey).equals(Buffer.from(identity.signSecretKey))).toBe(true);
    // The key read back signs what the original public key verifies.
    const message = new Uint8Array([1, 2, 3]);
    expect(verify(identity.signPublicKey, message, sign(back, message))).toBe(true);
    expect(Buffer.from(parsePublicKey(pubPath)).equals(Buffer.from(identity.signPublicKey))).toBe(true);
  });

  it('never overwrites an existing key file', async () => {
    const path = join(dir, 'keep.key');
    const first = await generateIdentity('first');
    await writeIdentityFile(path, first);
    const before = readFileSync(path, 'utf8');
    const second = await generateIdentity('second');
    const err = await refusal(writeIdentityFile(path, second));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/already exists; it is never overwritten/);
    expect(err.message).toContain(path);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect((await readIdentityFile(path)).name).toBe('first');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('refuses a key file others can read, naming chmod 600', async () => {
    const path = join(dir, 'open.key');
    await writeIdentityFile(path, await generateIdentity('open'));
    chmodSync(path, 0o644);
    const err = await refusal(readIdentityFile(path));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/can be read by other users \(mode 644\)/);
    expect(err.message).toContain(`chmod 600 ${path}`);
    chmodSync(path, 0o640);
    expect((await refusal(readIdentityFile(path))).message).toMatch(/chmod 600/);
    chmodSync(path, 0o600);
    expect((await readIdentityFile(path)).name).toBe('open');
  });

  it('refuses a damaged file whose secret key does not match its public key', async () => {
    const a = await generateIdentity('a');
    const b = await generateIdentity('b');
    const path = join(dir, 'damaged.key');
    writeFileSync(path, JSON.stringify({
      format: 'medley-identity-v1',
      name: 'a',
      publicKey: formatPublicKey(a.signPublicKey),
      secretKey: Buffer.from(b.signSecretKey).toString('base64'),
    }), { mode: 0o600 });
    const err = await refusal(readIdentityFile(path));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/is damaged: its secret key does not match its public key/);

    const short = join(dir, 'short.key');
    writeFileSync(short, JSON.stringify({
      format: 'medley-identity-v1',
      name: 'a',
      publicKey: formatPublicKey(a.signPublicKey),
      secretKey: Buffer.from(a.signSecretKey.subarray(0, 48)).toString('base64'),
    }), { mode: 0o600 });
    expect((await refusal(readIdentityFile(short))).message).toMatch(/is damaged/);
  });

  it('refuses a file that is not an identity, and a missing file, saying what to do', async () => {
    const junk = join(dir, 'junk.key');
    writeFileSync(junk, 'not json\n', { mode: 0o600 });
    const err = await refusal(readIdentityFile(junk));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/is not a Medley identity/);

    const wrongFormat = join(dir, 'wrong-format.key');
    writeFileSync(wrongFormat, JSON.stringify({ format: 'other', name: 'x', publicKey: 'x', secretKey: 'x' }), { mode: 0o600 });
    expect((await refusal(readIdentityFile(wrongFormat))).message).toMatch(/is not a Medley identity/);

    const missing = join(dir, 'missing.key');
    const gone = await refusal(readIdentityFile(missing));
    expect(gone).toBeInstanceOf(ConfigError);
    expect(gone.message).toMatch(/cannot read key file .*ENOENT.*medley keys generate --out/);
  });
});

describe('parsePublicKey', () => {
  it('accepts "ed25519:…", bare base64 and the path of a .pub file', async () => {
    const identity = await generateIdentity('p');
    const text = formatPublicKey(identity.signPublicKey);
    expect(text).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
    const bare = text.slice('ed25519:'.length);
    const path = join(dir, 'p.pub');
    writeFileSync(path, text + '\n');
    for (const input of [text, `  ${text}\n`, bare, path]) {
      expect(Buffer.from(parsePublicKey(input)).equals(Buffer.from(identity.signPublicKey))).toBe(true);
    }
  });

  it('rejects junk with a message naming the input and what was expected', () => {
    const err = refusalSync(() => parsePublicKey('not-a-key', 'coordinator key'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^coordinator key "not-a-key" is not an Ed25519 public key/);
    expect(err.message).toMatch(/ed25519:…|\.pub file/);
  });

  it('rejects wrong lengths, non-canonical base64 and a file holding junk', () => {
    const short = 'ed25519:' + Buffer.alloc(31, 7).toString('base64');
    expect(refusalSync(() => parsePublicKey(short)).message).toContain(`"${short}"`);
    const long = 'ed25519:' + Buffer.alloc(33, 7).toString('base64');
    expect(() => parsePublicKey(long)).toThrow(ConfigError);
    expect(() => parsePublicKey('ed25519:')).toThrow(ConfigError);
    expect(() => parsePublicKey('')).toThrow(ConfigError);
    const junkPath = join(dir, 'junk.pub');
    writeFileSync(junkPath, 'hello\n');
    expect(refusalSync(() => parsePublicKey(junkPath)).message).toContain(`"${junkPath}"`);
    expect(refusalSync(() => parsePublicKey(join(dir, 'nope.pub'))).message).toMatch(/nope\.pub" is not an Ed25519 public key/);
  });

  it('shortens a very long input in its message', () => {
    const input = 'x'.repeat(200);
    const err = refusalSync(() => parsePublicKey(input));
    expect(err.message).toContain('x'.repeat(80) + '…');
    expect(err.message).not.toContain('x'.repeat(81));
  });
});

describe('keys', () => {
  it('formats, fingerprints and derives the X25519 pair consistently', async () => {
    const identity = await generateIdentity('k');
    expect(fingerprint(identity.signPublicKey)).toBe(Buffer.from(identity.signPublicKey).toString('hex').slice(0, 16));
    const boxPk = boxPublicKey(identity.signPublicKey);
    const boxSk = boxSecretKey(identity);
    expect(Buffer.from(sodium.crypto_scalarmult_base(boxSk)).equals(Buffer.from(boxPk))).toBe(true);
  });

  it('verify is false for another key, another message, or malformed inputs', async () => {
    const a = await generateIdentity('a');
    const b = await generateIdentity('b');
    const message = new Uint8Array([9, 9, 9]);
    const signature = sign(a, message);
    expect(verify(a.signPublicKey, message, signature)).toBe(true);
    expect(verify(b.signPublicKey, message, signature)).toBe(false);
    expect(verify(a.signPublicKey, new Uint8Array([9, 9, 8]), signature)).toBe(false);
    expect(verify(a.signPublicKey, message, signature.subarray(0, 63))).toBe(false);
    expect(verify(a.signPublicKey.subarray(0, 31), message, signature)).toBe(false);
    expect(verify(new Uint8Array(32), message, signature)).toBe(false);
  });
});
