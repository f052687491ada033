import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { repoFile } from './assets.js';
import { liveChildren, type Cleanup } from './cleanup.js';

export interface Child {
  child: ChildProcess;
  pid: number;
  /** Last lines of output, for error messages. */
  tail(): string;
  exited: Promise<number | null>;
}

/**
 * Starts `node <script> args` as a separate process (the coordinator and agents run as users run
 * them), registered with `cleanup` so it is stopped whatever happens. stdout lines go to `onLine`;
 * stderr is kept (last 40 lines) for error messages and echoed when `echo` is set.
 */
export function startNode(
  script: string,
  args: string[],
  cleanup: Cleanup,
  opts: { onLine?: (line: string) => void; echo?: (line: string) => void; nodeArgs?: string[]; env?: Readonly<Record<string, string>> } = {},
): Child {
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  liveChildren.add(child);
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    keep(line);
    opts.onLine?.(line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    keep(line);
    opts.echo?.(line);
  });
  const exited = once(child, 'exit').then(([code]) => {
    liveChildren.delete(child);
    return code as number | null;
  });
  const handle: Child = { child, pid: child.pid ?? -1, tail: () => lines.join('\n'), exited };
  cleanup.add(() => stop(handle));
  return handle;
}

/**
 * `medley ARGS` through bin/medley.js (the built CLI). MEDLEY_BENCH_NODE_ARGS (e.g. "--cpu-prof")
 * is passed to those node processes, to profile the coordinator or agents under a benchmark.
 */
export function startMedley(args: string[], cleanup: Cleanup, opts: Parameters<typeof startNode>[3] = {}): Child {
  const nodeArgs = (process.env.MEDLEY_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startNode(repoFile('bin/medley.js'), args, cleanup, { ...opts, nodeArgs: [...nodeArgs, ...(opts.nodeArgs ?? [])] });
}

/** Starts `medley coordinator serve` on a free loopback port; resolves once it listens. */
export async function startCoordinator(
  stateDir: string,
  cleanup: Cleanup,
  extra: string[] = [],
  echo?: (line: string) => void,
  nodeArgs: string[] = [],
  env?: Readonly<Record<string, string>>,
): Promise<{ proc: Child; address: string }> {
  let resolveAddress!: (address: string) => void;
  const listening = new Promise<string>((resolve) => (resolveAddress = resolve));
  const proc = startMedley(['coordinator', 'serve', '--dir', stateDir, '--listen', '127.0.0.1:0', ...extra], cleanup, {
    echo,
    nodeArgs,
    ...(env ? { env } : {}),
    onLine: (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; address?: string };
        if (event.event === 'listening' && event.address) resolveAddress(event.address);
      } catch {
        // not the machine-readable line
      }
    },
  });
  const address = await Promise.race([
    listening,
    proc.exited.then((code) => {
      throw new Error(`coordinator exited with ${code} before listening:\n${proc.tail()}`);
    }),
  ]);
  return { proc, address };
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stop(proc: Child): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await proc.exited;
  clearTimeout(timer);
}

/** Peak resident set (VmHWM) of a live process in MiB, from /proc; null where there is no /proc. */
export function peakRssMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resolves when `check` returns true (polled), or rejects after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function readRss(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's current RSS (VmRSS) every `everyMs`, to show where its peak happened. */
export class RssSampler {
  private readonly samples: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(private readonly pid: number, everyMs = 500) {
    this.timer = setInterval(() => {
      const rss = readRss(this.pid);
      if (rss !== null) this.samples.push([(Date.now() - this.started) / 1000, rss]);
    }, everyMs);
    this.timer.unref();
  }

  /** Stops sampling; returns [seconds, MiB] pairs, thinned to at most `points`. */
  stop(points = 40): [number, number][] {
    clearInterval(this.timer);
    const step = Math.max(1, Math.ceil(this.samples.length / points));
    return this.samples.filter((_, i) => i % step === 0).map(([t, m]) => [Math.round(t * 10) / 10, Math.round(m)]);
  }
}
