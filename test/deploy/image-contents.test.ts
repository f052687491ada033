/**
 * deploy/docker/Dockerfile cannot be built here (no Docker daemon), so what its stages rely on is
 * checked from the files: the build stage copies every source folder the TypeScript build
 * compiles, and the run stage, which keeps only production dependencies (`npm prune
 * --omit=dev`), still has every package the compiled CLI imports, plus the files it reads at run
 * time (proto/, bin/, dist/).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(join(REPO, 'deploy/docker/Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const [buildStage, runStage] = stages;

/** Bare package names imported by the compiled .js files under these dist/ folders. */
function importedPackages(folders: string[]): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) visit(path);
      else if (name.endsWith('.js')) {
        const text = readFileSync(path, 'utf8');
        const specifiers = [
          ...[...text.matchAll(/^\s*(?:import|export)\s[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]),
          ...[...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]),
          ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]),
        ];
        for (const s of specifiers) {
          if (s.startsWith('.') || s.startsWith('node:')) continue;
          const pkg = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
          if (!found.has(pkg)) found.set(pkg, path.slice(REPO.length));
        }
      }
    }
  };
  for (const f of folders) visit(join(REPO, 'dist', f));
  return found;
}

describe('deploy/docker/Dockerfile', () => {
  it('has a build stage and a run stage, and runs as the unprivileged node user', () => {
    expect(stages.map((s) => s.split('\n')[0])).toEqual(['node:20-bookworm-slim AS build', 'node:20-bookworm-slim AS run']);
    expect(buildStage).toMatch(/npm ci\b/);
    expect(buildStage).toMatch(/npm prune --omit=dev/);
    expect(runStage).toMatch(/^USER node$/m);
    expect(runStage).not.toMatch(/npm (ci|install)/);
  });

  it('the build stage copies every folder the TypeScript build compiles', () => {
    const tsconfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const folders = tsconfig.include.map((p) => p.split('/')[0]);
    expect(folders.length).toBeGreaterThan(3);
    for (const f of [...folders, 'proto', 'bin']) expect(buildStage, f).toMatch(new RegExp(`^COPY ${f} \\./${f}$`, 'm'));
  });

  it('the run stage takes the compiled code, the wire contract and the launcher from the build stage', () => {
    for (const path of ['node_modules', 'dist', 'proto', 'bin']) expect(runStage, path).toMatch(new RegExp(`^COPY --from=build /src/${path} \\./${path}$`, 'm'));
  });

  it('every package the compiled CLI imports is a production (or optional) dependency, so the pruned image has it', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
    const production = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const imported = importedPackages(['cli', 'coordinator', 'node-agent', 'shared']);
    // Sanity: the scan sees the packages we know the CLI uses.
    for (const known of ['commander', '@grpc/grpc-js', 'libsodium-wrappers', 'yaml']) expect([...imported.keys()], known).toContain(known);
    const missing = [...imported].filter(([name]) => !production.has(name)).map(([name, where]) => `${name} (imported by ${where})`);
    expect(missing, 'move these to dependencies, or the image will not run').toEqual([]);
  });
});
