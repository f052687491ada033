import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { formatPublicKey, parsePublicKey } from '../../shared/crypto/index.js';
import { ConfigError, StateCorruptError } from '../../shared/wire/index.js';
import { writeFileAtomic } from '../../shared/storage/index.js';

const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const registrySchema = z.object({
  sites: z.array(z.object({ name: z.string().regex(SITE_NAME), addedAt: z.string(), publicKey: z.string().optional() })),
});

export interface RegisteredSite {
  name: string;
  addedAt: string;
  /** `ed25519:…`: the key the site proves itself with. A site without one cannot connect. */
  publicKey?: string;
}

export function checkSiteName(name: string): string {
  if (!SITE_NAME.test(name)) {
    throw new ConfigError(
      `site name "${name}" is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/**
 * The sites this federation expects, each with the public key it must prove it holds; anyone
 * else is turned away at the door.
 */
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

  /** The enrolled key of a site, or undefined when the site is not on the list (or has no key). */
  publicKeyOf(name: string): Uint8Array | undefined {
    this.refresh();
    const text = this.sites.find((s) => s.name === name)?.publicKey;
    if (!text) return undefined;
    try {
      return parsePublicKey(text);
    } catch {
      return undefined;
    }
  }

  list(): RegisteredSite[] {
    this.refresh();
    return [...this.sites];
  }

  /**
   * Enrols a site with its public key. Adding a site that is already there with the same key is a
   * no-op (false); with a different key it is refused, so a key is never swapped by accident.
   */
  async add(name: string, publicKey: Uint8Array): Promise<boolean> {
    checkSiteName(name);
    const key = formatPublicKey(publicKey);
    const existing = this.list().find((s) => s.name === name);
    if (existing?.publicKey === key) return false;
    if (existing?.publicKey) {
      throw new ConfigError(`site ${name} is already enrolled with another key; \`medley site remove\` it first if the site has a new identity`);
    }
    this.sites = [...this.sites.filter((s) => s.name !== name), { name, addedAt: new Date().toISOString(), publicKey: key }];
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
