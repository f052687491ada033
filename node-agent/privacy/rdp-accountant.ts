import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../../shared/storage/index.js';
import { StateCorruptError } from '../../shared/wire/index.js';
import { DEFAULT_ORDERS, epsilonFromRdp, rdpOfGaussian } from './rdp.js';

export { DEFAULT_ORDERS, epsilonFromRdp, rdpOfGaussian } from './rdp.js';

/** One update that left the site with DP noise on it. */
export interface PrivacyRelease {
  round: number;
  federation: string;
  noiseMultiplier: number;
  clipNorm: number;
}

export interface PrivacySpent {
  epsilon: number;
  delta: number;
  releases: number;
}

const releaseSchema = z.strictObject({
  round: z.number().int().nonnegative(),
  federation: z.string().min(1),
  noiseMultiplier: z.number().nonnegative(),
  clipNorm: z.number().positive(),
  at: z.string(),
});

const ledgerSchema = z.strictObject({
  ledgerFormat: z.literal(1),
  releases: z.array(releaseSchema),
});

type Ledger = z.infer<typeof ledgerSchema>;

/**
 * The site's privacy ledger: every DP release it has made, kept in a JSON file so the spend
 * survives restarts. It counts every release recorded in its file, whatever the federation:
 * the same patients stand behind all of them, so their privacy losses compose. Record a release
 * before the update is sent, so a crash between the two over-counts, never under-counts.
 */
export class PrivacyAccountant {
  private readonly rdp: number[];
  /** Writes run one after another so concurrent records cannot overwrite each other. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly ledger: Ledger,
  ) {
    this.rdp = DEFAULT_ORDERS.map(() => 0);
    for (const release of ledger.releases) this.addRdp(release.noiseMultiplier);
  }

  /** Opens the ledger at `path`; a missing file is a site that has released nothing yet. */
  static async open(path: string): Promise<PrivacyAccountant> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new PrivacyAccountant(path, { ledgerFormat: 1, releases: [] });
      throw err;
    }
    let ledger: Ledger;
    try {
      ledger = ledgerSchema.parse(JSON.parse(text));
    } catch (err) {
      // Never start afresh here: an empty ledger would let the site overspend its budget.
      const why = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ') : (err as Error).message;
      throw new StateCorruptError(
        `privacy ledger ${path} is unreadable (${why}); it holds the privacy this site has already spent, so the agent will not reset it. ` +
          `Restore it from a backup; only if it is truly lost, move it aside and start again knowing the earlier spend is no longer counted`,
        { cause: err },
      );
    }
    return new PrivacyAccountant(path, ledger);
  }

  /** Total spend so far, as (epsilon, delta): epsilon is 0 before the first release. */
  spent(delta: number): PrivacySpent {
    if (!(delta > 0 && delta < 1)) throw new RangeError(`delta ${delta} must be between 0 and 1 (exclusive)`);
    const releases = this.ledger.releases.length;
    // Before any release the spend is exactly 0; the RDP conversion of zero RDP would print a small positive epsilon.
    return { epsilon: releases === 0 ? 0 : epsilonFromRdp(this.rdp, DEFAULT_ORDERS, delta), delta, releases };
  }

  /** What epsilon (at this delta) would be after one more release at this noise multiplier. */
  epsilonAfter(noiseMultiplier: number, delta: number): number {
    const next = rdpOfGaussian(noiseMultiplier, DEFAULT_ORDERS);
    return epsilonFromRdp(
      next.map((r, i) => r + this.rdp[i]),
      DEFAULT_ORDERS,
      delta,
    );
  }

  /** Adds a release to the ledger and writes it to disk (atomically) before returning. */
  async record(release: PrivacyRelease): Promise<void> {
    const parsed = releaseSchema.safeParse({ ...release, at: new Date().toISOString() });
    if (!parsed.success) {
      throw new RangeError(`cannot record privacy release ${JSON.stringify(release)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const entry = parsed.data;
    const write = this.writing.then(async () => {
      const ledger: Ledger = { ledgerFormat: 1, releases: [...this.ledger.releases, entry] };
      await writeFileAtomic(this.path, JSON.stringify(ledger, null, 2) + '\n', 0o600);
      // Only once it is on disk does the release count in memory, so memory never runs ahead of the file.
      this.ledger.releases.push(entry);
      this.addRdp(entry.noiseMultiplier);
    });
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** The recorded releases, oldest first. */
  releases(): PrivacyRelease[] {
    return this.ledger.releases.map(({ round, federation, noiseMultiplier, clipNorm }) => ({ round, federation, noiseMultiplier, clipNorm }));
  }

  private addRdp(noiseMultiplier: number): void {
    const rdp = rdpOfGaussian(noiseMultiplier, DEFAULT_ORDERS);
    for (let i = 0; i < rdp.length; i++) this.rdp[i] += rdp[i];
  }
}
