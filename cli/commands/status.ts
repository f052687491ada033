import type { Command } from 'commander';
import type { StatusReply } from '../../shared/wire/index.js';
import { AdminClient } from '../admin-client.js';
import { adminKeyFrom, adminKeyOptions, type AdminKeyOptions } from './admin-key.js';
import { formatBytes, formatMetric } from '../progress/format.js';
import { hostPort, positiveInt } from './parse.js';

export function renderStatus(status: StatusReply): string {
  const lines = [
    `federation ${status.federation}: model version ${status.modelVersion} (${status.parameters.toLocaleString('en-US')} parameters, ${formatBytes(status.modelBytes)})`,
    status.running ? `rounds running: ${status.roundsRemaining} to go` : 'no rounds running',
    '',
    'sites:',
    ...status.sites.map((s) => `  ${s.name.padEnd(20)} ${s.connected ? 'connected' : 'offline  '} ${s.state.padEnd(9)} ${s.backend || ''}${s.trainExamples ? ` ${s.trainExamples} examples` : ''}`),
    '',
    'rounds:',
    ...status.rounds.slice(-20).map((r) => {
      const secs = r.closedUnixMs ? ((r.closedUnixMs - r.startedUnixMs) / 1000).toFixed(1) + 's' : '';
      const auroc = r.metrics.auroc !== undefined ? ` AUROC ${formatMetric(r.metrics.auroc)}` : '';
      const secure = r.secureAggregation ? ' secure' : '';
      const refused = r.refused?.length ? ` declined: ${r.refused.join(',')}` : '';
      const dropped = r.dropped?.length ? ` dropped (masks removed): ${r.dropped.join(',')}` : '';
      return `  ${String(r.round).padStart(4)} ${r.state.padEnd(8)} v${r.baseVersion}->${r.modelVersion ? `v${r.modelVersion}` : '-'} ${r.reports.length}/${r.selected.length} sites ${r.examples} examples ${secs}${auroc}${secure}${refused}${dropped}`;
    }),
  ];
  return lines.join('\n');
}

export function registerStatus(program: Command): void {
  const statusCommand = program
    .command('status')
    .description('show sites, rounds and the current model version of a running coordinator')
    .requiredOption('--coordinator <host:port>', 'coordinator address', hostPort)
    .option('--from-round <n>', 'list rounds from N on (up to 1000; older ones are read from the journal); without it, the last 100', positiveInt)
    .option('--json', 'print the status as JSON');
  adminKeyOptions(statusCommand).action(async (opts: AdminKeyOptions & { coordinator: string; json?: boolean; fromRound?: number }) => {
      const admin = new AdminClient(opts.coordinator, adminKeyFrom(opts));
      try {
        const status = await admin.status(opts.fromRound ? { fromRound: opts.fromRound } : {});
        process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + '\n' : renderStatus(status) + '\n');
      } finally {
        admin.close();
      }
    });
}
