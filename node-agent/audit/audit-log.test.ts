import { appendFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateCorruptError } from '../../shared/wire/index.js';
import { AuditLog } from './audit-log.js';
import { GENESIS_HASH, payloadDigest, recordHash, type AuditEntry } from './audit-record.js';
import { verifyAuditLog } from './verify-chain.js';

async function tempLog(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'medley-audit-')), 'audit.jsonl');
}

function entry(round: number, kind: AuditEntry['kind'] = 'update'): AuditEntry {
  const payload = new TextEncoder().encode(`sealed update for round ${round}`);
  return { federation: 'chest-xray', round, kind, ...payloadDigest(payload), dp: { epsilon: 0.5 * round, delta: 1e-5, noiseMultiplier: 1.1 } };
}

/** A log of five entries, as lines, for the tampering tests. */
async function fiveLines(): Promise<{ path: string; lines: string[] }> {
  const path = await tempLog();
  const log = await AuditLog.open(path);
  for (let round = 1; round <= 5; round++) await log.append(entry(round));
  const lines = (await readFile(path, 'utf8')).split('\n').slice(0, -1);
  return { path, lines };
}

async function rewrite(path: string, lines: string[], trailingNewline = true): Promise<void> {
  await writeFile(path, lines.join('\n') + (trailingNewline ? '\n' : ''));
}

describe('AuditLog', () => {
  it('appends hash-chained lines that verify, and continues the chain after reopen', async () => {
    const path = await tempLog();
    const log = await AuditLog.open(path);
    const first = await log.append(entry(1));
    const second = await log.append({ ...entry(1, 'refusal'), dp: null, detail: 'site policy requires secure aggregation; this task has it off' });
    expect(first.seq).toBe(1);
    expect(first.prev).toBe(GENESIS_HASH);
    expect(first.hash).toBe(recordHash(first));
    expect(second.prev).toBe(first.hash);

    const reopened = await AuditLog.open(path);
    expect(reopened.entries).toBe(2);
    const third = await reopened.append(entry(2, 'masked-update'));
    expect(third.seq).toBe(3);
    expect(third.prev).toBe(second.hash);

    expect(await verifyAuditLog(path)).toEqual({ ok: true, entries: 3 });
    const lines = (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(lines[1])).toEqual(['seq', 'time', 'federation', 'round', 'kind', 'bytes', 'sha256', 'dp', 'detail', 'prev', 'hash']);
    expect(lines[2]).toEqual(third);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('creates an empty log at open, which verifies with no entries', async () => {
    const path = await tempLog();
    await AuditLog.open(path);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, entries: 0 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps seq and the chain in order when appends overlap', async () => {
    const path = await tempLog();
    const log = await AuditLog.open(path);
    const records = await Promise.all([1, 2, 3, 4, 5, 6].map((round) => log.append(entry(round))));
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, entries: 6 });
  });

  it('refuses an entry it cannot log faithfully', async () => {
    const log = await AuditLog.open(await tempLog());
    await expect(log.append({ ...entry(1), dp: { epsilon: Infinity, delta: 1e-5, noiseMultiplier: 0 } })).rejects.toThrow(/dp\.epsilon.*dp: null/s);
    await expect(log.append({ ...entry(1), sha256: 'abc' })).rejects.toThrow(/sha256: expected 64 lowercase hex digits/);
    await expect(log.append({ ...entry(1), kind: 'telemetry' as AuditEntry['kind'] })).rejects.toThrow(/kind/);
    expect(log.entries).toBe(0);
  });

  it('refuses to append to a broken chain, saying what to do', async () => {
    const { path, lines } = await fiveLines();
    await rewrite(path, [lines[0], lines[2], lines[3], lines[4]]);
    const before = await readFile(path, 'utf8');
    const opening = AuditLog.open(path);
    await expect(opening).rejects.toThrow(StateCorruptError);
    await expect(AuditLog.open(path)).rejects.toThrow(
      new RegExp(`audit log ${path} is damaged: line 2 has seq 3 where 2 was expected: entry 2 was deleted\\. The agent will not append.*move it aside`),
    );
    expect(await readFile(path, 'utf8')).toBe(before);
  });
});

