import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentRefusedError, NodeAgent } from '../../node-agent/index.js';
import { Safeguards } from '../../node-agent/safeguards.js';
import { DEFAULT_POLICY, loadSitePolicy } from '../../node-agent/policy/index.js';
import { parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import { registerAgentAudit } from './agent-audit.js';
import type { Trainer } from '../../node-agent/index.js';
import { finiteNumber, hostPort, nonNegativeInt, positiveInt } from './parse.js';
import { DATA_HELP, dataSpecFrom, decodedSourceOptions, partitionFlag } from './data-options.js';

interface AgentRunOptions {
  coordinator: string;
  name: string;
  identity: string;
  coordinatorKey: string;
  policy?: string;
  state: string;
  data: string;
  shard: string;
  partition: string;
  seed: number;
  count?: number;
  labels?: string;
  window?: string;
  size?: number;
  trainer: string;
  step: number;
  examples: number;
  maxAttempts: number;
}

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description("run a hospital's node agent");
  decodedSourceOptions(agent
    .command('run')
    .description('dial the coordinator, take tasks, train locally, send back only weight updates')
    .requiredOption('--coordinator <host:port>', 'coordinator address', hostPort)
    .requiredOption('--name <site>', 'this site\'s name, as on the coordinator\'s site list')
    .requiredOption('--identity <file>', "this site's private key (from `medley keys generate`; mode 600)")
    .requiredOption('--coordinator-key <key|file>', "the coordinator's public key (ed25519:… or its coordinator.key.pub): the only coordinator this agent trusts")
    .option('--policy <file>', "the hospital's site policy (YAML): methods, DP minimums, secure aggregation, model size; without it any task is accepted")
    .option('--state <dir>', "the agent's own folder: privacy ledger and audit log", 'medley-agent')
    .option('--data <source>', `local training data, ${DATA_HELP}`, 'synthetic')
    .option('--shard <i/n>', "this site's share when one file is split across n sites (1-based)", '1/1')
    .option('--partition <scheme>', 'how a shared file is split across sites: iid, dirichlet:ALPHA (label skew; label-skew = dirichlet:0.5) or by-label', partitionFlag, 'iid')
    .option('--seed <s>', 'data seed', nonNegativeInt, 0)
    .option('--count <n>', 'synthetic training images at this site', positiveInt)
    .option('--trainer <tfjs|fixed-step>', 'tfjs trains for real; fixed-step (benchmarks/tests only) adds --step to every weight', 'tfjs')
    .option('--step <x>', 'the constant a fixed-step trainer adds', finiteNumber, 0.001)
    .option('--examples <n>', 'example count a fixed-step trainer reports', positiveInt, 100)
    .option('--max-attempts <n>', 'give up after this many failed connection attempts in a row (0 = never)', nonNegativeInt, 0))
    .action(async (opts: AgentRunOptions) => {
      const log = (m: string) => process.stderr.write(`[agent ${opts.name}] ${m}\n`);
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
        const data = await readSiteData({ ...dataSpecFrom(opts), cacheDir: join(opts.state, 'data-cache') }, { log: (m) => log(`data: ${m}`) });
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
        throw err;
      }
    });
  registerAgentAudit(agent);
}
