import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError } from '../../shared/wire/index.js';
import { readAuditLog, type AuditRecord } from '../../node-agent/audit/index.js';

interface AgentAuditOptions {
  log: string;
  verify?: boolean;
  json?: boolean;
}

/** One row per entry: what was sent, when, how big, its digest prefix and the DP epsilon spent by then. */
export function renderAuditTable(records: readonly AuditRecord[]): string {
  const header = ['seq', 'time', 'federation', 'round', 'kind', 'bytes', 'sha256', 'dp epsilon'];
  const rows = records.map((r) => [
    String(r.seq),
    r.time,
    r.federation,
    String(r.round),
    r.kind,
    String(r.bytes),
    r.sha256.slice(0, 12),
    r.dp ? String(Number(r.dp.epsilon.toPrecision(4))) : '-',
  ]);
  const numeric = new Set([0, 3, 5]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Adds `medley agent audit` under the `agent` command. */
export function registerAgentAudit(agent: Command): void {
  agent
    .command('audit')
    .description('show, or verify the hash chain of, the log of everything this site has sent')
    .requiredOption('--log <file>', "the agent's audit log (JSON lines)")
    .option('--verify', 'check the hash chain: exit 0 if intact, 1 with the first problem otherwise')
    .option('--json', 'print JSON')
    .action(async (opts: AgentAuditOptions) => {
      // A wrong path is the likely cause, so say that plainly rather than as a damaged chain.
      await access(opts.log).catch(() => {
        throw new ConfigError(`audit log ${opts.log} does not exist or cannot be read`);
      });
      const log = await readAuditLog(opts.log);
      if (opts.verify) {
        if (opts.json) {
          const { ok, entries, problem } = log;
          process.stdout.write(JSON.stringify(problem === undefined ? { ok, entries } : { ok, entries, problem }, null, 2) + '\n');
        } else if (log.ok) {
          process.stdout.write(`audit log ${opts.log}: ${log.entries} entries, chain intact\n`);
        } else {
          process.stderr.write(`audit log ${opts.log}: ${log.problem} (${log.entries} entries verified before it)\n`);
        }
        if (!log.ok) process.exitCode = 1;
        return;
      }
      process.stdout.write(opts.json ? JSON.stringify(log.records, null, 2) + '\n' : renderAuditTable(log.records) + '\n');
      // The listing shows the entries up to a problem; say so rather than end quietly short.
      if (!log.ok) {
        process.stderr.write(`audit log ${opts.log}: stopped at a problem: ${log.problem}; run with --verify for the check alone\n`);
        process.exitCode = 1;
      }
    });
}
