import { readFile } from 'node:fs/promises';
import { GENESIS_HASH, auditRecordSchema, recordHash, type AuditRecord } from './audit-record.js';

export interface AuditVerification {
  ok: boolean;
  /** Entries verified; when not ok, the good entries before the problem. */
  entries: number;
  /** What is wrong and on which line (1-based), when not ok. */
  problem?: string;
}

export interface ChainState extends AuditVerification {
  /** The verified records, up to the problem if there is one. */
  records: AuditRecord[];
}

/**
 * Walks the chain of a log's text. Each line must parse, hash to its own `hash`, carry the next
 * seq, and name the previous line's hash as `prev`, so an edited, deleted, reordered or inserted
 * line shows. What the chain cannot show is lines cut off the end: that needs the last hash kept
 * somewhere else too.
 */
export function checkChain(text: string): ChainState {
  const records: AuditRecord[] = [];
  const fail = (problem: string): ChainState => ({ ok: false, entries: records.length, problem, records });
  if (text === '') return { ok: true, entries: 0, records };
  const lines = text.split('\n');
  const complete = lines[lines.length - 1] === '';
  if (complete) lines.pop();
  const seqs = lines.map((line) => {
    try {
      return (JSON.parse(line) as { seq?: unknown }).seq;
    } catch {
      return undefined;
    }
  });
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    // Every append writes a whole line ending in \n; a last line without it is a write cut short.
    if (i === lines.length - 1 && !complete) {
      return fail(`line ${lineNo} is torn: the last line is incomplete (a write was cut short, probably by a crash or a full disk)`);
    }
    if (line.trim() === '') return fail(`line ${lineNo} is empty: the log never writes empty lines, so it was edited`);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return fail(`line ${lineNo} is not valid JSON: it was edited or damaged`);
    }
    const parsed = auditRecordSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(`line ${lineNo} is not an audit entry (${issue.path.join('.') || 'line'}: ${issue.message})`);
    }
    const record = parsed.data;
    if (recordHash(record) !== record.hash) {
      return fail(`line ${lineNo} (seq ${record.seq}) was edited: its contents no longer match its hash`);
    }
    const expectedSeq = records.length + 1;
    if (record.seq !== expectedSeq) {
      if (record.seq < expectedSeq) {
        return fail(`line ${lineNo} has seq ${record.seq} after seq ${expectedSeq - 1}: lines were reordered or duplicated`);
      }
      const movedTo = seqs.indexOf(expectedSeq, i + 1);
      if (movedTo >= 0) {
        return fail(`line ${lineNo} has seq ${record.seq} where ${expectedSeq} was expected, and seq ${expectedSeq} is on line ${movedTo + 1}: lines were reordered`);
      }
      const missing = record.seq - expectedSeq === 1 ? `entry ${expectedSeq} was` : `entries ${expectedSeq} to ${record.seq - 1} were`;
      return fail(`line ${lineNo} has seq ${record.seq} where ${expectedSeq} was expected: ${missing} deleted`);
    }
    if (record.prev !== prevHash) {
      return fail(
        lineNo === 1
          ? 'line 1 does not start the chain (its prev is not 64 zeros): the start of the log was replaced'
          : `line ${lineNo} does not link to line ${lineNo - 1} (its prev is not that line's hash): line ${lineNo - 1} was replaced with a re-hashed forgery`,
      );
    }
    records.push(record);
    prevHash = record.hash;
  }
  return { ok: true, entries: records.length, records };
}

/** Reads a log file and its chain; a missing file is reported as a problem, not an empty log. */
export async function readAuditLog(path: string): Promise<ChainState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, entries: 0, problem: `${path} does not exist`, records: [] };
    throw err;
  }
  return checkChain(text);
}

/** Checks the whole hash chain of the audit log at `path`. */
export async function verifyAuditLog(path: string): Promise<AuditVerification> {
  const { ok, entries, problem } = await readAuditLog(path);
  return problem === undefined ? { ok, entries } : { ok, entries, problem };
}
