import { createReadStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RoundRecord } from '../../shared/wire/index.js';

export type JournalEvent = 'open' | 'closed' | 'failed' | 'aborted';

export interface JournalEntry {
  at: string;
  event: JournalEvent;
  record: RoundRecord;
}

/**
 * How many rounds' full records stay in memory. A coordinator runs for months: keeping every
 * round's record (per-site reports and metrics, a few KiB each) would grow without bound, so older
 * rounds are read back from the file when someone asks for them (`readRounds`).
 */
export const RECENT_ROUNDS = 100;

/**
 * The round journal: one JSON line per state change of a round, fsynced before the change is
 * acted on. The last entry of each round is its state. A torn last line (a crash mid-append) is
 * cut off at open; it was never acknowledged to anyone.
 *
 * In memory: the full records of the last RECENT_ROUNDS rounds (and of any round still open), and
 * one state per round for the counts by state (a number and a short string each).
 */
export class RoundJournal {
  private readonly recentRecords = new Map<number, RoundRecord>();
  private readonly states = new Map<number, string>();
  private last = 0;

  private constructor(private readonly path: string, public readonly warnings: string[]) {}

  static async open(stateDir: string): Promise<RoundJournal> {
    const path = join(stateDir, 'journal.jsonl');
    const journal = new RoundJournal(path, []);
    let goodBytes = 0;
    let lineNo = 0;
    let torn = false;
    const size = await fileSize(path);
    // Line by line: the file holds every round the federation ever ran.
    for await (const line of journalLines(path)) {
      lineNo++;
      const lineBytes = Buffer.byteLength(line) + 1;
      const entry = line.trim() === '' ? null : parseEntry(line);
      // A last line without its newline was cut mid-append, even if what is there parses.
      if (entry === undefined || goodBytes + lineBytes > size) {
        torn = true;
        break;
      }
      goodBytes += lineBytes;
      if (entry) journal.remember(entry.record);
    }
    if (torn) {
      journal.warnings.push(`journal ${path} line ${lineNo} is torn or corrupt; it and anything after it were dropped`);
      await truncate(path, goodBytes);
    }
    return journal;
  }

  async append(event: JournalEvent, record: RoundRecord): Promise<void> {
    const entry: JournalEntry = { at: new Date().toISOString(), event, record };
    const handle = await open(this.path, 'a', 0o644);
    try {
      await handle.write(JSON.stringify(entry) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.remember(structuredClone(record));
  }

  private remember(record: RoundRecord): void {
    this.states.set(record.round, record.state);
    this.recentRecords.set(record.round, record);
    this.last = Math.max(this.last, record.round);
    // Forget the full records that fell out of the window; an open round is kept until it ends.
    for (const round of this.recentRecords.keys()) {
      if (this.recentRecords.size <= RECENT_ROUNDS) break;
      if (round <= this.last - RECENT_ROUNDS && this.states.get(round) !== 'open') this.recentRecords.delete(round);
    }
  }

  /** The records of the last `limit` rounds in memory (at most RECENT_ROUNDS), oldest first. */
  recent(limit = RECENT_ROUNDS): RoundRecord[] {
    return [...this.recentRecords.values()].sort((a, b) => a.round - b.round).slice(-limit);
  }

  /**
   * The records of rounds `from`..`from + limit - 1` (their last state), from memory when they are
   * recent and from the file otherwise.
   */
  async readRounds(from: number, limit: number): Promise<RoundRecord[]> {
    const to = from + limit - 1;
    const oldestKept = Math.min(...this.recentRecords.keys());
    if (this.recentRecords.size > 0 && from >= oldestKept) return this.recent().filter((r) => r.round >= from && r.round <= to);
    const found = new Map<number, RoundRecord>();
    for await (const line of journalLines(this.path)) {
      const entry = line.trim() === '' ? null : parseEntry(line);
      if (entry && entry.record.round >= from && entry.record.round <= to) found.set(entry.record.round, entry.record);
    }
    // The memory copy is the latest word on a round (an open round's record is updated in place by its owner).
    for (const r of this.recentRecords.values()) if (r.round >= from && r.round <= to) found.set(r.round, r);
    return [...found.values()].sort((a, b) => a.round - b.round);
  }

  /** How many rounds are in each state (a round counts once, by its last state). */
  countByState(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const state of this.states.values()) counts.set(state, (counts.get(state) ?? 0) + 1);
    return counts;
  }

  /** Rounds after `round` whose last state is one of `states`, in order. */
  roundsAfter(round: number, states: readonly string[]): number[] {
    const found: number[] = [];
    for (const [n, state] of this.states) if (n > round && states.includes(state)) found.push(n);
    return found.sort((a, b) => a - b);
  }

  get lastRound(): number {
    return this.last;
  }

  /** Rounds left open by a previous process: they can no longer finish (their sum lived in memory). */
  unfinished(): RoundRecord[] {
    return this.recent(Number.MAX_SAFE_INTEGER).filter((r) => r.state === 'open');
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** The entry on one line, or undefined when the line is torn or not a journal entry. */
function parseEntry(line: string): JournalEntry | undefined {
  try {
    const entry = JSON.parse(line) as JournalEntry;
    return typeof entry.record?.round === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** The journal's lines; none when the file does not exist yet. */
async function* journalLines(path: string): AsyncIterable<string> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) yield line;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    stream.destroy();
  }
}
