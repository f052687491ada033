import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds a file that ships beside the benchmark sources (a Python peer, a .proto, setup.sh, the
 * `medley` launcher), whether we run from dist/bench or from the sources: tsc copies only .ts.
 */
export function repoFile(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = resolve(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`${relative} not found above ${fileURLToPath(import.meta.url)}; run the benchmarks from a Medley checkout`);
}

/** The compiled sibling script `name` (e.g. 'sender.js') of dist/bench. */
export function benchScript(name: string): string {
  const path = fileURLToPath(new URL(`../${name}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing; run \`npm run build\` first`);
  return path;
}
