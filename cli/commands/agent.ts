import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentRefusedError, NodeAgent } from '../../node-agent/index.js';
import { Safeguards } from '../../node-agent/safeguards.js';
import { DEFAULT_POLICY, loadSitePolicy } from '../../node-agent/policy/index.js';
import { parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import { registerAgentAudit } from './agent-audit.js';
import { createLogger } from '../../shared/log/index.js';
import type { Trainer } from '../../node-agent/index.js';
import { finiteNumber, hostPort, logFormat, natsUrl, nonNegativeInt, positiveInt } from './parse.js';
import { DATA_HELP, decodedSourceOptions, partitionFlag } from './data-options.js';
import { AGENT_DEFAULTS, loadAgentSettings, resolveAgentOptions, type AgentFlags } from './agent-options.js';

const AGENT_CONFIG_HELP = `
Configuration file (--config): the settings above as YAML keys (coordinator, name, identity,
coordinatorKey, state, policy, maxAttempts, logFormat, nats: {url, user, passwordFile, nkeyFile,
credsFile}) and a data: section (source, labels, window, size, shard, partition, seed, count) taking
the same forms as the flags. Each key is also an environment variable: MEDLEY_ + the key path in
SCREAMING_SNAKE (MEDLEY_COORDINATOR, MEDLEY_NATS_URL, MEDLEY_DATA_SOURCE, ...). A flag given on the
command line overrides the environment, which overrides the file's value; the required values may
come from any of them. Relative paths in the file are read from the file's folder. --trainer, --step
and --examples are flags only.`;

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description("run a hospital's node agent");
  decodedSourceOptions(agent
    .command('run')
    .description('dial the coordinator, take tasks, train locally, send back only weight updates')
    .option('--config <file>', "the agent's configuration (YAML; see deploy/agent.example.yaml): any of the settings below, data under `data:`; a flag given here overrides the file's value")
    .option('--coordinator <host:port>', 'coordinator address (required: here or `coordinator` in --config)', hostPort)
    .option('--name <site>', "this site's name, as on the coordinator's site list (required: here or `name` in --config)")
    .option('--identity <file>', "this site's private key (from `medley keys generate`; mode 600) (required: here or `identity` in --config)")
    .option('--coordinator-key <key|file>', "the coordinator's public key (ed25519:… or its coordinator.key.pub): the only coordinator this agent trusts (required: here or `coordinatorKey` in --config)")
    .option('--policy <file>', "the hospital's site policy (YAML): methods, DP minimums, secure aggregation, model size; without it any task is accepted")
    .option('--state <dir>', `the agent's own folder: privacy ledger and audit log (default: ${AGENT_DEFAULTS.state})`)
    .option('--data <source>', `local training data, ${DATA_HELP} (default: ${AGENT_DEFAULTS.data.source})`)
    .option('--shard <i/n>', `this site's share when one file is split across n sites (1-based) (default: ${AGENT_DEFAULTS.data.shard})`)
    .option('--partition <scheme>', `how a shared file is split across sites: iid, dirichlet:ALPHA (label skew; label-skew = dirichlet:0.5) or by-label (default: ${AGENT_DEFAULTS.data.partition})`, partitionFlag)
    .option('--seed <s>', `data seed (default: ${AGENT_DEFAULTS.data.seed})`, nonNegativeInt)
    .option('--count <n>', 'synthetic training images at this site', positiveInt)
    .option('--trainer <tfjs|fixed-step>', 'tfjs trains for real; fixed-step (benchmarks/tests only) adds --step to every weight', 'tfjs')
    .option('--step <x>', 'the constant a fixed-step trainer adds', finiteNumber, 0.001)
    .option('--examples <n>', 'example count a fixed-step trainer reports', positiveInt, 100)
    .option('--max-attempts <n>', `give up after this many failed connection attempts in a row (0 = never) (default: ${AGENT_DEFAULTS.maxAttempts})`, nonNegativeInt)
    .option('--nats <url>', 'NATS server(s) for round announcements and events: nats://HOST:PORT or tls://HOST:PORT, comma-separated for a cluster (default: the bus rides the gRPC connection)', natsUrl)
    .option('--nats-user <name>', 'NATS user name (with --nats-password-file)')
    .option('--nats-password-file <file>', "file holding the NATS user's password")
    .option('--nats-nkey-file <file>', 'file holding an NKEY seed for NATS')
    .option('--nats-creds <file>', 'a NATS .creds file (user JWT and NKEY seed)')
    .option('--log-format <text|json>', `log lines as text or one JSON object a line (default: ${AGENT_DEFAULTS.logFormat})`, logFormat)
    .addHelpText('after', AGENT_CONFIG_HELP))
    .action(async (flags: AgentFlags) => {
      const opts = resolveAgentOptions(flags, await loadAgentSettings(flags.config));
      // opts.nats (helper A: new NodeAgent({ nats })) and opts.logFormat (helper D: log) plug in here.
      const log = createLogger({ format: opts.logFormat, role: 'agent', site: opts.name });
      const identity = await readIdentityFile(opts.identity);
      const coordinatorKey = parsePublicKey(opts.coordinatorKey, '--coordinator-key');
      const policy = opts.policy ? await loadSitePolicy(opts.policy) : DEFAULT_POLICY;
      await mkdir(opts.state, { recursive: true, mode: 0o700 });
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
        trainer = new TfjsTrainer(data, backend);
      } else {
        throw new Error(`--trainer ${opts.trainer}: use tfjs or fixed-step`);
      }
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('SIGINT')));
      process.once('SIGTERM', () => controller.abort(new Error('SIGTERM')));
      const node = new NodeAgent({ coordinator: opts.coordinator, site: opts.name, trainer, identity, coordinatorKey, safeguards, log, signal: controller.signal, maxAttempts: opts.maxAttempts });
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
    });
  registerAgentAudit(agent);
}
