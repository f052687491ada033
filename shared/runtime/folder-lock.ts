import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/*
 * One process at a time per state folder. Two coordinators serving one folder would both append to
 * the round journal and write model versions; two agents on one folder would both extend the audit
 * log's hash chain and spend the same privacy budget. Either corrupts what the folder exists to keep.
 *
 * Why not an npm lock library: the common ones (proper-lockfile and kin) judge a lock stale only by
 * the age of its last heartbeat, so a coordinator restarted right after a crash (systemd's
 * RestartSec=10s, or an operator at once) would be turned away until that age passes. Here a holder
 * on this machine, in this PID namespace, is checked directly: the lock names its PID and the
 * kernel's start time of that process, so a dead holder (or a recycled PID) frees it at once. A
 * holder this process cannot see (another host on a shared volume, another container) keeps its
 * lock for as long as it refreshes the file's time, and for `staleMs` after it stops.
 */

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id: PIDs and start times mean something only within one boot. */
  boot: string;
  /** The PID namespace (/proc/self/ns/pid): another container on the same host sees other PIDs. */
  pidNamespace: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTicks: number;
  /** What holds it, for the error another process prints: "coordinator serve", "agent run". */
  role: string;
  since: string;
  /** Random per acquisition, so a holder can tell its own lock from one written after it. */
  token: string;
}

export class FolderLockedError extends Error {
  override name = 'FolderLockedError';
}

const LOCK_FILE = 'medley.lock';
/** How often the holder refreshes the lock file's time. */
const HEARTBEAT_MS = 10_000;
/** A lock whose holder this process cannot check, left unrefreshed this long, is taken over. */
const STALE_MS = 60_000;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** Field 22 of /proc/PID/stat (the name in field 2 may hold spaces and parentheses). */
function startTicksOf(pid: number | 'self'): number | null {
  const stat = readOr(`/proc/${pid}/stat`, '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return stat && Number.isFinite(ticks) ? ticks : null;
}

function thisProcess(role: string): LockHolder {
  let pidNamespace = '';
  try {
    pidNamespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // not Linux: the PID check below is skipped and only the heartbeat counts
  }
  return {
    pid: process.pid,
    host: hostname(),
    boot: readOr('/proc/sys/kernel/random/boot_id', ''),
    pidNamespace,
    startTicks: startTicksOf('self') ?? -1,
    role,
    since: new Date().toISOString(),
    token: randomBytes(16).toString('hex'),
  };
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.token !== 'string' || typeof h.host !== 'string') return null;
    return { boot: '', pidNamespace: '', startTicks: -1, role: 'unknown', since: '', ...h } as LockHolder;
  } catch {
    return null;
  }
}

type Verdict = { alive: true; why: string } | { alive: false; why: string };

/** Whether the process named in a lock still runs, or (when it cannot be seen from here) still refreshes the lock. */
function judge(holder: LockHolder | null, me: LockHolder, ageMs: number, staleMs: number): Verdict {
  if (!holder) {
    // A lock file being written this instant is empty for a moment: give it a heartbeat's grace.
    return ageMs < 2_000 ? { alive: true, why: 'its lock file is being written' } : { alive: false, why: 'the lock file is unreadable' };
  }
  const visible = me.pidNamespace !== '' && holder.host === me.host && holder.boot === me.boot && holder.pidNamespace === me.pidNamespace;
  if (visible) {
    const ticks = startTicksOf(holder.pid);
    if (ticks !== null && ticks === holder.startTicks) return { alive: true, why: `process ${holder.pid} on this machine is running` };
    return { alive: false, why: `process ${holder.pid} is no longer running` };
  }
  const seconds = Math.round(ageMs / 1000);
  if (ageMs < staleMs) return { alive: true, why: `process ${holder.pid} on ${holder.host} refreshed it ${seconds} s ago` };
  return { alive: false, why: `process ${holder.pid} on ${holder.host} has not refreshed it for ${seconds} s` };
}

/** An exclusive hold on a state folder; `release()` gives it up (also safe after the folder is gone). */
export class FolderLock {
  private timer: NodeJS.Timeout | null = null;
  private lost = false;

  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
    onLost: (message: string) => void,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => void this.refresh(onLost), heartbeatMs);
    this.timer.unref();
  }

  /**
   * Takes the folder's lock or throws FolderLockedError naming the holder. A lock left by a holder
   * that is gone is taken over, and `log` says so.
   */
  static async acquire(
    dir: string,
    role: string,
    options: { log?: (message: string) => void; onLost?: (message: string) => void; staleMs?: number; heartbeatMs?: number } = {},
  ): Promise<FolderLock> {
    const path = join(dir, LOCK_FILE);
    const me = thisProcess(role);
    const log = options.log ?? (() => undefined);
    const onLost = options.onLost ?? log;
    const body = JSON.stringify(me) + '\n';
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const file = await open(path, 'wx', 0o600);
        try {
          await file.writeFile(body);
        } finally {
          await file.close();
        }
        return new FolderLock(path, me, onLost, options.heartbeatMs ?? HEARTBEAT_MS);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let text: string;
      let ageMs: number;
      try {
        text = await readFile(path, 'utf8');
        ageMs = Date.now() - (await stat(path)).mtimeMs;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
        throw err;
      }
      const holder = parseHolder(text);
      const verdict = judge(holder, me, ageMs, options.staleMs ?? STALE_MS);
      if (verdict.alive) {
        const who = holder ? `${holder.role} (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : 'another process';
        throw new FolderLockedError(
          `${dir} is in use by ${who}: ${verdict.why}. One process at a time may use a state folder; stop the other one first` +
            (holder && holder.host !== me.host ? ` (if it is gone for good, its lock ${path} is taken over ${Math.round((options.staleMs ?? STALE_MS) / 1000)} s after its last refresh)` : ''),
        );
      }
      if (await takeOver(path, text)) log(`took over the lock on ${dir}: ${verdict.why}`);
    }
    throw new FolderLockedError(`${dir}: could not take its lock ${path} after 5 attempts (other processes are starting on it at the same time); try again`);
  }

  /** Refreshes the file's time, and notices if another process has taken the lock. */
  private async refresh(onLost: (message: string) => void): Promise<void> {
    if (this.lost) return;
    try {
      const current = parseHolder(await readFile(this.path, 'utf8'));
      if (current?.token !== this.holder.token) throw new Error(current ? `process ${current.pid} on ${current.host} holds it now` : 'the lock file was removed or damaged');
      const now = new Date();
      await utimes(this.path, now, now);
    } catch (err) {
      this.lost = true;
      onLost(`lost the lock ${this.path}: ${(err as Error).message}; another process may be using this state folder`);
    }
  }

  /** Gives the lock up if it is still this process's. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      const current = parseHolder(await readFile(this.path, 'utf8'));
      if (current?.token === this.holder.token) await unlink(this.path);
    } catch {
      // already gone (or the folder was removed): nothing to give up
    }
  }
}

/**
 * Removes a stale lock, and only that one: it is renamed aside first (of several processes that
 * judged it stale at once, one rename wins), and if what was moved is not the stale content (a
 * newer holder's lock), it is linked back, which fails rather than overwrite a lock made meanwhile.
 */
async function takeOver(path: string, staleText: string): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== staleText) {
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}
