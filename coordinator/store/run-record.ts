import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { StateCorruptError, type StartRoundsRequest } from '../../shared/wire/index.js';
import { removeTempSiblings, syncDir, writeFileAtomic, writeFileAtomicSync } from '../../shared/storage/index.js';

/**
 * The run in progress, as the coordinator keeps it on disk (STATE/run.json): the admin's request
 * and how far it got. The round journal says what each round did; this says what was asked and
 * what is left, so a coordinator that was killed can carry the run on after a restart instead of
 * leaving the admin to notice and start again.
 */
export interface ActiveRun {
  formatVersion: 1;
  /** The request as the admin sent it (strategy name and parameters included). */
  request: StartRoundsRequest;
  startedAt: string;
  /** The number of the run's first round. */
  firstRound: number;
  /** Rounds the run still has to do. A round counts once it closed, failed or could not start. */
  roundsLeft: number;
  /**
   * The last round number already counted in roundsLeft (0: none yet). A round that closed in the
   * journal after this number was counted by nobody: the process died between the journal entry
   * and the update of this file. Resuming subtracts such rounds.
   */
  countedThrough: number;
  /** How many times the run was resumed after a restart. */
  resumes: number;
}

const requestSchema = z
  .object({
    rounds: z.number().int().positive(),
    minSites: z.number().int().nonnegative(),
    maxSites: z.number().int().nonnegative(),
    epochs: z.number(),
    batchSize: z.number(),
    learningRate: z.number(),
    deadlineSeconds: z.number(),
    waitSeconds: z.number(),
    seed: z.number(),
  })
  .passthrough();

const runSchema = z.object({
  formatVersion: z.literal(1),
  request: requestSchema,
  startedAt: z.string(),
  firstRound: z.number().int().positive(),
  roundsLeft: z.number().int().nonnegative(),
  countedThrough: z.number().int().nonnegative(),
  resumes: z.number().int().nonnegative(),
});

const FILE = 'run.json';

/** STATE/run.json: written atomically when a run starts and after each round, removed when it ends. */
export class RunRecordFile {
  readonly path: string;

  constructor(private readonly stateDir: string) {
    this.path = join(stateDir, FILE);
  }

  /**
   * The run a previous process left unfinished, or null. Also sweeps temporary siblings a crash
   * in the middle of a write left behind (the real file was never replaced by them).
   */
  async read(): Promise<ActiveRun | null> {
    await removeTempSiblings(this.path);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let problem: string;
    try {
      const parsed = runSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data as ActiveRun;
      problem = parsed.error.issues.map((i) => `${i.path.join('.') || 'the file'}: ${i.message}`).join('; ');
    } catch (err) {
      problem = (err as Error).message;
    }
    throw new StateCorruptError(
      `${this.path} (the run in progress) is unreadable (${problem}); restore it, or delete it to drop the interrupted run and start a new one with \`medley round start\``,
    );
  }

  /** Records a run before its start is acknowledged: synchronous, so no reply goes out before it is on disk. */
  begin(run: ActiveRun): void {
    writeFileAtomicSync(this.path, serialize(run));
  }

  async update(run: ActiveRun): Promise<void> {
    await writeFileAtomic(this.path, serialize(run));
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await syncDir(this.stateDir);
  }
}

function serialize(run: ActiveRun): string {
  return JSON.stringify(runSchema.parse(run), null, 2) + '\n';
}