describe('verifyAuditLog', () => {
  it('finds an edited entry on its line', async () => {
    const { path, lines } = await fiveLines();
    lines[2] = lines[2].replace(/"bytes":\d+/, '"bytes":1');
    await rewrite(path, lines);
    expect(await verifyAuditLog(path)).toEqual({ ok: false, entries: 2, problem: 'line 3 (seq 3) was edited: its contents no longer match its hash' });
  });

  it('finds an edited entry even when its hash was recomputed, at the next line', async () => {
    const { path, lines } = await fiveLines();
    const forged = JSON.parse(lines[1]);
    forged.sha256 = 'f'.repeat(64);
    forged.hash = recordHash(forged);
    lines[1] = JSON.stringify(forged);
    await rewrite(path, lines);
    const result = await verifyAuditLog(path);
    expect(result.ok).toBe(false);
    expect(result.problem).toBe("line 3 does not link to line 2 (its prev is not that line's hash): line 2 was replaced with a re-hashed forgery");
  });

  it('finds deleted lines, at the start and in the middle', async () => {
    const { path, lines } = await fiveLines();
    await rewrite(path, lines.slice(1));
    expect((await verifyAuditLog(path)).problem).toBe('line 1 has seq 2 where 1 was expected: entry 1 was deleted');
    await rewrite(path, [lines[0], lines[1], lines[4]]);
    expect(await verifyAuditLog(path)).toEqual({ ok: false, entries: 2, problem: 'line 3 has seq 5 where 3 was expected: entries 3 to 4 were deleted' });
  });

  it('finds reordered and duplicated lines', async () => {
    const { path, lines } = await fiveLines();
    await rewrite(path, [lines[0], lines[3], lines[1], lines[2], lines[4]]);
    expect((await verifyAuditLog(path)).problem).toBe('line 2 has seq 4 where 2 was expected, and seq 2 is on line 3: lines were reordered');
    await rewrite(path, [lines[0], lines[1], lines[1], lines[2]]);
    expect((await verifyAuditLog(path)).problem).toBe('line 3 has seq 2 after seq 2: lines were reordered or duplicated');
  });

  it('finds a torn last line', async () => {
    const { path, lines } = await fiveLines();
    await rewrite(path, [...lines.slice(0, 4), lines[4].slice(0, 40)], false);
    expect(await verifyAuditLog(path)).toEqual({
      ok: false,
      entries: 4,
      problem: 'line 5 is torn: the last line is incomplete (a write was cut short, probably by a crash or a full disk)',
    });
    await expect(AuditLog.open(path)).rejects.toThrow(/line 5 is torn/);
  });

  it('finds bad JSON, a blank line and a line that is not an entry', async () => {
    const { path, lines } = await fiveLines();
    await rewrite(path, [lines[0], '{"seq": 2,', ...lines.slice(2)]);
    expect((await verifyAuditLog(path)).problem).toBe('line 2 is not valid JSON: it was edited or damaged');
    await rewrite(path, [lines[0], '', ...lines.slice(1)]);
    expect((await verifyAuditLog(path)).problem).toBe('line 2 is empty: the log never writes empty lines, so it was edited');
    await rewrite(path, [lines[0], '{"seq": 2}', ...lines.slice(1)]);
    expect((await verifyAuditLog(path)).problem).toMatch(/^line 2 is not an audit entry \(/);
  });

  it('finds a forged first line', async () => {
    const { path, lines } = await fiveLines();
    const forged = JSON.parse(lines[0]);
    forged.prev = '1'.repeat(64);
    forged.hash = recordHash(forged);
    await rewrite(path, [JSON.stringify(forged), ...lines.slice(1)]);
    expect((await verifyAuditLog(path)).problem).toMatch(/^line 1 does not start the chain/);
  });

  it('accepts a line whose keys were only reordered (the hash is over canonical JSON)', async () => {
    const { path, lines } = await fiveLines();
    const parsed = JSON.parse(lines[2]) as Record<string, unknown>;
    lines[2] = JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse()));
    await rewrite(path, lines);
    expect(await verifyAuditLog(path)).toEqual({ ok: true, entries: 5 });
  });

  it('reports a missing file', async () => {
    expect(await verifyAuditLog('/nonexistent/audit.jsonl')).toEqual({ ok: false, entries: 0, problem: '/nonexistent/audit.jsonl does not exist' });
  });

  it('shows an append cut short to the next open', async () => {
    const { path } = await fiveLines();
    await appendFile(path, '{"seq":6,"time":"2026');
    expect((await verifyAuditLog(path)).problem).toMatch(/^line 6 is torn/);
  });
});
