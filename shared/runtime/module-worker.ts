import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/*
 * Starts a worker thread from a module beside the caller, whether the caller runs compiled
 * (dist/, the worker is a .js file) or from TypeScript source (vitest: the worker gets a tiny
 * loader that strips types with the typescript package and maps .js imports to .ts files).
 */

const TS_HOOKS = `
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
let ts;
export async function initialize(data) { ts = createRequire(data.tsPath)('typescript'); }
export async function resolve(specifier, context, next) {
  if (context.parentURL && context.parentURL.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}`;

const TS_BOOT = `
const { register } = require('node:module');
const { workerData } = require('node:worker_threads');
register('data:text/javascript,' + encodeURIComponent(workerData.hooks), { data: { tsPath: workerData.tsPath } });
import(workerData.entry).catch((e) => { console.error(e); process.exit(1); });
`;

/** `entry` is the worker module's name without extension, relative to `callerUrl` (import.meta.url). */
export function spawnModuleWorker(callerUrl: string, entry: string, workerData: Record<string, unknown>): Worker {
  if (callerUrl.endsWith('.ts')) {
    const url = new URL(`${entry}.ts`, callerUrl).href;
    const tsPath = createRequire(callerUrl).resolve('typescript/package.json');
    return new Worker(TS_BOOT, { eval: true, workerData: { ...workerData, hooks: TS_HOOKS, entry: url, tsPath } });
  }
  return new Worker(new URL(`${entry}.js`, callerUrl), { workerData });
}
