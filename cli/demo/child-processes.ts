import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const MEDLEY_BIN = fileURLToPath(new URL('../../../bin/medley.js', import.meta.url));

export interface Child {
  name: string;
  process: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
}

/** Starts `medley ARGS` as a separate OS process, its stderr going to a log file. */
export function spawnMedley(name: string, args: string[], logPath: string, onStdoutLine?: (line: string) => void): Child {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(process.execPath, [MEDLEY_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  child.stderr!.pipe(log);
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    log.write(line + '\n');
    onStdoutLine?.(line);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { name, process: child, logPath, exited };
}

/** Asks children to stop (SIGTERM), then kills whatever is still there after `graceMs`. */
export async function stopAll(children: Child[], graceMs = 5000): Promise<void> {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
  }, graceMs);
  await Promise.all(children.map((c) => c.exited));
  clearTimeout(timer);
}
