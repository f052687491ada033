import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/medley.js', import.meta.url));

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs the built `medley` CLI as a separate process (as a user would), capturing its output. */
export function medley(args: string[], onLine?: (line: string) => void): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    text += line + '\n';
    onLine?.(line);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited };
}

/** Starts `medley coordinator serve` (on a free port unless told) and resolves with its address. */
export async function serveCoordinator(stateDir: string, extra: string[] = [], listen = '127.0.0.1:0'): Promise<{ proc: Proc; address: string }> {
  let resolveAddress!: (a: string) => void;
  const ready = new Promise<string>((r) => (resolveAddress = r));
  const proc = medley(['coordinator', 'serve', '--dir', stateDir, '--listen', listen, ...extra], (line) => {
    try {
      const event = JSON.parse(line) as { event?: string; address?: string };
      if (event.event === 'listening' && event.address) resolveAddress(event.address);
    } catch {
      // other output
    }
  });
  const address = await Promise.race([
    ready,
    proc.exited.then((code) => {
      throw new Error(`coordinator exited with ${code}:\n${proc.output()}`);
    }),
  ]);
  return { proc, address };
}

export async function stop(...procs: Proc[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  const timer = setTimeout(() => procs.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')), 5000);
  await Promise.all(procs.map((p) => p.exited));
  clearTimeout(timer);
}
