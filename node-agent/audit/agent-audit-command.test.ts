import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerAgentAudit } from '../../cli/commands/agent-audit.js';
import { AuditLog } from './audit-log.js';
import { payloadDigest } from './audit-record.js';

/** Runs `medley agent audit ARGS` in-process, capturing stdout, stderr and the exit code. */
async function medleyAgentAudit(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const program = new Command().exitOverride();
  registerAgentAudit(program.command('agent'));
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'medley', 'agent', 'audit', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { stdout, stderr, exitCode };
}

async function sampleLog(): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-audit-cli-')), 'audit.jsonl');
  const log = await AuditLog.open(path);
  await log.append({ federation: 'chest-xray', round: 1, kind: 'update', ...payloadDigest(new Uint8Array(1234)), dp: { epsilon: 1.2345678, delta: 1e-5, noiseMultiplier: 1.1 } });
  await log.append({ federation: 'chest-xray', round: 2, kind: 'refusal', ...payloadDigest(new Uint8Array(10)), dp: null, detail: 'over budget' });
  return path;
}

afterEach(() => {
  process.exitCode = 0;
});

describe('medley agent audit', () => {
  it('lists the entries as a table', async () => {
    const path = await sampleLog();
    const { stdout, exitCode } = await medleyAgentAudit(['--log', path]);
    expect(exitCode).toBe(0);
    const rows = stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^seq\s+time\s+federation\s+round\s+kind\s+bytes\s+sha256\s+dp epsilon$/);
    expect(rows[1]).toMatch(/^\s*1\s+\S+Z\s+chest-xray\s+1\s+update\s+1234\s+[0-9a-f]{12}\s+1\.235$/);
    expect(rows[2]).toMatch(/^\s*2\s+\S+Z\s+chest-xray\s+2\s+refusal\s+10\s+[0-9a-f]{12}\s+-$/);
  });

  it('prints the records as JSON with --json', async () => {
    const path = await sampleLog();
    const { stdout } = await medleyAgentAudit(['--log', path, '--json']);
    expect((JSON.parse(stdout) as { kind: string }[]).map((r) => r.kind)).toEqual(['update', 'refusal']);
  });

  it('verifies an intact chain and exits 0', async () => {
    const path = await sampleLog();
    expect(await medleyAgentAudit(['--log', path, '--verify'])).toEqual({ stdout: `audit log ${path}: 2 entries, chain intact\n`, stderr: '', exitCode: 0 });
  });

  it('says plainly when the log file does not exist', async () => {
    await expect(medleyAgentAudit(['--log', '/nonexistent/audit.jsonl', '--verify'])).rejects.toThrow('audit log /nonexistent/audit.jsonl does not exist or cannot be read');
  });

  it('prints the problem and exits 1 for a broken chain', async () => {
    const path = await sampleLog();
    await writeFile(path, (await readFile(path, 'utf8')).replace('"bytes":1234', '"bytes":12'));
    const { stderr, exitCode } = await medleyAgentAudit(['--log', path, '--verify']);
    expect(exitCode).toBe(1);
    expect(stderr).toBe(`audit log ${path}: line 1 (seq 1) was edited: its contents no longer match its hash (0 entries verified before it)\n`);
    const json = await medleyAgentAudit(['--log', path, '--verify', '--json']);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, entries: 0, problem: 'line 1 (seq 1) was edited: its contents no longer match its hash' });
  });
});
