import { spawn } from 'node:child_process';
import { repoFile } from './assets.js';

/** The interpreter of the Python peers (Debian's, where python3-numpy/python3-torch live). */
export const PYTHON = process.env.MEDLEY_BENCH_PYTHON ?? '/usr/bin/python3';

let setupDone: Promise<void> | null = null;

/** Runs bench/setup.sh once per run (it installs NumPy/PyTorch where it can; it never fails). */
export function ensurePythonPeers(log: (s: string) => void): Promise<void> {
  if (!setupDone) {
    setupDone = new Promise<void>((resolve) => {
      let script: string;
      try {
        script = repoFile('bench/setup.sh');
      } catch (err) {
        log(`setup: ${(err as Error).message}`);
        resolve();
        return;
      }
      const child = spawn('sh', [script], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MEDLEY_BENCH_PYTHON: PYTHON } });
      child.stderr.on('data', (d: Buffer) => d.toString().split('\n').filter(Boolean).forEach((l) => log(l)));
      child.on('error', (err) => {
        log(`setup: ${err.message}`);
        resolve();
      });
      child.on('exit', () => resolve());
    });
  }
  return setupDone;
}

export interface PythonPeer {
  /** Sends one command line; resolves with the JSON line the peer answers. */
  ask(command: string): Promise<Record<string, unknown>>;
  close(): void;
}

/**
 * Starts a Python peer that answers one JSON line per command line on stdin, so the benchmark
 * can alternate its own runs with the peer's: on a shared machine, load then hits both alike.
 * Resolves with the peer once it has printed its first line (its greeting), or throws.
 */
export async function startPythonPeer(relativeScript: string, args: string[], log: (s: string) => void): Promise<{ peer: PythonPeer; hello: Record<string, unknown> }> {
  await ensurePythonPeers(log);
  const script = repoFile(relativeScript);
  const child = spawn(PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const waiting: ((line: string | null) => void)[] = [];
  const lines: string[] = [];
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const failed = new Promise<null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', () => resolve(null));
  });
  const next = async (): Promise<Record<string, unknown>> => {
    const line = lines.length ? lines.shift()! : await Promise.race([new Promise<string | null>((resolve) => waiting.push(resolve)), failed]);
    if (line === null) throw new Error(`${PYTHON} ${relativeScript} stopped: ${stderr.trim().split('\n').pop() ?? 'no output'}`);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (typeof parsed.error === 'string') throw new Error(parsed.error);
    return parsed;
  };
  const peer: PythonPeer = {
    ask: (command) => {
      child.stdin.write(command + '\n');
      return next();
    },
    close: () => {
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    },
  };
  try {
    return { peer, hello: await next() };
  } catch (err) {
    peer.close();
    throw err;
  }
}
