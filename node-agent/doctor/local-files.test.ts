import { chmod, chown, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { checkCoordinatorKey, checkFreeDisk, checkIdentity, checkPolicy, checkStateWritable } from './local-files.js';

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'medley-doctor-files-'));
}

async function keyFile(): Promise<string> {
  const path = join(await folder(), 'site.key');
  await writeIdentityFile(path, await generateIdentity('st-mary'));
  return path;
}

describe('checkIdentity', () => {
  it('passes a key file of mode 600 owned by this user, and returns the identity', async () => {
    const path = await keyFile();
    const { check, identity } = await checkIdentity(path);
    expect(check).toMatchObject({ check: 'identity key', ok: true });
    expect(check.detail).toMatch(/\(mode 600, owner .+, public key ed25519:/);
    expect(identity?.name).toBe('st-mary');
  });

  it('names the fix for a missing file, a readable-by-others file and a damaged one', async () => {
    const missing = join(await folder(), 'none.key');
    expect((await checkIdentity(missing)).check).toMatchObject({ ok: false, detail: `${missing}: no such file`, fix: expect.stringContaining(`medley keys generate --name SITE --out ${missing}`) });
    const open = await keyFile();
    await chmod(open, 0o640);
    expect((await checkIdentity(open)).check).toMatchObject({ ok: false, detail: `${open} is mode 640: other users can read the site's private key`, fix: `chmod 600 ${open}` });
    const damaged = join(await folder(), 'damaged.key');
    await writeFile(damaged, '{"not":"a key"}', { mode: 0o600 });
    expect((await checkIdentity(damaged)).check).toMatchObject({ ok: false, detail: expect.stringContaining('is not a Medley identity') });
  });

  // Only root can give a file away, so only a root run can show the owner check.
  it.runIf(process.getuid?.() === 0)('names the owner when the key belongs to another user than the one running the agent', async () => {
    const path = await keyFile();
    await chown(path, 65534, 65534);
    const { check } = await checkIdentity(path);
    expect(check).toMatchObject({ ok: false, detail: `${path} is owned by uid 65534, but the agent runs as root`, fix: `chown root ${path} (the user the agent runs as)` });
  });
});

describe('checkCoordinatorKey', () => {
  it('accepts an inline key and refuses text that is no key, naming where it came from', () => {
    const key = `ed25519:${Buffer.alloc(32, 3).toString('base64')}`;
    expect(checkCoordinatorKey(key, '--coordinator-key').check).toMatchObject({ ok: true, detail: expect.stringContaining('given inline') });
    const bad = checkCoordinatorKey('ed25519:short', 'environment variable MEDLEY_COORDINATOR_KEY').check;
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/^environment variable MEDLEY_COORDINATOR_KEY/);
  });
});

describe('state folder checks', () => {
  it('passes a writable folder and one that will be created, and fails one that cannot be (a file in the way)', async () => {
    const dir = await folder();
    expect(await checkStateWritable(dir)).toMatchObject({ ok: true, detail: dir });
    expect(await checkStateWritable(join(dir, 'a', 'b'))).toMatchObject({ ok: true, detail: `${join(dir, 'a', 'b')} does not exist yet; the agent will create it in ${dir}, which this user may write` });
    await writeFile(join(dir, 'file'), 'x');
    const blocked = await checkStateWritable(join(dir, 'file', 'state'));
    expect(blocked).toMatchObject({ ok: false, detail: expect.stringContaining(`${join(dir, 'file')} exists and is not a folder`) });
  });

  it('states the free space and the minimum, and fails below it', async () => {
    const dir = await folder();
    expect(await checkFreeDisk(dir, 1)).toMatchObject({ ok: true, detail: expect.stringMatching(/^\d+\.\d GiB free at .* \(minimum 0\.0 GiB\)$/) });
    const short = await checkFreeDisk(dir, 1024 ** 5);
    expect(short).toMatchObject({ ok: false, detail: expect.stringMatching(/GiB free at .*; the agent needs at least 1048576\.0 GiB$/) });
  });
});

describe('checkPolicy', () => {
  it('passes no policy, and fails a policy file that does not parse, naming it', async () => {
    expect(await checkPolicy(undefined)).toMatchObject({ ok: true });
    const path = join(await folder(), 'policy.yaml');
    await writeFile(path, 'methdos: [tgd]\n');
    const bad = await checkPolicy(path);
    expect(bad.ok).toBe(false);
    expect(bad.detail).toContain(path);
    expect(bad.fix).toBe(`correct ${path} (see the site policy section of the README)`);
  });
});
