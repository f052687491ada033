import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderLock, FolderLockedError, type LockHolder } from './folder-lock.js';

const held: FolderLock[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((l) => l.release()));
});

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'medley-lock-'));
}

async function take(dir: string, role = 'test', options: Parameters<typeof FolderLock.acquire>[2] = {}): Promise<FolderLock> {
  const lock = await FolderLock.acquire(dir, role, options);
  held.push(lock);
  return lock;
}

/** A lock file as another holder would have written it, starting from this process's own record. */
async function plant(dir: string, mine: LockHolder, change: Partial<LockHolder>, ageSeconds = 0): Promise<string> {
  const path = join(dir, 'medley.lock');
  await writeFile(path, JSON.stringify({ ...mine, token: 'someone-else', ...change }) + '\n');
  const when = new Date(Date.now() - ageSeconds * 1000);
  await utimes(path, when, when);
  return path;
}

/** This process's own holder record (taken once, then given up). */
async function myRecord(): Promise<LockHolder> {
  const lock = await FolderLock.acquire(await folder(), 'probe');
  await lock.release();
  return lock.holder;
}

describe('FolderLock', () => {
  it('holds a folder for one holder: the lock file names it, owner-only; a second taker is refused by name until it is released', async () => {
    const dir = await folder();
    const lock = await take(dir, 'coordinator serve');
    const path = join(dir, 'medley.lock');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, role: 'coordinator serve' });

    const second = FolderLock.acquire(dir, 'another');
    await expect(second).rejects.toBeInstanceOf(FolderLockedError);
    await expect(second).rejects.toThrow(new RegExp(`in use by coordinator serve \\(pid ${process.pid} .*is running`));

    await lock.release();
    expect(existsSync(path)).toBe(false);
    await take(dir, 'after');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ role: 'after' });
  });

  it('takes over at once a lock whose process has exited, and says so', async () => {
    const dir = await folder();
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const mine = await myRecord();
    await plant(dir, mine, { pid: child.pid!, role: 'coordinator serve' });
    const said: string[] = [];
    const lock = await take(dir, 'restarted', { log: (m) => said.push(m) });
    expect(lock.holder.pid).toBe(process.pid);
    expect(said.join('\n')).toMatch(new RegExp(`took over the lock on .*process ${child.pid} is no longer running`));
    expect(readdirSync(dir)).toEqual(['medley.lock']);
  });

  it('treats a running PID with another start time as a recycled PID, not the holder', async () => {
    const dir = await folder();
    const mine = await myRecord();
    await plant(dir, mine, { startTicks: mine.startTicks - 1 });
    const lock = await take(dir);
    expect(lock.holder.token).not.toBe('someone-else');
  });

  it('keeps a lock from a holder it cannot see (another host or container) while it is refreshed, and takes it over once it is stale', async () => {
    const dir = await folder();
    const mine = await myRecord();
    await plant(dir, mine, { host: 'ward-b-server', pid: 4242, role: 'agent run (site ward-b)' }, 5);
    await expect(FolderLock.acquire(dir, 'test', { staleMs: 60_000 })).rejects.toThrow(
      /in use by agent run \(site ward-b\) \(pid 4242 on ward-b-server.*refreshed it 5 s ago.*taken over 60 s after its last refresh/,
    );
    await plant(dir, mine, { host: 'ward-b-server', pid: 4242 }, 120);
    const said: string[] = [];
    await take(dir, 'test', { staleMs: 60_000, log: (m) => said.push(m) });
    expect(said.join('\n')).toMatch(/has not refreshed it for 120 s/);
  });

  it('refuses a lock file still being written, and takes over an unreadable one that has sat there', async () => {
    const dir = await folder();
    const path = join(dir, 'medley.lock');
    await writeFile(path, '');
    await expect(FolderLock.acquire(dir, 'test')).rejects.toThrow(/being written/);
    await writeFile(path, '{"pid": 12, "tok');
    const old = new Date(Date.now() - 30_000);
    await utimes(path, old, old);
    const said: string[] = [];
    await take(dir, 'test', { log: (m) => said.push(m) });
    expect(said.join('\n')).toMatch(/unreadable/);
  });

  it('refreshes the lock while held, and reports it lost when another process overwrites it', async () => {
    const dir = await folder();
    const lost: string[] = [];
    const lock = await take(dir, 'test', { heartbeatMs: 40, onLost: (m) => lost.push(m) });
    const path = join(dir, 'medley.lock');
    const old = new Date(Date.now() - 600_000);
    await utimes(path, old, old);
    await expect.poll(() => Date.now() - statSync(path).mtimeMs, { timeout: 5000 }).toBeLessThan(60_000);
    await plant(dir, lock.holder, { pid: 99999, host: 'elsewhere' });
    await expect.poll(() => lost.length, { timeout: 5000 }).toBe(1);
    expect(lost[0]).toMatch(/lost the lock .*process 99999 on elsewhere holds it now/);
    // Releasing must not remove the lock the other process holds now.
    await lock.release();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: 99999 });
  });
});
