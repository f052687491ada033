import type { Command } from 'commander';
import { runDoctor, MIN_FREE_BYTES, type DoctorCheck } from '../../node-agent/doctor/index.js';
import { agentSettingOptions, loadAgentSettings, resolveAgentData, resolveAgentSettings, type AgentSettingFlags } from './agent-options.js';
import { positiveInt } from './parse.js';

interface DoctorFlags extends AgentSettingFlags {
  json?: boolean;
  timeout: number;
}

const DOCTOR_HELP = `
Checks, each printed as "ok" or "FAIL" with what to fix: the identity key file (present, mode 600,
owned by this user), the coordinator key, a real handshake with the coordinator as this site (so
"not enrolled" and "enrolled with another key" are told apart; a live agent of this site reconnects
once), NATS when configured (connects with the credentials, never prints them), the state folder
(writable, at least ${MIN_FREE_BYTES / 1024 ** 3} GiB free), the site policy when given, the data source (read as the
agent reads it, with counts) and the TensorFlow.js backend (and whether it uses a GPU).
Exit status 0 only when every check passes. Takes the same settings as \`medley agent run\`
(flags, MEDLEY_ variables, --config file).`;

/** A column wide enough for the longest check name, so the results line up for a person reading them. */
function formatCheck(c: DoctorCheck): string {
  const head = `${c.ok ? 'ok  ' : 'FAIL'}  ${c.check.padEnd(38)} ${c.detail}`;
  return c.ok ? `${head}\n` : `${head}\n      fix: ${c.fix}\n`;
}

export function registerAgentDoctor(agent: Command): void {
  agentSettingOptions(agent.command('doctor').description('check everything this site needs before the agent goes live, and say what to fix'))
    .option('--json', 'print {ok, checks: [{check, ok, detail, fix}]} instead of lines')
    .option('--timeout <seconds>', 'how long each network check (coordinator, NATS) may wait', positiveInt, 10)
    .addHelpText('after', DOCTOR_HELP)
    .action(async (flags: DoctorFlags) => {
      const print = (c: DoctorCheck) => {
        if (!flags.json) process.stdout.write(formatCheck(c));
      };
      let checks: DoctorCheck[];
      try {
        const file = await loadAgentSettings(flags.config);
        const settings = resolveAgentSettings(flags, file);
        let data;
        try {
          data = resolveAgentData(flags, file);
        } catch (err) {
          data = err as Error;
        }
        const configured: DoctorCheck = { check: 'configuration', ok: true, detail: describeSources(flags.config, file.variables) };
        print(configured);
        const rest = await runDoctor(
          {
            ...settings,
            coordinatorKeyFrom: flags.coordinatorKey !== undefined ? '--coordinator-key' : file.where('coordinatorKey'),
            data: data instanceof Error ? undefined : data,
            dataError: data instanceof Error ? data.message : undefined,
            timeoutMs: flags.timeout * 1000,
          },
          print,
        );
        checks = [configured, ...rest];
      } catch (err) {
        // Settings that cannot be resolved stop the doctor here: every later check needs them.
        const bad: DoctorCheck = { check: 'configuration', ok: false, detail: (err as Error).message, fix: 'correct the setting named above (flag, MEDLEY_ variable or --config file)' };
        print(bad);
        checks = [bad];
      }
      const ok = checks.every((c) => c.ok);
      if (flags.json) process.stdout.write(JSON.stringify({ ok, checks }, null, 2) + '\n');
      else process.stdout.write(ok ? 'all checks passed: this site is ready to run `medley agent run`\n' : `${checks.filter((c) => !c.ok).length} check(s) failed\n`);
      process.exitCode = ok ? 0 : 1;
    });
}

function describeSources(config: string | undefined, variables: readonly string[]): string {
  const parts = [config ? `file ${config}` : 'no --config file'];
  if (variables.length > 0) parts.push(`environment ${variables.join(', ')}`);
  return `settings resolved from flags, ${parts.join(', ')}`;
}
