import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/medley.js', import.meta.url));

/** A `medley` process with stdout and stderr kept line by line and apart (the JSON-log checks read stderr alone). */
export interface RoleProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  output(): string;
}

export function startMedley(args: string[]): RoleProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stdout, stderr, exited, output: () => [...stdout, ...stderr].join('\n') };
}

export async function stopAll(procs: RoleProcess[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => procs.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')), 5000);
  await Promise.all(procs.map((p) => p.exited));
  clearTimeout(timer);
}

/** Prometheus text exposition as `name{labels}` -> value (the format prom-client writes). */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}
