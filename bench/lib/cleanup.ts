import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';

/**
 * What a benchmark must undo whatever happens: child processes and temporary folders (a state
 * folder of a 50-site round holds gigabytes of spool files). Steps run last-in first-out; one
 * failing step does not stop the others.
 */
export class Cleanup {
  private readonly steps: (() => Promise<void> | void)[] = [];

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  folder(path: string): string {
    liveFolders.add(path);
    this.add(async () => {
      await rm(path, { recursive: true, force: true });
      liveFolders.delete(path);
    });
    return path;
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (err) {
        process.stderr.write(`[bench] cleanup step failed: ${(err as Error).message}\n`);
      }
    }
  }
}

/** Children still running and folders not yet removed, for when the runner is interrupted. */
export const liveChildren = new Set<ChildProcess>();
const liveFolders = new Set<string>();

function killAll(): void {
  for (const child of liveChildren) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const path of liveFolders) rmSync(path, { recursive: true, force: true });
}

process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}
