import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, StateCorruptError } from '../../shared/wire/index.js';
import { writeFileAtomic } from './atomic-file.js';

const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const registrySchema = z.object({
  sites: z.array(z.object({ name: z.string().regex(SITE_NAME), addedAt: z.string() })),
});

export interface RegisteredSite {
  name: string;
  addedAt: string;
}

export function checkSiteName(name: string): string {
  if (!SITE_NAME.test(name)) {
    throw new ConfigError(
      `site name "${name}" is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** The sites this federation expects; anyone else is turned away at the door. */
export class SiteRegistry {
  private loadedMtimeMs = 0;

  private constructor(private readonly path: string, private sites: RegisteredSite[]) {
    this.loadedMtimeMs = mtimeOf(path);
  }

  static async open(stateDir: string): Promise<SiteRegistry> {
    const path = join(stateDir, 'sites.json');
    let sites: RegisteredSite[] = [];
    try {
      sites = registrySchema.parse(JSON.parse(await readFile(path, 'utf8'))).sites;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StateCorruptError(`site list ${path} is unreadable (${(err as Error).message}); fix or restore it`, { cause: err });
      }
    }
    return new SiteRegistry(path, sites);
  }

  /**
   * Picks up `medley site add/remove` run by an operator while the coordinator serves: the file
   * is small, and a stat per check is cheap next to a connection or an upload.
   */
  private refresh(): void {
    const mtime = mtimeOf(this.path);
    if (mtime === this.loadedMtimeMs) return;
    try {
      this.sites = registrySchema.parse(JSON.parse(readFileSync(this.path, 'utf8'))).sites;
      this.loadedMtimeMs = mtime;
    } catch {
      // A half-edited or broken file keeps the list we had; `medley site list` will show the error.
    }
  }

  has(name: string): boolean {
    this.refresh();
    return this.sites.some((s) => s.name === name);
  }

  list(): RegisteredSite[] {
    this.refresh();
    return [...this.sites];
  }

  async add(name: string): Promise<boolean> {
    checkSiteName(name);
    if (this.has(name)) return false;
    this.sites = [...this.sites, { name, addedAt: new Date().toISOString() }];
    await this.save();
    return true;
  }

  async remove(name: string): Promise<boolean> {
    if (!this.has(name)) return false;
    this.sites = this.sites.filter((s) => s.name !== name);
    await this.save();
    return true;
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify({ sites: this.sites }, null, 2) + '\n');
    this.loadedMtimeMs = mtimeOf(this.path);
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
