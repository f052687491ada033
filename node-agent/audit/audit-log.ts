import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from '../../shared/storage/index.js';
import { StateCorruptError } from '../../shared/wire/index.js';
import { GENESIS_HASH, auditEntrySchema, recordHash, type AuditEntry, type AuditRecord } from './audit-record.js';
import { checkChain } from './verify-chain.js';

/**
 * The site's append-only record of everything that left it, one hash-chained JSON line per
 * payload, so the hospital can show what it sent and notice if the record was altered. Append an
 * entry before the payload is sent: a payload the log does not show must never have left.
 */
export class AuditLog {
  /** Appends run one after another: each line's seq and prev depend on the one before. */
  private appending: Promise<unknown> = Promise.resolve();
  private failed: Error | null = null;

  private constructor(
    readonly path: string,
    private lastSeq: number,
    private lastHash: string,
  ) {}

  /**
   * Opens the log, creating it (mode 0600) if absent. The whole chain is checked, not only the
   * tail: a log is a few hundred bytes per round, and appending to a chain already broken would
   * make later entries vouch for a tampered past.
   */
  static async open(path: string): Promise<AuditLog> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      const handle = await open(path, 'a', 0o600);
      await handle.close();
      await syncDir(dirname(path));
    }
    const chain = checkChain(text);
    if (!chain.ok) {
      throw new StateCorruptError(
        `audit log ${path} is damaged: ${chain.problem}. The agent will not append to a broken chain: ` +
          `keep the file as evidence, move it aside (for example to ${path}.broken), and start the agent again to begin a new log`,
      );
    }
    const last = chain.records[chain.records.length - 1];
    return new AuditLog(path, last?.seq ?? 0, last?.hash ?? GENESIS_HASH);
  }

  /** Entries in the log so far. */
  get entries(): number {
    return this.lastSeq;
  }

  /** Appends one entry and fsyncs it before returning the record as written. */
  append(entry: AuditEntry): Promise<AuditRecord> {
    const result = this.appending.then(() => this.appendNow(entry));
    this.appending = result.catch(() => undefined);
    return result;
  }

  private async appendNow(entry: AuditEntry): Promise<AuditRecord> {
    if (this.failed) {
      throw new StateCorruptError(`audit log ${this.path}: an earlier append failed (${this.failed.message}); its last line may be torn, so reopen the log to check it`);
    }
    const parsed = auditEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new RangeError(`not a valid audit entry (${problems}); an update without DP noise is logged with dp: null`);
    }
    const e = parsed.data;
    // Field order as documented; the hash does not depend on it (canonical JSON sorts keys).
    const body: Omit<AuditRecord, 'hash'> = {
      seq: this.lastSeq + 1,
      time: new Date().toISOString(),
      federation: e.federation,
      round: e.round,
      kind: e.kind,
      bytes: e.bytes,
      sha256: e.sha256,
      dp: e.dp,
      ...(e.detail !== undefined ? { detail: e.detail } : {}),
      prev: this.lastHash,
    };
    const record: AuditRecord = { ...body, hash: recordHash(body) };
    try {
      const handle = await open(this.path, 'a', 0o600);
      try {
        await handle.writeFile(JSON.stringify(record) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      // Part of the line may be on disk; further lines would extend a torn one.
      this.failed = err as Error;
      throw err;
    }
    this.lastSeq = record.seq;
    this.lastHash = record.hash;
    return record;
  }
}
