import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentRefusedError, NodeAgent } from '../../node-agent/index.js';
import { Safeguards } from '../../node-agent/safeguards.js';
import { DEFAULT_POLICY, loadSitePolicy, type SitePolicy } from '../../node-agent/policy/index.js';
import { FolderLock } from '../../shared/runtime/folder-lock.js';
import { parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import { registerAgentAudit } from './agent-audit.js';
import { registerAgentDoctor } from './agent-doctor.js';
import { createLogger } from '../../shared/log/index.js';
import type { Trainer } from '../../node-agent/index.js';
import { finiteNumber, positiveInt } from './parse.js';
import { agentSettingOptions, loadAgentSettings, resolveAgentOptions, type AgentFlags } from './agent-options.js';

const AGENT_CONFIG_HELP = `
Configuration file (--config): the settings above as YAML keys (coordinator, name, identity,
coordinatorKey, state, policy, localModel, maxAttempts, logFormat, nats: {url, user, passwordFile, nkeyFile,
credsFile}) and a data: section (source, labels, window, size, shard, partition, seed, count) taking
the same forms as the flags. Each key is also an environment variable: MEDLEY_ + the key path in
SCREAMING_SNAKE (MEDLEY_COORDINATOR, MEDLEY_NATS_URL, MEDLEY_DATA_SOURCE, ...). A flag given on the
command line overrides the environment, which overrides the file's value; the required values may
come from any of them. Relative paths in the file are read from the file's folder. --trainer, --step
and --examples are flags only.`;

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description("run a hospital's node agent");
  agentSettingOptions(agent
    .command('run')
    .description('dial the coordinator, take tasks, train locally, send back only weight updates'))
    .option('--trainer <tfjs|fixed-step>', 'tfjs trains for real; fixed-step (benchmarks/tests only) adds --step to every weight', 'tfjs')
    .option('--step <x>', 'the constant a fixed-step trainer adds', finiteNumber, 0.001)
    .option('--examples <n>', 'example count a fixed-step trainer reports', positiveInt, 100)
    .addHelpText('after', AGENT_CONFIG_HELP)
    .action(async (flags: AgentFlags) => {
      const opts = resolveAgentOptions(flags, await loadAgentSettings(flags.config));
      const log = createLogger({ format: opts.logFormat, role: 'agent', site: opts.name });
      const identity = await readIdentityFile(opts.identity);
      const coordinatorKey = parsePublicKey(opts.coordinatorKey, '--coordinator-key');
      const policy = opts.policy ? await loadSitePolicy(opts.policy) : DEFAULT_POLICY;
      await mkdir(opts.state, { recursive: true, mode: 0o700 });
      // One agent per state folder: two would fork the audit log's hash chain and spend one privacy budget twice.
      const lock = await FolderLock.acquire(opts.state, `agent run (site ${opts.name})`, { log });
      try {
        await runAgent(opts, log, policy, identity, coordinatorKey);
      } finally {
        await lock.release();
      }
    });
  registerAgentAudit(agent);
  registerAgentDoctor(agent);
}

async function runAgent(
  opts: ReturnType<typeof resolveAgentOptions>,
  log: ReturnType<typeof createLogger>,
  policy: SitePolicy,
  identity: Awaited<ReturnType<typeof readIdentityFile>>,
  coordinatorKey: Uint8Array,
): Promise<void> {
  const safeguards = await Safeguards.open(opts.state, policy);
  log(`policy: ${opts.policy ?? '(none: any task accepted)'}; audit log and privacy ledger in ${opts.state}`);
  let trainer: Trainer;
  if (opts.trainer === 'fixed-step') {
    const { FixedStepTrainer } = await import('../../node-agent/trainer/fixed-step-trainer.js');
    trainer = new FixedStepTrainer(opts.step, opts.examples);
  } else if (opts.trainer === 'tfjs') {
    const { readSiteData } = await import('../../shared/data/index.js');
    const { selectBackend } = await import('../../shared/model/index.js');
    const { TfjsTrainer } = await import('../../node-agent/trainer/tfjs-trainer.js');
    // Decoded sources log one line per skipped file and a summary; none of them stops the agent.
    const data = await readSiteData({ ...opts.data, cacheDir: join(opts.state, 'data-cache') }, { log: (m) => log(`data: ${m}`) });
    const backend = await selectBackend({ log });
    log(`data: ${data.source}: ${data.train.count} training, ${data.val.count} validation images`);
    trainer = new TfjsTrainer(data, backend, { localModel: opts.localModel, stateDir: opts.state, site: opts.name });
  } else {
    throw new Error(`--trainer ${opts.trainer}: use tfjs or fixed-step`);
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('SIGINT')));
  process.once('SIGTERM', () => controller.abort(new Error('SIGTERM')));
  const node = new NodeAgent({ coordinator: opts.coordinator, site: opts.name, trainer, identity, coordinatorKey, safeguards, log, signal: controller.signal, maxAttempts: opts.maxAttempts, nats: opts.nats, blobCacheDir: join(opts.state, 'distill-cache') });
  try {
    await node.run();
  } catch (err) {
    if (err instanceof AgentRefusedError) {
      log(err.message);
      process.exitCode = 3;
      return;
    }
    // In JSON mode the reason the agent stops is one more JSON line, not main.ts's plain one.
    if (opts.logFormat === 'json') {
      log.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
