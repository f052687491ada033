/**
 * DESIGN.md's one-way dependencies: cli -> coordinator | node-agent -> shared. The two roles never
 * import each other (everything between them goes through proto/ and shared/), and shared/ imports
 * neither role nor the CLI. Checked on the source, so a wrong import fails here before it ships.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

const FORBIDDEN: Record<string, string[]> = {
  shared: ['coordinator', 'node-agent', 'cli', 'bench', 'test'],
  coordinator: ['node-agent', 'cli', 'bench', 'test'],
  'node-agent': ['coordinator', 'cli', 'bench', 'test'],
};

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Relative module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)) specifiers.push(match[1]!);
  return specifiers;
}

describe('layering', () => {
  it('finds the imports it checks (the scanner sees relative imports of every kind)', () => {
    expect(importsOf(`import { a } from '../x.js';\nexport { b } from "./y.js";\nconst c = await import('../../z.js');\nimport './side.js';`)).toEqual([
      '../x.js',
      './y.js',
      '../../z.js',
      './side.js',
    ]);
  });

  it.each(Object.keys(FORBIDDEN))('%s/ imports none of the folders above it or beside it', async (folder) => {
    const offences: string[] = [];
    for (const file of await sourceFiles(join(ROOT, folder))) {
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        const target = relative(ROOT, resolve(dirname(file), specifier)).split('/')[0]!;
        if (FORBIDDEN[folder]!.includes(target)) offences.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    expect(offences).toEqual([]);
  });
});
