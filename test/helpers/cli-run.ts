import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Proc } from './processes.js';

const BIN = fileURLToPath(new URL('../../bin/medley.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `medley` CLI to completion with stdout and stderr kept apart (processes.ts's
 * medley() merges them, which a test of "what goes to stdout" cannot use). `env` entries set to
 * undefined are removed from the child's environment.
 */
export async function runMedley(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * Polls `probe` until it returns a value (errors count as "not yet"). `fatal`, checked before
 * each try, returns a reason to give up at once (say, a process the test waits on has exited).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  fatal: () => string | undefined = () => undefined,
  everyMs = 200,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const reason = fatal();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** For until()'s `fatal`: the output of the first of these processes that has exited, if any. */
export function anyExited(...procs: Proc[]): () => string | undefined {
  return () => {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    return dead ? `a process exited (code ${dead.child.exitCode}):\n${dead.output()}` : undefined;
  };
}
