import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ConfigError } from '../wire/errors.js';
import { ADMIN_METADATA_KEY, AdminGuard, adminToken, newAdminKey, readAdminKeyFile, writeAdminKeyFile } from './admin-key.js';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const MINUTE = 60_000;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'medley-admin-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, but it succeeded');
}

function expectAuthRefusal(fn: () => unknown, pattern: RegExp): void {
  const err = refusal(fn);
  expect(err).toBeInstanceOf(AuthenticationError);
  expect(err.message).toMatch(pattern);
}

describe('admin tokens', () => {
  it('makes 32-byte keys, different each time, and names its metadata key', () => {
    const a = newAdminKey();
    expect(a.byteLength).toBe(32);
    expect(Buffer.from(a).equals(Buffer.from(newAdminKey()))).toBe(false);
    expect(ADMIN_METADATA_KEY).toBe('x-medley-admin');
  });

  it('accepts a token once and refuses its replay', () => {
    const key = newAdminKey();
    const guard = new AdminGuard(key, () => T0);
    const token = adminToken(key, 'ListSites', T0);
    expect(token).toMatch(/^v1\.\d+\.[0-9a-f]{32}\.[0-9a-f]{64}$/);
    expect(() => guard.check(token, 'ListSites')).not.toThrow();
    expectAuthRefusal(() => guard.check(token, 'ListSites'), /replays a token already used/);
    // A second fresh token for the same call is fine.
    expect(() => guard.check(adminToken(key, 'ListSites', T0), 'ListSites')).not.toThrow();
  });

  it('refuses a token made with another key', () => {
    const guard = new AdminGuard(newAdminKey(), () => T0);
    expectAuthRefusal(() => guard.check(adminToken(newAdminKey(), 'ListSites', T0), 'ListSites'), /signed with a different admin key/);
  });

  it('refuses a missing token, saying to pass --admin-key', () => {
    const guard = new AdminGuard(newAdminKey(), () => T0);
    expectAuthRefusal(() => guard.check(undefined, 'ListSites'), /carries no admin key; pass --admin-key/);
    expectAuthRefusal(() => guard.check('', 'ListSites'), /--admin-key/);
  });

  it('refuses a token made for another method', () => {
    const key = newAdminKey();
    const guard = new AdminGuard(key, () => T0);
    expectAuthRefusal(() => guard.check(adminToken(key, 'ListSites', T0), 'RemoveSite'), /admin call RemoveSite/);
  });

  it('refuses a stale or far-future token, and accepts one within the allowed skew', () => {
    const key = newAdminKey();
    const guard = new AdminGuard(key, () => T0);
    expectAuthRefusal(() => guard.check(adminToken(key, 'ListSites', T0 - 6 * MINUTE), 'ListSites'), /clocks differ by more than 5 minutes/);
    expectAuthRefusal(() => guard.check(adminToken(key, 'ListSites', T0 + 6 * MINUTE), 'ListSites'), /more than 5 minutes/);
    expect(() => guard.check(adminToken(key, 'ListSites', T0 - 4 * MINUTE), 'ListSites')).not.toThrow();
    expect(() => guard.check(adminToken(key, 'ListSites', T0 + 4 * MINUTE), 'ListSites')).not.toThrow();
  });

  it('refuses a token whose time was changed (the MAC covers it)', () => {
    const key = newAdminKey();
    const guard = new AdminGuard(key, () => T0);
    const [v, , nonce, mac] = adminToken(key, 'ListSites', T0 - 10 * MINUTE).split('.');
    expectAuthRefusal(() => guard.check([v, String(T0), nonce, mac].join('.'), 'ListSites'), /different admin key/);
  });

  it('refuses malformed and tampered tokens', () => {
    const key = newAdminKey();
    const guard = new AdminGuard(key, () => T0);
    const good = adminToken(key, 'ListSites', T0);
    const [, at, nonce, mac] = good.split('.');
    for (const bad of ['x', 'v1', `v2.${at}.${nonce}.${mac}`, `v1.${at}.${nonce}`, `v1.-1.${nonce}.${mac}`, `v1.${at}.${nonce.toUpperCase()}.${mac}`, `v1.${at}.${nonce}.${mac}.x`]) {
      expectAuthRefusal(() => guard.check(bad, 'ListSites'), /malformed admin token/);
    }
    const flipped = mac.slice(0, -1) + (mac.endsWith('0') ? '1' : '0');
    expectAuthRefusal(() => guard.check(`v1.${at}.${nonce}.${flipped}`, 'ListSites'), /different admin key/);
    // The untampered token is still good: the refusals above did not consume it.
    expect(() => guard.check(good, 'ListSites')).not.toThrow();
  });

  it('still refuses a replay after many other calls (recent nonces are not forgotten)', () => {
    const key = newAdminKey();
    let now = T0;
    const guard = new AdminGuard(key, () => now);
    const first = adminToken(key, 'ListSites', T0);
    guard.check(first, 'ListSites');
    for (let i = 0; i < 1500; i++) {
      now = T0 + i * 100; // 150 s in all: every token stays within the window
      guard.check(adminToken(key, 'ListSites', now), 'ListSites');
    }
    expectAuthRefusal(() => guard.check(first, 'ListSites'), /replays a token already used/);
  });
});

describe('admin key file', () => {
  it('is written 0600 and read back', async () => {
    const path = join(dir, 'admin.key');
    const key = newAdminKey();
    await writeAdminKeyFile(path, key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8').trim()).toBe(Buffer.from(key).toString('base64'));
    expect(Buffer.from(readAdminKeyFile(path)).equals(Buffer.from(key))).toBe(true);
  });

  it('is never overwritten', async () => {
    const path = join(dir, 'keep.key');
    const key = newAdminKey();
    await writeAdminKeyFile(path, key);
    await expect(writeAdminKeyFile(path, newAdminKey())).rejects.toThrow();
    expect(Buffer.from(readAdminKeyFile(path)).equals(Buffer.from(key))).toBe(true);
  });

  it('refuses a key file others can read, naming chmod 600', async () => {
    const path = join(dir, 'open.key');
    await writeAdminKeyFile(path, newAdminKey());
    chmodSync(path, 0o644);
    const err = refusal(() => readAdminKeyFile(path));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/can be read by other users/);
    expect(err.message).toContain(`chmod 600 ${path}`);
  });

  it('refuses a missing file and one that is not a key', () => {
    const missing = refusal(() => readAdminKeyFile(join(dir, 'missing.key')));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(/cannot read the admin key .*ENOENT.*medley coordinator init/);
    const junk = join(dir, 'junk.key');
    writeFileSync(junk, Buffer.alloc(16).toString('base64') + '\n', { mode: 0o600 });
    expect(refusal(() => readAdminKeyFile(junk)).message).toMatch(/is not a Medley admin key/);
  });
});
